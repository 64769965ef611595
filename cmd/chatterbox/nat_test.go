package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatterbox/chatterbox/node"
	"github.com/chatterbox/chatterbox/node/nodetest"
)

// natHome builds a home network behind a NAT router: a router namespace
// with wan on the internet bridge and .1 on a new home bridge for subnet
// ("10.X.0"), masquerading what leaves the home. It returns the home
// bridge.
func (l *netLab) natHome(internet, wan, subnet string, symmetric bool) string {
	l.t.Helper()
	return l.natHomeVia(internet, wan, "", subnet, symmetric)
}

// natHomeVia is natHome for a router whose way out is upstream (another
// router's home address): a home behind two NATs.
func (l *netLab) natHomeVia(internet, wan, upstream, subnet string, symmetric bool) string {
	l.t.Helper()
	home := l.bridge(subnet)
	r := l.host()
	r.attach(internet, wan)
	r.attach(home, subnet+".1")
	if upstream != "" {
		l.ip("-n", r.ns, "route", "add", "default", "via", upstream)
	}
	l.exec(r.ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	flags := ""
	if symmetric {
		flags = " fully-random"
	}
	// Masquerade what leaves the home; like a home router, drop (never
	// answer with a reset) what arrives from outside unasked: a reset
	// would tear down the mapping a hole punch is opening.
	rules := fmt.Sprintf(`table ip nat {
 chain post {
  type nat hook postrouting priority srcnat; policy accept;
  ip saddr %[1]s.0/24 ip daddr != %[1]s.0/24 ip daddr != 10.99.0.0/24 masquerade%[2]s
 }
}
table ip fw {
 chain in {
  type filter hook input priority filter; policy accept;
  ip daddr %[3]s ct state new drop
 }
}
`, subnet, flags, wan)
	cmd := exec.Command("ip", "netns", "exec", r.ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		l.t.Fatalf("nft: %v\n%s", err, out)
	}
	return home
}

func (l *netLab) exec(ns string, args ...string) string {
	l.t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// natPair builds the lab of the hole-punching tests: a relay on an
// "internet" bridge, and two home networks behind NAT routers on it, one
// node in each (symmetric: the second router maps every destination to a
// new port). Both nodes are in one party, joined through an invite that
// carries the relay's address.
func natPair(t *testing.T, symmetric bool) *natLab {
	return natPairOf(t, natTopology{symmetricB: symmetric})
}

// natTopology varies natPair's lab: b's router maps every destination to
// a new port; a's home router sits behind the provider's (two NATs);
// every node finds its reachability with AutoNAT instead of being told;
// every node listens on QUIC only.
type natTopology struct{ symmetricB, doubleA, autonat, quic bool }

func natPairOf(t *testing.T, top natTopology) *natLab {
	lab := newNetLab(t)
	if _, err := exec.LookPath("nft"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the NAT tests need nftables' nft command; .ci/run installs it")
		}
		t.Skip("skipping: the NAT tests need nftables' nft command (apt-get install nftables)")
	}
	inet := lab.bridge("11.80.0")
	rh := lab.host()
	rh.quic = top.quic
	rh.attach(inet, "11.80.0.2")
	public, private := []string{"--reachability", "public"}, []string{"--reachability", "private"}
	if top.autonat {
		public, private = nil, nil
	}
	started := time.Now()
	relay := rh.run(append([]string{"--relay"}, public...)...)
	if top.autonat {
		// AutoNAT asks only peers with a public address, and the relay's
		// other peers are behind NATs: a second public node (a friend
		// with a forwarded port) is what can judge it.
		ph := lab.host()
		ph.attach(inet, "11.80.0.3")
		ph.run("--relay-peer", relay.p2p())
	}
	homeA, gwA := lab.natHome(inet, "11.80.0.11", "10.81.0", false), "10.81.0.1"
	if top.doubleA {
		homeA, gwA = lab.natHomeVia(homeA, "10.81.0.5", "10.81.0.1", "10.83.0", false), "10.83.0.1"
	}
	homeB := lab.natHome(inet, "11.80.0.12", "10.82.0", top.symmetricB)
	ah, bh := lab.host(), lab.host()
	ah.quic, bh.quic = top.quic, top.quic
	var a, b *labNode
	ah.attach(homeA, strings.TrimSuffix(gwA, ".1")+".2")
	bh.attach(homeB, "10.82.0.2")
	lab.ip("-n", ah.ns, "route", "add", "default", "via", gwA)
	lab.ip("-n", bh.ns, "route", "add", "default", "via", "10.82.0.1")
	a = ah.run(append([]string{"--relay-peer", relay.p2p()}, private...)...)
	b = bh.run(append([]string{"--relay-peer", relay.p2p()}, private...)...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("a's sockets:\n%s\na's log:\n%s\nb's log:\n%s", lab.exec(ah.ns, "ss", "-tun"), a.proc.stderr, b.proc.stderr)
		}
	})
	waitSlots(t, "both nodes to hold a slot at the relay", a, b)
	return &natLab{lab: lab, a: a, b: b, relay: relay, ah: ah, started: started, p: createParty(t, a, b)}
}

// natLab is natPair's lab: the two home nodes in party p, and the relay.
type natLab struct {
	lab         *netLab
	a, b, relay *labNode
	ah          *labHost  // a's namespace
	started     time.Time // when the relay was started
	p           labParty
}

// waitSlots waits until each node holds a reservation at the relay.
func waitSlots(t *testing.T, what string, nodes ...*labNode) {
	t.Helper()
	nodetest.Eventually(t, 120*time.Second, what, func() bool {
		for _, n := range nodes {
			relays, _ := n.api.Must(200, "GET", "/api/node", nil).JSON["relays"].([]any)
			if len(relays) != 1 {
				return false
			}
		}
		return true
	})
}

// holePunches is how many hole punches n's node counted with outcome
// (libp2p's libp2p_holepunch_outcomes_total, read on its admin socket).
func holePunches(t *testing.T, n *labNode, outcome string) int {
	t.Helper()
	res, err := node.AdminClient(n.dataDir).Get("http://node/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	total := 0
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "libp2p_holepunch_outcomes_total{") && strings.Contains(line, `outcome="`+outcome+`"`) {
			v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			total += int(v)
		}
	}
	return total
}

// delivery measures how long a post by from takes to be listed by to,
// as the median of n posts (the figures BENCHMARKS.md records; nothing
// is asserted on them).
func delivery(t *testing.T, from, to *labNode, p labParty, n int, tag string) time.Duration {
	t.Helper()
	var took []time.Duration
	for i := range n {
		body := fmt.Sprintf("%s %d", tag, i)
		start := time.Now()
		from.post(p, body)
		nodetest.Eventually(t, 30*time.Second, "a post to arrive", func() bool {
			for _, m := range to.topicMessages(p.id, p.topic) {
				if strings.HasSuffix(m, " "+body) {
					return true
				}
			}
			return false
		})
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	return took[len(took)/2]
}

// measure logs the delivery time of 10 posts from a to b and the bytes
// they put on the relay's link (BENCHMARKS.md; nothing is asserted).
func (l *natLab) measure(t *testing.T, path string) {
	t.Helper()
	before := relayBytes(t, l.relay)
	took := delivery(t, l.a, l.b, l.p, 10, "timed")
	t.Logf("measured: delivery %s, median of 10: %s; relay bytes for them: %.0f", path, took.Round(time.Millisecond), relayBytes(t, l.relay)-before)
}

// offRelay waits for a post from a to reach b without crossing the
// relay's link, and returns how many probe posts that took. A probe
// carries 3,000 characters: crossing the relay it would put more than
// that on the link, while the nodes' own keep-alives with the relay (more
// of them over QUIC, and more on a loaded machine where a probe takes
// longer) stay well under half of it.
func (l *natLab) offRelay(t *testing.T) int {
	t.Helper()
	probe := 0
	pad := strings.Repeat("x", 3000)
	nodetest.Eventually(t, 60*time.Second, "a post to cross without touching the relay", func() bool {
		before := relayBytes(t, l.relay)
		probe++
		delivery(t, l.a, l.b, l.p, 1, fmt.Sprintf("probe %d %s", probe, pad))
		return relayBytes(t, l.relay)-before < 1500
	})
	return probe
}

// relayBytes is what crossed the relay's link to the internet bridge,
// both ways (the kernel's counters: the relay's own traffic figures do not
// count the circuits it carries).
func relayBytes(t *testing.T, n *labNode) float64 {
	t.Helper()
	out, err := exec.Command("ip", "-j", "-s", "link", "show", "dev", n.host.link[0]).Output()
	if err != nil {
		t.Fatal(err)
	}
	var links []struct {
		Stats struct {
			Rx struct{ Bytes float64 } `json:"rx"`
			Tx struct{ Bytes float64 } `json:"tx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		t.Fatalf("link stats: %v %s", err, out)
	}
	return links[0].Stats.Rx.Bytes + links[0].Stats.Tx.Bytes
}

// health is what a's node says of the other node in party p.
func health(n *labNode, p labParty) map[string]any {
	r := n.api.Do("GET", "/api/node/parties", nil)
	if r.Status != 200 {
		return nil
	}
	for _, pp := range r.JSON["parties"].([]any) {
		if pm := pp.(map[string]any); pm["id"] == p.id {
			if nodes := pm["nodes"].([]any); len(nodes) == 1 {
				return nodes[0].(map[string]any)
			}
		}
	}
	return nil
}

// Left to find out for themselves (the default), the nodes behind home
// routers conclude with AutoNAT that they are private and take a slot at
// the relay, the relay that it is public; then the pair punches through.
func TestNetnsAutoNATVerdicts(t *testing.T) {
	l := natPairOf(t, natTopology{autonat: true})
	verdict := func(n *labNode) string { return n.api.Must(200, "GET", "/api/node", nil).String("reachability") }
	nodetest.Eventually(t, 120*time.Second, "the AutoNAT verdicts", func() bool {
		return verdict(l.a) == "Private" && verdict(l.b) == "Private" && verdict(l.relay) == "Public"
	})
	t.Logf("measured: AutoNAT verdicts %s after the relay started", time.Since(l.started).Round(time.Second))
	nodetest.Eventually(t, 60*time.Second, "a direct connection between the two homes", func() bool {
		h := health(l.a, l.p)
		return h != nil && h["connected"] == true && h["relayed"] == nil
	})
}

// Two nodes behind home routers (masquerading, dropping what arrives
// unasked) meet through a relay, and hole punching (DCUtR) turns that
// into a direct connection through both NATs; messages sent from both
// sides while it happens all arrive, once.
func TestNetnsHolePunchThroughTwoNATs(t *testing.T) {
	l := natPair(t, false)
	a, b, p, lab, ah := l.a, l.b, l.p, l.lab, l.ah
	joined := time.Now()
	for i := range 10 {
		a.post(p, fmt.Sprintf("from a %d", i))
		b.post(p, fmt.Sprintf("from b %d", i))
	}
	nodetest.Eventually(t, 60*time.Second, "a direct connection between the two homes", func() bool {
		h := health(a, p)
		return h != nil && h["connected"] == true && h["relayed"] == nil &&
			strings.Contains(lab.exec(ah.ns, "ss", "-tun"), "11.80.0.12:7734")
	})
	if holePunches(t, a, "success")+holePunches(t, b, "success") == 0 {
		t.Fatal("direct, but no hole punch counted: the nodes met some other way")
	}
	t.Logf("measured: direct %s after the join", time.Since(joined).Round(time.Millisecond))
	// Once direct, the party's traffic leaves the relay: the relayed
	// connection is closed and GossipSub's streams move to the direct one.
	probe := l.offRelay(t)
	for i := range 10 {
		a.post(p, fmt.Sprintf("direct from a %d", i))
		b.post(p, fmt.Sprintf("direct from b %d", i))
	}
	waitAll(t, 60*time.Second, p, 40+probe, a, b)
	l.measure(t, "direct")
}

// Behind a router that maps every destination to a new port, hole
// punching cannot work: the pair stays on the relay, chat goes on, and
// the Node page's data says the connection is relayed.
func TestNetnsSymmetricNATStaysRelayed(t *testing.T) {
	l := natPair(t, true)
	a, b, p := l.a, l.b, l.p
	a.post(p, "through the relay")
	b.post(p, "and back")
	waitAll(t, 60*time.Second, p, 2, a, b)
	// Hole punching is tried when the relayed connection opens; once it
	// has failed, the pair is still relayed.
	nodetest.Eventually(t, 60*time.Second, "the hole punch to fail", func() bool {
		return holePunches(t, a, "failed")+holePunches(t, b, "failed") > 0
	})
	if h := health(a, p); h == nil || h["connected"] != true || h["relayed"] != true {
		t.Fatalf("behind a symmetric NAT the pair went direct: %v", h)
	}
	a.post(p, "still here")
	waitAll(t, 60*time.Second, p, 3, a, b)
	l.measure(t, "relayed")
}

// The relay restarts while a pair behind a symmetric NAT depends on it:
// both nodes take a slot again, the pair reconnects through it, and what
// each wrote while it was down arrives.
func TestNetnsRelayRestartWhileRelayed(t *testing.T) {
	l := natPair(t, true)
	a, b, p := l.a, l.b, l.p
	a.post(p, "before the restart")
	waitAll(t, 60*time.Second, p, 1, a, b)
	l.relay.proc.cmd.Process.Signal(syscall.SIGTERM)
	if code := l.relay.proc.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("relay exited %d", code)
	}
	a.post(p, "while the relay was down, from a")
	b.post(p, "while the relay was down, from b")
	l.relay.start()
	waitSlots(t, "both nodes to hold a slot at the relay again", a, b)
	waitAll(t, 120*time.Second, p, 3, a, b)
	if h := health(a, p); h == nil || h["connected"] != true || h["relayed"] != true {
		t.Fatalf("after the restart a's node says of b's: %v", h)
	}
}

// Nodes that speak only QUIC punch through two NATs too (UDP mappings,
// where the TCP tests use TCP ones).
func TestNetnsHolePunchOverQUIC(t *testing.T) {
	l := natPairOf(t, natTopology{quic: true})
	a, b, p := l.a, l.b, l.p
	nodetest.Eventually(t, 60*time.Second, "a direct QUIC connection between the two homes", func() bool {
		h := health(a, p)
		return h != nil && h["connected"] == true && h["relayed"] == nil
	})
	if holePunches(t, a, "success")+holePunches(t, b, "success") == 0 {
		t.Fatal("direct, but no hole punch counted: the nodes met some other way")
	}
	// QUIC's sockets are unconnected, so ss shows no peer: that posts no
	// longer cross the relay's link is what shows the path is direct.
	probe := l.offRelay(t)
	b.post(p, "and back")
	waitAll(t, 60*time.Second, p, probe+1, a, b)
}

// A node behind two NATs (a home router behind the provider's) and a node
// behind one still end up talking directly.
func TestNetnsHolePunchThroughDoubleNAT(t *testing.T) {
	l := natPairOf(t, natTopology{doubleA: true})
	a, b, p := l.a, l.b, l.p
	nodetest.Eventually(t, 60*time.Second, "a direct connection from behind two NATs", func() bool {
		h := health(a, p)
		return h != nil && h["connected"] == true && h["relayed"] == nil &&
			strings.Contains(l.lab.exec(l.ah.ns, "ss", "-tun"), "11.80.0.12:7734")
	})
	a.post(p, "from behind two routers")
	b.post(p, "heard you")
	waitAll(t, 60*time.Second, p, 2, a, b)
}
