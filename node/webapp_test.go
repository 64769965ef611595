package node_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chatterbox/chatterbox/node"
	"github.com/chatterbox/chatterbox/node/nodetest"
	"github.com/chatterbox/chatterbox/party/rules"
)

// The gateway serves the web app at each of its routes with a fresh CSP
// nonce, its hashed assets for good, and still answers unknown API paths
// with JSON.
func TestWebAppIsServed(t *testing.T) {
	n := nodetest.Start(t, 1)[0]
	c := nodetest.NewClient(t, n.GatewayURL())
	nonceRe := regexp.MustCompile(`<meta name="csp-nonce" content="([^"]+)"`)
	var first string
	for _, path := range []string{"/", "/signin", "/join", "/verify-email", "/reset-password", "/oauth/done", "/p/x/y"} {
		r := get(t, n.GatewayURL()+path)
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Header.Get("Content-Type"))
		}
		m := nonceRe.FindSubmatch(r.Raw)
		if m == nil || string(m[1]) == "__CSP_NONCE__" {
			t.Fatalf("GET %s: the page has no nonce", path)
		}
		csp := r.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "style-src 'self' 'nonce-"+string(m[1])+"'") || !strings.Contains(csp, "script-src 'self'") {
			t.Fatalf("GET %s: CSP %q does not carry the page's nonce", path, csp)
		}
		if string(m[1]) == first {
			t.Fatal("two page loads got the same nonce")
		}
		first = string(m[1])
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("GET %s: Cache-Control %q", path, r.Header.Get("Cache-Control"))
		}
		if path == "/" {
			asset := regexp.MustCompile(`/assets/[^"]+\.js`).Find(r.Raw)
			if asset == nil {
				t.Fatal("index.html names no script")
			}
			a := get(t, n.GatewayURL()+string(asset))
			if a.Status != 200 || !strings.Contains(a.Header.Get("Content-Type"), "javascript") || !strings.Contains(a.Header.Get("Cache-Control"), "immutable") {
				t.Fatalf("GET %s: %d %q %q", asset, a.Status, a.Header.Get("Content-Type"), a.Header.Get("Cache-Control"))
			}
		}
	}
	if r := c.Do("GET", "/assets/nope.js", nil); r.Status != 404 || r.ErrorCode() != "not_found" {
		t.Fatalf("missing asset: %d %s", r.Status, r.Raw)
	}
	if r := c.Do("GET", "/api/nope", nil); r.Status != 404 || r.ErrorCode() != "not_found" {
		t.Fatalf("unknown API path: %d %s", r.Status, r.Raw)
	}
}

// The join page reads an invite before joining: the owner's signature is
// checked, and expired or forged invites get their own codes.
func TestInvitePreview(t *testing.T) {
	n := nodetest.Start(t, 1)[0]
	c := nodetest.NewClient(t, n.GatewayURL())
	c.SignUp("owner@example.test", "correct horse battery staple", "Owner")
	c.Token = c.SignIn("owner@example.test", "correct horse battery staple").String("accessToken")
	p := c.Must(201, "POST", "/api/parties", map[string]string{"name": "Chess Club"})
	inv := c.Must(201, "POST", "/api/parties/"+p.String("id")+"/invites", map[string]any{"expiresIn": 3600})

	anon := nodetest.NewClient(t, n.GatewayURL())
	r := anon.Must(200, "POST", "/api/invites/preview", map[string]string{"token": inv.String("token")})
	if r.String("partyName") != "Chess Club" || r.String("partyId") != p.String("id") {
		t.Fatalf("preview = %s", r.Raw)
	}
	if exp, err := time.Parse(time.RFC3339, r.String("expiresAt")); err != nil || time.Until(exp) < 50*time.Minute {
		t.Fatalf("expiresAt = %q", r.String("expiresAt"))
	}

	key, _ := n.Identity().MemberKey(p.String("owner"))
	expired, _ := rules.SignInvite(rules.Invite{V: 1, Party: p.String("id"), PartyName: "Chess Club", ID: "old", Owner: p.String("owner"),
		OwnerPeer: n.PeerID(), Expires: time.Now().Add(-time.Minute).Unix()}, key)
	if r := anon.Do("POST", "/api/invites/preview", map[string]string{"token": expired}); r.Status != 410 || r.ErrorCode() != "invite_expired" {
		t.Fatalf("expired invite: %d %s", r.Status, r.Raw)
	}
	tok := inv.String("token")
	forged := tok[:len(tok)-4] + "AAAA"
	for _, bad := range []string{forged, "", "nonsense", strings.Repeat("a", 10000)} {
		if r := anon.Do("POST", "/api/invites/preview", map[string]string{"token": bad}); r.Status != 422 || r.ErrorCode() != "invite_invalid" {
			t.Fatalf("preview of %.20q: %d %s", bad, r.Status, r.Raw)
		}
	}
}

type page struct {
	Status int
	Header http.Header
	Raw    []byte
}

func get(t *testing.T, url string) page {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{res.StatusCode, res.Header, raw}
}

// Browsers open connections before they need them. A node stopping with
// such a connection open stops cleanly instead of waiting it out.
func TestCloseWithAnUnusedBrowserConnection(t *testing.T) {
	n, err := node.New(nodetest.Config(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(n.GatewayURL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The server has the connection once a request on another one is served.
	get(t, n.GatewayURL()+"/healthz")
	if err := n.Close(); err != nil {
		t.Fatalf("close with an unused connection open: %v", err)
	}
}
