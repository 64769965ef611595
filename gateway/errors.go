package gateway

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chatterbox/chatterbox/identity"
)

// ErrorInfo is what a client sees of an error code: the HTTP status it
// comes with and the sentence a user is shown.
type ErrorInfo struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// errorTable maps every error code the API answers with — the gateway's
// own, identity's and party's — to its status and sentence. It is the one
// place they are mapped: the web app's sentences are generated from it
// (ErrorTable, go generate), and a test checks that every code identity and
// party produce is here.
var errorTable = map[string]ErrorInfo{
	// Requests.
	"bad_json":               {http.StatusBadRequest, "The request body is not the JSON this address expects."},
	"bad_request":            {http.StatusBadRequest, "The request is malformed."},
	"unsupported_media_type": {http.StatusUnsupportedMediaType, "Send the request body as JSON with Content-Type: application/json."},
	"body_too_large":         {http.StatusRequestEntityTooLarge, "The request body is too large."},
	"limit_invalid":          {http.StatusBadRequest, "limit must be a number from 1 to 100."},
	"search_invalid":         {http.StatusBadRequest, "This search cannot be run."},
	"not_found":              {http.StatusNotFound, "There is nothing at this address."},
	"method_not_allowed":     {http.StatusMethodNotAllowed, "This address does not accept that method."},
	"bad_host":               {http.StatusMisdirectedRequest, "This node only answers requests addressed to localhost or its IP address."},
	"bad_origin":             {http.StatusForbidden, "Cross-site requests may not change anything on this node."},
	"bad_websocket":          {http.StatusBadRequest, "The WebSocket upgrade was refused."},
	"not_ready":              {http.StatusServiceUnavailable, "The node is starting or stopping."},
	"internal_error":         {http.StatusInternalServerError, "Something went wrong on this node. Details are in its log."},
	// Accounts and sessions.
	"unauthorized":           {http.StatusUnauthorized, "Sign in first: this request needs an access token."},
	"invalid_token":          {http.StatusUnauthorized, "Your session has ended. Sign in again."},
	"refresh_reused":         {http.StatusUnauthorized, "This sign-in was used from somewhere else and has been ended for safety. Sign in again."},
	"invalid_credentials":    {http.StatusUnauthorized, "The email or password is wrong."},
	"too_many_attempts":      {http.StatusTooManyRequests, "Too many failed sign-in attempts. Wait a little and try again."},
	"invalid_email":          {http.StatusUnprocessableEntity, "That does not look like an email address."},
	"invalid_display_name":   {http.StatusUnprocessableEntity, "A display name must be 1 to 64 printable characters."},
	"weak_password":          {http.StatusUnprocessableEntity, "Choose a stronger password."},
	"email_taken":            {http.StatusConflict, "An account with this email already exists. Sign in instead."},
	"account_not_found":      {http.StatusNotFound, "There is no such account here."},
	"encryption_key_limit":   {http.StatusConflict, "This account has made a new encryption key as often as allowed (100 times)."},
	"token_invalid":          {http.StatusBadRequest, "This link is not valid or was used already. Ask for a new one."},
	"token_expired":          {http.StatusGone, "This link has expired. Ask for a new one."},
	"already_verified":       {http.StatusConflict, "Your email is verified already."},
	"oauth_provider_unknown": {http.StatusNotFound, "Signing in with that provider is not enabled on this node."},
	"oauth_state":            {http.StatusBadRequest, "The sign-in expired or did not start in this browser. Try again."},
	"oauth_denied":           {http.StatusForbidden, "Signing in was cancelled at the provider."},
	"oauth_failed":           {http.StatusBadGateway, "The provider did not accept the sign-in. Try again."},
	"oauth_unavailable":      {http.StatusServiceUnavailable, "The provider cannot be reached right now. Try again later."},
	"oauth_email_unverified": {http.StatusForbidden, "Your account at the provider has no verified email address. Verify one there, then try again."},
	// Parties.
	"party_not_found":        {http.StatusNotFound, "There is no such party here."},
	"topic_not_found":        {http.StatusNotFound, "There is no such topic in this party."},
	"member_not_found":       {http.StatusNotFound, "There is no such member in this party."},
	"ban_not_found":          {http.StatusNotFound, "That member is not banned from this party."},
	"invite_not_found":       {http.StatusNotFound, "There is no such invite for this party."},
	"message_not_found":      {http.StatusNotFound, "There is no such message in this topic."},
	"name_invalid":           {http.StatusUnprocessableEntity, "A name must be 1 to 64 printable characters."},
	"party_full":             {http.StatusConflict, "This party is full: it already has the most members allowed."},
	"party_limit":            {http.StatusConflict, "You are in 10 parties already. Leave one to join or create another."},
	"topic_limit":            {http.StatusConflict, "This party has the most topics allowed. Delete one to add another."},
	"invite_invalid":         {http.StatusUnprocessableEntity, "This invite link is not valid. Ask for a new one."},
	"invite_expired":         {http.StatusGone, "This invite has expired. Ask for a new one."},
	"invite_revoked":         {http.StatusGone, "This invite was revoked."},
	"invite_used_up":         {http.StatusGone, "This invite has been used as many times as allowed."},
	"invite_options_invalid": {http.StatusUnprocessableEntity, "An invite lasts from 1 minute to 30 days and allows up to 1000 uses (0 means no limit)."},
	"not_owner":              {http.StatusForbidden, "Only the party's owner can do that (an admin may also invite people, manage topics and remove the people they let in)."},
	"admin_not_found":        {http.StatusNotFound, "That member is not an admin of this party."},
	"no_free_seat":           {http.StatusConflict, "There is no free seat for that: the party is full, or its free seats are given to admins."},
	"owner_not_admin":        {http.StatusUnprocessableEntity, "The owner can do everything already; make another member an admin."},
	"already_owner":          {http.StatusConflict, "That member owns the party already."},
	"seat_reclaimed":         {http.StatusConflict, "The admin who let you in had just been asked by the owner to give that seat back, so your admission did not hold. Ask for a new invite."},
	"admin_revoked":          {http.StatusConflict, "The admin who let you in was no longer an admin, so your admission did not hold. Ask for a new invite."},
	"not_member":             {http.StatusForbidden, "You are not a member of this party."},
	"already_member":         {http.StatusConflict, "You are a member of this party already."},
	"owner_cannot_leave":     {http.StatusConflict, "The owner cannot leave or be removed. Delete the party instead."},
	"party_frozen":           {http.StatusConflict, "This party's history has a conflict, so new members cannot join until it is repaired."},
	"request_replayed":       {http.StatusConflict, "This join request was already used. Accept the invite again."},
	"banned":                 {http.StatusForbidden, "You were removed from this party and cannot join it again unless its owner lifts the ban."},
	"owner_unreachable":      {http.StatusServiceUnavailable, "The party owner's node cannot be reached right now."},
	"not_owner_node":         {http.StatusConflict, "This node does not sequence that party's changes."},
	"op_invalid":             {http.StatusUnprocessableEntity, "That change is not valid for this party."},
	"remote_failed":          {http.StatusBadGateway, "The other node failed to answer properly."},
	"message_empty":          {http.StatusUnprocessableEntity, "Write something first: the message is empty."},
	"message_too_long":       {http.StatusUnprocessableEntity, "The message is too long: at most 4000 characters."},
	"file_invalid":           {http.StatusUnprocessableEntity, "That file cannot be attached."},
	"file_too_large":         {http.StatusRequestEntityTooLarge, "That file is too large: a file is at most 25 MiB."},
	"file_too_many":          {http.StatusUnprocessableEntity, "A message carries at most 8 files."},
	"file_not_found":         {http.StatusNotFound, "There is no such file here."},
	"file_unavailable":       {http.StatusServiceUnavailable, "No one who has this file is online right now. Try again later."},
	"emoji_invalid":          {http.StatusUnprocessableEntity, "A reaction is one emoji."},
	"reaction_limit":         {http.StatusConflict, "You have reacted with 20 different emoji on this message already; take one back first."},
	"message_invalid":        {http.StatusUnprocessableEntity, "The message is not valid."},
	"not_author":             {http.StatusForbidden, "You can only change your own messages."},
	"message_deleted":        {http.StatusGone, "That message was deleted."},
	"cursor_invalid":         {http.StatusBadRequest, "The page cursor is not valid. Start again from the newest messages."},
	"key_pending":            {http.StatusServiceUnavailable, "This party's encryption key has not reached your node yet. Try again in a moment."},
	"direct_not_allowed":     {http.StatusForbidden, "You can write directly only to someone who is in a party with you."},
	"direct_conversation":    {http.StatusConflict, "A direct conversation has no invites, topics or roles to change."},
}

// ErrorTable returns a copy of the error table (for generating the web
// app's error sentences and the API document's list of codes).
func ErrorTable() map[string]ErrorInfo {
	out := make(map[string]ErrorInfo, len(errorTable))
	for k, v := range errorTable {
		out[k] = v
	}
	return out
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

// apiErr is the error of code with the table's status and sentence. A
// code missing from the table is a bug caught by the tests; it answers as
// an internal error.
func apiErr(code string) *apiError {
	info, ok := errorTable[code]
	if !ok {
		info = errorTable["internal_error"]
	}
	return &apiError{Status: info.Status, Code: code, Message: info.Message}
}

// saying returns the error with a more specific sentence.
func (e *apiError) saying(msg string) *apiError {
	c := *e
	c.Message = msg
	return &c
}

func errBadJSON(msg string) *apiError { return apiErr("bad_json").saying(msg) }

// retryLater sets when a client may try again (429).
func retryLater(e *apiError, after time.Duration) *apiError {
	e.RetryAfter = after
	return e
}

var (
	errUnauthorized = apiErr("unauthorized")
	errNotFound     = apiErr("not_found")
	errMethod       = apiErr("method_not_allowed")
)

// coded is a domain error with a stable code (identity.Error,
// rules.Error, identity's throttling and weak password errors).
type coded interface{ ErrorCode() string }

// toAPIError maps domain errors to what the client sees, through the
// error table. Anything without a code is an internal error: logged in
// full, shown vaguely (nil here).
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var c coded
	if !errors.As(err, &c) {
		return nil
	}
	ae = apiErr(c.ErrorCode())
	var throttled *identity.ThrottledError
	if errors.As(err, &throttled) {
		ae.RetryAfter = throttled.RetryAfter
	}
	var detailed interface{ ErrorDetail() string }
	if errors.As(err, &detailed) {
		ae.Message = strings.TrimSuffix(ae.Message, ".") + ": " + detailed.ErrorDetail() + "."
	}
	var weak *identity.WeakPasswordError
	if errors.As(err, &weak) {
		ae.Message = "Choose a stronger password: " + weak.Reason + "."
	}
	return ae
}

// writeError writes err as a JSON error response.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if ae == nil {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = apiErr("internal_error")
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
