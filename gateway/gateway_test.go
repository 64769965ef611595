package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/chatterbox/chatterbox/identity"
)

const goodPassword = "correct horse battery staple"

type fakeNode struct{}

func (fakeNode) PeerID() string       { return "12D3KooWTest" }
func (fakeNode) Addrs() []string      { return []string{"/ip4/127.0.0.1/tcp/1/p2p/12D3KooWTest"} }
func (fakeNode) Reachability() string { return "Private" }
func (fakeNode) Relays() []string     { return []string{"12D3KooWRelay"} }
func (fakeNode) StorageBytes() int64  { return 4096 }
func (fakeNode) Traffic() Traffic {
	return Traffic{BytesIn: 1234, BytesOut: 567, RateIn: 12.5, RateOut: 3}
}

// testServer runs the real gateway handler with a real identity service on
// a Badger database in a temp dir.
func testServer(t *testing.T, mutate ...func(*identity.Config)) *httptest.Server {
	t.Helper()
	gw, err := New(Config{Identity: testIdentity(t, mutate...), Node: fakeNode{}, Version: "test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	gw.SetReady(true)
	srv := httptest.NewServer(gw.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// testIdentity is a real identity service on a Badger database in a temp
// dir.
func testIdentity(t *testing.T, mutate ...func(*identity.Config)) *identity.Service {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(t.TempDir()).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	idCfg := identity.Config{DB: db, Argon2: identity.Argon2Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}, Logger: log}
	for _, m := range mutate {
		m(&idCfg)
	}
	id, err := identity.NewService(idCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { id.Close() })
	return id
}

type resp struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func (r resp) errCode() string {
	e, _ := r.Body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func (r resp) str(key string) string { s, _ := r.Body[key].(string); return s }

// do sends a request; body may be a string (sent raw) or a value (JSON).
func do(t *testing.T, srv *httptest.Server, method, path string, body any, headers ...string) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	if len(raw) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out.Body); err != nil {
			t.Fatalf("%s %s: response is not JSON: %q", method, path, raw)
		}
	}
	return out
}

func expect(t *testing.T, r resp, status int, code string) {
	t.Helper()
	if r.Status != status || r.errCode() != code {
		t.Fatalf("got %d %q (%s), want %d %q", r.Status, r.errCode(), r.Raw, status, code)
	}
	if code != "" {
		e := r.Body["error"].(map[string]any)
		if msg, _ := e["message"].(string); msg == "" {
			t.Fatalf("error %q has no message", code)
		}
	}
}

func registerBody(email string) map[string]string {
	return map[string]string{"email": email, "password": goodPassword, "displayName": "Ann"}
}

func signIn(t *testing.T, srv *httptest.Server, email string) resp {
	t.Helper()
	r := do(t, srv, "POST", "/api/auth/login", map[string]string{"email": email, "password": goodPassword})
	expect(t, r, 200, "")
	return r
}

func bearer(r resp) []string { return []string{"Authorization", "Bearer " + r.str("accessToken")} }

func TestRegisterLoginMeLogout(t *testing.T) {
	srv := testServer(t)
	r := do(t, srv, "POST", "/api/auth/register", registerBody("Ann@Example.com"))
	expect(t, r, 202, "")
	if r.str("email") != "ann@example.com" || r.str("status") != "check_email" || len(r.Body) != 2 {
		t.Fatalf("register body = %s", r.Raw)
	}

	login := signIn(t, srv, "ann@example.com")
	if login.str("refreshToken") == "" || login.str("tokenType") != "Bearer" || login.Body["account"] == nil {
		t.Fatalf("login body = %s", login.Raw)
	}
	acct := login.Body["account"].(map[string]any)
	memberID, _ := acct["memberId"].(string)
	if acct["email"] != "ann@example.com" || memberID == "" || acct["fingerprint"] == "" || acct["emailVerified"] != false {
		t.Fatalf("login account = %s", login.Raw)
	}
	for _, secret := range []string{"passwordHash", "memberKey", "password"} {
		if _, ok := acct[secret]; ok {
			t.Fatalf("login response leaks %q: %s", secret, login.Raw)
		}
	}
	me := do(t, srv, "GET", "/api/me", nil, bearer(login)...)
	expect(t, me, 200, "")
	if me.str("memberId") != memberID || me.str("displayName") != "Ann" {
		t.Fatalf("me = %s", me.Raw)
	}

	expect(t, do(t, srv, "GET", "/api/me", nil), 401, "unauthorized")
	expect(t, do(t, srv, "GET", "/api/me", nil, "Authorization", "Bearer nonsense"), 401, "invalid_token")
	expect(t, do(t, srv, "GET", "/api/me", nil, "Authorization", "Basic abc"), 401, "unauthorized")

	out := do(t, srv, "POST", "/api/auth/logout", nil, bearer(login)...)
	if out.Status != 204 {
		t.Fatalf("logout = %d %s", out.Status, out.Raw)
	}
	expect(t, do(t, srv, "GET", "/api/me", nil, bearer(login)...), 401, "invalid_token")
	expect(t, do(t, srv, "POST", "/api/auth/refresh", map[string]string{"refreshToken": login.str("refreshToken")}), 401, "invalid_token")
}

func TestRegisterErrors(t *testing.T) {
	srv := testServer(t)
	expect(t, do(t, srv, "POST", "/api/auth/register", registerBody("ann@example.com")), 202, "")
	tests := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"taken email, answered like a new one", registerBody("ANN@example.com"), 202, ""},
		{"weak password", map[string]string{"email": "b@example.com", "password": "password1", "displayName": "B"}, 422, "weak_password"},
		{"short password", map[string]string{"email": "b@example.com", "password": "x7!", "displayName": "B"}, 422, "weak_password"},
		{"invalid email", map[string]string{"email": "not-an-email", "password": goodPassword, "displayName": "B"}, 422, "invalid_email"},
		{"invalid display name", map[string]string{"email": "b@example.com", "password": goodPassword, "displayName": " "}, 422, "invalid_display_name"},
		{"broken json", `{"email":`, 400, "bad_json"},
		{"not an object", `[1,2]`, 400, "bad_json"},
		{"null", `null`, 400, "bad_json"},
		{"a string", `"x"`, 400, "bad_json"},
		{"wrong type", `{"email": 5}`, 400, "bad_json"},
		{"unknown field", `{"email":"b@example.com","pasword":"x"}`, 400, "bad_json"},
		{"two values", `{} {}`, 400, "bad_json"},
		{"empty body", ``, 400, "bad_json"},
		{"too large", `{"email":"` + strings.Repeat("a", maxBodyBytes) + `"}`, 413, "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, do(t, srv, "POST", "/api/auth/register", tt.body), tt.status, tt.code)
		})
	}
	t.Run("not json content type", func(t *testing.T) {
		expect(t, do(t, srv, "POST", "/api/auth/register", registerBody("c@example.com"), "Content-Type", "text/plain"), 415, "unsupported_media_type")
	})
}

func TestLoginErrorsAndThrottle(t *testing.T) {
	srv := testServer(t, func(c *identity.Config) {
		c.AccountThrottle = identity.ThrottlePolicy{Burst: 3, Every: time.Hour}
	})
	expect(t, do(t, srv, "POST", "/api/auth/register", registerBody("ann@example.com")), 202, "")
	wrong := do(t, srv, "POST", "/api/auth/login", map[string]string{"email": "ann@example.com", "password": "not the password"})
	unknown := do(t, srv, "POST", "/api/auth/login", map[string]string{"email": "zed@example.com", "password": "not the password"})
	expect(t, wrong, 401, "invalid_credentials")
	expect(t, unknown, 401, "invalid_credentials")
	if wrong.Raw != unknown.Raw {
		t.Fatalf("unknown email and wrong password differ:\n%s\n%s", wrong.Raw, unknown.Raw)
	}
	do(t, srv, "POST", "/api/auth/login", map[string]string{"email": "ann@example.com", "password": "not the password"})
	do(t, srv, "POST", "/api/auth/login", map[string]string{"email": "ann@example.com", "password": "not the password"})
	r := do(t, srv, "POST", "/api/auth/login", map[string]string{"email": "ann@example.com", "password": goodPassword})
	expect(t, r, 429, "too_many_attempts")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	expect(t, do(t, srv, "POST", "/api/auth/login", `{"email":1}`), 400, "bad_json")
}

func TestRefreshRotationAndReuse(t *testing.T) {
	srv := testServer(t)
	expect(t, do(t, srv, "POST", "/api/auth/register", registerBody("ann@example.com")), 202, "")
	login := signIn(t, srv, "ann@example.com")
	r1 := do(t, srv, "POST", "/api/auth/refresh", map[string]string{"refreshToken": login.str("refreshToken")})
	expect(t, r1, 200, "")
	expect(t, do(t, srv, "GET", "/api/me", nil, bearer(r1)...), 200, "")
	expect(t, do(t, srv, "POST", "/api/auth/refresh", map[string]string{"refreshToken": login.str("refreshToken")}), 401, "refresh_reused")
	expect(t, do(t, srv, "GET", "/api/me", nil, bearer(r1)...), 401, "invalid_token")
	expect(t, do(t, srv, "POST", "/api/auth/refresh", map[string]string{"refreshToken": r1.str("refreshToken")}), 401, "invalid_token")
	expect(t, do(t, srv, "POST", "/api/auth/refresh", map[string]string{}), 401, "invalid_token")
}

func TestHostAndOriginChecks(t *testing.T) {
	srv := testServer(t)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	for _, host := range []string{"evil.example", "evil.example:" + port, "127.0.0.1.nip.io:" + port, "localhost.evil.example"} {
		expect(t, do(t, srv, "GET", "/api/node", nil, "Host", host), 421, "bad_host")
		expect(t, do(t, srv, "POST", "/api/auth/register", registerBody("x@example.com"), "Host", host), 421, "bad_host")
	}
	for _, host := range []string{"localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port, "LOCALHOST:" + port} {
		expect(t, do(t, srv, "GET", "/api/node", nil, "Host", host), 200, "")
	}
	self := "http://127.0.0.1:" + port
	expect(t, do(t, srv, "POST", "/api/auth/register", registerBody("a@example.com"), "Origin", "https://evil.example"), 403, "bad_origin")
	expect(t, do(t, srv, "POST", "/api/auth/register", registerBody("a@example.com"), "Origin", "http://localhost:"+port), 403, "bad_origin")
	expect(t, do(t, srv, "POST", "/api/auth/register", registerBody("a@example.com"), "Origin", "null"), 403, "bad_origin")
	expect(t, do(t, srv, "POST", "/api/auth/register", registerBody("a@example.com"), "Sec-Fetch-Site", "cross-site"), 403, "bad_origin")
	expect(t, do(t, srv, "POST", "/api/auth/register", registerBody("a@example.com"), "Sec-Fetch-Site", "same-site"), 403, "bad_origin")
	expect(t, do(t, srv, "POST", "/api/auth/register", registerBody("a@example.com"), "Origin", self, "Sec-Fetch-Site", "same-origin"), 202, "")
	// Reads are allowed cross-origin (the browser keeps the answer from the page).
	expect(t, do(t, srv, "GET", "/api/node", nil, "Origin", "https://evil.example"), 200, "")
}

func TestSecurityHeadersEverywhere(t *testing.T) {
	srv := testServer(t)
	for _, path := range []string{"/healthz", "/api/node", "/api/me", "/nope", "/api/openapi.yaml"} {
		r := do(t, srv, "GET", path, nil)
		for h, want := range map[string]string{
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
			"Referrer-Policy":         "no-referrer",
			"Content-Security-Policy": "frame-ancestors 'none'",
		} {
			if got := r.Header.Get(h); !strings.Contains(got, want) {
				t.Errorf("%s: %s = %q, want %q", path, h, got, want)
			}
		}
	}
	if cc := do(t, srv, "GET", "/api/me", nil).Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("API Cache-Control = %q", cc)
	}
}

func TestNodeHealthAndFallbacks(t *testing.T) {
	srv := testServer(t)
	expect(t, do(t, srv, "GET", "/healthz", nil), 200, "")
	n := do(t, srv, "GET", "/api/node", nil)
	expect(t, n, 200, "")
	traffic, _ := n.Body["traffic"].(map[string]any)
	if n.str("peerId") != "12D3KooWTest" || n.str("version") != "test" || len(n.Body["addrs"].([]any)) != 1 ||
		traffic["bytesIn"] != 1234.0 || traffic["rateOut"] != 3.0 {
		t.Fatalf("node = %s", n.Raw)
	}
	expect(t, do(t, srv, "GET", "/api/nothing-here", nil), 404, "not_found")
	r := do(t, srv, "DELETE", "/api/me", nil)
	expect(t, r, 405, "method_not_allowed")
	if !strings.Contains(r.Header.Get("Allow"), "GET") {
		t.Errorf("405 Allow = %q", r.Header.Get("Allow"))
	}
	if doc := do(t, srv, "GET", "/api/openapi.yaml", nil); doc.Status != 200 || !strings.Contains(doc.Raw, "openapi: 3") {
		t.Fatalf("openapi.yaml = %d %.80s", doc.Status, doc.Raw)
	}
}

func TestHealthNotReady(t *testing.T) {
	db, err := badger.Open(badger.DefaultOptions(t.TempDir()).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id, err := identity.NewService(identity.Config{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	defer id.Close()
	gw, _ := New(Config{Identity: id})
	srv := httptest.NewServer(gw.Handler())
	defer srv.Close()
	expect(t, do(t, srv, "GET", "/healthz", nil), 503, "not_ready")
}

// Pages opened under another loopback name of the gateway's port are sent
// to the one origin mailed and invite links use, so a tab and a link
// share one sign-in; the API answers under every allowed name.
func TestPagesAreServedUnderOneOrigin(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	gw, err := New(Config{Identity: testIdentity(t), Node: fakeNode{}, Version: "test", Logger: log, Listener: ln, PublicURL: "http://localhost:" + port})
	if err != nil {
		t.Fatal(err)
	}
	gw.SetReady(true)
	srv := httptest.NewUnstartedServer(gw.Handler())
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(host, path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Host = host
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	for _, host := range []string{"127.0.0.1:" + port, "[::1]:" + port, "127.0.0.2:" + port} {
		res := get(host, "/join?x=1")
		if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "http://localhost:"+port+"/join?x=1" {
			t.Errorf("page under %s: %d to %q, want 302 to the localhost origin", host, res.StatusCode, res.Header.Get("Location"))
		}
		if res := get(host, "/api/node"); res.StatusCode != http.StatusOK {
			t.Errorf("API under %s: %d, want 200 (no redirect)", host, res.StatusCode)
		}
	}
	for _, host := range []string{"localhost:" + port, "127.0.0.1:1"} { // the origin itself; another port is not ours to unify
		if res := get(host, "/join"); res.StatusCode != http.StatusOK {
			t.Errorf("page under %s: %d, want 200", host, res.StatusCode)
		}
	}
}

// /metrics names the parties a node holds: it answers clients on this
// machine only, even when the gateway listens on every interface.
func TestMetricsOnlyForThisMachine(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "chatterbox_up 1\n") })
	gw, err := New(Config{Identity: testIdentity(t), Node: fakeNode{}, Version: "test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	for remote, want := range map[string]int{"127.0.0.1:5000": 200, "[::1]:5000": 200, "192.0.2.7:5000": 404, "[2001:db8::1]:5000": 404} {
		req := httptest.NewRequest("GET", "http://127.0.0.1:7733/metrics", nil)
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		gw.Handler().ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("/metrics from %s: %d, want %d", remote, rec.Code, want)
		}
	}
}

// The app installs like an app: its manifest names a start URL, a
// standalone display and PNG icons of the sizes browsers ask for, all
// served from the node.
func TestWebAppManifest(t *testing.T) {
	srv := testServer(t)
	res, err := http.Get(srv.URL + "/manifest.webmanifest")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m struct {
		StartURL string `json:"start_url"`
		Display  string `json:"display"`
		Icons    []struct{ Src, Sizes, Type string }
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/manifest+json" || json.NewDecoder(res.Body).Decode(&m) != nil {
		t.Fatalf("manifest: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if m.StartURL != "/" || m.Display != "standalone" {
		t.Fatalf("manifest %+v", m)
	}
	sizes := map[string]bool{}
	for _, ic := range m.Icons {
		if ic.Type != "image/png" {
			continue
		}
		r, err := http.Get(srv.URL + ic.Src)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(r.Body)
		r.Body.Close()
		if err != nil {
			t.Fatalf("%s: %v", ic.Src, err)
		}
		if got := fmt.Sprintf("%dx%d", img.Bounds().Dx(), img.Bounds().Dy()); got != ic.Sizes {
			t.Fatalf("%s is %s, the manifest says %s", ic.Src, got, ic.Sizes)
		}
		sizes[ic.Sizes] = true
	}
	if !sizes["192x192"] || !sizes["512x512"] {
		t.Fatalf("PNG icons %v, want 192x192 and 512x512", sizes)
	}
	page := do(t, srv, "GET", "/", nil)
	if !strings.Contains(page.Raw, `<link rel="manifest" href="/manifest.webmanifest"`) {
		t.Fatal("index.html does not link the manifest")
	}
}
