package node_test

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatterbox/chatterbox/node/nodetest"
	"github.com/chatterbox/chatterbox/party/rules"
)

// scrape reads a node's /metrics as series ("name{labels}") → value.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		raw, _ := io.ReadAll(res.Body)
		t.Fatalf("GET /metrics: %d %s", res.StatusCode, raw)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// /metrics counts what the node did: its posts, what it received and what
// its judge refused and why, sync rounds; and shows its levels: peers per
// party, WebSocket clients, the database's size, libp2p's resource manager
// and the Go runtime.
func TestMetricsShowWhatTheNodeDoes(t *testing.T) {
	nodes := nodetest.Start(t, 2)
	a, b := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob")
	id, topic := partyOf(t, a, b)
	base := "/api/parties/" + id + "/topics/" + topic + "/messages"
	var last string
	for i := range 3 {
		last = a.c.Must(http.StatusCreated, "POST", base, map[string]string{"body": "hello " + strconv.Itoa(i)}).String("id")
	}
	nodetest.Eventually(t, converge, "Bob's node to have Ann's posts", func() bool { return messageOn(b, id, topic, last) != nil })
	stranger := signUp(t, nodes[1], "Stranger")
	refused := signMsg(t, rules.Message{Party: id, Topic: topic, Author: stranger.memberID, Node: nodes[1].PeerID(), Seq: 1,
		HLC: uint64(time.Now().Add(-time.Hour).UnixMilli()) << 16, Kind: rules.MsgPost, Body: "let me in"}, stranger.actor(t).Key)
	if v := nodes[1].Parties().ValidateGossip(id, nodes[0].PeerID(), refused); v != rules.Reject {
		t.Fatalf("a stranger's post judged %v", v)
	}

	ann := scrape(t, nodes[0].GatewayURL())
	if ann["chatterbox_messages_posted_total"] != 3 {
		t.Errorf("Ann's node posted %v, want 3", ann["chatterbox_messages_posted_total"])
	}
	var bob map[string]float64
	nodetest.Eventually(t, converge, "Bob's node to count a sync round", func() bool {
		bob = scrape(t, nodes[1].GatewayURL())
		return bob[`chatterbox_sync_duration_seconds_count{result="ok"}`] > 0
	})
	if bob["chatterbox_messages_received_total"] < 3 || bob["chatterbox_messages_posted_total"] != 0 {
		t.Errorf("Bob's node received %v and posted %v, want ≥ 3 and 0", bob["chatterbox_messages_received_total"], bob["chatterbox_messages_posted_total"])
	}
	if bob[`chatterbox_messages_rejected_total{reason="not_member"}`] != 1 {
		t.Errorf("refusals: %v", pick(bob, "chatterbox_messages_rejected_total"))
	}
	for _, want := range []string{`chatterbox_party_connected_peers{party="` + id + `"}`, "chatterbox_parties_held", "chatterbox_libp2p_peers"} {
		if bob[want] < 1 {
			t.Errorf("%s = %v, want ≥ 1", want, bob[want])
		}
	}
	for _, want := range []string{"chatterbox_pending_joins", "chatterbox_websocket_clients", "chatterbox_badger_lsm_bytes",
		"chatterbox_events_delivered_total", "go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := bob[want]; !ok {
			t.Errorf("no %s", want)
		}
	}
	if len(pick(bob, "libp2p_rcmgr_")) == 0 {
		t.Error("no libp2p resource manager metrics")
	}
}

// pick returns the series whose name starts with prefix.
func pick(m map[string]float64, prefix string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}
