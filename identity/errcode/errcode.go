// Package errcode makes domain errors with stable codes: the codes cross
// the wire between nodes and reach clients as REST error codes, where the
// gateway maps each to an HTTP status and a sentence. identity and party
// each keep a Registry of their sentinels; a code is made once.
package errcode

import "slices"

// Error is a domain error with a stable code.
type Error struct {
	Domain  string // "identity", "party"
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Domain + ": " + e.Message }

// ErrorCode is the error's stable code.
func (e *Error) ErrorCode() string { return e.Code }

// Is matches errors by code, so a decoded wire error equals its sentinel.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Registry holds the sentinels of one domain by code.
type Registry struct {
	domain string
	byCode map[string]*Error
}

// NewRegistry returns an empty registry for domain.
func NewRegistry(domain string) *Registry {
	return &Registry{domain: domain, byCode: map[string]*Error{}}
}

// New makes a sentinel with a code no other sentinel has (it panics
// otherwise: two errors with one code could not be told apart).
func (r *Registry) New(code, msg string) *Error {
	if r.byCode[code] != nil {
		panic(r.domain + ": error code " + code + " registered twice")
	}
	e := &Error{Domain: r.domain, Code: code, Message: msg}
	r.byCode[code] = e
	return e
}

// Lookup returns the sentinel of code.
func (r *Registry) Lookup(code string) (*Error, bool) {
	e, ok := r.byCode[code]
	return e, ok
}

// Codes lists the registered codes, sorted.
func (r *Registry) Codes() []string {
	out := make([]string, 0, len(r.byCode))
	for c := range r.byCode {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}
