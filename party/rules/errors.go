package rules

import (
	"errors"

	"github.com/chatterbox/chatterbox/identity/errcode"
)

// Error is a party error with a stable code that crosses the wire (in
// responses to other nodes) and reaches clients (as the REST error code).
type Error = errcode.Error

// registry holds every sentinel by code, so every code this package can
// produce crosses the wire back to its sentinel.
var registry = errcode.NewRegistry("party")

func newErr(code, msg string) *Error { return registry.New(code, msg) }

// Codes lists every error code the package produces (the gateway maps each
// to a status and a sentence).
func Codes() []string { return registry.Codes() }

// Sentinel errors, one code each. The gateway maps each code to an HTTP
// status and a sentence (gateway/errors.go).
var (
	ErrNotFound         = newErr("party_not_found", "no such party")
	ErrTopicNotFound    = newErr("topic_not_found", "no such topic")
	ErrMemberNotFound   = newErr("member_not_found", "no such member")
	ErrNotBanned        = newErr("ban_not_found", "that member is not banned")
	ErrInviteNotFound   = newErr("invite_not_found", "no such invite")
	ErrMsgNotFound      = newErr("message_not_found", "no such message")
	ErrNameInvalid      = newErr("name_invalid", "a name must be 1 to 64 printable characters")
	ErrPartyFull        = newErr("party_full", "the party is full")
	ErrPartyLimit       = newErr("party_limit", "you are in the most parties allowed already")
	ErrTopicLimit       = newErr("topic_limit", "the party has the most topics allowed already")
	ErrInviteInvalid    = newErr("invite_invalid", "the invite is not valid")
	ErrInviteExpired    = newErr("invite_expired", "the invite has expired")
	ErrInviteRevoked    = newErr("invite_revoked", "the invite was revoked")
	ErrInviteUsedUp     = newErr("invite_used_up", "the invite has been used as often as allowed")
	ErrInviteOptions    = newErr("invite_options_invalid", "an invite lasts 1 minute to 30 days and allows 0 (unlimited) to 1000 uses")
	ErrNotOwner         = newErr("not_owner", "only the party's owner (or, for invites, topics and the members it let in, an admin) may do that")
	ErrNotMember        = newErr("not_member", "you are not a member of this party")
	ErrAlreadyMember    = newErr("already_member", "you are a member of this party already")
	ErrOwnerCannotGo    = newErr("owner_cannot_leave", "the owner cannot leave or be kicked; delete the party instead")
	ErrFrozen           = newErr("party_frozen", "the party's log has forked; admissions are frozen until it is repaired")
	ErrReplayed         = newErr("request_replayed", "this join request was used already")
	ErrBanned           = newErr("banned", "you were removed from this party and may not join it again")
	ErrUnreachable      = newErr("owner_unreachable", "the party owner's node cannot be reached")
	ErrInvalidOp        = newErr("op_invalid", "the op is not valid")
	ErrBadRequest       = newErr("bad_request", "the request is malformed")
	ErrNotOwnerNode     = newErr("not_owner_node", "this node does not sequence that party")
	ErrMessageInvalid   = newErr("message_invalid", "the message is not valid")
	ErrMessageEmpty     = newErr("message_empty", "the message is empty")
	ErrMessageTooLong   = newErr("message_too_long", "the message is longer than 4000 characters")
	ErrFileInvalid      = newErr("file_invalid", "the attached file is not described correctly")
	ErrFileTooLarge     = newErr("file_too_large", "a file is at most 25 MiB")
	ErrFileTooMany      = newErr("file_too_many", "a message carries at most 8 files")
	ErrFileNotFound     = newErr("file_not_found", "no such file here")
	ErrFileUnavailable  = newErr("file_unavailable", "no member node that holds this file can be reached now")
	ErrEmojiInvalid     = newErr("emoji_invalid", "a reaction is one emoji")
	ErrReactionLimit    = newErr("reaction_limit", "you have reacted with the most emoji allowed on one message")
	ErrNotAuthor        = newErr("not_author", "only the author may change a message")
	ErrMessageGone      = newErr("message_deleted", "the message was deleted")
	ErrCursorInvalid    = newErr("cursor_invalid", "the page cursor is not valid")
	ErrKeyPending       = newErr("key_pending", "this party's encryption key has not reached this node yet; try again in a moment")
	ErrDirectNotAllowed = newErr("direct_not_allowed", "you can write directly only to another member of a party you are in")
	ErrDirect           = newErr("direct_conversation", "a direct conversation has no invites, topics or roles to change")
	ErrInternalRemote   = newErr("remote_failed", "the remote node failed")
)

// ErrorFromCode turns a wire code into an error (nil for "").
func ErrorFromCode(code string) error {
	if code == "" {
		return nil
	}
	if e, ok := registry.Lookup(code); ok {
		return e
	}
	return ErrInternalRemote
}

// CodeOf returns the wire code of err.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ErrInternalRemote.Code
}
