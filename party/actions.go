package party

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/chatterbox/chatterbox/identity/member"
)

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

// Create makes a new party owned by the actor, with a first topic
// "general".
func (s *Service) Create(ctx context.Context, a Actor, name string) (View, error) {
	name, err := CheckName(name)
	if err != nil {
		return View{}, err
	}
	if s.net == nil {
		return View{}, errors.New("party: service not started")
	}
	defer s.lock("acct:" + a.AccountID)()
	ms, err := s.memberships(a.AccountID)
	if err != nil {
		return View{}, err
	}
	if len(ms) >= MaxPartiesPerUser {
		return View{}, ErrPartyLimit
	}
	body, _ := json.Marshal(CreateBody{
		Name: name, Owner: a.MemberID(), OwnerName: a.Name, OwnerPeer: s.net.SelfPeer(), Addrs: s.net.SelfAddrs(),
		Limits: DefaultLimits, Topic: TopicRef{ID: randomID(), Name: "general"}, Nonce: randomID(),
	})
	sop, err := signOp(Op{Seq: 1, Time: s.now().UnixMilli(), Kind: KindCreate, Body: body}, a.Key)
	if err != nil {
		return View{}, err
	}
	st, err := Genesis(sop)
	if err != nil {
		return View{}, err
	}
	err = update(s.db, func(txn *badger.Txn) error {
		if err := setJSON(txn, opKey(st.ID, 1), sop); err != nil {
			return err
		}
		if err := setJSON(txn, []byte(pState+st.ID), st); err != nil {
			return err
		}
		return setJSON(txn, mineKey(a.AccountID, st.ID), Membership{Party: st.ID, PartyName: st.Name, Account: a.AccountID,
			Member: a.MemberID(), Status: StatusMember, Since: s.now().UnixMilli()})
	})
	if err != nil {
		return View{}, err
	}
	if err := s.net.JoinTopic(st.ID); err != nil {
		s.log.Warn("join party topic", "party", st.ID, "err", err)
	}
	s.log.Info("party created", "party", st.ID, "name", st.Name)
	return s.view(st, a.MemberID()), nil
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

func (s *Service) ownerOp(ctx context.Context, a Actor, party, kind string, build func(*State) (any, error)) (View, error) {
	if err := s.requireMember(a, party); err != nil {
		return View{}, err
	}
	st, err := s.appendOp(ctx, party, &a, kind, build)
	if err != nil {
		return View{}, err
	}
	if st.Deleted {
		return View{ID: party, Name: st.Name, Status: "deleted"}, nil
	}
	return s.view(st, a.MemberID()), nil
}

// Rename renames the party (owner only).
func (s *Service) Rename(ctx context.Context, a Actor, party, name string) (View, error) {
	name, err := CheckName(name)
	if err != nil {
		return View{}, err
	}
	return s.ownerOp(ctx, a, party, KindRename, func(*State) (any, error) { return NameBody{Name: name}, nil })
}

// Delete deletes the party for everyone (owner only).
func (s *Service) Delete(ctx context.Context, a Actor, party string) error {
	_, err := s.ownerOp(ctx, a, party, KindDelete, func(*State) (any, error) { return struct{}{}, nil })
	return err
}

// CreateTopic adds a topic (owner only).
func (s *Service) CreateTopic(ctx context.Context, a Actor, party, name string) (*Topic, error) {
	name, err := CheckName(name)
	if err != nil {
		return nil, err
	}
	id := randomID()
	v, err := s.ownerOp(ctx, a, party, KindTopicCreate, func(st *State) (any, error) {
		if len(st.Topics) >= st.Limits.Topics {
			return nil, ErrTopicLimit
		}
		return TopicRef{ID: id, Name: name}, nil
	})
	if err != nil {
		return nil, err
	}
	for _, t := range v.Topics {
		if t.ID == id {
			return t, nil
		}
	}
	return nil, fmt.Errorf("party: created topic %s missing", id)
}

// RenameTopic renames a topic (owner only).
func (s *Service) RenameTopic(ctx context.Context, a Actor, party, topic, name string) (*Topic, error) {
	name, err := CheckName(name)
	if err != nil {
		return nil, err
	}
	v, err := s.ownerOp(ctx, a, party, KindTopicRename, func(st *State) (any, error) {
		if st.Topics[topic] == nil {
			return nil, ErrTopicNotFound
		}
		return TopicRef{ID: topic, Name: name}, nil
	})
	if err != nil {
		return nil, err
	}
	for _, t := range v.Topics {
		if t.ID == topic {
			return t, nil
		}
	}
	return nil, ErrTopicNotFound
}

// DeleteTopic deletes a topic (owner only).
func (s *Service) DeleteTopic(ctx context.Context, a Actor, party, topic string) error {
	_, err := s.ownerOp(ctx, a, party, KindTopicDelete, func(st *State) (any, error) {
		if st.Topics[topic] == nil {
			return nil, ErrTopicNotFound
		}
		return TopicRef{ID: topic}, nil
	})
	return err
}

// ErrMemberNotFound is returned when kicking someone who is not a member.
var ErrMemberNotFound = newErr("not_found", "no such member")

// Kick removes a member (owner only). Their node drops the party.
func (s *Service) Kick(ctx context.Context, a Actor, party, member string) error {
	_, err := s.ownerOp(ctx, a, party, KindMemberKick, func(st *State) (any, error) {
		if member == st.Owner {
			return nil, ErrOwnerCannotGo
		}
		if st.Members[member] == nil {
			return nil, ErrMemberNotFound
		}
		return MemberBody{Member: member, Ban: true}, nil
	})
	return err
}

// ErrNotBanned is returned when lifting a ban nobody has.
var ErrNotBanned = newErr("not_found", "that member is not banned")

// Unban lets a kicked member join again with an invite (owner only).
func (s *Service) Unban(ctx context.Context, a Actor, party, member string) error {
	_, err := s.ownerOp(ctx, a, party, KindMemberUnban, func(st *State) (any, error) {
		if _, ok := st.Banned[member]; !ok {
			return nil, ErrNotBanned
		}
		return MemberBody{Member: member}, nil
	})
	return err
}

// Leave takes the actor out of a party. It stops at once locally; the
// owner's node records it (now, or when it is reachable again). Leaving a
// pending join cancels it.
func (s *Service) Leave(ctx context.Context, a Actor, party string) error {
	m, err := s.membership(a.AccountID, party)
	if err != nil {
		return err
	}
	if m.Status == StatusPending {
		return update(s.db, func(txn *badger.Txn) error { return txn.Delete(mineKey(a.AccountID, party)) })
	}
	st, err := s.State(party)
	if err != nil {
		return err
	}
	if st.Owner == a.MemberID() {
		return ErrOwnerCannotGo
	}
	req, err := signedRequest(reqLeave, leaveDomain, LeaveRequest{Party: party, Member: a.MemberID(), Time: s.now().UnixMilli()}, a.Key)
	if err != nil {
		return err
	}
	om := st.OwnerMember()
	var res ingestResult
	unlock := s.lock(party)
	err = update(s.db, func(txn *badger.Txn) error {
		if err := txn.Delete(mineKey(a.AccountID, party)); err != nil {
			return err
		}
		if err := setJSON(txn, []byte(pLeave+party+"/"+a.MemberID()), LeaveOutbox{Request: req, OwnerPeer: om.Peer, Addrs: om.Addrs}); err != nil {
			return err
		}
		// Reconcile as if the member were gone, so the party is dropped
		// here when no other local account is in it.
		gone := st.clone()
		delete(gone.Members, a.MemberID())
		res.state = st
		var err error
		res.kept, _, err = s.reconcileLocked(txn, gone)
		return err
	})
	unlock()
	if err != nil {
		return err
	}
	s.afterChange(res)
	select {
	case s.retryQ <- struct{}{}:
	default:
	}
	return nil
}

// InviteView is an invite as its owner sees it.
type InviteView struct {
	ID        string    `json:"id"`
	Token     string    `json:"token"`
	Link      string    `json:"link"`
	ExpiresAt time.Time `json:"expiresAt"`
	MaxUses   int       `json:"maxUses,omitempty"`
	Uses      int       `json:"uses"`
	Revoked   bool      `json:"revoked"`
}

// Invite limits.
const (
	DefaultInviteTTL = 7 * 24 * time.Hour
	MaxInviteTTL     = 30 * 24 * time.Hour
	MaxInviteUses    = 1000
)

// ErrInviteOptions is returned for an out-of-range expiry or use count.
var ErrInviteOptions = newErr("invite_options_invalid", "an invite lasts 1 minute to 30 days and allows 0 (unlimited) to 1000 uses")

// CreateInvite issues an invite signed by the owner's member key.
func (s *Service) CreateInvite(a Actor, party string, ttl time.Duration, maxUses int) (InviteView, error) {
	if ttl == 0 {
		ttl = DefaultInviteTTL
	}
	if ttl < time.Minute || ttl > MaxInviteTTL || maxUses < 0 || maxUses > MaxInviteUses {
		return InviteView{}, ErrInviteOptions
	}
	st, err := s.ownedState(a, party)
	if err != nil {
		return InviteView{}, err
	}
	inv := Invite{V: 1, Party: party, PartyName: st.Name, ID: randomID(), Owner: st.Owner, OwnerPeer: s.net.SelfPeer(),
		Addrs: s.net.SelfAddrs(), Expires: s.now().Add(ttl).Unix(), MaxUses: maxUses}
	token, err := signInvite(inv, a.Key)
	if err != nil {
		return InviteView{}, err
	}
	rec := InviteRecord{Invite: inv, Token: token, CreatedAt: s.now().UnixMilli()}
	if err := update(s.db, func(txn *badger.Txn) error { return setJSON(txn, []byte(pInv+party+"/"+inv.ID), rec) }); err != nil {
		return InviteView{}, err
	}
	return inviteView(rec, st), nil
}

func inviteView(r InviteRecord, st *State) InviteView {
	return InviteView{ID: r.Invite.ID, Token: r.Token, Link: Link(r.Token), ExpiresAt: time.Unix(r.Invite.Expires, 0).UTC(),
		MaxUses: r.Invite.MaxUses, Uses: st.InviteUses[r.Invite.ID], Revoked: st.Revoked[r.Invite.ID]}
}

// ownedState returns the party's state if the actor is its owner.
func (s *Service) ownedState(a Actor, party string) (*State, error) {
	if err := s.requireMember(a, party); err != nil {
		return nil, err
	}
	st, err := s.State(party)
	if err != nil {
		return nil, err
	}
	if st.Owner != a.MemberID() {
		return nil, ErrNotOwner
	}
	return st, nil
}

// Invites lists the party's invites (owner only), newest first.
func (s *Service) Invites(a Actor, party string) ([]InviteView, error) {
	st, err := s.ownedState(a, party)
	if err != nil {
		return nil, err
	}
	out := []InviteView{}
	err = s.db.View(func(txn *badger.Txn) error {
		return listJSON(txn, pInv+party+"/", func(_ []byte, raw []byte) error {
			var r InviteRecord
			if err := json.Unmarshal(raw, &r); err != nil {
				return err
			}
			out = append([]InviteView{inviteView(r, st)}, out...)
			return nil
		})
	})
	return out, err
}

// ErrInviteNotFound is returned when revoking an unknown invite.
var ErrInviteNotFound = newErr("not_found", "no such invite")

// RevokeInvite revokes an invite for every node (owner only).
func (s *Service) RevokeInvite(ctx context.Context, a Actor, party, invite string) error {
	if _, err := s.ownedState(a, party); err != nil {
		return err
	}
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get([]byte(pInv + party + "/" + invite))
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return ErrInviteNotFound
	} else if err != nil {
		return err
	}
	_, err = s.ownerOp(ctx, a, party, KindInviteRevoke, func(st *State) (any, error) {
		if st.Revoked[invite] {
			return nil, errAdmitted
		}
		return InviteBody{Invite: invite}, nil
	})
	if errors.Is(err, errAdmitted) {
		return nil
	}
	return err
}

// Accept redeems an invite link or token for the actor. It returns the
// party when admitted, or a view with Status "pending" when the owner's
// node is unreachable; the join is then retried in the background.
func (s *Service) Accept(ctx context.Context, a Actor, linkOrToken string) (View, error) {
	inv, token, err := ParseInvite(linkOrToken)
	if err != nil {
		return View{}, err
	}
	if inv.Expired(s.now()) {
		return View{}, ErrInviteExpired
	}
	unlock := s.lock("acct:" + a.AccountID)
	m, err := s.membership(a.AccountID, inv.Party)
	switch {
	case err == nil && m.Status == StatusMember:
		unlock()
		return View{}, ErrAlreadyMember
	case err == nil: // pending already: try again now
	case errors.Is(err, ErrNotFound):
		ms, err := s.memberships(a.AccountID)
		if err != nil {
			unlock()
			return View{}, err
		}
		if len(ms) >= MaxPartiesPerUser {
			unlock()
			return View{}, ErrPartyLimit
		}
		req, err := signedRequest(reqJoin, joinDomain, JoinRequest{Token: token, Member: a.MemberID(), Name: a.Name,
			Peer: s.net.SelfPeer(), Addrs: s.net.SelfAddrs(), Time: s.now().UnixMilli(), Nonce: randomID()}, a.Key)
		if err != nil {
			unlock()
			return View{}, err
		}
		m = Membership{Party: inv.Party, PartyName: inv.PartyName, Account: a.AccountID, Member: a.MemberID(),
			Status: StatusPending, Request: req, OwnerPeer: inv.OwnerPeer, Addrs: inv.Addrs, Since: s.now().UnixMilli()}
		if err := update(s.db, func(txn *badger.Txn) error { return setJSON(txn, mineKey(a.AccountID, inv.Party), m) }); err != nil {
			unlock()
			return View{}, err
		}
	default:
		unlock()
		return View{}, err
	}
	unlock()
	s.net.PeersChanged()
	v, err := s.tryJoin(a.AccountID, inv.Party)
	if errors.Is(err, ErrUnreachable) {
		return v, nil // pending; retried in the background
	}
	return v, err
}

// tryJoin sends a pending join request to the owner's node once. On
// admission it stores the log and returns the party; on a refusal it drops
// the pending join and returns the reason; when the owner is unreachable
// the join stays pending and ErrUnreachable is returned with the view.
func (s *Service) tryJoin(account, party string) (View, error) {
	m, err := s.membership(account, party)
	if err != nil {
		return View{}, err
	}
	if m.Status != StatusPending {
		return s.Get(Actor{AccountID: account}, party)
	}
	resp, err := s.request(m.OwnerPeer, m.Addrs, m.Request)
	if err == nil && resp.Error == "" {
		_, err = s.ingest(party, resp.Ops, party)
		if err == nil && resp.More {
			s.syncWith(party, m.OwnerPeer)
		}
		if err == nil {
			if m2, err2 := s.membership(account, party); err2 == nil && m2.Status == StatusMember {
				s.log.Info("joined party", "party", party)
				s.scheduleSync(party, m.OwnerPeer) // the party's history, at once
				st, err := s.State(party)
				if err != nil {
					return View{}, err
				}
				return s.view(st, m.Member), nil
			}
			err = fmt.Errorf("%w: the owner's log does not admit us", ErrInviteInvalid)
		}
	}
	if err == nil {
		err = errorFromCode(resp.Error)
	}
	if errors.Is(err, ErrUnreachable) {
		m.Attempts++
		m.LastError = ErrUnreachable.Code
		update(s.db, func(txn *badger.Txn) error {
			var cur Membership
			if getJSON(txn, mineKey(account, party), &cur) != nil || cur.Status != StatusPending {
				return nil // admitted or cancelled meanwhile
			}
			return setJSON(txn, mineKey(account, party), m)
		})
		return pendingView(m), ErrUnreachable
	}
	s.log.Info("join refused", "party", party, "err", err)
	update(s.db, func(txn *badger.Txn) error {
		var cur Membership
		if getJSON(txn, mineKey(account, party), &cur) != nil || cur.Status != StatusPending {
			return nil
		}
		return txn.Delete(mineKey(account, party))
	})
	return View{}, err
}

// IsMember reports whether a local account is an active member of party.
func (s *Service) IsMember(accountID, party string) bool {
	m, err := s.membership(accountID, party)
	return err == nil && m.Status == StatusMember
}
