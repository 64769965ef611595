package identity

import (
	"errors"
	"fmt"
	"time"

	"github.com/chatterbox/chatterbox/identity/member"
)

// Sentinel errors. The gateway maps each to an HTTP status and a stable
// error code in one place (gateway/errors.go).
var (
	ErrInvalidEmail       = errors.New("identity: invalid email address")
	ErrInvalidDisplayName = member.ErrInvalidName
	ErrWeakPassword       = errors.New("identity: password too weak")
	ErrEmailTaken         = errors.New("identity: email already registered")
	ErrInvalidCredentials = errors.New("identity: invalid email or password")
	ErrInvalidToken       = errors.New("identity: invalid or expired token")
	ErrRefreshReused      = errors.New("identity: refresh token reused; session revoked")
	ErrNotFound           = errors.New("identity: not found")
)

// ThrottledError is returned by Login when too many attempts failed recently
// for the account or for the client. RetryAfter says when to try again.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("identity: too many failed sign-in attempts; retry in %s", e.RetryAfter.Round(time.Second))
}

// WeakPasswordError explains why a password was refused. It matches
// ErrWeakPassword with errors.Is.
type WeakPasswordError struct {
	Reason string
}

func (e *WeakPasswordError) Error() string { return "identity: weak password: " + e.Reason }

// Is makes errors.Is(err, ErrWeakPassword) true.
func (e *WeakPasswordError) Is(target error) bool { return target == ErrWeakPassword }
