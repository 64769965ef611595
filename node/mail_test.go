package node_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatterbox/chatterbox/node"
	"github.com/chatterbox/chatterbox/node/nodetest"
)

// clock is a settable clock for link expiry.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

func mailNode(t *testing.T, ms *nodetest.MailServer, implicitTLS bool, clk *clock) *node.Node {
	cfg := nodetest.Config(t, t.TempDir())
	cfg.SMTPURL = ms.URL(implicitTLS)
	cfg.SMTPTLS = ms.ClientTLS
	cfg.MailFrom = "ChatterBox Test <noreply@chatterbox.test>"
	if clk != nil {
		cfg.Identity.Now = clk.Now
	}
	return nodetest.StartWith(t, cfg)
}

func TestVerificationMailOverSMTP(t *testing.T) {
	for _, implicit := range []bool{false, true} {
		name := map[bool]string{false: "STARTTLS", true: "implicit TLS"}[implicit]
		t.Run(name, func(t *testing.T) {
			ms := nodetest.StartMailServer(t, implicit)
			n := mailNode(t, ms, implicit, nil)
			c := nodetest.NewClient(t, n.GatewayURL())
			c.SignUp("ann@example.com", password, "Ann")
			if c.Must(200, "GET", "/api/me", nil).JSON["emailVerified"] != false {
				t.Fatal("verified before following the link")
			}

			got := ms.Next(t)
			if got.To != "ann@example.com" || got.From != "noreply@chatterbox.test" {
				t.Fatalf("envelope %s → %s", got.From, got.To)
			}
			m := nodetest.ParseMail(t, got.Raw)
			if !strings.Contains(m.Header.Get("Subject"), "Confirm your email") || m.HTML == "" {
				t.Fatalf("mail: subject %q, html %d bytes", m.Header.Get("Subject"), len(m.HTML))
			}
			link := m.Link(t)
			if !strings.HasPrefix(link, "http://localhost:") || !strings.Contains(link, "/verify-email#token=") {
				t.Fatalf("verification link = %q", link)
			}
			if !strings.Contains(m.HTML, nodetest.Token(link)) {
				t.Fatal("the HTML part lacks the link")
			}
			// The link's page is served by the gateway.
			page := nodetest.NewClient(t, n.GatewayURL())
			if res, err := http.Get(strings.Replace(strings.Split(link, "#")[0], "localhost", "127.0.0.1", 1)); err != nil || res.StatusCode != 200 {
				t.Fatalf("landing page: %v %v", res, err)
			}
			r := page.Must(200, "POST", "/api/auth/verify-email", map[string]string{"token": nodetest.Token(link)})
			if r.JSON["emailVerified"] != true {
				t.Fatalf("verify = %s", r.Raw)
			}
			if c.Must(200, "GET", "/api/me", nil).JSON["emailVerified"] != true {
				t.Fatal("/api/me does not show the verification")
			}
			expectCode(t, page.Do("POST", "/api/auth/verify-email", map[string]string{"token": nodetest.Token(link)}), 400, "token_invalid")
			expectCode(t, page.Do("POST", "/api/auth/verify-email", map[string]string{"token": "made-up"}), 400, "token_invalid")
			expectCode(t, c.Do("POST", "/api/auth/resend-verification", nil), 409, "already_verified")
		})
	}
}

func TestResendAndExpiredVerification(t *testing.T) {
	ms := nodetest.StartMailServer(t, false)
	clk := &clock{}
	n := mailNode(t, ms, false, clk)
	c := nodetest.NewClient(t, n.GatewayURL())
	c.SignUp("bob@example.com", password, "Bob")
	first := nodetest.ParseMail(t, ms.Next(t).Raw).Link(t)

	c.Must(http.StatusAccepted, "POST", "/api/auth/resend-verification", nil)
	second := nodetest.ParseMail(t, ms.Next(t).Raw).Link(t)
	if first == second {
		t.Fatal("resend repeated the same token")
	}
	// Resending is throttled: three, then one per 20 minutes.
	for range 2 {
		c.Must(http.StatusAccepted, "POST", "/api/auth/resend-verification", nil)
		ms.Next(t)
	}
	r := c.Do("POST", "/api/auth/resend-verification", nil)
	expectCode(t, r, 429, "too_many_attempts")

	clk.Advance(25 * time.Hour)
	c.SignIn("bob@example.com", password)
	expectCode(t, c.Do("POST", "/api/auth/verify-email", map[string]string{"token": nodetest.Token(first)}), 410, "token_expired")
	expectCode(t, c.Do("POST", "/api/auth/verify-email", map[string]string{"token": nodetest.Token(first)}), 400, "token_invalid")
}

func TestPasswordResetEndsEverySession(t *testing.T) {
	ms := nodetest.StartMailServer(t, false)
	clk := &clock{}
	n := mailNode(t, ms, false, clk)
	c := nodetest.NewClient(t, n.GatewayURL())
	login := c.SignUp("cat@example.com", password, "Cat")
	ms.Next(t) // verification
	other := nodetest.NewClient(t, n.GatewayURL())
	other.SignIn("cat@example.com", password)

	anon := nodetest.NewClient(t, n.GatewayURL())
	known := anon.Must(http.StatusAccepted, "POST", "/api/auth/forgot-password", map[string]string{"email": "CAT@example.com"})
	unknown := anon.Must(http.StatusAccepted, "POST", "/api/auth/forgot-password", map[string]string{"email": "nobody@example.com"})
	if string(known.Raw) != string(unknown.Raw) {
		t.Fatalf("forgot-password answers differ:\n%s\n%s", known.Raw, unknown.Raw)
	}
	// A marker mail, asked for after the unknown address's request: mails
	// leave one queue in order, so a mail to the unknown address would
	// arrive before the marker.
	c.Must(http.StatusAccepted, "POST", "/api/auth/resend-verification", nil)
	m := nodetest.ParseMail(t, ms.Next(t).Raw)
	link := m.Link(t)
	if !strings.Contains(link, "/reset-password#token=") || !strings.Contains(m.Header.Get("Subject"), "Reset") {
		t.Fatalf("reset mail: %q %q", m.Header.Get("Subject"), link)
	}
	if marker := ms.Next(t); !strings.Contains(marker.To, "cat@example.com") {
		t.Fatalf("a mail went to an unknown address: %s", marker.To)
	}
	tok := nodetest.Token(link)
	expectCode(t, anon.Do("POST", "/api/auth/reset-password", map[string]string{"token": tok, "password": "password1"}), 422, "weak_password")
	const newPassword = "a brand new passphrase"
	anon.Must(200, "POST", "/api/auth/reset-password", map[string]string{"token": tok, "password": newPassword})

	// Every session ended at once: access tokens and refresh tokens.
	expectCode(t, c.Do("GET", "/api/me", nil), 401, "invalid_token")
	expectCode(t, other.Do("GET", "/api/me", nil), 401, "invalid_token")
	expectCode(t, anon.Do("POST", "/api/auth/refresh", map[string]string{"refreshToken": login.String("refreshToken")}), 401, "invalid_token")
	expectCode(t, anon.Do("POST", "/api/auth/login", map[string]string{"email": "cat@example.com", "password": password}), 401, "invalid_credentials")
	c.SignIn("cat@example.com", newPassword)
	if c.Must(200, "GET", "/api/me", nil).JSON["emailVerified"] != true {
		t.Fatal("a completed reset did not verify the email")
	}
	expectCode(t, anon.Do("POST", "/api/auth/reset-password", map[string]string{"token": tok, "password": "yet another passphrase"}), 400, "token_invalid")

	// A reset link lasts one hour.
	anon.Must(http.StatusAccepted, "POST", "/api/auth/forgot-password", map[string]string{"email": "cat@example.com"})
	late := nodetest.Token(nodetest.ParseMail(t, ms.Next(t).Raw).Link(t))
	clk.Advance(61 * time.Minute)
	expectCode(t, anon.Do("POST", "/api/auth/reset-password", map[string]string{"token": late, "password": "too late passphrase"}), 410, "token_expired")
}

func TestMailGoesToOutboxWithoutSMTP(t *testing.T) {
	n := nodetest.Start(t, 1)[0]
	c := nodetest.NewClient(t, n.GatewayURL())
	c.SignUp("dee@example.com", password, "Dee")
	var files []string
	nodetest.Eventually(t, 10*time.Second, "a mail in the outbox", func() bool {
		files, _ = filepath.Glob(filepath.Join(n.DataDir(), "outbox", "*.eml"))
		return len(files) == 1
	})
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(files[0]); fi.Mode().Perm() != 0o600 {
		t.Fatalf("outbox file mode %v", fi.Mode().Perm())
	}
	m := nodetest.ParseMail(t, raw)
	if m.Header.Get("To") == "" || !strings.Contains(m.Header.Get("To"), "dee@example.com") {
		t.Fatalf("To = %q", m.Header.Get("To"))
	}
	c.Must(200, "POST", "/api/auth/verify-email", map[string]string{"token": nodetest.Token(m.Link(t))})
	if c.Must(200, "GET", "/api/me", nil).JSON["emailVerified"] != true {
		t.Fatal("outbox link did not verify")
	}
}
