package gossip

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// testDomain accepts messages that start with "ok" and rejects the rest.
type testDomain struct {
	mu        sync.Mutex
	delivered map[string]int // body → times delivered
	got       chan string
}

func newTestDomain() *testDomain {
	return &testDomain{delivered: map[string]int{}, got: make(chan string, 1000)}
}

func (d *testDomain) HandleRequest(context.Context, string, []byte) []byte { return []byte("{}") }
func (d *testDomain) ValidateGossip(_, _ string, data []byte) Verdict {
	if strings.HasPrefix(string(data), "ok") {
		return Accept
	}
	return Reject
}
func (d *testDomain) DeliverGossip(_, _ string, data []byte) {
	d.mu.Lock()
	d.delivered[string(data)]++
	d.mu.Unlock()
	d.got <- string(data)
}
func (d *testDomain) PeerConnected(string)              {}
func (d *testDomain) PeerDisconnected(string)           {}
func (d *testDomain) WantedPeers() map[string][]string  { return nil }
func (d *testDomain) AllowPeer(party, peer string) bool { return true }
func (d *testDomain) MeshJoined(party, peer string)     {}
func (d *testDomain) count(body string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.delivered[body]
}
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func loopbackHost(t *testing.T, gater *Gater) host.Host {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHost(HostConfig{Key: key, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, Gater: gater})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func connect(t *testing.T, a, b host.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
}

// A peer flooding invalid messages is scored down, graylisted, cut off
// and banned, while honest peers keep delivering to each other.
func TestInvalidFloodIsCutOff(t *testing.T) {
	const party = "p1"
	type honest struct {
		h   host.Host
		n   *Network
		d   *testDomain
		gtr *Gater
	}
	var hs []honest
	for range 2 {
		g := NewGater()
		h := loopbackHost(t, g)
		d := newTestDomain()
		n, err := NewNetwork(h, d, NetworkConfig{Gater: g, Logger: quietLogger(), ScoreInspectInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		if err := n.JoinTopic(party); err != nil {
			t.Fatal(err)
		}
		hs = append(hs, honest{h, n, d, g})
	}
	a, b := hs[0], hs[1]

	// The attacker runs plain GossipSub with no validator, so its invalid
	// messages leave it.
	mh := loopbackHost(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mps, err := pubsub.NewGossipSub(ctx, mh, pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithMessageIdFn(func(m *pb.Message) string { s := sha256.Sum256(m.Data); return string(s[:]) }))
	if err != nil {
		t.Fatal(err)
	}
	mt, err := mps.Join(TopicName(party))
	if err != nil {
		t.Fatal(err)
	}
	msub, err := mt.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer msub.Cancel()

	connect(t, a.h, b.h)
	connect(t, mh, a.h)
	// Wait until the attacker and b are in a's topic mesh view.
	deadline := time.Now().Add(10 * time.Second)
	for len(a.n.ps.ListPeers(TopicName(party))) < 2 || len(mt.ListPeers()) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the topic never formed")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Honest traffic flows before the attack, once b's mesh includes a
	// (GossipSub grafts on its heartbeat): ping until a hears one.
	deadline = time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		if err := b.n.Publish(ctx, party, []byte(fmt.Sprintf("ok ping %d", i))); err != nil {
			t.Fatal(err)
		}
		select {
		case <-a.d.got:
		case <-time.After(100 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("b's messages never reached a")
			}
			continue
		}
		break
	}

	// The flood: bounded in count; it ends as soon as a cuts the attacker off.
	for i := 0; i < 200 && a.h.Network().Connectedness(mh.ID()) == network.Connected; i++ {
		mt.Publish(ctx, []byte(fmt.Sprintf("forged %d", i)))
		time.Sleep(10 * time.Millisecond)
	}
	deadline = time.Now().Add(10 * time.Second)
	for !a.gtr.Banned(mh.ID()) || a.h.Network().Connectedness(mh.ID()) == network.Connected {
		if time.Now().After(deadline) {
			t.Fatalf("the attacker was not cut off: banned=%v connectedness=%v", a.gtr.Banned(mh.ID()), a.h.Network().Connectedness(mh.ID()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for body := range a.d.delivered {
		if strings.HasPrefix(body, "forged") {
			t.Fatalf("a delivered an invalid message %q", body)
		}
	}

	// It cannot come back while banned.
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	// The dialer's side of the handshake may finish before a's gater
	// refuses the peer, so watch a's side: it must never add the
	// connection, and the dialer must see it closed.
	var readmitted atomic.Bool
	a.h.Network().Notify(&network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) {
		if c.RemotePeer() == mh.ID() {
			readmitted.Store(true)
		}
	}})
	mh.Connect(dctx, peer.AddrInfo{ID: a.h.ID(), Addrs: a.h.Addrs()})
	deadline = time.Now().Add(10 * time.Second)
	for mh.Network().Connectedness(a.h.ID()) == network.Connected {
		if time.Now().After(deadline) {
			t.Fatal("the banned peer's connection stayed open")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if readmitted.Load() || a.h.Network().Connectedness(mh.ID()) == network.Connected {
		t.Fatal("a banned peer was let back in")
	}

	// Honest peers keep delivering to each other.
	for i := range 20 {
		body := fmt.Sprintf("ok after %d", i)
		if err := b.n.Publish(ctx, party, []byte(body)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, a.d, body)
	}
	if a.h.Network().Connectedness(b.h.ID()) != network.Connected {
		t.Fatal("the honest peer was cut off too")
	}
}

func waitFor(t *testing.T, d *testDomain, body string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for d.count(body) == 0 {
		select {
		case <-d.got:
		case <-timeout:
			t.Fatalf("%q never arrived", body)
		}
	}
}

// Past its burst a peer's requests and gossip are refused, other peers'
// and other parties' are not, and the budget refills with time.
func TestPeerLimits(t *testing.T) {
	pl := newPeerLimits()
	now := time.Now()
	p1, p2 := peer.ID("peer-1"), peer.ID("peer-2")
	for i := range requestBurstPeer {
		if !pl.allowRequestAt(p1, now) {
			t.Fatalf("request %d within the burst refused", i)
		}
	}
	if pl.allowRequestAt(p1, now) {
		t.Fatal("a request past the burst was allowed")
	}
	if !pl.allowRequestAt(p2, now) {
		t.Fatal("another peer's request was refused")
	}
	for i := range gossipBurstPerPeer {
		if !pl.allowGossipAt(p1, "a", now) {
			t.Fatalf("gossip %d within the burst refused", i)
		}
	}
	if pl.allowGossipAt(p1, "a", now) {
		t.Fatal("gossip past the per-peer burst was allowed")
	}
	if !pl.allowGossipAt(p1, "b", now) || !pl.allowGossipAt(p2, "a", now) {
		t.Fatal("the limit spilled over to another party or peer")
	}
	now = now.Add(50 * time.Millisecond) // 100/s refills 5 tokens
	if !pl.allowGossipAt(p1, "a", now) {
		t.Fatal("the budget did not refill")
	}
}

// A peer flooding requests over a real connection gets refused past its
// budget while another peer's requests are still answered.
func TestRequestFloodIsRefused(t *testing.T) {
	var nets []*Network
	var hosts []host.Host
	for range 3 {
		h := loopbackHost(t, nil)
		n, err := NewNetwork(h, newTestDomain(), NetworkConfig{Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		nets, hosts = append(nets, n), append(hosts, h)
	}
	server, flooder, honest := nets[0], nets[1], nets[2]
	addrs := func() []string {
		var out []string
		for _, a := range hosts[0].Addrs() {
			out = append(out, a.String())
		}
		return out
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	refused := 0
	for range requestBurstPeer + 100 {
		if _, err := flooder.Request(ctx, server.SelfPeer(), addrs, []byte("{}")); err != nil {
			refused++
		}
	}
	if refused == 0 {
		t.Fatalf("%d requests in a burst were all answered; the limit is %d", requestBurstPeer+100, requestBurstPeer)
	}
	if _, err := honest.Request(ctx, server.SelfPeer(), addrs, []byte("{}")); err != nil {
		t.Fatalf("another peer's request was refused: %v", err)
	}
}
