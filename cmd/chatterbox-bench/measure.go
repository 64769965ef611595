package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatterbox/chatterbox/party"
)

type catchUp struct {
	Messages int     `json:"messages"`
	Seconds  float64 `json:"seconds"`
	// BytesIn and BytesOut are the late node's libp2p traffic from its
	// restart until it held every message.
	BytesIn  int64 `json:"bytesIn"`
	BytesOut int64 `json:"bytesOut"`
}

// measureCatchUp stops one of three nodes, posts total messages on the
// other two, restarts it and times until it holds them all.
func measureCatchUp(total int) (*catchUp, error) {
	c, err := newCluster(3)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	late := c.members[2]
	var listen []string
	for _, a := range late.n.Host().Addrs() {
		listen = append(listen, a.String())
	}
	if err := late.n.Close(); err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for _, m := range c.members[:2] {
		key, _ := m.n.Identity().MemberKey(m.account["memberId"].(string))
		act := party.Actor{AccountID: m.account["id"].(string), Name: "bench", Key: ed25519.PrivateKey(key)}
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < total/2; i += 8 {
					if _, err := m.n.Parties().Chat().Post(context.Background(), act, c.party, c.topic, fmt.Sprintf("catch-up %d", i), ""); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	start := time.Now()
	n, err := startNode(c.dirs[2], listen)
	if err != nil {
		return nil, err
	}
	late.n = n
	for {
		heads, _ := n.Parties().Chat().FeedHeads(c.party)
		var sum uint64
		for _, h := range heads {
			sum += h
		}
		if sum >= uint64(total) {
			cu := &catchUp{Messages: total, Seconds: time.Since(start).Seconds()}
			time.Sleep(1100 * time.Millisecond) // traffic totals are updated once a second
			t := n.Traffic()
			cu.BytesIn, cu.BytesOut = t.BytesIn, t.BytesOut
			return cu, nil
		}
		if time.Since(start) > 5*time.Minute {
			return nil, fmt.Errorf("only %d of %d messages after 5 minutes", sum, total)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type nodeFootprint struct {
	ReadyMs     float64 `json:"readyMs"`
	IdleRSSMB   float64 `json:"idleRssMB"`
	Parties     int     `json:"parties"`
	Clients     int     `json:"wsClients"`
	LoadedRSSMB float64 `json:"loadedRssMB"`
}

// measureNode runs the chatterbox binary as a process: time from exec to
// /healthz answering 200, idle RSS, then RSS with 10 parties and 1,000
// idle WebSocket clients.
func measureNode(ctx context.Context, binary string) (*nodeFootprint, error) {
	p, _, stop, err := startMeasured(ctx, binary, "data")
	if err != nil {
		return nil, err
	}
	defer stop()
	nf := &nodeFootprint{ReadyMs: float64(p.ready.Microseconds()) / 1000, Parties: 10, Clients: 1000}
	time.Sleep(2 * time.Second)
	if nf.IdleRSSMB, err = p.rssMB(); err != nil {
		return nil, err
	}
	token, _, err := signUp(p.base, "footprint")
	if err != nil {
		return nil, err
	}
	for i := range nf.Parties {
		if _, err := call(p.base, token, "POST", "/api/parties", map[string]string{"name": fmt.Sprintf("Party %d", i)}, 201); err != nil {
			return nil, err
		}
	}
	url := "ws://" + p.addr + "/api/ws"
	conns := make([]*websocket.Conn, 0, nf.Clients)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range nf.Clients {
		c, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Authorization": {"Bearer " + token}})
		if err != nil {
			return nil, err
		}
		conns = append(conns, c)
	}
	time.Sleep(2 * time.Second)
	if nf.LoadedRSSMB, err = p.rssMB(); err != nil {
		return nil, err
	}
	return nf, nil
}
