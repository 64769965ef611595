package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatterbox/chatterbox/node"
	"github.com/chatterbox/chatterbox/party"
)

const benchPassword = "correct horse battery staple"

// member is one node with one signed-in user and a WebSocket.
type member struct {
	n       *node.Node
	base    string
	token   string
	account map[string]any
	ws      *websocket.Conn
	wsMu    sync.Mutex // serialises writes
}

// cluster is N in-process nodes on loopback sharing one party.
type cluster struct {
	dirs    []string
	members []*member
	party   string
	topic   string
}

func call(base, token, method, path string, body any, want int) (map[string]any, error) {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, raw)
	}
	var out map[string]any
	json.Unmarshal(raw, &out)
	return out, nil
}

func signUp(base, name string) (string, map[string]any, error) {
	email := strings.ToLower(name) + "@bench.example"
	if _, err := call(base, "", "POST", "/api/auth/register", map[string]string{"email": email, "password": benchPassword, "displayName": name}, 202); err != nil {
		return "", nil, err
	}
	r, err := call(base, "", "POST", "/api/auth/login", map[string]string{"email": email, "password": benchPassword}, 200)
	if err != nil {
		return "", nil, err
	}
	return r["accessToken"].(string), r["account"].(map[string]any), nil
}

func startNode(dir string, listen []string) (*node.Node, error) {
	return startNodeWith(dir, listen, true)
}

// startNodeWith starts an in-process node; fast shortens its sync and
// redial intervals (for load runs), otherwise it has the defaults.
func startNodeWith(dir string, listen []string, fast bool) (*node.Node, error) {
	if listen == nil {
		listen = []string{"/ip4/127.0.0.1/tcp/0"}
	}
	cfg := node.Config{
		DataDir: dir, GatewayAddr: "127.0.0.1:0", ListenAddrs: listen, DisableMDNS: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if fast {
		cfg.Party = party.Config{RetryMin: 100 * time.Millisecond, RetryMax: time.Second, SyncInterval: 2 * time.Second}
		cfg.RedialInterval = 500 * time.Millisecond
	}
	n, err := node.New(cfg)
	if err != nil {
		return nil, err
	}
	return n, n.Start(context.Background())
}

// newCluster starts n nodes, one user each, all in one party, converged.
func newCluster(n int) (*cluster, error) {
	c := &cluster{}
	for i := range n {
		dir, err := os.MkdirTemp("", "chatterbox-bench-")
		if err != nil {
			return nil, err
		}
		c.dirs = append(c.dirs, dir)
		nd, err := startNode(dir, nil)
		if err != nil {
			c.Close()
			return nil, err
		}
		m := &member{n: nd, base: nd.GatewayURL()}
		c.members = append(c.members, m)
		if m.token, m.account, err = signUp(m.base, fmt.Sprintf("user%d", i)); err != nil {
			c.Close()
			return nil, err
		}
	}
	owner := c.members[0]
	p, err := call(owner.base, owner.token, "POST", "/api/parties", map[string]string{"name": "Bench"}, 201)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.party = p["id"].(string)
	c.topic = p["topics"].([]any)[0].(map[string]any)["id"].(string)
	inv, err := call(owner.base, owner.token, "POST", "/api/parties/"+c.party+"/invites", map[string]any{}, 201)
	if err != nil {
		c.Close()
		return nil, err
	}
	for _, m := range c.members[1:] {
		if _, err := call(m.base, m.token, "POST", "/api/invites/accept", map[string]string{"link": inv["link"].(string)}, 200); err != nil {
			c.Close()
			return nil, err
		}
	}
	deadline := time.Now().Add(time.Minute)
	for !c.converged() {
		if time.Now().After(deadline) {
			c.Close()
			return nil, fmt.Errorf("the party did not converge in a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c, nil
}

func (c *cluster) converged() bool {
	var head string
	for i, m := range c.members {
		st, err := m.n.Parties().State(c.party)
		if err != nil {
			return false
		}
		if i == 0 {
			head = st.Head
		} else if st.Head != head {
			return false
		}
	}
	return true
}

// dialAll opens a WebSocket per member; onEvent gets every server frame.
func (c *cluster) dialAll(onFrame func(i int, raw []byte)) error {
	for i, m := range c.members {
		url := "ws" + strings.TrimPrefix(m.base, "http") + "/api/ws"
		ws, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Authorization": {"Bearer " + m.token}})
		if err != nil {
			return err
		}
		m.ws = ws
		go func() {
			for {
				_, raw, err := ws.ReadMessage()
				if err != nil {
					return
				}
				onFrame(i, raw)
			}
		}()
	}
	return nil
}

func (m *member) send(partyID, topic, body string) error {
	m.wsMu.Lock()
	defer m.wsMu.Unlock()
	return m.ws.WriteJSON(map[string]string{"type": "message.send", "id": body, "partyId": partyID, "topicId": topic, "body": body})
}

func (c *cluster) Close() {
	for _, m := range c.members {
		if m == nil { // a set-up that failed part-way
			continue
		}
		if m.ws != nil {
			m.ws.Close()
		}
		m.n.Close()
	}
	for _, d := range c.dirs {
		os.RemoveAll(d)
	}
}
