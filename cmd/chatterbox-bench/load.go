package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// system is what a load run drives: ours (nodes + WebSockets) or bare
// GossipSub on the same kind of hosts.
type system interface {
	size() int
	send(from int, body string) error
	// errors counts sends refused by the system (ours: error acks).
	errors() int64
	close()
}

// recorder matches sends to receipts.
type recorder struct {
	n      int
	mu     sync.Mutex
	sentAt map[string]time.Time
	from   map[string]int
	got    map[string]int
	lat    []time.Duration
	total  atomic.Int64 // receipts by other nodes
}

func newRecorder(n int) *recorder {
	return &recorder{n: n, sentAt: map[string]time.Time{}, from: map[string]int{}, got: map[string]int{}}
}

func (r *recorder) sent(from int, body string) {
	r.mu.Lock()
	r.sentAt[body], r.from[body] = time.Now(), from
	r.mu.Unlock()
}

func (r *recorder) received(at int, body string) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	t0, ok := r.sentAt[body]
	if !ok || r.from[body] == at {
		return
	}
	r.got[body]++
	r.lat = append(r.lat, now.Sub(t0))
	r.total.Add(1)
}

// result of one load run.
type result struct {
	System    string  `json:"system"`
	Nodes     int     `json:"nodes"`
	Rate      int     `json:"rateMsgsPerSec"`
	Sent      int     `json:"sent"`
	Delivered float64 `json:"deliveredPct"`      // within the grace period
	Final     float64 `json:"finalDeliveredPct"` // after waiting for catch-up
	Errors    int64   `json:"errors"`
	P50       float64 `json:"p50ms"`
	P95       float64 `json:"p95ms"`
	P99       float64 `json:"p99ms"`
}

func (r result) ok() bool { return r.Delivered >= 99.9 && r.P99 < 1000 }

func pct(lat []time.Duration, p float64) float64 {
	if len(lat) == 0 {
		return 0
	}
	i := int(float64(len(lat)-1) * p)
	return float64(lat[i].Microseconds()) / 1000
}

// runs numbers runs, so that late deliveries of one run never count in
// the next.
var runs atomic.Int64

// run offers rate msgs/s for d, spread over every node, and measures.
// finalWait > 0 waits longer for late (caught-up) deliveries.
func run(name string, sys system, rec *recorder, rate int, d time.Duration, finalWait time.Duration) result {
	n := sys.size()
	total := int(float64(rate) * d.Seconds())
	var wg sync.WaitGroup
	start := time.Now()
	var seq atomic.Int64
	var sendErrs atomic.Int64
	runID := runs.Add(1)
	h, holds := sys.(holder)
	var baseOwn, baseOthers int64
	if holds {
		baseOwn, baseOthers = h.held()
	}
	for from := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := from; k < total; k += n {
				due := start.Add(time.Duration(float64(k) / float64(rate) * float64(time.Second)))
				time.Sleep(time.Until(due))
				body := fmt.Sprintf("%s-r%d-%d", name, runID, seq.Add(1))
				rec.sent(from, body)
				if sys.send(from, body) != nil {
					sendErrs.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	want := int64(total * (n - 1))
	waitFor := func(limit time.Duration) {
		deadline := time.Now().Add(limit)
		for rec.total.Load() < want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(time.Second)
	rec.mu.Lock()
	delivered := float64(rec.total.Load()) / float64(want) * 100
	lat := append([]time.Duration(nil), rec.lat...)
	rec.mu.Unlock()
	final := delivered
	if finalWait > 0 && delivered < 100 {
		waitFor(finalWait)
		final = float64(rec.total.Load()) / float64(want) * 100
		if holds {
			// What every node holds, not what its WebSocket saw: a socket
			// that falls 256 events behind is told to reload and closed
			// (the web app then reloads history), and sends on it fail.
			// Accepted are the messages their authors' nodes stored.
			deadline := time.Now().Add(finalWait)
			for {
				own, others := h.held()
				final = 0
				if own > baseOwn {
					final = float64(others-baseOthers) / float64((own-baseOwn)*int64(n-1)) * 100
				}
				if final >= 100 || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return result{System: name, Nodes: n, Rate: rate, Sent: total, Delivered: delivered, Final: final, Errors: sys.errors() + sendErrs.Load(),
		P50: pct(lat, 0.50), P95: pct(lat, 0.95), P99: pct(lat, 0.99)}
}

// ours drives a cluster through its WebSockets.
type ours struct {
	c    *cluster
	errs atomic.Int64
}

func newOurs(n int, rec func() *recorder) (*ours, error) {
	c, err := newCluster(n)
	if err != nil {
		return nil, err
	}
	o := &ours{c: c}
	err = c.dialAll(func(i int, raw []byte) { countFrame(i, raw, rec(), &o.errs) })
	return o, err
}

// countFrame records a message.created frame of node i in rec and counts
// error frames in errs.
func countFrame(i int, raw []byte, rec *recorder, errs *atomic.Int64) {
	var f struct {
		Type string `json:"type"`
		Data struct {
			Body string `json:"body"`
		} `json:"data"`
	}
	if json.Unmarshal(raw, &f) != nil {
		return
	}
	switch f.Type {
	case "message.created":
		rec.received(i, f.Data.Body)
	case "error":
		errs.Add(1)
	}
}

func (o *ours) size() int     { return len(o.c.members) }
func (o *ours) errors() int64 { return o.errs.Swap(0) }
func (o *ours) close()        { o.c.Close() }

// holder is a system that can say how many messages its nodes hold: own
// (stored by their authors' nodes) and others (stored by the other nodes).
type holder interface{ held() (own, others int64) }

// held sums, over the nodes, the messages in the party's feeds (feed
// heads: contiguous, so a gap counts as missing).
func (o *ours) held() (own, others int64) {
	for _, m := range o.c.members {
		mine := m.account["memberId"].(string) + "/" + m.n.PeerID()
		heads, _ := m.n.Parties().Chat().FeedHeads(o.c.party)
		for feed, h := range heads {
			if feed == mine {
				own += int64(h)
			} else {
				others += int64(h)
			}
		}
	}
	return own, others
}

func (o *ours) send(from int, body string) error {
	return o.c.members[from].send(o.c.party, o.c.topic, body)
}

// bare is plain GossipSub: same transport and topology (every host
// connected to every other), one topic, no signing by us, no validation,
// no storage.
type bare struct {
	hosts  []host.Host
	topics []*pubsub.Topic
	cancel context.CancelFunc
}

// bareSize pads payloads to about the size of our gossiped message.
const bareSize = 600

func newBare(n int, rec func() *recorder) (*bare, error) {
	ctx, cancel := context.WithCancel(context.Background())
	b := &bare{cancel: cancel}
	for range n {
		h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
		if err != nil {
			b.close()
			return nil, err
		}
		b.hosts = append(b.hosts, h)
	}
	for i, h := range b.hosts {
		for _, o := range b.hosts[:i] {
			if err := h.Connect(ctx, peer.AddrInfo{ID: o.ID(), Addrs: o.Addrs()}); err != nil {
				b.close()
				return nil, err
			}
		}
	}
	for i, h := range b.hosts {
		ps, err := pubsub.NewGossipSub(ctx, h)
		if err != nil {
			b.close()
			return nil, err
		}
		t, err := ps.Join("/bench")
		if err != nil {
			b.close()
			return nil, err
		}
		sub, err := t.Subscribe()
		if err != nil {
			b.close()
			return nil, err
		}
		b.topics = append(b.topics, t)
		go func() {
			for {
				m, err := sub.Next(ctx)
				if err != nil {
					return
				}
				body, _, _ := strings.Cut(string(m.Data), "|")
				rec().received(i, body)
			}
		}()
	}
	// Wait for the mesh: every host sees the others in the topic.
	deadline := time.Now().Add(30 * time.Second)
	for _, t := range b.topics {
		for len(t.ListPeers()) < n-1 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(1500 * time.Millisecond) // one heartbeat, so meshes are grafted
	return b, nil
}

func (b *bare) size() int     { return len(b.hosts) }
func (b *bare) errors() int64 { return 0 }
func (b *bare) send(from int, body string) error {
	payload := body + "|" + strings.Repeat("x", max(0, bareSize-len(body)-1))
	return b.topics[from].Publish(context.Background(), []byte(payload))
}
func (b *bare) close() {
	b.cancel()
	for _, h := range b.hosts {
		h.Close()
	}
}
