package rules

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// Invite is what an invite token says, signed by its issuer's member key:
// the owner's or an admin's (Owner names the signer). It carries
// everything a joiner's node needs to reach the issuer's node.
type Invite struct {
	V         int      `json:"v"`
	Party     string   `json:"party"`
	PartyName string   `json:"name"`
	ID        string   `json:"id"`
	Owner     string   `json:"owner"` // MemberID of the owner: the signer
	OwnerPeer string   `json:"peer"`
	Addrs     []string `json:"addrs,omitempty"`
	Expires   int64    `json:"exp"` // unix seconds
	MaxUses   int      `json:"max,omitempty"`
	// Alt are other nodes that may admit with the invite when the
	// issuer's is away: the owner's, for an invite an admin issued.
	Alt []Contact `json:"alt,omitempty"`
}

// Contact is a node to send a join request to.
type Contact struct {
	Peer  string   `json:"peer"`
	Addrs []string `json:"addrs,omitempty"`
}

const (
	maxTokenLength = 8 << 10
	// LinkPrefix starts every invite link: the joiner's own node on the
	// default gateway port; the token after '#' never reaches a server log.
	LinkPrefix = "http://localhost:7733/join#"
)

// Expired reports whether the invite has expired at now.
func (inv Invite) Expired(now time.Time) bool { return now.Unix() >= inv.Expires }

// Link is the shareable link for a token.
func Link(token string) string { return LinkPrefix + token }

func SignInvite(inv Invite, key ed25519.PrivateKey) (string, error) {
	e, err := Seal(InviteDomain, inv, key)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(e.Payload) + "." + enc.EncodeToString(e.Sig), nil
}

// ParseInvite accepts an invite link (anything with "#<token>"), a
// "#token=…" fragment, or a bare token, checks the owner's signature and
// returns the invite and the bare token. Expiry is the caller's business.
func ParseInvite(linkOrToken string) (Invite, string, error) {
	s := strings.TrimSpace(linkOrToken)
	if i := strings.LastIndexByte(s, '#'); i >= 0 {
		s = s[i+1:]
	}
	s = strings.TrimPrefix(s, "token=")
	if s == "" || len(s) > maxTokenLength {
		return Invite{}, "", ErrInviteInvalid
	}
	p64, s64, ok := strings.Cut(s, ".")
	if !ok {
		return Invite{}, "", ErrInviteInvalid
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p64)
	sig, err2 := enc.DecodeString(s64)
	if err1 != nil || err2 != nil {
		return Invite{}, "", ErrInviteInvalid
	}
	var inv Invite
	if err := json.Unmarshal(payload, &inv); err != nil || inv.V != 1 || inv.Party == "" || inv.ID == "" || inv.OwnerPeer == "" {
		return Invite{}, "", ErrInviteInvalid
	}
	key, err := MemberKey(inv.Owner)
	if err != nil || !VerifyBytes(InviteDomain, payload, sig, key) {
		return Invite{}, "", ErrInviteInvalid
	}
	return inv, s, nil
}

// Invite limits.
const (
	DefaultInviteTTL = 7 * 24 * time.Hour
	MaxInviteTTL     = 30 * 24 * time.Hour
	MaxInviteUses    = 1000
)

// CheckInviteOptions checks an invite's lifetime and use count (0 uses:
// unlimited).
func CheckInviteOptions(ttl time.Duration, maxUses int) error {
	if ttl < time.Minute || ttl > MaxInviteTTL || maxUses < 0 || maxUses > MaxInviteUses {
		return ErrInviteOptions
	}
	return nil
}

// InviteStanding says whether inv can still let someone into the party s
// is the state of, at now: nil, or why not (its signer neither owns the
// party nor admits to it, the party's log forked, the invite was revoked,
// expired or used up, or the party is full). What depends on the joiner
// (a ban, a seat) is not judged here.
func (s *State) InviteStanding(inv Invite, now time.Time) error {
	switch {
	case inv.Party != s.ID || (s.Owner != inv.Owner && !s.IsAdmin(inv.Owner)):
		return ErrInviteInvalid
	case s.Deleted:
		return ErrNotFound
	case s.Frozen:
		return ErrFrozen
	case s.Revoked[inv.ID] || (s.Admins[inv.Owner] != nil && s.Admins[inv.Owner].Revoked[inv.ID]):
		return ErrInviteRevoked
	case inv.Expired(now):
		return ErrInviteExpired
	case inv.MaxUses > 0 && s.InviteUses[inv.ID] >= inv.MaxUses:
		return ErrInviteUsedUp
	case len(s.Members) >= s.Limits.Members:
		return ErrPartyFull
	}
	return nil
}
