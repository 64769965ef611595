package identity

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/golang-jwt/jwt/v5"
)

// fastArgon2 keeps tests quick; TestDefaultArgon2Params covers the real costs.
var fastArgon2 = Argon2Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

const goodPassword = "correct horse battery staple"

// fakeClock is a settable clock for token and throttle expiry.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func openDB(t testing.TB) *badger.DB {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(t.TempDir()).WithLogger(nil).WithSyncWrites(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newService(t testing.TB, mutate ...func(*Config)) (*Service, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	cfg := Config{
		DB:     openDB(t),
		Argon2: fastArgon2,
		Now:    clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, clock
}

func register(t testing.TB, s *Service, email string) Account {
	t.Helper()
	a, err := s.Register(RegisterInput{Email: email, Password: goodPassword, DisplayName: "Test User"})
	if err != nil {
		t.Fatalf("register %s: %v", email, err)
	}
	return a
}

func login(t testing.TB, s *Service, email string) Tokens {
	t.Helper()
	toks, _, err := s.Login(email, goodPassword, "127.0.0.1")
	if err != nil {
		t.Fatalf("login %s: %v", email, err)
	}
	return toks
}

func TestPasswordHashRoundTrip(t *testing.T) {
	h, err := HashPassword("s3cret-enough!", fastArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not PHC argon2id", h)
	}
	if ok, err := VerifyPassword("s3cret-enough!", h); err != nil || !ok {
		t.Fatalf("VerifyPassword(right) = %v, %v", ok, err)
	}
	if ok, err := VerifyPassword("s3cret-enough?", h); err != nil || ok {
		t.Fatalf("VerifyPassword(wrong) = %v, %v", ok, err)
	}
	h2, _ := HashPassword("s3cret-enough!", fastArgon2)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA", "$argon2id$v=18$m=64,t=1,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaA", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$"} {
		if _, err := VerifyPassword("x", bad); err == nil {
			t.Errorf("VerifyPassword accepted malformed hash %q", bad)
		}
	}
}

func TestDefaultArgon2Params(t *testing.T) {
	// OWASP: argon2id with at least m=19 MiB,t=2 or m=46 MiB,t=1 (p=1).
	p := DefaultArgon2Params
	if p.Memory < 46*1024 || p.Time < 1 || p.Threads < 1 || p.SaltLen < 16 || p.KeyLen < 32 {
		t.Fatalf("default argon2 params %+v are below OWASP's minimum", p)
	}
	h, err := HashPassword(goodPassword, Argon2Params{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=47104,t=1,p=1$") {
		t.Fatalf("zero params did not use the defaults: %s", h)
	}
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		pw     string
		inputs []string
		ok     bool
	}{
		{"short1!", nil, false},
		{"password", nil, false},
		{"password1", nil, false},
		{"12345678", nil, false},
		{"qwertyuiop", nil, false},
		{"iloveyou", nil, false},
		{"aaaaaaaa", nil, false},
		{"alice.smith2024", []string{"alice.smith@example.com"}, false},
		{strings.Repeat("x", MaxPasswordLen+1), nil, false},
		{"correct horse battery staple", nil, true},
		{"T7#qL9!vR2@m", nil, true},
		{"Schöne Grüße aus Köln 2026", nil, true},
	}
	for _, tt := range tests {
		err := CheckPassword(tt.pw, tt.inputs...)
		if tt.ok && err != nil {
			t.Errorf("CheckPassword(%q) = %v, want ok", tt.pw, err)
		}
		if !tt.ok && !errors.Is(err, ErrWeakPassword) {
			t.Errorf("CheckPassword(%q) = %v, want ErrWeakPassword", tt.pw, err)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Ann@Example.COM", "ann@example.com"},
		{"  bob+chat@mail.example.org ", "bob+chat@mail.example.org"},
		{"", ""},
		{"no-at-sign", ""},
		{"Ann <ann@example.com>", ""},
		{"ann@localhost", ""},
		{"ann@example.", ""},
		{"@example.com", ""},
		{"ann@@example.com", ""},
		{strings.Repeat("a", 250) + "@example.com", ""},
	}
	for _, tt := range tests {
		got, err := NormalizeEmail(tt.in)
		if tt.want == "" {
			if !errors.Is(err, ErrInvalidEmail) {
				t.Errorf("NormalizeEmail(%q) = %q, %v; want ErrInvalidEmail", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizeDisplayName(t *testing.T) {
	for _, bad := range []string{"", "   ", "bell\a", strings.Repeat("n", 65), "tab\tname"} {
		if _, err := NormalizeDisplayName(bad); !errors.Is(err, ErrInvalidDisplayName) {
			t.Errorf("NormalizeDisplayName(%q) = %v, want ErrInvalidDisplayName", bad, err)
		}
	}
	if got, err := NormalizeDisplayName("  Zoë Ünal "); err != nil || got != "Zoë Ünal" {
		t.Errorf("NormalizeDisplayName = %q, %v", got, err)
	}
}

func TestRegisterCreatesMemberKey(t *testing.T) {
	s, _ := newService(t)
	a := register(t, s, "Ann@Example.com")
	b := register(t, s, "bob@example.com")
	if a.Email != "ann@example.com" {
		t.Errorf("email not normalised: %q", a.Email)
	}
	if a.EmailVerified {
		t.Error("a new account is verified")
	}
	if a.MemberID() == b.MemberID() {
		t.Fatal("two accounts share a member key")
	}
	pub, err := ParseMemberID(a.MemberID())
	if err != nil || !pub.Equal(a.MemberPublicKey()) {
		t.Fatalf("ParseMemberID(MemberID) = %v, %v", pub, err)
	}
	if fp := Fingerprint(pub); len(fp) != 19 || strings.Count(fp, "-") != 3 {
		t.Errorf("fingerprint %q is not four groups of four", fp)
	}
	got, err := s.Account(a.ID)
	if err != nil || got.MemberID() != a.MemberID() || got.PasswordHash == "" {
		t.Fatalf("stored account = %+v, %v", got, err)
	}
	if _, err := ParseMemberID("not-a-key"); err == nil {
		t.Error("ParseMemberID accepted garbage")
	}
}

func TestRegisterDuplicateEmail(t *testing.T) {
	s, _ := newService(t)
	register(t, s, "ann@example.com")
	_, err := s.Register(RegisterInput{Email: "ANN@example.com", Password: goodPassword, DisplayName: "Other"})
	if !errors.Is(err, ErrEmailTaken) {
		t.Fatalf("duplicate register = %v, want ErrEmailTaken", err)
	}
}

func TestRegisterConcurrentSameEmail(t *testing.T) {
	s, _ := newService(t)
	const n = 8
	var wg sync.WaitGroup
	var ok, taken atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Register(RegisterInput{Email: "race@example.com", Password: goodPassword, DisplayName: "Racer"})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrEmailTaken):
				taken.Add(1)
			default:
				t.Errorf("register %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || taken.Load() != n-1 {
		t.Fatalf("concurrent registrations: %d succeeded, %d taken; want 1 and %d", ok.Load(), taken.Load(), n-1)
	}
}

func TestLoginSameErrorForUnknownAndWrong(t *testing.T) {
	s, _ := newService(t)
	register(t, s, "ann@example.com")
	_, _, errWrong := s.Login("ann@example.com", "wrong password!", "c1")
	_, _, errUnknown := s.Login("nobody@example.com", goodPassword, "c2")
	_, _, errMalformed := s.Login("not an email", goodPassword, "c3")
	for _, err := range []error{errWrong, errUnknown, errMalformed} {
		if !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("login error = %v, want ErrInvalidCredentials", err)
		}
	}
	toks, acct, err := s.Login("  ANN@example.com", goodPassword, "c1")
	if err != nil || toks.AccessToken == "" || toks.RefreshToken == "" || acct.Email != "ann@example.com" {
		t.Fatalf("login = %+v, %+v, %v", toks, acct, err)
	}
}

func TestLoginThrottledPerAccount(t *testing.T) {
	s, clock := newService(t, func(c *Config) {
		c.AccountThrottle = ThrottlePolicy{Burst: 3, Every: time.Minute}
		c.ClientThrottle = ThrottlePolicy{Burst: 1000, Every: time.Second}
	})
	register(t, s, "ann@example.com")
	for i := range 3 {
		if _, _, err := s.Login("ann@example.com", "wrong password!", "client-"+string(rune('a'+i))); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("attempt %d = %v", i, err)
		}
	}
	// Even the right password from a fresh client is refused now.
	_, _, err := s.Login("ann@example.com", goodPassword, "another-client")
	var th *ThrottledError
	if !errors.As(err, &th) || th.RetryAfter <= 0 || th.RetryAfter > time.Minute {
		t.Fatalf("4th attempt = %v, want ThrottledError within a minute", err)
	}
	// Other accounts are unaffected.
	register(t, s, "bob@example.com")
	login(t, s, "bob@example.com")

	clock.Advance(th.RetryAfter)
	login(t, s, "ann@example.com")
	// A success clears the account's failures.
	for i := range 3 {
		if _, _, err := s.Login("ann@example.com", "wrong password!", "x"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("attempt %d after success = %v", i, err)
		}
	}
}

func TestLoginThrottledPerClient(t *testing.T) {
	s, _ := newService(t, func(c *Config) {
		c.AccountThrottle = ThrottlePolicy{Burst: 1000, Every: time.Second}
		c.ClientThrottle = ThrottlePolicy{Burst: 4, Every: time.Minute}
	})
	register(t, s, "ann@example.com")
	for i := range 4 {
		s.Login("user"+string(rune('a'+i))+"@example.com", "whatever1", "10.9.9.9")
	}
	var th *ThrottledError
	if _, _, err := s.Login("ann@example.com", goodPassword, "10.9.9.9"); !errors.As(err, &th) {
		t.Fatalf("login from a throttled client = %v, want ThrottledError", err)
	}
	if _, _, err := s.Login("ann@example.com", goodPassword, "10.9.9.10"); err != nil {
		t.Fatalf("login from another client = %v", err)
	}
}

func TestAuthenticateAndLogout(t *testing.T) {
	s, _ := newService(t)
	a := register(t, s, "ann@example.com")
	toks := login(t, s, "ann@example.com")
	p, err := s.Authenticate(toks.AccessToken)
	if err != nil || p.Account.ID != a.ID || p.SessionID == "" {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	other := login(t, s, "ann@example.com")
	if err := s.Logout(p.SessionID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(toks.AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("access token after logout = %v, want ErrInvalidToken", err)
	}
	if _, err := s.Refresh(toks.RefreshToken); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("refresh after logout = %v, want ErrInvalidToken", err)
	}
	if _, err := s.Authenticate(other.AccessToken); err != nil {
		t.Fatalf("another session ended with the first: %v", err)
	}
	if err := s.Logout(p.SessionID); err != nil {
		t.Fatalf("second logout = %v", err)
	}
}

func TestEndAllSessions(t *testing.T) {
	s, _ := newService(t)
	a := register(t, s, "ann@example.com")
	t1, t2 := login(t, s, "ann@example.com"), login(t, s, "ann@example.com")
	register(t, s, "bob@example.com")
	tb := login(t, s, "bob@example.com")
	if err := s.EndAllSessions(a.ID); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []Tokens{t1, t2} {
		if _, err := s.Authenticate(tok.AccessToken); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("access token survived EndAllSessions: %v", err)
		}
		if _, err := s.Refresh(tok.RefreshToken); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("refresh token survived EndAllSessions: %v", err)
		}
	}
	if _, err := s.Authenticate(tb.AccessToken); err != nil {
		t.Errorf("another account's session ended: %v", err)
	}
}

func TestRefreshRotatesAndDetectsReuse(t *testing.T) {
	s, clock := newService(t)
	register(t, s, "ann@example.com")
	t0 := login(t, s, "ann@example.com")
	clock.Advance(time.Second)
	t1, err := s.Refresh(t0.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if t1.RefreshToken == t0.RefreshToken || t1.AccessToken == t0.AccessToken {
		t.Fatal("refresh did not rotate the tokens")
	}
	if _, err := s.Authenticate(t1.AccessToken); err != nil {
		t.Fatal(err)
	}
	// The old refresh token is presented again: theft. The family dies.
	if _, err := s.Refresh(t0.RefreshToken); !errors.Is(err, ErrRefreshReused) {
		t.Fatalf("reuse = %v, want ErrRefreshReused", err)
	}
	if _, err := s.Refresh(t1.RefreshToken); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("newest refresh after reuse = %v, want ErrInvalidToken", err)
	}
	if _, err := s.Authenticate(t1.AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("access token after reuse = %v, want ErrInvalidToken", err)
	}
	for _, bad := range []string{"", "garbage", strings.Repeat("x", 300)} {
		if _, err := s.Refresh(bad); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("Refresh(%q) = %v", bad, err)
		}
	}
}

func TestRefreshExpires(t *testing.T) {
	s, clock := newService(t, func(c *Config) { c.RefreshTTL = time.Hour })
	register(t, s, "ann@example.com")
	t0 := login(t, s, "ann@example.com")
	clock.Advance(time.Hour + time.Second)
	if _, err := s.Refresh(t0.RefreshToken); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("expired refresh = %v, want ErrInvalidToken", err)
	}
}

func TestAccessTokenVerification(t *testing.T) {
	s, clock := newService(t)
	register(t, s, "ann@example.com")
	toks := login(t, s, "ann@example.com")
	p, err := s.Authenticate(toks.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	base := func() accessClaims {
		return accessClaims{SessionID: p.SessionID, RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "chatterbox", Subject: p.Account.ID, Audience: jwt.ClaimStrings{"chatterbox-gateway"},
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(now),
		}}
	}
	sign := func(m jwt.SigningMethod, key any, c accessClaims) string {
		tok, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if _, err := s.Authenticate(sign(jwt.SigningMethodHS256, s.jwtKey, base())); err != nil {
		t.Fatalf("a well-formed token was refused: %v", err)
	}
	parts := strings.Split(toks.AccessToken, ".")
	flipped := []byte(parts[2])
	flipped[3] ^= 1
	cases := map[string]string{
		"tampered signature": parts[0] + "." + parts[1] + "." + string(flipped),
		"tampered payload":   parts[0] + "." + strings.TrimRight(parts[1], "=") + "A." + parts[2],
		"alg none":           sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, base()),
		"alg HS512":          sign(jwt.SigningMethodHS512, s.jwtKey, base()),
		"other key":          sign(jwt.SigningMethodHS256, []byte("0123456789abcdef0123456789abcdef"), base()),
		"wrong audience": sign(jwt.SigningMethodHS256, s.jwtKey, func() accessClaims {
			c := base()
			c.Audience = jwt.ClaimStrings{"someone-else"}
			return c
		}()),
		"no audience": sign(jwt.SigningMethodHS256, s.jwtKey, func() accessClaims { c := base(); c.Audience = nil; return c }()),
		"wrong issuer": sign(jwt.SigningMethodHS256, s.jwtKey, func() accessClaims {
			c := base()
			c.Issuer = "evil"
			return c
		}()),
		"no expiry":     sign(jwt.SigningMethodHS256, s.jwtKey, func() accessClaims { c := base(); c.ExpiresAt = nil; return c }()),
		"expired":       sign(jwt.SigningMethodHS256, s.jwtKey, func() accessClaims { c := base(); c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute)); return c }()),
		"issued future": sign(jwt.SigningMethodHS256, s.jwtKey, func() accessClaims { c := base(); c.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour)); return c }()),
		"other subject": sign(jwt.SigningMethodHS256, s.jwtKey, func() accessClaims { c := base(); c.Subject = "someone"; return c }()),
		"no session":    sign(jwt.SigningMethodHS256, s.jwtKey, func() accessClaims { c := base(); c.SessionID = ""; return c }()),
		"empty":         "",
		"garbage":       "a.b.c",
	}
	for name, tok := range cases {
		if _, err := s.Authenticate(tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: Authenticate = %v, want ErrInvalidToken", name, err)
		}
	}
	// The genuine token expires with the clock.
	clock.Advance(16 * time.Minute)
	if _, err := s.Authenticate(toks.AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("expired access token = %v", err)
	}
}

func TestServiceKeepsSigningKeyAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	open := func() (*badger.DB, *Service) {
		db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewService(Config{DB: db, Argon2: fastArgon2, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return db, s
	}
	db, s := open()
	register(t, s, "ann@example.com")
	toks := login(t, s, "ann@example.com")
	db.Close()
	db, s = open()
	defer db.Close()
	if _, err := s.Authenticate(toks.AccessToken); err != nil {
		t.Fatalf("access token after restart: %v", err)
	}
	login(t, s, "ann@example.com")
}

func TestNodeKeyCreatedOnceWithMode0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.key")
	k1, created, err := LoadOrCreateNodeKey(path)
	if err != nil || !created {
		t.Fatalf("first load: created=%v err=%v", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("node key mode = %v, want 0600", fi.Mode().Perm())
	}
	k2, created, err := LoadOrCreateNodeKey(path)
	if err != nil || created || !k1.Equals(k2) {
		t.Fatalf("second load: created=%v equal=%v err=%v", created, k1.Equals(k2), err)
	}
	if err := os.WriteFile(path, []byte("corrupt"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateNodeKey(path); err == nil {
		t.Fatal("a corrupt key file was accepted (or silently replaced)")
	}
}

// TestEmailTokensWorkOnlyForTheirKind: a verification token cannot reset a
// password, a reset token cannot verify an email, and either works once.
func TestEmailTokensWorkOnlyForTheirKind(t *testing.T) {
	s, _ := newService(t)
	a := register(t, s, "ann@example.com")
	verify, err := s.issueToken(tokenVerify, a.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	reset, err := s.issueToken(tokenReset, a.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResetPassword(verify, "another strong passphrase 42"); err == nil {
		t.Fatal("a verification token reset the password")
	}
	if _, err := s.VerifyEmail(reset); err == nil {
		t.Fatal("a reset token verified the email")
	}
	// Each still works once for its own kind.
	if acct, err := s.VerifyEmail(verify); err != nil || !acct.EmailVerified {
		t.Fatalf("the verification token for its own kind: %v", err)
	}
	if _, err := s.VerifyEmail(verify); err == nil {
		t.Fatal("a verification token worked twice")
	}
}

// Hashing a password takes 46 MiB; it is handed back to the system when
// the hash is done, not kept by the Go runtime for minutes after a
// sign-in (a personal node's resident memory doubled).
func TestPasswordHashingGivesItsMemoryBack(t *testing.T) {
	if _, err := HashPassword(goodPassword, DefaultArgon2Params); err != nil {
		t.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	held := ms.HeapInuse + ms.HeapIdle - ms.HeapReleased
	if limit := uint64(DefaultArgon2Params.Memory) * 1024 / 2; held > limit {
		t.Fatalf("the heap holds %d MiB after hashing, more than half of argon2's %d MiB", held>>20, DefaultArgon2Params.Memory>>10)
	}
}
