//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/chatterbox/chatterbox/node/nodetest"
	"github.com/chatterbox/chatterbox/party/rules"
)

// netLab builds a small network of hosts for one test: each host is a
// network namespace joined by veth pairs to bridges in the root
// namespace, and runs a real chatterbox process. The test itself reaches
// each node's gateway through the bridges. Everything is removed when the
// test ends.
type netLab struct {
	t      *testing.T
	prefix string
	mgmt   string // bridge the test reaches gateways through
	nMgmt  int
}

// labSeq numbers interfaces and namespaces across the test binary's labs.
var labSeq atomic.Int64

// newNetLab needs root (network namespaces) and iproute2. Without them
// the test skips and says why; in CI (CI set) it fails instead.
func newNetLab(t *testing.T) *netLab {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "network namespace tests need root"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "network namespace tests need iproute2's ip command"
	}
	if why != "" {
		if os.Getenv("CI") != "" {
			t.Fatal(why)
		}
		t.Skip("skipping: " + why)
	}
	binary(t) // build before the clock starts on the network
	l := &netLab{t: t, prefix: fmt.Sprintf("cb%d", os.Getpid()%100000)}
	l.mgmt = l.bridge("10.99.0")
	return l
}

func (l *netLab) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (l *netLab) name(kind string) string {
	return fmt.Sprintf("%s%s%d", l.prefix, kind, labSeq.Add(1)) // at most 15 bytes: interface name limit
}

// bridge makes a bridge for subnet "10.X.0" and gives the root namespace
// .254 on it, so the test can reach the hosts.
func (l *netLab) bridge(subnet string) string {
	br := l.name("b")
	l.ip("link", "add", br, "type", "bridge")
	l.t.Cleanup(func() { exec.Command("ip", "link", "del", br).Run() })
	l.ip("addr", "add", subnet+".254/24", "dev", br)
	l.ip("link", "set", br, "up")
	return br
}

// labHost is one namespace. It has a management link, on which its
// gateway listens for the test, and data links, on which libp2p listens.
type labHost struct {
	lab  *netLab
	ns   string
	mgmt string   // management address
	ips  []string // data addresses
	link []string // root-side veth per data link: cut with setLinks
	quic bool     // the node listens on QUIC instead of TCP
}

func (l *netLab) host() *labHost {
	ns := l.name("n")
	l.ip("netns", "add", ns)
	l.t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	l.ip("-n", ns, "link", "set", "lo", "up")
	l.nMgmt++
	h := &labHost{lab: l, ns: ns, mgmt: fmt.Sprintf("10.99.0.%d", l.nMgmt)}
	h.veth(l.mgmt, h.mgmt)
	return h
}

// attach connects h to bridge br with data address ip (/24).
func (h *labHost) attach(br, ip string) {
	h.ips = append(h.ips, ip)
	h.link = append(h.link, h.veth(br, ip))
}

func (h *labHost) veth(br, ip string) (outer string) {
	l := h.lab
	outer, inner := l.name("v"), l.name("i")
	l.ip("link", "add", outer, "type", "veth", "peer", "name", inner, "netns", h.ns)
	l.ip("link", "set", outer, "master", br)
	l.ip("link", "set", outer, "up")
	l.ip("-n", h.ns, "addr", "add", ip+"/24", "dev", inner)
	l.ip("-n", h.ns, "link", "set", inner, "up")
	return outer
}

// setLinks takes every link of h down or up: a cable pulled and put back.
func (h *labHost) setLinks(up bool) {
	state := "down"
	if up {
		state = "up"
	}
	for _, l := range h.link {
		h.lab.ip("link", "set", l, state)
	}
}

// labNode is a chatterbox process in a lab host.
type labNode struct {
	env     []string // extra environment, "K=V"
	host    *labHost
	proc    *proc
	url     string
	dataDir string
	args    []string
	api     *nodetest.Client
	peerID  string
}

// run starts chatterbox in h: libp2p on TCP port 7734 of each data
// address, the gateway on the management address.
func (h *labHost) run(extra ...string) *labNode { return h.runEnv(nil, extra...) }

// runEnv is run with extra environment variables ("K=V").
func (h *labHost) runEnv(env []string, extra ...string) *labNode {
	t := h.lab.t
	n := &labNode{host: h, dataDir: t.TempDir(), env: env}
	n.args = []string{"run", "--data-dir", n.dataDir, "--gateway-addr", h.mgmt + ":7733", "--mdns=false", "--nat-portmap=false", "--log-level", "warn"}
	for _, ip := range h.ips {
		n.args = append(n.args, "--listen", "/ip4/"+ip+h.transport())
	}
	n.args = append(n.args, extra...)
	n.start()
	return n
}

func (n *labNode) start() {
	t := n.host.lab.t
	var pre []string
	for _, e := range n.env {
		pre = append(pre, "@env:"+e)
	}
	n.proc, n.url = start(t, append(append(pre, "@netns", n.host.ns), n.args...)...)
	if n.api == nil {
		n.api = nodetest.NewClient(t, n.url)
	}
	n.peerID = n.api.Must(200, "GET", "/api/node", nil).String("peerId")
}

// p2p is the node's libp2p address on its first IP.
func (n *labNode) p2p() string {
	return "/ip4/" + n.host.ips[0] + n.host.transport() + "/p2p/" + n.peerID
}

// transport is the host's libp2p listen address after the IP.
func (h *labHost) transport() string {
	if h.quic {
		return "/udp/7734/quic-v1"
	}
	return "/tcp/7734"
}

// topicMessages lists a topic's messages on n, oldest first, as "id body".
func (n *labNode) topicMessages(party, topic string) []string {
	var out []string
	cursor := ""
	for {
		path := "/api/parties/" + party + "/topics/" + topic + "/messages?limit=100"
		if cursor != "" {
			path += "&before=" + cursor
		}
		r := n.api.Must(200, "GET", path, nil)
		var page struct {
			Messages []struct {
				ID   string `json:"id"`
				Body string `json:"body"`
			} `json:"messages"`
			NextCursor string `json:"nextCursor"`
		}
		json.Unmarshal(r.Raw, &page)
		for _, m := range page.Messages {
			out = append(out, m.ID+" "+m.Body)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	slices.Reverse(out)
	return out
}

// party is one party with its first topic.
type labParty struct{ id, topic string }

// createParty signs everyone up, makes a party on owner's node and has
// every other node join it with an invite link.
func createParty(t *testing.T, owner *labNode, others ...*labNode) labParty {
	t.Helper()
	for i, n := range append([]*labNode{owner}, others...) {
		n.api.SignUp(fmt.Sprintf("user%d@example.test", i), "correct horse battery staple", fmt.Sprintf("User %d", i))
	}
	p := owner.api.Must(201, "POST", "/api/parties", map[string]string{"name": "Lab"})
	var view struct {
		ID     string `json:"id"`
		Topics []struct {
			ID string `json:"id"`
		} `json:"topics"`
	}
	json.Unmarshal(p.Raw, &view)
	link := owner.api.Must(201, "POST", "/api/parties/"+view.ID+"/invites", map[string]any{"maxUses": 20}).String("link")
	for _, n := range others {
		n.api.Must(200, "POST", "/api/invites/accept", map[string]string{"link": link})
	}
	return labParty{view.ID, view.Topics[0].ID}
}

func (n *labNode) post(p labParty, body string) {
	n.host.lab.t.Helper()
	n.api.Must(201, "POST", "/api/parties/"+p.id+"/topics/"+p.topic+"/messages", map[string]string{"body": body})
}

// waitAll waits until every node lists exactly want messages.
func waitAll(t *testing.T, within time.Duration, p labParty, want int, nodes ...*labNode) {
	t.Helper()
	nodetest.Eventually(t, within, fmt.Sprintf("%d messages on %d nodes", want, len(nodes)), func() bool {
		for _, n := range nodes {
			if len(n.topicMessages(p.id, p.topic)) != want {
				return false
			}
		}
		return true
	})
}

// Five nodes chat; one is cut off for a while and writes alone while the
// rest go on; after the link is back every node has the union of all
// messages, no duplicates, in the same order.
func TestNetnsPartitionHeals(t *testing.T) {
	lab := newNetLab(t)
	br := lab.bridge("10.77.0")
	var nodes []*labNode
	for i := range 5 {
		h := lab.host()
		h.attach(br, fmt.Sprintf("10.77.0.%d", i+1))
		nodes = append(nodes, h.run())
	}
	p := createParty(t, nodes[0], nodes[1:]...)
	for i, n := range nodes {
		n.post(p, fmt.Sprintf("hello from %d", i))
	}
	waitAll(t, 60*time.Second, p, 5, nodes...)

	cut, rest := nodes[4], nodes[:4]
	cut.host.setLinks(false)
	for round := range 3 {
		for i, n := range rest {
			n.post(p, fmt.Sprintf("while cut, %d says %d", i, round))
		}
		cut.post(p, fmt.Sprintf("alone, 4 says %d", round))
	}
	waitAll(t, 60*time.Second, p, 5+12, rest...)
	if got := len(cut.topicMessages(p.id, p.topic)); got != 5+3 {
		t.Fatalf("the cut-off node has %d messages; the link was not cut", got)
	}
	// Stay cut until the others have given up on the connection (its
	// keepalives failed) and show the member offline: healing then needs
	// a redial and a catch-up, not just TCP retransmissions.
	cutMember := cut.api.Must(200, "GET", "/api/me", nil).String("memberId")
	nodetest.Eventually(t, 120*time.Second, "the cut-off member shown offline", func() bool {
		var v struct {
			Members []struct {
				MemberID string `json:"memberId"`
				Online   bool   `json:"online"`
			} `json:"members"`
		}
		json.Unmarshal(rest[0].api.Must(200, "GET", "/api/parties/"+p.id, nil).Raw, &v)
		for _, m := range v.Members {
			if m.MemberID == cutMember {
				return !m.Online
			}
		}
		return false
	})
	cut.host.setLinks(true)
	waitAll(t, 120*time.Second, p, 5+12+3, nodes...)

	want := nodes[0].topicMessages(p.id, p.topic)
	seen := map[string]bool{}
	for _, m := range want {
		if seen[m] {
			t.Fatalf("duplicate message %q", m)
		}
		seen[m] = true
	}
	for i, n := range nodes[1:] {
		if got := n.topicMessages(p.id, p.topic); !slices.Equal(got, want) {
			t.Fatalf("node %d's history differs from node 0's:\n%v\nvs\n%v", i+1, got, want)
		}
	}
}

// A node that can reach only a relay joins a party whose owner is behind
// that relay too, and they chat through it: the owner is private, holds a
// reservation at the relay, and its invite link carries the relay
// address. The two sides share no network; only the relay is on both.
//
// The subnets are public-looking (11.78.0.0/24, 11.79.0.0/24) because
// libp2p's AutoRelay only advertises a relay's public addresses, as a real
// relay on a server has. They exist only on this test's bridges and
// namespaces, which have no route anywhere else.
func TestNetnsRelay(t *testing.T) {
	lab := newNetLab(t)
	brA, brB := lab.bridge("11.78.0"), lab.bridge("11.79.0")
	rh, ah, bh := lab.host(), lab.host(), lab.host()
	rh.attach(brA, "11.78.0.2")
	rh.attach(brB, "11.79.0.2")
	ah.attach(brA, "11.78.0.1")
	bh.attach(brB, "11.79.0.1")
	relay := rh.run("--relay", "--reachability", "public")
	owner := ah.run("--reachability", "private", "--relay-peer", relay.p2p())
	joiner := bh.run()

	var last string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("owner's last /api/node: %s\nowner's log:\n%s\nrelay's log:\n%s", last, owner.proc.stderr, relay.proc.stderr)
		}
	})
	nodetest.Eventually(t, 60*time.Second, "the owner's reservation at the relay", func() bool {
		r := owner.api.Must(200, "GET", "/api/node", nil)
		last = string(r.Raw)
		relays, _ := r.JSON["relays"].([]any)
		return r.String("reachability") == "Private" && len(relays) == 1 && relays[0] == relay.peerID
	})
	p := createParty(t, owner, joiner)
	link := owner.api.Must(201, "POST", "/api/parties/"+p.id+"/invites", map[string]any{}).String("link")
	inv, _, err := rules.ParseInvite(link)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(inv.Addrs, func(a string) bool {
		return strings.HasPrefix(a, "/ip4/11.79.0.2/tcp/7734/p2p/"+relay.peerID+"/p2p-circuit")
	}) {
		t.Fatalf("the invite does not carry the relay address the joiner can reach: %v", inv.Addrs)
	}
	owner.post(p, "hello through the relay")
	joiner.post(p, "hello back")
	waitAll(t, 60*time.Second, p, 2, owner, joiner)
}

// Every link has 100 ms latency with 30 ms jitter each way, a 256 KB/s
// cap, and is reset every 2 seconds (Toxiproxy in the test, between the
// nodes on TCP; each node announces its proxy's address). Every message
// still arrives everywhere, once; the test logs delivery latency.
func TestNetnsLossyLinks(t *testing.T) {
	lab := newNetLab(t)
	br := lab.bridge("10.80.0")
	zerolog.SetGlobalLevel(zerolog.Disabled) // Toxiproxy's own trace lines
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	var proxies []*toxiproxy.Proxy
	var nodes []*labNode
	for i := range 3 {
		h := lab.host()
		ip := fmt.Sprintf("10.80.0.%d", i+1)
		h.attach(br, ip)
		px := toxiproxy.NewProxy(srv, fmt.Sprintf("node%d", i), "10.80.0.254:0", ip+":7734")
		if err := px.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(px.Stop)
		for _, stream := range []string{"upstream", "downstream"} {
			addToxic(t, px, fmt.Sprintf(`{"name":"latency_%s","type":"latency","stream":%q,"attributes":{"latency":100,"jitter":30}}`, stream, stream))
			addToxic(t, px, fmt.Sprintf(`{"name":"bandwidth_%s","type":"bandwidth","stream":%q,"attributes":{"rate":256}}`, stream, stream))
		}
		proxies = append(proxies, px)
		_, port, _ := strings.Cut(px.Listen, ":")
		nodes = append(nodes, h.run("--announce", "/ip4/10.80.0.254/tcp/"+port))
	}
	p := createParty(t, nodes[0], nodes[1:]...)

	// Connection resets on every link, every 2 s, until the test is done.
	stop := make(chan struct{})
	resetsDone := make(chan struct{})
	go func() {
		defer close(resetsDone)
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for _, px := range proxies {
				addToxic(t, px, `{"name":"reset","type":"reset_peer","stream":"upstream","attributes":{"timeout":0}}`)
			}
			time.Sleep(100 * time.Millisecond)
			for _, px := range proxies {
				px.Toxics.RemoveToxic(context.Background(), "reset")
			}
		}
	}()
	defer func() { close(stop); <-resetsDone }()

	// Each node posts 10 messages, 200 ms apart; every node watches.
	const perNode = 10
	posted := map[string]time.Time{}
	var mu sync.Mutex
	seen := make([]map[string]time.Time, len(nodes))
	watchStop := make(chan struct{})
	var watchers sync.WaitGroup
	for i, n := range nodes {
		seen[i] = map[string]time.Time{}
		watchers.Add(1)
		go func() {
			defer watchers.Done()
			for {
				select {
				case <-watchStop:
					return
				case <-time.After(25 * time.Millisecond):
				}
				now := time.Now()
				for _, m := range n.topicMessages(p.id, p.topic) {
					_, body, _ := strings.Cut(m, " ")
					mu.Lock()
					if _, ok := seen[i][body]; !ok {
						seen[i][body] = now
					}
					mu.Unlock()
				}
			}
		}()
	}
	for k := range perNode {
		for i, n := range nodes {
			body := fmt.Sprintf("node %d message %d", i, k)
			mu.Lock()
			posted[body] = time.Now()
			mu.Unlock()
			n.post(p, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	want := perNode * len(nodes)
	nodetest.Eventually(t, 120*time.Second, "every message on every node", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for i := range nodes {
			if len(seen[i]) < want {
				return false
			}
		}
		return true
	})
	close(watchStop)
	watchers.Wait()
	waitAll(t, 10*time.Second, p, want, nodes...) // exactly once each

	var lat []time.Duration
	for i := range nodes {
		for body, at := range seen[i] {
			if !strings.HasPrefix(body, fmt.Sprintf("node %d ", i)) {
				lat = append(lat, at.Sub(posted[body]))
			}
		}
	}
	slices.Sort(lat)
	t.Logf("delivery latency over %d (message, receiver) pairs with 100±30 ms per direction, 256 KB/s and resets every 2 s: p50 %v, p95 %v, max %v",
		len(lat), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*95/100].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
}

func addToxic(t *testing.T, px *toxiproxy.Proxy, spec string) {
	if _, err := px.Toxics.AddToxicJson(strings.NewReader(spec)); err != nil {
		t.Errorf("add toxic %s: %v", spec, err)
	}
}

// A node killed with SIGKILL again and again in the middle of write
// bursts restarts cleanly every time and has every message it
// acknowledged; its peer ends up with all of them too.
func TestNetnsKillLoop(t *testing.T) {
	lab := newNetLab(t)
	br := lab.bridge("10.81.0")
	wh, qh := lab.host(), lab.host()
	wh.attach(br, "10.81.0.1")
	qh.attach(br, "10.81.0.2")
	writer, peer := wh.run(), qh.run()
	p := createParty(t, writer, peer)
	path := "/api/parties/" + p.id + "/topics/" + p.topic + "/messages"

	var (
		mu    sync.Mutex
		acked []string
	)
	httpc := &http.Client{Timeout: 10 * time.Second}
	post := func(body string) bool {
		raw, _ := json.Marshal(map[string]string{"body": body})
		req, _ := http.NewRequest("POST", writer.url+path, bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+writer.api.Token)
		res, err := httpc.Do(req)
		if err != nil {
			return false // the node is gone
		}
		res.Body.Close()
		if res.StatusCode == 201 {
			mu.Lock()
			acked = append(acked, body)
			mu.Unlock()
		}
		return true
	}
	const rounds, writers = 5, 4
	for round := range rounds {
		before := len(acked)
		var wg sync.WaitGroup
		for g := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; k < 2000 && post(fmt.Sprintf("round %d writer %d message %d", round, g, k)); k++ {
				}
			}()
		}
		nodetest.Eventually(t, 30*time.Second, "a burst of acknowledged writes", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(acked)-before >= 40
		})
		if err := writer.proc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		writer.proc.wait(t, 10*time.Second)
		writer.start()
		have := map[string]bool{}
		for _, m := range writer.topicMessages(p.id, p.topic) {
			_, body, _ := strings.Cut(m, " ")
			have[body] = true
		}
		for _, body := range acked {
			if !have[body] {
				t.Fatalf("round %d: acknowledged message %q is gone after SIGKILL", round, body)
			}
		}
	}
	nodetest.Eventually(t, 60*time.Second, "every acknowledged message on the peer", func() bool {
		have := map[string]bool{}
		for _, m := range peer.topicMessages(p.id, p.topic) {
			_, body, _ := strings.Cut(m, " ")
			have[body] = true
		}
		for _, body := range acked {
			if !have[body] {
				return false
			}
		}
		return true
	})
	t.Logf("%d rounds, %d acknowledged messages, all kept", rounds, len(acked))
}

// One node's clock is 5 minutes behind and another's 5 minutes ahead. A
// conversation where each message answers the one before keeps that order
// on every node, and nothing is rejected.
func TestNetnsClockSkew(t *testing.T) {
	lab := newNetLab(t)
	br := lab.bridge("10.82.0")
	var nodes []*labNode
	for i, offset := range []string{"", "-5m", "5m"} {
		h := lab.host()
		h.attach(br, fmt.Sprintf("10.82.0.%d", i+1))
		var env []string
		if offset != "" {
			env = []string{"CHATTERBOX_CLOCK_OFFSET=" + offset}
		}
		nodes = append(nodes, h.runEnv(env))
	}
	p := createParty(t, nodes[0], nodes[1:]...)
	const steps = 9
	var want []string
	for i := range steps {
		body := fmt.Sprintf("step %d", i)
		nodes[i%len(nodes)].post(p, body)
		want = append(want, body)
		waitAll(t, 30*time.Second, p, i+1, nodes...) // the next step answers this one
	}
	for i, n := range nodes {
		var got []string
		for _, m := range n.topicMessages(p.id, p.topic) {
			_, body, _ := strings.Cut(m, " ")
			got = append(got, body)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("node %d shows %v, want the conversation's order %v", i, got, want)
		}
	}
}
