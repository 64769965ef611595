package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatterbox/chatterbox/party"
)

type catchUp struct {
	Messages int     `json:"messages"`
	Seconds  float64 `json:"seconds"`
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
			return &catchUp{Messages: total, Seconds: time.Since(start).Seconds()}, nil
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

func rssMB(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// measureNode runs the chatterbox binary as a process: time from exec to
// /healthz answering 200, idle RSS, then RSS with 10 parties and 1,000
// idle WebSocket clients.
func measureNode(ctx context.Context, binary string) (*nodeFootprint, error) {
	tmp, err := os.MkdirTemp("", "chatterbox-bench-node-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if binary == "" {
		binary = filepath.Join(tmp, "chatterbox")
		if out, err := exec.Command("go", "build", "-o", binary, "./cmd/chatterbox").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	base := "http://" + addr
	cmd := exec.CommandContext(ctx, binary, "run", "--data-dir", filepath.Join(tmp, "data"), "--gateway-addr", addr,
		"--listen", "/ip4/127.0.0.1/tcp/0", "--mdns=false", "--log-level", "error")
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	for {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Since(start) > 30*time.Second {
			return nil, fmt.Errorf("node not ready after 30 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
	nf := &nodeFootprint{ReadyMs: float64(time.Since(start).Microseconds()) / 1000, Parties: 10, Clients: 1000}
	time.Sleep(2 * time.Second)
	if nf.IdleRSSMB, err = rssMB(cmd.Process.Pid); err != nil {
		return nil, err
	}
	token, _, err := signUp(base, "footprint")
	if err != nil {
		return nil, err
	}
	for i := range nf.Parties {
		if _, err := call(base, token, "POST", "/api/parties", map[string]string{"name": fmt.Sprintf("Party %d", i)}, 201); err != nil {
			return nil, err
		}
	}
	url := "ws://" + addr + "/api/ws"
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
	if nf.LoadedRSSMB, err = rssMB(cmd.Process.Pid); err != nil {
		return nil, err
	}
	return nf, nil
}
