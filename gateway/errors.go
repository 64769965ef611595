package gateway

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/chatterbox/chatterbox/identity"
	"github.com/chatterbox/chatterbox/party"
)

// partyErrors gives each party error code its status and the sentence a
// user sees.
var partyErrors = map[string]struct {
	status int
	msg    string
}{
	"not_found":              {http.StatusNotFound, "There is no such party, topic, member or invite here."},
	"name_invalid":           {http.StatusUnprocessableEntity, "A name must be 1 to 64 printable characters."},
	"party_full":             {http.StatusConflict, "This party is full: it already has the most members allowed."},
	"party_limit":            {http.StatusConflict, "You are in 10 parties already. Leave one to join or create another."},
	"topic_limit":            {http.StatusConflict, "This party has the most topics allowed. Delete one to add another."},
	"invite_invalid":         {http.StatusUnprocessableEntity, "This invite link is not valid. Ask for a new one."},
	"invite_expired":         {http.StatusGone, "This invite has expired. Ask for a new one."},
	"invite_revoked":         {http.StatusGone, "This invite was revoked by the party owner."},
	"invite_used_up":         {http.StatusGone, "This invite has been used as many times as allowed."},
	"invite_options_invalid": {http.StatusUnprocessableEntity, "An invite lasts from 1 minute to 30 days and allows up to 1000 uses (0 means no limit)."},
	"not_owner":              {http.StatusForbidden, "Only the party's owner can do that."},
	"not_member":             {http.StatusForbidden, "You are not a member of this party."},
	"already_member":         {http.StatusConflict, "You are a member of this party already."},
	"owner_cannot_leave":     {http.StatusConflict, "The owner cannot leave or be removed. Delete the party instead."},
	"party_frozen":           {http.StatusConflict, "This party's history has a conflict, so new members cannot join until it is repaired."},
	"request_replayed":       {http.StatusConflict, "This join request was already used. Accept the invite again."},
	"banned":                 {http.StatusForbidden, "You were removed from this party and cannot join it again unless its owner lifts the ban."},
	"owner_unreachable":      {http.StatusServiceUnavailable, "The party owner's node cannot be reached right now."},
	"not_owner_node":         {http.StatusConflict, "This node does not host the party's owner."},
	"op_invalid":             {http.StatusUnprocessableEntity, "That change is not valid for this party."},
	"bad_request":            {http.StatusBadRequest, "The request is malformed."},
	"internal_error":         {http.StatusBadGateway, "The other node failed to answer properly."},
	"message_empty":          {http.StatusUnprocessableEntity, "Write something first: the message is empty."},
	"message_too_long":       {http.StatusUnprocessableEntity, "The message is too long: at most 4000 characters."},
	"message_invalid":        {http.StatusUnprocessableEntity, "The message is not valid."},
	"not_author":             {http.StatusForbidden, "You can only change your own messages."},
	"message_deleted":        {http.StatusGone, "That message was deleted."},
	"cursor_invalid":         {http.StatusBadRequest, "The page cursor is not valid. Start again from the newest messages."},
}

// apiError is an error with the HTTP status and stable code the client
// sees. Codes are part of the API contract (see openapi.yaml).
type apiError struct {
	Status  int
	Code    string
	Message string
	// RetryAfter, when set, is sent as the Retry-After header (429).
	RetryAfter time.Duration
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errBadJSON(msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "bad_json", Message: msg}
}

var (
	errUnauthorized = &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "Sign in first: this request needs an access token."}
	errNotFound     = &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "There is nothing at this address."}
	errMethod       = &apiError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "This address does not accept that method."}
)

// toAPIError maps domain errors to what the client sees, in one place.
// Anything unmapped is an internal error: logged in full, shown vaguely.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	if ae := accountError(err); ae != nil {
		return ae
	}
	var pe *party.Error
	if errors.As(err, &pe) {
		if m, ok := partyErrors[pe.Code]; ok {
			return &apiError{Status: m.status, Code: pe.Code, Message: m.msg}
		}
		return &apiError{Status: http.StatusUnprocessableEntity, Code: pe.Code, Message: pe.Message}
	}
	var throttled *identity.ThrottledError
	if errors.As(err, &throttled) {
		return &apiError{Status: http.StatusTooManyRequests, Code: "too_many_attempts",
			Message: "Too many failed sign-in attempts. Wait a little and try again.", RetryAfter: throttled.RetryAfter}
	}
	var weak *identity.WeakPasswordError
	if errors.As(err, &weak) {
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "weak_password", Message: "Choose a stronger password: " + weak.Reason + "."}
	}
	switch {
	case errors.Is(err, identity.ErrInvalidEmail):
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "invalid_email", Message: "That does not look like an email address."}
	case errors.Is(err, identity.ErrInvalidDisplayName):
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "invalid_display_name", Message: "A display name must be 1 to 64 printable characters."}
	case errors.Is(err, identity.ErrWeakPassword):
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "weak_password", Message: "Choose a stronger password."}
	case errors.Is(err, identity.ErrEmailTaken):
		return &apiError{Status: http.StatusConflict, Code: "email_taken", Message: "An account with this email already exists. Sign in instead."}
	case errors.Is(err, identity.ErrInvalidCredentials):
		return &apiError{Status: http.StatusUnauthorized, Code: "invalid_credentials", Message: "The email or password is wrong."}
	case errors.Is(err, identity.ErrRefreshReused):
		return &apiError{Status: http.StatusUnauthorized, Code: "refresh_reused", Message: "This sign-in was used from somewhere else and has been ended for safety. Sign in again."}
	case errors.Is(err, identity.ErrInvalidToken):
		return &apiError{Status: http.StatusUnauthorized, Code: "invalid_token", Message: "Your session has ended. Sign in again."}
	case errors.Is(err, identity.ErrNotFound):
		return errNotFound
	}
	return nil
}

// writeError writes err as a JSON error response.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if ae == nil {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = &apiError{Status: http.StatusInternalServerError, Code: "internal_error", Message: "Something went wrong on this node. Details are in its log."}
	}
	writeAPIError(w, ae)
}

func writeAPIError(w http.ResponseWriter, ae *apiError) {
	if ae.RetryAfter > 0 {
		secs := int(ae.RetryAfter.Round(time.Second) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(1, secs)))
	}
	writeJSON(w, ae.Status, map[string]errorBody{"error": apiErrorBody(ae)})
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func apiErrorBody(ae *apiError) errorBody { return errorBody{Code: ae.Code, Message: ae.Message} }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("write response", "err", err) // client went away
	}
}
