package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/chatterbox/chatterbox/party"
	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// costCase is one row of the cost table: a node in Parties parties of
// Members members each.
type costCase struct {
	Parties int `json:"parties"`
	Members int `json:"members"`
}

// costRow is what the measured node used in one case, idle and under load.
type costRow struct {
	costCase
	Idle   costFigures `json:"idle"`
	Loaded costFigures `json:"loaded"`
	// Rate is the offered load of the loaded window, messages/s in all
	// the node's parties together.
	Rate        int `json:"rate"`
	Connections int `json:"connections"`
}

type costFigures struct {
	CPUPercent float64 `json:"cpuPercentOfACore"`
	RSSMB      float64 `json:"rssMB"`
	InBps      float64 `json:"bytesInPerSec"`
	OutBps     float64 `json:"bytesOutPerSec"`
}

func parseCostCases(s string) ([]costCase, error) {
	var out []costCase
	for _, f := range strings.Split(s, ",") {
		p, m, ok := strings.Cut(strings.TrimSpace(f), "x")
		np, err1 := strconv.Atoi(p)
		nm, err2 := strconv.Atoi(m)
		if !ok || err1 != nil || err2 != nil || np < 1 || np > rules.MaxPartiesPerUser || nm < 2 || nm > rules.DefaultLimits.Members {
			return nil, fmt.Errorf("%q is not a list of PARTIESxMEMBERS (1–%d parties, 2–%d members)", s, rules.MaxPartiesPerUser, rules.DefaultLimits.Members)
		}
		out = append(out, costCase{Parties: np, Members: nm})
	}
	return out, nil
}

// measureCost runs the chatterbox binary as the measured node, with its
// defaults, in c.Parties parties it created, each with c.Members-1 other
// members. The others are in-process nodes with the defaults too (one
// pool of c.Members-1 nodes, each in every party), so what the measured
// node sees of sync, redials and heartbeats is what a real member sees.
// It waits settle, measures window idle, then window with rate messages/s
// posted round-robin over the parties by every member in turn.
func measureCost(ctx context.Context, binary string, c costCase, settle, window time.Duration, rate int) (*costRow, error) {
	me, tmp, stop, err := startMeasured(ctx, binary, "measured")
	if err != nil {
		return nil, err
	}
	defer stop()
	token, _, err := signUp(me.base, "measured")
	if err != nil {
		return nil, err
	}
	var pool []*member
	defer func() {
		for _, m := range pool {
			m.n.Close()
		}
	}()
	for i := range c.Members - 1 {
		dir := filepath.Join(tmp, fmt.Sprintf("pool%d", i))
		n, err := startNodeWith(dir, nil, false)
		if err != nil {
			return nil, err
		}
		m := &member{n: n, base: n.GatewayURL()}
		pool = append(pool, m)
		if m.token, m.account, err = signUp(m.base, fmt.Sprintf("pool%d", i)); err != nil {
			return nil, err
		}
	}
	type partyRef struct{ id, topic string }
	var parties []partyRef
	for i := range c.Parties {
		p, err := call(me.base, token, "POST", "/api/parties", map[string]string{"name": fmt.Sprintf("Cost %d", i)}, 201)
		if err != nil {
			return nil, err
		}
		ref := partyRef{id: p["id"].(string), topic: p["topics"].([]any)[0].(map[string]any)["id"].(string)}
		parties = append(parties, ref)
		inv, err := call(me.base, token, "POST", "/api/parties/"+ref.id+"/invites", map[string]any{}, 201)
		if err != nil {
			return nil, err
		}
		for _, m := range pool {
			if _, err := call(m.base, m.token, "POST", "/api/invites/accept", map[string]string{"link": inv["link"].(string)}, 200); err != nil {
				return nil, err
			}
		}
	}
	// Every pool node holds every party with all its members.
	deadline := time.Now().Add(2 * time.Minute)
	for _, p := range parties {
		for _, m := range pool {
			for {
				st, err := m.n.Parties().State(p.id)
				if err == nil && len(st.Members) == c.Members {
					break
				}
				if time.Now().After(deadline) {
					return nil, fmt.Errorf("party %s did not reach %d members on every node in 2 minutes", p.id, c.Members)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	row := &costRow{costCase: c, Rate: rate}
	sleepCtx(ctx, settle)
	if row.Idle, err = measureWindow(ctx, me, window, nil); err != nil {
		return nil, err
	}
	if info, err := call(me.base, "", "GET", "/api/node", nil, 200); err == nil {
		if id, err := peer.Decode(fmt.Sprint(info["peerId"])); err == nil {
			for _, m := range pool {
				if m.n.Host().Network().Connectedness(id) == network.Connected {
					row.Connections++
				}
			}
		}
	}
	// Load: rate messages/s, each by the next member in turn, in the next
	// party in turn; the measured node posts through its API like a user.
	posters := len(pool) + 1
	var k int
	post := func() error {
		p := parties[k%len(parties)]
		who := (k / len(parties)) % posters
		body := fmt.Sprintf("cost %d", k)
		k++
		if who == len(pool) {
			_, err := call(me.base, token, "POST", "/api/parties/"+p.id+"/topics/"+p.topic+"/messages", map[string]string{"body": body}, 201)
			return err
		}
		m := pool[who]
		key, _ := m.n.Identity().MemberKey(m.account["memberId"].(string))
		act := party.Actor{AccountID: m.account["id"].(string), Name: "pool", Key: ed25519.PrivateKey(key)}
		_, err := m.n.Parties().Chat().Post(ctx, act, p.id, p.topic, body, "")
		return err
	}
	if row.Loaded, err = measureWindow(ctx, me, window, &loadSpec{rate: rate, post: post}); err != nil {
		return nil, err
	}
	return row, nil
}

type loadSpec struct {
	rate int
	post func() error
}

// measureWindow reads the process's counters before and after d; with
// load, it posts at load.rate meanwhile.
func measureWindow(ctx context.Context, p *procNode, d time.Duration, load *loadSpec) (costFigures, error) {
	s0, err := p.sample()
	if err != nil {
		return costFigures{}, err
	}
	if load == nil {
		sleepCtx(ctx, d)
	} else {
		tick := time.NewTicker(time.Second / time.Duration(load.rate))
		end := time.After(d)
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case <-end:
				break loop
			case <-tick.C:
				if err := load.post(); err != nil {
					tick.Stop()
					return costFigures{}, fmt.Errorf("post: %w", err)
				}
			}
		}
		tick.Stop()
	}
	// Traffic totals are updated about once a second.
	sleepCtx(ctx, 1100*time.Millisecond)
	s1, err := p.sample()
	if err != nil {
		return costFigures{}, err
	}
	secs := s1.at.Sub(s0.at).Seconds()
	f := costFigures{
		CPUPercent: 100 * (s1.cpu - s0.cpu) / secs,
		InBps:      (s1.in - s0.in) / secs,
		OutBps:     (s1.out - s0.out) / secs,
	}
	f.RSSMB, err = p.rssMB()
	return f, err
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
