package gossip

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// startNet starts a Network with domain d on a loopback host.
func startNet(t *testing.T, d Domain) *Network {
	t.Helper()
	n, err := NewNetwork(loopbackHost(t, nil), d, NetworkConfig{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// TestOwnPublishesAreNeverRateLimited: a node publishing more than a
// party's whole gossip budget at once has every publish accepted by its
// own validator (a refused publish would reach no one until a sync).
func TestOwnPublishesAreNeverRateLimited(t *testing.T) {
	n := startNet(t, newTestDomain())
	if err := n.JoinTopic("p"); err != nil {
		t.Fatal(err)
	}
	for i := range gossipBurstParty + 200 {
		if err := n.Publish(context.Background(), "p", fmt.Appendf(nil, "ok %d", i)); err != nil {
			t.Fatalf("own publish %d refused: %v", i, err)
		}
	}
}

// TestMemberFloodIsCutByTheRate: a member node's burst beyond its gossip
// budget is dropped unjudged by the receiver (sync repairs honest gaps).
func TestMemberFloodIsCutByTheRate(t *testing.T) {
	recv := &countingDomain{testDomain: newTestDomain()}
	a, b := startNet(t, recv), startNet(t, newTestDomain())
	for _, n := range []*Network{a, b} {
		if err := n.JoinTopic("p"); err != nil {
			t.Fatal(err)
		}
	}
	connect(t, a.host, b.host)
	deadline := time.Now().Add(10 * time.Second)
	for len(b.TopicPeers("p")) == 0 || len(a.TopicPeers("p")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no subscription exchange")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Wait for the mesh: a first message gets through.
	for i := 0; ; i++ {
		if recv.count(fmt.Sprintf("ok ping %d", i-1)) > 0 {
			break
		}
		if i == 100 {
			t.Fatal("no mesh")
		}
		b.Publish(context.Background(), "p", fmt.Appendf(nil, "ok ping %d", i))
		time.Sleep(50 * time.Millisecond)
	}
	// Paced so GossipSub's own queues do not drop any: only our limit may.
	const flood = 2 * gossipBurstPerPeer
	start := time.Now()
	for i := range flood {
		b.Publish(context.Background(), "p", fmt.Appendf(nil, "ok flood %d", i))
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	time.Sleep(2 * time.Second) // delivery of what got through
	got := 0
	for i := range flood {
		got += recv.count(fmt.Sprintf("ok flood %d", i))
	}
	budget := gossipBurstPerPeer + int((elapsed+time.Second).Seconds()*gossipRatePerPeer)
	if got > budget || got == 0 {
		t.Fatalf("%d of %d flooded messages (over %s) were delivered; the budget allows %d", got, flood, elapsed, budget)
	}
}

// countingDomain only counts what it is delivered (it never blocks).
type countingDomain struct{ *testDomain }

func (d *countingDomain) DeliverGossip(_, _ string, data []byte) {
	d.mu.Lock()
	d.delivered[string(data)]++
	d.mu.Unlock()
}

// closingDomain delivers by joining the topic again, as the party domain
// does when an op arrives (ingest → afterChange → JoinTopic).
type closingDomain struct {
	*testDomain
	n       *Network
	inside  chan struct{}
	proceed chan struct{}
	result  chan error
}

func (d *closingDomain) DeliverGossip(party, _ string, _ []byte) {
	select {
	case d.inside <- struct{}{}:
	default:
		return
	}
	<-d.proceed
	d.result <- d.n.JoinTopic(party)
}

// TestCloseWhileDeliveringDoesNotHang: a message delivered while the node
// shuts down makes the topic reader join the topic again; that must not
// wait for the reader itself, and Close must end.
func TestCloseWhileDeliveringDoesNotHang(t *testing.T) {
	d := &closingDomain{testDomain: newTestDomain(), inside: make(chan struct{}, 1), proceed: make(chan struct{}), result: make(chan error, 1)}
	n, err := NewNetwork(loopbackHost(t, nil), d, NetworkConfig{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	d.n = n
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	other := startNet(t, newTestDomain())
	for _, x := range []*Network{n, other} {
		if err := x.JoinTopic("p"); err != nil {
			t.Fatal(err)
		}
	}
	connect(t, n.host, other.host)
	for i := 0; len(d.inside) == 0; i++ {
		if i == 200 {
			t.Fatal("nothing delivered")
		}
		other.Publish(context.Background(), "p", fmt.Appendf(nil, "ok %d", i))
		time.Sleep(50 * time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { n.Close(); close(closed) }()
	for !n.closing.Load() {
		time.Sleep(time.Millisecond)
	}
	close(d.proceed) // the reader now joins the topic, during Close
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung while a topic reader delivered")
	}
	if err := <-d.result; err == nil {
		t.Fatal("JoinTopic during Close succeeded")
	}
}

// TestSubscriptionsToOtherTopicsAreNotKept: a member node subscribing to
// many topics we are not in costs us no state for them.
func TestSubscriptionsToOtherTopicsAreNotKept(t *testing.T) {
	a, b := startNet(t, newTestDomain()), startNet(t, newTestDomain())
	if err := a.JoinTopic("p"); err != nil {
		t.Fatal(err)
	}
	others := make([]string, 50)
	for i := range others {
		others[i] = fmt.Sprintf("other-%d", i)
		if err := b.JoinTopic(others[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.JoinTopic("p"); err != nil {
		t.Fatal(err)
	}
	connect(t, a.host, b.host)
	deadline := time.Now().Add(10 * time.Second)
	for len(a.TopicPeers("p")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the shared topic's subscription did not arrive")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, o := range others {
		if peers := a.ps.ListPeers(TopicName(o)); len(peers) > 0 {
			t.Fatalf("kept %v as subscribers of a topic we are not in", peers)
		}
	}
}
