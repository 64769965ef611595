package node_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatterbox/chatterbox/node"
	"github.com/chatterbox/chatterbox/node/nodetest"
)

const password = "correct horse battery staple"

func TestStartServesAccountsAndNodeInfo(t *testing.T) {
	n := nodetest.Start(t, 1)[0]
	c := nodetest.NewClient(t, n.GatewayURL())
	c.Must(200, "GET", "/healthz", nil)
	info := c.Must(200, "GET", "/api/node", nil)
	if info.String("peerId") != n.PeerID() || info.String("version") != "test" {
		t.Fatalf("/api/node = %s", info.Raw)
	}
	if addrs, _ := info.JSON["addrs"].([]any); len(addrs) == 0 {
		t.Fatalf("/api/node lists no addresses: %s", info.Raw)
	}
	c.SignUp("ann@example.com", password, "Ann")
	me := c.Must(200, "GET", "/api/me", nil)
	if me.String("email") != "ann@example.com" || me.String("memberId") == "" {
		t.Fatalf("/api/me = %s", me.Raw)
	}
}

func TestRestartKeepsPeerIDAndAccounts(t *testing.T) {
	dir := t.TempDir()
	cfg := nodetest.Config(t, dir)
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	peerID := n.PeerID()
	c := nodetest.NewClient(t, n.GatewayURL())
	c.SignUp("ann@example.com", password, "Ann")
	memberID := c.Must(200, "GET", "/api/me", nil).String("memberId")
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "node.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("node.key: %v, mode %v", err, fi.Mode().Perm())
	}

	n2 := nodetest.StartWith(t, nodetest.Config(t, dir))
	if n2.PeerID() != peerID {
		t.Fatalf("peer ID changed across restart: %s → %s", peerID, n2.PeerID())
	}
	c2 := nodetest.NewClient(t, n2.GatewayURL())
	c2.SignIn("ann@example.com", password)
	if got := c2.Must(200, "GET", "/api/me", nil).String("memberId"); got != memberID {
		t.Fatalf("member key changed across restart: %s → %s", memberID, got)
	}
}

func TestDataDirLocked(t *testing.T) {
	dir := t.TempDir()
	first := nodetest.StartWith(t, nodetest.Config(t, dir))
	second, err := node.New(nodetest.Config(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	err = second.Start(context.Background())
	if !errors.Is(err, node.ErrDataDirLocked) {
		t.Fatalf("second node on the same dir: %v, want ErrDataDirLocked", err)
	}
	if err := second.Close(); err != nil {
		t.Fatalf("closing the refused node: %v", err)
	}
	// The first node is unharmed.
	nodetest.NewClient(t, first.GatewayURL()).Must(200, "GET", "/healthz", nil)
}

func TestStartFailureReleasesEverything(t *testing.T) {
	dir := t.TempDir()
	blocker := nodetest.StartWith(t, nodetest.Config(t, t.TempDir()))
	cfg := nodetest.Config(t, dir)
	cfg.GatewayAddr = blocker.GatewayURL()[len("http://"):] // port taken
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err == nil {
		t.Fatal("start on a taken gateway port succeeded")
	}
	// The failed start released the lock and the database.
	nodetest.StartWith(t, nodetest.Config(t, dir))
}

func TestNodesConnectOverLoopback(t *testing.T) {
	nodes := nodetest.Start(t, 3)
	nodetest.Connect(t, nodes[0], nodes[1])
	nodetest.Connect(t, nodes[0], nodes[2])
	if got := len(nodes[0].Host().Network().Peers()); got != 2 {
		t.Fatalf("node 0 has %d peers, want 2", got)
	}
	// Peers learn what we run from identify's user agent.
	nodetest.Eventually(t, 10*time.Second, "identify to report the user agent", func() bool {
		av, _ := nodes[1].Host().Peerstore().Get(nodes[0].Host().ID(), "AgentVersion")
		return av == "chatterbox/test"
	})
}

func TestInvalidConfig(t *testing.T) {
	if _, err := node.New(node.Config{DataDir: t.TempDir(), ListenAddrs: []string{"not-a-multiaddr"}}); err == nil {
		t.Fatal("a bad listen address was accepted")
	}
}

// TestCloseLeavesNoGoroutines starts and stops a full node and checks that
// everything it started has stopped. go-libp2p keeps a few process-wide
// background goroutines that outlive any host; they are listed explicitly.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := goleak.IgnoreCurrent()
	dir := t.TempDir()
	cfg := nodetest.Config(t, dir)
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := nodetest.NewClient(t, n.GatewayURL())
	c.SignUp("ann@example.com", password, "Ann")
	c.HTTP.CloseIdleConnections()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	goleak.VerifyNone(t, before)
}
