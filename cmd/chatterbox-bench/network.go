package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatterbox/chatterbox/party/rules"
)

// networkRow is one size of the larger-network run.
type networkRow struct {
	Nodes           int     `json:"nodes"`
	Parties         int     `json:"parties"`
	PartiesPerNode  int     `json:"partiesPerNode"`
	MembersPerParty int     `json:"membersPerParty"`
	SetupSeconds    float64 `json:"setupSeconds"`
	ConnsMin        int     `json:"connectionsMin"`
	ConnsMean       float64 `json:"connectionsMean"`
	ConnsMax        int     `json:"connectionsMax"`
	result
}

// measureNetwork starts n in-process nodes with the defaults and n
// overlapping parties: party i is owned by node i and has nodes i+1 …
// i+size-1 (mod n) as members, so every node is in size parties (one as
// owner) and shares one with 2(size-1) others. Then rate messages/s for d,
// each by the next node in one of its parties in turn, sent on its
// WebSocket; a delivery is a message.created on another member's
// WebSocket.
func measureNetwork(ctx context.Context, n, rate int, d time.Duration) (*networkRow, error) {
	size := min(rules.DefaultLimits.Members, rules.MaxPartiesPerUser, n)
	row := &networkRow{Nodes: n, Parties: n, PartiesPerNode: size, MembersPerParty: size}
	setup := time.Now()
	c := &cluster{members: make([]*member, n), dirs: make([]string, n)}
	defer c.Close()
	// Start and sign up, a few at a time (argon2 takes 46 MiB each).
	if err := parallel(ctx, n, 4, func(i int) error {
		dir, err := os.MkdirTemp("", "chatterbox-bench-net-")
		if err != nil {
			return err
		}
		c.dirs[i] = dir
		nd, err := startNodeWith(dir, nil, false)
		if err != nil {
			return err
		}
		m := &member{n: nd, base: nd.GatewayURL()}
		c.members[i] = m
		m.token, m.account, err = signUp(m.base, fmt.Sprintf("net%d", i))
		return err
	}); err != nil {
		return nil, err
	}
	type partyRef struct{ id, topic, link string }
	parties := make([]partyRef, n)
	if err := parallel(ctx, n, 8, func(i int) error {
		owner := c.members[i]
		p, err := call(owner.base, owner.token, "POST", "/api/parties", map[string]string{"name": fmt.Sprintf("Net %d", i)}, 201)
		if err != nil {
			return err
		}
		parties[i] = partyRef{id: p["id"].(string), topic: p["topics"].([]any)[0].(map[string]any)["id"].(string)}
		inv, err := call(owner.base, owner.token, "POST", "/api/parties/"+parties[i].id+"/invites", map[string]any{}, 201)
		if err != nil {
			return err
		}
		parties[i].link = inv["link"].(string)
		return nil
	}); err != nil {
		return nil, err
	}
	// Node j joins the parties of the size-1 nodes before it, one at a time.
	if err := parallel(ctx, n, 8, func(j int) error {
		m := c.members[j]
		for k := 1; k < size; k++ {
			p := parties[(j-k+n)%n]
			if _, err := call(m.base, m.token, "POST", "/api/invites/accept", map[string]string{"link": p.link}, 200); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(5 * time.Minute)
	for i, p := range parties {
		for k := range size {
			m := c.members[(i+k)%n]
			for {
				st, err := m.n.Parties().State(p.id)
				if err == nil && len(st.Members) == size {
					break
				}
				if time.Now().After(deadline) {
					return nil, fmt.Errorf("party %d did not reach %d members on node %d in 5 minutes", i, size, (i+k)%n)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	row.SetupSeconds = time.Since(setup).Seconds()
	rec := newRecorder(n)
	var errs atomic.Int64
	if err := c.dialAll(func(i int, raw []byte) { countFrame(i, raw, rec, &errs) }); err != nil {
		return nil, err
	}
	// Let the meshes form and the set-up's syncs finish.
	sleepCtx(ctx, 5*time.Second)
	total := int(float64(rate) * d.Seconds())
	start := time.Now()
	for k := range total {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		time.Sleep(time.Until(start.Add(time.Duration(float64(k) / float64(rate) * float64(time.Second)))))
		from := k % n
		p := parties[(from-(k/n)%size+n)%n] // one of from's parties, in turn
		body := fmt.Sprintf("net-%d", k)
		rec.sent(from, body)
		if err := c.members[from].send(p.id, p.topic, body); err != nil {
			errs.Add(1)
		}
	}
	want := int64(total * (size - 1))
	waitFor := func(limit time.Duration) {
		end := time.Now().Add(limit)
		for rec.total.Load() < want && time.Now().Before(end) && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(time.Second)
	rec.mu.Lock()
	lat := append([]time.Duration(nil), rec.lat...)
	rec.mu.Unlock()
	row.result = result{System: "ours", Nodes: n, Rate: rate, Sent: total, Delivered: 100 * float64(rec.total.Load()) / float64(want)}
	waitFor(30 * time.Second)
	row.Final = 100 * float64(rec.total.Load()) / float64(want)
	row.Errors = errs.Load()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	row.P50, row.P95, row.P99 = pct(lat, 0.5), pct(lat, 0.95), pct(lat, 0.99)
	row.ConnsMin = n
	var sum int
	for _, m := range c.members {
		k := len(m.n.Host().Network().Peers())
		sum += k
		row.ConnsMin, row.ConnsMax = min(row.ConnsMin, k), max(row.ConnsMax, k)
	}
	row.ConnsMean = float64(sum) / float64(n)
	return row, nil
}

// parallel runs f(0) … f(n-1), at most width at once, and returns the
// first error.
func parallel(ctx context.Context, n, width int, f func(i int) error) error {
	sem := make(chan struct{}, width)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(i); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("node %d: %w", i, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
