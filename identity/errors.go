package identity

import (
	"fmt"
	"time"

	"github.com/chatterbox/chatterbox/identity/errcode"
)

// Error is an identity error with a stable code, the REST error code
// clients see (the gateway maps each code to a status and a sentence).
type Error = errcode.Error

var registry = errcode.NewRegistry("identity")

func newErr(code, msg string) *Error { return registry.New(code, msg) }

// Codes lists every error code the package produces, ThrottledError's
// and WeakPasswordError's included.
func Codes() []string { return append(registry.Codes(), codeThrottled) }

// Sentinel errors, one code each.
var (
	ErrInvalidEmail         = newErr("invalid_email", "invalid email address")
	ErrInvalidDisplayName   = newErr("invalid_display_name", "invalid display name")
	ErrWeakPassword         = newErr("weak_password", "password too weak")
	ErrEmailTaken           = newErr("email_taken", "email already registered")
	ErrInvalidCredentials   = newErr("invalid_credentials", "invalid email or password")
	ErrInvalidToken         = newErr("invalid_token", "invalid or expired token")
	ErrRefreshReused        = newErr("refresh_reused", "refresh token reused; session revoked")
	ErrNotFound             = newErr("account_not_found", "no such account")
	ErrTokenInvalid         = newErr("token_invalid", "the link is invalid or was used already")
	ErrTokenExpired         = newErr("token_expired", "the link has expired")
	ErrAlreadyVerified      = newErr("already_verified", "the email is verified already")
	ErrOAuthUnknownProvider = newErr("oauth_provider_unknown", "sign-in provider not enabled")
	ErrOAuthState           = newErr("oauth_state", "sign-in state missing, expired or forged")
	ErrOAuthDenied          = newErr("oauth_denied", "sign-in was cancelled at the provider")
	ErrOAuthFailed          = newErr("oauth_failed", "the provider refused the sign-in")
	ErrOAuthUnavailable     = newErr("oauth_unavailable", "the provider cannot be reached")
	ErrOAuthEmailUnverified = newErr("oauth_email_unverified", "the provider has no verified email for this user")
	ErrTooManyKeys          = newErr("encryption_key_limit", "this account has made a new encryption key as often as allowed")
)

const codeThrottled = "too_many_attempts"

// ThrottledError is returned by Login when too many attempts failed recently
// for the account or for the client. RetryAfter says when to try again.
type ThrottledError struct {
	RetryAfter time.Duration
}

// ErrorCode is the error's stable code.
func (e *ThrottledError) ErrorCode() string { return codeThrottled }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("identity: too many failed sign-in attempts; retry in %s", e.RetryAfter.Round(time.Second))
}

// WeakPasswordError explains why a password was refused. It matches
// ErrWeakPassword with errors.Is.
type WeakPasswordError struct {
	Reason string
}

// ErrorCode is the error's stable code.
func (e *WeakPasswordError) ErrorCode() string { return ErrWeakPassword.Code }

func (e *WeakPasswordError) Error() string { return "identity: weak password: " + e.Reason }

// Is makes errors.Is(err, ErrWeakPassword) true.
func (e *WeakPasswordError) Is(target error) bool { return target == ErrWeakPassword }
