package gateway

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/chatterbox/chatterbox/identity"
)

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
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	writeJSON(w, ae.Status, map[string]body{"error": {Code: ae.Code, Message: ae.Message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("write response", "err", err) // client went away
	}
}
