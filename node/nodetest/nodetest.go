// Package nodetest starts complete ChatterBox nodes inside a test process:
// each with its own temp data dir, libp2p on 127.0.0.1, the gateway on a
// free port and mDNS off. Later multi-node tests build on it.
package nodetest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chatterbox/chatterbox/node"
	"github.com/chatterbox/chatterbox/party"
)

// Config returns a node configuration for tests rooted at dataDir:
// loopback-only libp2p (TCP and QUIC on free ports), gateway on a free port,
// no mDNS, warnings and errors logged to the test's output.
func Config(t testing.TB, dataDir string) node.Config {
	return node.Config{
		DataDir:     dataDir,
		GatewayAddr: "127.0.0.1:0",
		ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"},
		DisableMDNS: true,
		Version:     "test",
		Logger:      slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		// Fast background work, so tests wait milliseconds, not minutes.
		Party:          party.Config{RetryMin: 100 * time.Millisecond, RetryMax: time.Second, SyncInterval: 500 * time.Millisecond, RequestTimeout: 5 * time.Second},
		RedialInterval: 300 * time.Millisecond,
	}
}

// Restart closes n and starts a node on the same data dir and the same
// libp2p ports (so peers find it where they remember it).
func Restart(t testing.TB, n *node.Node) *node.Node {
	t.Helper()
	cfg := SameAddrs(n)
	if err := n.Close(); err != nil {
		t.Fatalf("nodetest: close for restart: %v", err)
	}
	return StartWith(t, cfg)
}

// SameAddrs returns n's configuration with the libp2p ports it is bound to
// now, to start it again later where peers remember it.
func SameAddrs(n *node.Node) node.Config {
	cfg := n.Config()
	cfg.ListenAddrs = nil
	for _, a := range n.Host().Addrs() {
		cfg.ListenAddrs = append(cfg.ListenAddrs, a.String())
	}
	return cfg
}

// Eventually polls cond until it holds, failing the test after timeout.
// Use it to wait for the network to converge: it returns as soon as the
// condition is observed.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("nodetest: gave up after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// StartWith starts one node from cfg and closes it when the test ends.
func StartWith(t testing.TB, cfg node.Config) *node.Node {
	t.Helper()
	n, err := node.New(cfg)
	if err != nil {
		t.Fatalf("nodetest: new node: %v", err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatalf("nodetest: start node: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("nodetest: close node: %v", err)
		}
	})
	return n
}

// Start starts n nodes, each on its own temp data dir.
func Start(t testing.TB, n int) []*node.Node {
	t.Helper()
	nodes := make([]*node.Node, n)
	for i := range nodes {
		nodes[i] = StartWith(t, Config(t, t.TempDir()))
	}
	return nodes
}

// Connect dials b from a over libp2p.
func Connect(t testing.TB, a, b *node.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Host().Connect(ctx, peer.AddrInfo{ID: b.Host().ID(), Addrs: b.Host().Addrs()}); err != nil {
		t.Fatalf("nodetest: connect %s → %s: %v", a.PeerID(), b.PeerID(), err)
	}
}

// Client drives a node's gateway over real HTTP, as a browser or script
// would. Set Token to send it as a bearer token.
type Client struct {
	T     testing.TB
	Base  string
	Token string
	HTTP  *http.Client
}

// NewClient returns a client for the gateway at base (e.g. n.GatewayURL()).
func NewClient(t testing.TB, base string) *Client {
	return &Client{T: t, Base: base, HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// Response is a decoded gateway answer.
type Response struct {
	Status int
	Header http.Header
	JSON   map[string]any
	Raw    []byte
}

// ErrorCode is the "error.code" of an error response, or "".
func (r Response) ErrorCode() string {
	e, _ := r.JSON["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// String returns the top-level string field key.
func (r Response) String(key string) string {
	s, _ := r.JSON[key].(string)
	return s
}

// Do sends a request with body encoded as JSON (nil: no body).
func (c *Client) Do(method, path string, body any) Response {
	c.T.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			c.T.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.Base+path, rd)
	if err != nil {
		c.T.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		c.T.Fatalf("%s %s: read body: %v", method, path, err)
	}
	out := Response{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.JSON); err != nil {
			c.T.Fatalf("%s %s: %d response is not JSON: %q", method, path, res.StatusCode, raw)
		}
	}
	return out
}

// Must sends a request and fails the test unless the status is want.
func (c *Client) Must(want int, method, path string, body any) Response {
	c.T.Helper()
	r := c.Do(method, path, body)
	if r.Status != want {
		c.T.Fatalf("%s %s = %d %s, want %d", method, path, r.Status, r.Raw, want)
	}
	return r
}

// SignUp registers an account and signs it in, keeping the access token.
func (c *Client) SignUp(email, password, displayName string) Response {
	c.T.Helper()
	c.Must(http.StatusAccepted, "POST", "/api/auth/register", map[string]string{"email": email, "password": password, "displayName": displayName})
	return c.SignIn(email, password)
}

// SignIn signs in and keeps the access token.
func (c *Client) SignIn(email, password string) Response {
	c.T.Helper()
	r := c.Must(http.StatusOK, "POST", "/api/auth/login", map[string]string{"email": email, "password": password})
	c.Token = r.String("accessToken")
	return r
}
