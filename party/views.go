package party

import (
	"encoding/json"
	"errors"
	"sort"
	"strings"

	"github.com/dgraph-io/badger/v4"

	"github.com/chatterbox/chatterbox/identity/member"
)

// What clients see of parties and members (views, labels, fingerprints)
// and the local memberships of accounts.

// MemberView is a member as clients see it.
type MemberView struct {
	MemberID    string `json:"memberId"`
	DisplayName string `json:"displayName"`
	// Fingerprint is the short form of the member key, which no one else
	// can carry; Label is the name to show: the display name, followed by
	// the fingerprint's first group when another member has the same name.
	Fingerprint string `json:"fingerprint"`
	Label       string `json:"label"`
	Role        string `json:"role"` // "owner" or "member"
	Seat        int    `json:"seat"`
	Online      bool   `json:"online"`
}

// BanView is a banned member key, as the owner sees it.
type BanView struct {
	MemberID    string `json:"memberId"`
	DisplayName string `json:"displayName"`
	Fingerprint string `json:"fingerprint"`
}

// fingerprint is the short form of a member id ("" if it is not a key).
func fingerprint(memberID string) string {
	key, err := memberKey(memberID)
	if err != nil {
		return ""
	}
	return member.Fingerprint(key)
}

// label is how a member is named to users: their display name, made
// unique with the start of their fingerprint when another member of the
// party carries the same name (compared case-insensitively), as Matrix
// does, so a newcomer cannot pose as someone by taking their name.
func label(st *State, memberID, name string) string {
	for _, m := range st.Members {
		if m.ID != memberID && strings.EqualFold(m.Name, name) {
			fp := fingerprint(memberID)
			if i := strings.IndexByte(fp, '-'); i > 0 {
				fp = fp[:i]
			}
			return name + " (" + fp + ")"
		}
	}
	return name
}

func (s *Service) memberView(st *State, m *Member) MemberView {
	role := "member"
	if m.ID == st.Owner {
		role = "owner"
	}
	online := s.net != nil && (m.Peer == s.net.SelfPeer() || s.net.Connected(m.Peer))
	return MemberView{MemberID: m.ID, DisplayName: m.Name, Fingerprint: fingerprint(m.ID), Label: label(st, m.ID, m.Name),
		Role: role, Seat: m.Seat, Online: online}
}

// View is a party as a local account sees it.
type View struct {
	ID      string       `json:"id"`
	Name    string       `json:"name"`
	Status  string       `json:"status"` // "active", "pending" or "frozen"
	Role    string       `json:"role,omitempty"`
	Owner   string       `json:"owner,omitempty"`
	Members []MemberView `json:"members"`
	Topics  []*Topic     `json:"topics"`
	Limits  Limits       `json:"limits"`
	// Bans are shown to the owner only.
	Bans []BanView `json:"bans,omitempty"`
	Seq  uint64    `json:"seq,omitempty"`
	Head string    `json:"head,omitempty"`
	// For pending joins: attempts so far and the last reason it failed.
	Attempts  int    `json:"attempts,omitempty"`
	LastError string `json:"lastError,omitempty"`
}

func (s *Service) view(st *State, me string) View {
	v := View{ID: st.ID, Name: st.Name, Status: "active", Owner: st.Owner, Limits: st.Limits, Seq: st.Seq, Head: st.Head,
		Members: []MemberView{}, Topics: st.SortedTopics()}
	if st.Frozen {
		v.Status = "frozen"
	}
	v.Role = "member"
	if me == st.Owner {
		v.Role = "owner"
	}
	for _, m := range st.SortedMembers() {
		v.Members = append(v.Members, s.memberView(st, m))
	}
	if me == st.Owner {
		for id, name := range st.Banned {
			v.Bans = append(v.Bans, BanView{MemberID: id, DisplayName: name, Fingerprint: fingerprint(id)})
		}
		sort.Slice(v.Bans, func(i, j int) bool { return v.Bans[i].MemberID < v.Bans[j].MemberID })
	}
	return v
}

func pendingView(m Membership) View {
	return View{ID: m.Party, Name: m.PartyName, Status: StatusPending, Members: []MemberView{}, Topics: []*Topic{},
		Attempts: m.Attempts, LastError: m.LastError}
}

func mineKey(account, party string) []byte { return []byte(pMine + account + "/" + party) }

func (s *Service) membership(account, party string) (Membership, error) {
	var m Membership
	err := s.db.View(func(txn *badger.Txn) error { return getJSON(txn, mineKey(account, party), &m) })
	if errors.Is(err, errMissing) {
		return m, ErrNotFound
	}
	return m, err
}

func (s *Service) memberships(account string) ([]Membership, error) {
	var out []Membership
	err := s.db.View(func(txn *badger.Txn) error {
		return listJSON(txn, pMine+account+"/", func(_ []byte, raw []byte) error {
			var m Membership
			if err := json.Unmarshal(raw, &m); err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	})
	return out, err
}

// List returns the actor's parties, pending joins included.
func (s *Service) List(a Actor) ([]View, error) {
	ms, err := s.memberships(a.AccountID)
	if err != nil {
		return nil, err
	}
	out := []View{}
	for _, m := range ms {
		if m.Status == StatusPending {
			out = append(out, pendingView(m))
			continue
		}
		if st, err := s.State(m.Party); err == nil {
			out = append(out, s.view(st, m.Member))
		}
	}
	return out, nil
}

// Get returns one party of the actor's.
func (s *Service) Get(a Actor, party string) (View, error) {
	m, err := s.membership(a.AccountID, party)
	if err != nil {
		return View{}, err
	}
	if m.Status == StatusPending {
		return pendingView(m), nil
	}
	st, err := s.State(party)
	if err != nil {
		return View{}, err
	}
	return s.view(st, m.Member), nil
}

// requireMember checks the actor is an active member of party.
func (s *Service) requireMember(a Actor, party string) error {
	m, err := s.membership(a.AccountID, party)
	if err != nil {
		return err
	}
	if m.Status != StatusMember {
		return ErrNotFound
	}
	return nil
}

// IsMember reports whether a local account is an active member of party.
func (s *Service) IsMember(accountID, party string) bool {
	m, err := s.membership(accountID, party)
	return err == nil && m.Status == StatusMember
}
