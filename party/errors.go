package party

import (
	"errors"
	"sort"
)

// Error is a domain error with a stable code that crosses the wire (in join
// responses) and reaches clients (as the REST error code).
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return "party: " + e.Message }

// Is matches errors by code, so a decoded wire error equals its sentinel.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// registered holds every sentinel made by newErr, by code (the first one
// made for a code wins; errors share a code only when they mean the same to
// a client, like "not_found").
var registered = map[string]*Error{}

// newErr makes a sentinel and registers its code, so every code this
// package can produce crosses the wire back to a sentinel.
func newErr(code, msg string) *Error {
	e := &Error{Code: code, Message: msg}
	if registered[code] == nil {
		registered[code] = e
	}
	return e
}

// Codes lists every error code the package produces (the gateway maps each
// to a status).
func Codes() []string {
	out := make([]string, 0, len(registered))
	for c := range registered {
		if c != errInternalRemote.Code {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// Sentinel errors. The gateway maps each code to an HTTP status.
var (
	ErrNotFound       = newErr("not_found", "no such party")
	ErrTopicNotFound  = newErr("not_found", "no such topic")
	ErrNameInvalid    = newErr("name_invalid", "a name must be 1 to 64 printable characters")
	ErrPartyFull      = newErr("party_full", "the party is full")
	ErrPartyLimit     = newErr("party_limit", "you are in the most parties allowed already")
	ErrTopicLimit     = newErr("topic_limit", "the party has the most topics allowed already")
	ErrInviteInvalid  = newErr("invite_invalid", "the invite is not valid")
	ErrInviteExpired  = newErr("invite_expired", "the invite has expired")
	ErrInviteRevoked  = newErr("invite_revoked", "the invite was revoked")
	ErrInviteUsedUp   = newErr("invite_used_up", "the invite has been used as often as allowed")
	ErrNotOwner       = newErr("not_owner", "only the party's owner may do that")
	ErrNotMember      = newErr("not_member", "you are not a member of this party")
	ErrAlreadyMember  = newErr("already_member", "you are a member of this party already")
	ErrOwnerCannotGo  = newErr("owner_cannot_leave", "the owner cannot leave or be kicked; delete the party instead")
	ErrFrozen         = newErr("party_frozen", "the party's log has forked; admissions are frozen until it is repaired")
	ErrReplayed       = newErr("request_replayed", "this join request was used already")
	ErrBanned         = newErr("banned", "you were removed from this party and may not join it again")
	ErrUnreachable    = newErr("owner_unreachable", "the party owner's node cannot be reached")
	ErrInvalidOp      = newErr("op_invalid", "the op is not valid")
	ErrBadRequest     = newErr("bad_request", "the request is malformed")
	ErrNotOwnerNode   = newErr("not_owner_node", "this node does not sequence that party")
	errInternalRemote = newErr("internal_error", "the remote node failed")
)

// errorFromCode turns a wire code into an error (nil for "").
func errorFromCode(code string) error {
	if code == "" {
		return nil
	}
	if e, ok := registered[code]; ok {
		return e
	}
	return errInternalRemote
}

// codeOf returns the wire code of err.
func codeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return errInternalRemote.Code
}
