package node_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chatterbox/chatterbox/identity"
	"github.com/chatterbox/chatterbox/node"
	"github.com/chatterbox/chatterbox/node/nodetest"
)

// fakeProvider is an in-process OAuth 2 provider with PKCE (S256), in
// Google's or GitHub's dialect.
type fakeProvider struct {
	t      *testing.T
	kind   string
	srv    *httptest.Server
	secret string

	mu        sync.Mutex
	codes     map[string]*issuedCode
	deny      bool
	breakPKCE bool
	// The user the provider signs in.
	sub, email, name string
	verified         bool
}

type issuedCode struct {
	challenge string
	used      bool
}

func newFakeProvider(t *testing.T, kind string) *fakeProvider {
	p := &fakeProvider{t: t, kind: kind, secret: "shh", codes: map[string]*issuedCode{},
		sub: "1001", email: "gina@example.com", name: "Gina", verified: true}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /userinfo", p.userinfo)
	mux.HandleFunc("GET /user", p.userinfo)
	mux.HandleFunc("GET /user/emails", p.emails)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *fakeProvider) config() identity.ProviderConfig {
	info := p.srv.URL + "/userinfo"
	if p.kind == "github" {
		info = p.srv.URL
	}
	return identity.ProviderConfig{ClientID: "client-" + p.kind, ClientSecret: p.secret,
		AuthURL: p.srv.URL + "/authorize", TokenURL: p.srv.URL + "/token", UserInfoURL: info}
}

func (p *fakeProvider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("client_id") != "client-"+p.kind {
		http.Error(w, "bad authorize request", 400)
		return
	}
	v := url.Values{"state": {q.Get("state")}}
	p.mu.Lock()
	if p.deny {
		v.Set("error", "access_denied")
	} else {
		code := fmt.Sprintf("code-%d", len(p.codes)+1)
		p.codes[code] = &issuedCode{challenge: q.Get("code_challenge")}
		v.Set("code", code)
	}
	p.mu.Unlock()
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (p *fakeProvider) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.Form.Get("client_id"), r.Form.Get("client_secret")
	}
	sum := sha256.Sum256([]byte(r.Form.Get("code_verifier")))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	p.mu.Lock()
	c := p.codes[r.Form.Get("code")]
	valid := c != nil && !c.used && c.challenge == challenge && !p.breakPKCE && id == "client-"+p.kind && secret == p.secret
	if c != nil {
		c.used = true
	}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !valid {
		w.WriteHeader(400)
		w.Write([]byte(`{"error":"invalid_grant"}`))
		return
	}
	w.Write([]byte(`{"access_token":"at-` + r.Form.Get("code") + `","token_type":"bearer"}`))
}

func (p *fakeProvider) authed(w http.ResponseWriter, r *http.Request) bool {
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer at-") {
		http.Error(w, "no token", 401)
		return false
	}
	return true
}

func (p *fakeProvider) userinfo(w http.ResponseWriter, r *http.Request) {
	if !p.authed(w, r) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.kind == "google" {
		json.NewEncoder(w).Encode(map[string]any{"sub": p.sub, "email": p.email, "email_verified": p.verified, "name": p.name})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"id": 4242, "login": "gina-gh", "name": p.name})
}

func (p *fakeProvider) emails(w http.ResponseWriter, r *http.Request) {
	if !p.authed(w, r) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	json.NewEncoder(w).Encode([]map[string]any{
		{"email": "old@example.com", "primary": false, "verified": true},
		{"email": p.email, "primary": true, "verified": p.verified},
	})
}

// browser follows redirects with a cookie jar, as a browser would, and
// stops at the UI page the sign-in ends on.
type browser struct {
	t    *testing.T
	base string // http://localhost:<port>, the node's public URL
	http *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, http: &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Path == "/oauth/done" {
			return http.ErrUseLastResponse
		}
		return nil
	}}}
}

// get follows redirects from path and returns the fragment of the
// /oauth/done URL it ended on.
func (b *browser) get(u string) url.Values {
	b.t.Helper()
	res, err := b.http.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	res.Body.Close()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(loc, b.base+"/oauth/done#") {
		b.t.Fatalf("sign-in ended at %d %q, want a redirect to %s/oauth/done", res.StatusCode, loc, b.base)
	}
	frag, _ := url.ParseQuery(loc[strings.Index(loc, "#")+1:])
	return frag
}

func (b *browser) signIn(provider string) url.Values {
	return b.get(b.base + "/api/auth/oauth/" + provider + "/start")
}

func oauthNode(t *testing.T, google, github *fakeProvider) (*node.Node, string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := nodetest.Config(t, t.TempDir())
	cfg.GatewayAddr = fmt.Sprintf("127.0.0.1:%d", port)
	if google != nil {
		cfg.Identity.OAuth.Google = google.config()
	}
	if github != nil {
		cfg.Identity.OAuth.GitHub = github.config()
	}
	n := nodetest.StartWith(t, cfg)
	return n, fmt.Sprintf("http://localhost:%d", port)
}

// exchange signs in with provider in a fresh browser and exchanges the
// one-time code there, as the web app does. The code is bound to that
// browser: the same code from another client (login CSRF) fails, and it
// works once.
func exchange(t *testing.T, n *node.Node, base, provider string) nodetest.Response {
	t.Helper()
	b := newBrowser(t, base)
	frag := b.signIn(provider)
	if frag.Get("error") != "" {
		t.Fatalf("sign-in failed: %s", frag.Get("error"))
	}
	post := func(hc *http.Client) (int, map[string]any) {
		raw, _ := json.Marshal(map[string]string{"code": frag.Get("code")})
		res, err := hc.Post(base+"/api/auth/oauth/exchange", "application/json", bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	status, out := post(b.http)
	if status != 200 {
		t.Fatalf("exchange in the browser that signed in = %d %v", status, out)
	}
	if again, _ := post(b.http); again != 401 {
		t.Fatalf("a login code worked twice (%d)", again)
	}
	c := nodetest.NewClient(t, n.GatewayURL())
	c.Token, _ = out["accessToken"].(string)
	return c.Must(200, "GET", "/api/me", nil)
}

// TestOAuthLoginCodeIsBoundToItsBrowser: a login code carried to another
// browser (a login CSRF on a shared node) signs no one in.
func TestOAuthLoginCodeIsBoundToItsBrowser(t *testing.T) {
	google := newFakeProvider(t, "google")
	n, base := oauthNode(t, google, nil)
	frag := newBrowser(t, base).signIn("google")
	if frag.Get("code") == "" {
		t.Fatalf("no code: %v", frag)
	}
	other := nodetest.NewClient(t, n.GatewayURL())
	expectCode(t, other.Do("POST", "/api/auth/oauth/exchange", map[string]string{"code": frag.Get("code")}), 401, "invalid_token")
}

func TestOAuthSignInCreatesAndLinksAccounts(t *testing.T) {
	google, github := newFakeProvider(t, "google"), newFakeProvider(t, "github")
	n, base := oauthNode(t, google, github)
	c := nodetest.NewClient(t, n.GatewayURL())
	if ps := c.Must(200, "GET", "/api/auth/providers", nil).JSON["providers"].([]any); len(ps) != 2 || ps[0] != "github" || ps[1] != "google" {
		t.Fatalf("providers = %v", ps)
	}

	// A first Google sign-in creates a verified account.
	me := exchange(t, n, base, "google")
	if me.String("email") != "gina@example.com" || me.JSON["emailVerified"] != true || me.String("displayName") != "Gina" || me.String("memberId") == "" {
		t.Fatalf("account from Google = %s", me.Raw)
	}
	// Signing in again finds it; GitHub with the same verified primary email links to it.
	if again := exchange(t, n, base, "google"); again.String("id") != me.String("id") {
		t.Fatal("a second Google sign-in made a new account")
	}
	if gh := exchange(t, n, base, "github"); gh.String("id") != me.String("id") {
		t.Fatal("GitHub did not link to the account with the same verified email")
	}
	// OAuth-only accounts have no password to guess.
	expectCode(t, c.Do("POST", "/api/auth/login", map[string]string{"email": "gina@example.com", "password": ""}), 401, "invalid_credentials")
}

func TestOAuthLinksToPasswordAccount(t *testing.T) {
	google := newFakeProvider(t, "google")
	n, base := oauthNode(t, google, nil)
	google.email = "hal@example.com"
	c := nodetest.NewClient(t, n.GatewayURL())
	// Someone registered hal@example.com with a password but never verified it:
	// it might not be Hal. When Hal signs in with Google, that password stops working.
	c.SignUp("hal@example.com", password, "Hal?")
	id := c.Must(200, "GET", "/api/me", nil).String("id")
	me := exchange(t, n, base, "google")
	if me.String("id") != id || me.JSON["emailVerified"] != true {
		t.Fatalf("linked account = %s", me.Raw)
	}
	expectCode(t, c.Do("GET", "/api/me", nil), 401, "invalid_token")
	expectCode(t, c.Do("POST", "/api/auth/login", map[string]string{"email": "hal@example.com", "password": password}), 401, "invalid_credentials")
}

func TestOAuthErrorsEndOnAPage(t *testing.T) {
	google, github := newFakeProvider(t, "google"), newFakeProvider(t, "github")
	_, base := oauthNode(t, google, github)
	expectErr := func(frag url.Values, code string) {
		t.Helper()
		if frag.Get("error") != code || frag.Has("message") || frag.Get("code") != "" {
			t.Fatalf("fragment = %v, want error %s and nothing else (the page says its own sentence)", frag, code)
		}
	}

	t.Run("denied consent", func(t *testing.T) {
		google.mu.Lock()
		google.deny = true
		google.mu.Unlock()
		defer func() { google.mu.Lock(); google.deny = false; google.mu.Unlock() }()
		expectErr(newBrowser(t, base).signIn("google"), "oauth_denied")
	})
	t.Run("PKCE failure", func(t *testing.T) {
		google.mu.Lock()
		google.breakPKCE = true
		google.mu.Unlock()
		defer func() { google.mu.Lock(); google.breakPKCE = false; google.mu.Unlock() }()
		expectErr(newBrowser(t, base).signIn("google"), "oauth_failed")
	})
	t.Run("missing state cookie", func(t *testing.T) {
		// Start in one browser; the provider's redirect lands in another,
		// which lacks the state cookie.
		cb := stopAtCallback(t, newBrowser(t, base), base)
		expectErr(newBrowser(t, base).get(cb), "oauth_state")
	})
	t.Run("forged state", func(t *testing.T) {
		expectErr(newBrowser(t, base).get(base+"/api/auth/oauth/google/callback?code=code-1&state=forged"), "oauth_state")
	})
	t.Run("code replay", func(t *testing.T) {
		b := newBrowser(t, base)
		if first := b.signIn("google"); first.Get("code") == "" {
			t.Fatalf("first sign-in failed: %v", first)
		}
		google.mu.Lock()
		used := fmt.Sprintf("code-%d", len(google.codes))
		google.mu.Unlock()
		// A new flow (fresh state, cookie set) presented with the used code.
		cb, _ := url.Parse(stopAtCallback(t, b, base))
		expectErr(b.get(base+"/api/auth/oauth/google/callback?code="+used+"&state="+cb.Query().Get("state")), "oauth_failed")
	})
	t.Run("unverified email", func(t *testing.T) {
		google.mu.Lock()
		google.verified = false
		google.mu.Unlock()
		github.mu.Lock()
		github.verified = false
		github.mu.Unlock()
		expectErr(newBrowser(t, base).signIn("google"), "oauth_email_unverified")
		expectErr(newBrowser(t, base).signIn("github"), "oauth_email_unverified")
	})
	t.Run("unknown provider", func(t *testing.T) {
		expectErr(newBrowser(t, base).signIn("myspace"), "oauth_provider_unknown")
	})
	t.Run("provider down", func(t *testing.T) {
		down := newFakeProvider(t, "google")
		_, base2 := oauthNode(t, down, nil)
		b := newBrowser(t, base2)
		cb := stopAtCallback(t, b, base2)
		down.srv.Close() // the provider goes away before the token exchange
		expectErr(b.get(cb), "oauth_unavailable")
	})
}

// stopAtCallback starts a Google sign-in in b and returns the callback URL
// the provider redirected to, without following it.
func stopAtCallback(t *testing.T, b *browser, base string) string {
	t.Helper()
	saved := b.http.CheckRedirect
	defer func() { b.http.CheckRedirect = saved }()
	b.http.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if strings.HasSuffix(req.URL.Path, "/callback") {
			return http.ErrUseLastResponse
		}
		return nil
	}
	res, err := b.http.Get(base + "/api/auth/oauth/google/start")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	cb := res.Header.Get("Location")
	if !strings.Contains(cb, "/api/auth/oauth/google/callback?") {
		t.Fatalf("provider redirected to %q", cb)
	}
	return cb
}

// TestOAuthStartFloodLocksNoOneOut: any page can make the browser fetch
// /start (image tags); a thousand such starts neither fill the node's
// table nor stop a real sign-in that starts after them.
func TestOAuthStartFloodLocksNoOneOut(t *testing.T) {
	google := newFakeProvider(t, "google")
	n, base := oauthNode(t, google, nil)
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for range 1000 {
		res, err := hc.Get(base + "/api/auth/oauth/google/start")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusFound || !strings.HasPrefix(res.Header.Get("Location"), google.srv.URL) {
			t.Fatalf("start %d %q, want a redirect to the provider", res.StatusCode, res.Header.Get("Location"))
		}
	}
	if me := exchange(t, n, base, "google"); me.String("id") == "" {
		t.Fatalf("no account after the flood: %s", me.Raw)
	}
}
