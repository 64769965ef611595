package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatterbox/chatterbox/node"
	"github.com/chatterbox/chatterbox/node/nodetest"
)

// benchParty starts n nodes with one user each, all in one party, and
// returns the users, party and topic once every node is on one log head.
func benchParty(b *testing.B, n int) ([]*user, string, string) {
	nodes := nodetest.Start(b, n)
	users := make([]*user, n)
	for i, nd := range nodes {
		users[i] = signUpB(b, nd, fmt.Sprintf("B%d", i))
	}
	id := users[0].c.Must(201, "POST", "/api/parties", map[string]string{"name": "Bench"}).String("id")
	link := users[0].c.Must(201, "POST", "/api/parties/"+id+"/invites", map[string]any{}).String("link")
	for _, u := range users[1:] {
		u.c.Must(200, "POST", "/api/invites/accept", map[string]string{"link": link})
	}
	var topic string
	nodetest.Eventually(b, time.Minute, "convergence", func() bool {
		st := state(nodes[0], id)
		for _, nd := range nodes[1:] {
			if s := state(nd, id); s == nil || s.Head != st.Head {
				return false
			}
		}
		topic = st.SortedTopics()[0].ID
		return true
	})
	return users, id, topic
}

func signUpB(b *testing.B, n *node.Node, name string) *user {
	c := nodetest.NewClient(b, n.GatewayURL())
	acct := c.SignUp(strings.ToLower(name)+"@example.com", password, name).JSON["account"].(map[string]any)
	return &user{n: n, c: c, memberID: acct["memberId"].(string), accountID: acct["id"].(string), name: name}
}

// BenchmarkWSLatency measures end-to-end latency: a message sent on the
// WebSocket of node 0 until it arrives on the WebSocket of the last node.
func BenchmarkWSLatency(b *testing.B) {
	for _, n := range []int{2, 5, 10} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			users, partyID, topic := benchParty(b, n)
			dial := func(u *user) *websocket.Conn {
				c, _, err := websocket.DefaultDialer.Dial(wsURL(u.n.GatewayURL()), http.Header{"Authorization": {"Bearer " + u.c.Token}})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { c.Close() })
				return c
			}
			from, to := dial(users[0]), dial(users[n-1])
			arrived := make(chan string, 1024)
			go func() {
				for {
					_, raw, err := to.ReadMessage()
					if err != nil {
						return
					}
					var ev struct {
						Type string `json:"type"`
						Data struct {
							Body string `json:"body"`
						} `json:"data"`
					}
					json.Unmarshal(raw, &ev)
					if ev.Type == "message.created" {
						arrived <- ev.Data.Body
					}
				}
			}()
			go func() { // drain acks and echoes on the sender
				for {
					if _, _, err := from.ReadMessage(); err != nil {
						return
					}
				}
			}()
			// Warm up: the mesh forms and the first message arrives.
			warm := time.Now()
			for {
				body := fmt.Sprintf("warm %d", time.Now().UnixNano())
				from.WriteJSON(map[string]string{"type": "message.send", "id": "w", "partyId": partyID, "topicId": topic, "body": body})
				select {
				case got := <-arrived:
					if got == body {
						goto ready
					}
				case <-time.After(2 * time.Second):
				}
				if time.Since(warm) > time.Minute {
					b.Fatal("no message crossed the network in a minute")
				}
			}
		ready:
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				body := fmt.Sprintf("m%d", i)
				start := time.Now()
				from.WriteJSON(map[string]string{"type": "message.send", "id": body, "partyId": partyID, "topicId": topic, "body": body})
				for got := range arrived {
					if got == body {
						break
					}
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkSustainedThroughput posts b.N messages into one party from
// every node at once (8 writers per node) and waits until every node has
// stored all of them.
func BenchmarkSustainedThroughput(b *testing.B) {
	const n = 3
	users, partyID, topic := benchParty(b, n)
	acts := make([]struct {
		u *user
		a func(context.Context, string) error
	}, n)
	for i, u := range users {
		act := u.actor(b)
		acts[i].u = u
		acts[i].a = func(ctx context.Context, body string) error {
			_, err := u.n.Parties().Chat().Post(ctx, act, partyID, topic, body, "")
			return err
		}
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	per := (b.N + n - 1) / n
	for _, x := range acts {
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < per; i += 8 {
					if err := x.a(context.Background(), "throughput"); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	total := uint64(per * n)
	for _, u := range users {
		nodetest.Eventually(b, 5*time.Minute, "every node to store every message", func() bool {
			heads, _ := u.n.Parties().Chat().FeedHeads(partyID)
			var sum uint64
			for _, h := range heads {
				sum += h
			}
			return sum == total
		})
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "msgs/s")
}
