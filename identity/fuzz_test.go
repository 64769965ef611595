package identity

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzVerifyPassword feeds arbitrary stored hashes to the PHC decoder: it
// must never panic, whatever a corrupted database holds.
func FuzzVerifyPassword(f *testing.F) {
	h, _ := HashPassword("seed-password", fastArgon2)
	f.Add("seed-password", h)
	f.Add("x", "$argon2id$v=19$m=1,t=1,p=1$AAAA$AAAA")
	f.Add("x", "$argon2id$v=19$m=0,t=0,p=0$$")
	f.Add("x", "$argon2id$v=19$m=64,t=0,p=1$AAAA$AAAA")
	f.Add("x", "$argon2id$v=19$m=64,t=1,p=0$AAAA$AAAA")
	f.Fuzz(func(t *testing.T, pw, encoded string) {
		// Skip only inputs that are valid but too slow for a fuzz run;
		// zero costs must be refused with an error, never panic.
		var m, tm, p uint32
		if n, _ := sscanCosts(encoded, &m, &tm, &p); n == 3 && (m > 1024 || tm > 2 || p > 4) {
			t.Skip()
		}
		ok, err := VerifyPassword(pw, encoded)
		if ok && err != nil {
			t.Fatalf("VerifyPassword said yes with an error: %v", err)
		}
		if n, _ := sscanCosts(encoded, &m, &tm, &p); n == 3 && (tm == 0 || p == 0) && err == nil {
			t.Fatalf("a hash with zero costs (t=%d, p=%d) was not refused", tm, p)
		}
	})
}

// FuzzAuthenticate feeds arbitrary bearer tokens to the verifier: it must
// refuse everything it did not sign, without panicking.
func FuzzAuthenticate(f *testing.F) {
	s, _ := newService(f)
	register(f, s, "ann@example.com")
	toks := login(f, s, "ann@example.com")
	f.Add(toks.AccessToken)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := s.Authenticate(tok)
		if err == nil && tok != toks.AccessToken {
			t.Fatalf("accepted a token it did not issue: %q → %+v", tok, p)
		}
	})
}

func sscanCosts(encoded string, m, t, p *uint32) (int, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) < 4 {
		return 0, nil
	}
	return fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", m, t, p)
}
