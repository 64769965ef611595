package party

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/store"
)

// What clients see: parties, members, invites, messages and the data of
// events. The gateway sends these as JSON as they are.

// View is a party as a local account sees it.
type View struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Status is "active", "pending", "frozen", "deleted", or "undone": an
	// admin let the account in, but the owner had taken that admin's seat
	// back first (LastError says why).
	Status  string         `json:"status"`
	Role    string         `json:"role,omitempty"` // the account's: "owner", "admin" or "member"
	Owner   string         `json:"owner,omitempty"`
	Members []MemberView   `json:"members"`
	Topics  []*rules.Topic `json:"topics"`
	Limits  rules.Limits   `json:"limits"`
	// Direct marks a direct conversation (Name is then the other
	// member's label).
	Direct bool `json:"direct,omitempty"`
	// Encrypted: messages are end-to-end encrypted to the members; Epoch
	// is the current key epoch (a new one with every join and removal).
	Encrypted bool   `json:"encrypted,omitempty"`
	Epoch     uint64 `json:"epoch,omitempty"`
	// Bans are shown to the owner only.
	Bans []BanView `json:"bans,omitempty"`
	Seq  uint64    `json:"seq,omitempty"`
	Head string    `json:"head,omitempty"`
	// For pending joins: attempts so far and the last reason it failed.
	Attempts  int    `json:"attempts,omitempty"`
	LastError string `json:"lastError,omitempty"`
}

// MemberView is a member as clients see it.
type MemberView struct {
	MemberID    string `json:"memberId"`
	DisplayName string `json:"displayName"`
	// Fingerprint is the short form of the member key, which no one else
	// can carry; Label is the name to show: the display name, followed by
	// the fingerprint's first group when another member has the same name.
	Fingerprint string `json:"fingerprint"`
	Label       string `json:"label"`
	// KeyFingerprint is the short form of the member's encryption key
	// (encrypted parties), to compare out of band: a node that showed
	// another key would be sealing to someone else.
	KeyFingerprint string `json:"keyFingerprint,omitempty"`
	Role           string `json:"role"` // "owner", "admin" or "member"
	Seat           int    `json:"seat"`
	Online         bool   `json:"online"`
	// AdmittedBy is the admin who let the member in (empty: the owner).
	AdmittedBy string `json:"admittedBy,omitempty"`
	// Seats (admins only) is how many seats the owner delegated to the
	// admin; FreeSeats how many of them nobody holds: how many people the
	// admin can let in while the owner is away.
	Seats     int `json:"seats,omitempty"`
	FreeSeats int `json:"freeSeats,omitempty"`
}

// BanView is a banned member key, as the owner sees it.
type BanView struct {
	MemberID    string `json:"memberId"`
	DisplayName string `json:"displayName"`
	Fingerprint string `json:"fingerprint"`
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

// ReplyView is the one-line quote of the post a reply answers.
type ReplyView struct {
	ID      string `json:"id"`
	Author  string `json:"author"`  // the label of its author
	Excerpt string `json:"excerpt"` // its first words ("" when deleted)
	Deleted bool   `json:"deleted"`
}

// ReactionView is one emoji on a message and who reacted with it.
type ReactionView struct {
	Emoji     string   `json:"emoji"`
	Count     int      `json:"count"`
	MemberIDs []string `json:"memberIds"`
}

// AuthorView names a message's author (see MemberView for Label).
type AuthorView struct {
	MemberID    string `json:"memberId"`
	DisplayName string `json:"displayName"`
	Fingerprint string `json:"fingerprint"`
	Label       string `json:"label"`
}

// MessageView is a message as clients see it.
type MessageView struct {
	ID        string     `json:"id"`
	PartyID   string     `json:"partyId"`
	TopicID   string     `json:"topicId"`
	Body      string     `json:"body"`
	Author    AuthorView `json:"author"`
	CreatedAt time.Time  `json:"createdAt"`
	EditedAt  *time.Time `json:"editedAt"`
	Deleted   bool       `json:"deleted"`
	ClientID  string     `json:"clientId,omitempty"`
	// ReplyTo quotes the post this one answers.
	ReplyTo *ReplyView `json:"replyTo,omitempty"`
	// Reactions, in the order they were first made.
	Reactions []ReactionView `json:"reactions"`
	// Order sorts messages as history does (hybrid logical clock, then
	// id); compare it as a string. CreatedAt alone ties within a
	// millisecond.
	Order string `json:"order"`
	// Files are the attached files (GET …/files/{hash} reads one).
	Files []FileView `json:"files,omitempty"`
}

// FileView is an attached file as clients see it.
type FileView struct {
	Hash string `json:"hash"`
	Name string `json:"name"`
	Size int64  `json:"size"`
	Type string `json:"type"`
	// Thumb (pictures) is a small JPEG to show until the picture is here.
	Thumb []byte `json:"thumb,omitempty"`
}

// TypingView is the data of a "typing" event.
type TypingView struct {
	TopicID     string `json:"topicId"`
	MemberID    string `json:"memberId"`
	DisplayName string `json:"displayName"`
}

// PresenceView is the data of a "presence" event.
type PresenceView struct {
	MemberID string `json:"memberId"`
	Online   bool   `json:"online"`
}

// MemberLeftView is the data of a "member.left" event.
type MemberLeftView struct {
	MemberID string `json:"memberId"`
	Kicked   bool   `json:"kicked"`
	Banned   bool   `json:"banned"`
}

func (c *core) memberView(st *rules.State, m *rules.Member) MemberView {
	online := c.net != nil && (m.Peer == c.net.SelfPeer() || c.net.Connected(m.Peer))
	v := MemberView{MemberID: m.ID, DisplayName: m.Name, Fingerprint: rules.Fingerprint(m.ID), Label: rules.Label(st, m.ID, m.Name),
		Role: roleOf(st, m.ID), Seat: m.Seat, Online: online, AdmittedBy: m.By}
	if len(m.Enc) > 0 {
		v.KeyFingerprint = rules.EncFingerprint(m.Enc)
	}
	if st.IsAdmin(m.ID) {
		v.Seats = len(st.Admins[m.ID].Seats)
		for _, s := range st.Admins[m.ID].Seats {
			if !st.SeatTaken(s) {
				v.FreeSeats++
			}
		}
	}
	return v
}

// roleOf is member's role in st: "owner", "admin" or "member".
func roleOf(st *rules.State, member string) string {
	switch {
	case st.Direct: // nobody owns a direct conversation
		return "member"
	case member == st.Owner:
		return "owner"
	case st.IsAdmin(member):
		return "admin"
	}
	return "member"
}

func (c *core) view(st *rules.State, me string) View {
	st = c.named(st)
	v := View{ID: st.ID, Name: st.Name, Status: "active", Owner: st.Owner, Limits: st.Limits, Seq: st.Seq, Head: st.Head,
		Members: []MemberView{}, Topics: st.SortedTopics(), Encrypted: st.Encrypted(), Epoch: st.Epoch}
	if st.Frozen {
		v.Status = "frozen"
	}
	v.Role = roleOf(st, me)
	if o := st.Other(me); o != nil {
		v.Direct, v.Name = true, rules.Label(st, o.ID, o.Name)
	}
	for _, m := range st.SortedMembers() {
		v.Members = append(v.Members, c.memberView(st, m))
	}
	if me == st.Owner {
		for id, name := range st.Banned {
			v.Bans = append(v.Bans, BanView{MemberID: id, DisplayName: name, Fingerprint: rules.Fingerprint(id)})
		}
		sort.Slice(v.Bans, func(i, j int) bool { return v.Bans[i].MemberID < v.Bans[j].MemberID })
	}
	return v
}

// pendingView is a party the account is not in (yet): a pending join, or
// an admission that was undone.
func pendingView(m store.Membership) View {
	return View{ID: m.Party, Name: m.PartyName, Status: m.Status, Members: []MemberView{}, Topics: []*rules.Topic{},
		Attempts: m.Attempts, LastError: m.LastError}
}

func inviteView(r store.InviteRecord, st *rules.State) InviteView {
	return InviteView{ID: r.Invite.ID, Token: r.Token, Link: rules.Link(r.Token), ExpiresAt: time.Unix(r.Invite.Expires, 0).UTC(),
		MaxUses: r.Invite.MaxUses, Uses: st.InviteUses[r.Invite.ID], Revoked: inviteRevoked(st, r.Invite)}
}

// messageView is a stored post as clients see it; look finds the post a
// reply answers.
func messageView(st *rules.State, look rules.MessageLookup, sm rules.StoredMessage) MessageView {
	v := MessageView{ID: sm.Signed.ID(), PartyID: sm.Msg.Party, TopicID: sm.Msg.Topic, Body: sm.Body,
		Author:    AuthorView{MemberID: sm.Msg.Author, DisplayName: "former member", Fingerprint: rules.Fingerprint(sm.Msg.Author)},
		CreatedAt: rules.HLCTime(sm.Msg.HLC), Deleted: sm.Deleted, ClientID: sm.Msg.ClientID, Reactions: reactionViews(sm)}
	if id := sm.Msg.ReplyTo; id != "" {
		r := &ReplyView{ID: id, Deleted: true}
		if t, ok := look.Get(id); ok {
			r.Author = authorLabel(st, t.Msg.Author)
			r.Deleted = t.Deleted
			if !t.Deleted {
				r.Excerpt = excerpt(t.Body, 80)
			}
		}
		v.ReplyTo = r
	}
	v.Order = fmt.Sprintf("%016x/%s", sm.Msg.HLC, v.ID)
	for _, f := range sm.Msg.Files {
		v.Files = append(v.Files, FileView{Hash: f.Hash, Name: f.Name, Size: f.Size, Type: f.Type, Thumb: f.Thumb})
	}
	if m := st.Members[sm.Msg.Author]; m != nil {
		v.Author.DisplayName = m.Name
	}
	v.Author.Label = rules.Label(st, sm.Msg.Author, v.Author.DisplayName)
	if sm.EditedAt != 0 {
		t := rules.HLCTime(sm.EditedAt)
		v.EditedAt = &t
	}
	return v
}

// authorLabel is the label of a message author: their name in the party,
// or "former member".
func authorLabel(st *rules.State, id string) string {
	name := "former member"
	if m := st.Members[id]; m != nil {
		name = m.Name
	}
	return rules.Label(st, id, name)
}

// excerpt is the start of body on one line, at most n characters.
func excerpt(body string, n int) string {
	line := strings.Join(strings.Fields(body), " ")
	if r := []rune(line); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return line
}

// reactionsBy returns the emoji member has on (made with react and not
// taken back) on sm, each member's first rules.MaxReactionsPerMember by
// time: the cap every node applies alike.
func reactionsBy(sm rules.StoredMessage, member string) map[string]bool {
	type on struct {
		emoji string
		r     rules.Reaction
	}
	var ons []on
	for e, by := range sm.Reactions {
		if r := by[member]; r.On {
			ons = append(ons, on{e, r})
		}
	}
	sort.Slice(ons, func(i, j int) bool {
		if ons[i].r.HLC != ons[j].r.HLC {
			return ons[i].r.HLC < ons[j].r.HLC
		}
		return ons[i].r.ID < ons[j].r.ID
	})
	out := map[string]bool{}
	for i, o := range ons {
		if i < rules.MaxReactionsPerMember {
			out[o.emoji] = true
		}
	}
	return out
}

// reactionViews lists a message's reactions that are on, by emoji, in the
// order each emoji was first made, each member counted for at most
// rules.MaxReactionsPerMember emoji.
func reactionViews(sm rules.StoredMessage) []ReactionView {
	type emoji struct {
		view  ReactionView
		first uint64
	}
	counted := map[string]map[string]bool{} // member → emoji within the cap
	var es []emoji
	for e, by := range sm.Reactions {
		x := emoji{view: ReactionView{Emoji: e, MemberIDs: []string{}}}
		for member, r := range by {
			if !r.On {
				continue
			}
			if counted[member] == nil {
				counted[member] = reactionsBy(sm, member)
			}
			if !counted[member][e] {
				continue
			}
			x.view.MemberIDs = append(x.view.MemberIDs, member)
			if x.first == 0 || r.HLC < x.first {
				x.first = r.HLC
			}
		}
		if x.view.Count = len(x.view.MemberIDs); x.view.Count > 0 {
			sort.Strings(x.view.MemberIDs)
			es = append(es, x)
		}
	}
	sort.Slice(es, func(i, j int) bool {
		if es[i].first != es[j].first {
			return es[i].first < es[j].first
		}
		return es[i].view.Emoji < es[j].view.Emoji
	})
	out := make([]ReactionView, len(es))
	for i, e := range es {
		out[i] = e.view
	}
	return out
}
