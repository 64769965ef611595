package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatterbox/chatterbox/node"
	"github.com/chatterbox/chatterbox/node/nodetest"
	"github.com/chatterbox/chatterbox/party/replica"
	"github.com/chatterbox/chatterbox/party/rules"
)

// The trust boundary on the wire, tested against a Rogue: a modified node
// that accepts and keeps whatever it is sent and ignores its own removal.

// postsWith counts the rogue's received posts whose body starts with prefix.
func postsWith(r *nodetest.Rogue, prefix string) (n int, from map[string]bool) {
	from = map[string]bool{}
	for peer, bodies := range r.Posts() {
		for _, b := range bodies {
			if strings.HasPrefix(b, prefix) {
				n++
				from[peer] = true
			}
		}
	}
	return n, from
}

// rogueMember admits a new rogue to partyID by an invite of a (the
// owner) and connects it to b's node too.
func rogueMember(t *testing.T, a, b *user, partyID string) *nodetest.Rogue {
	t.Helper()
	rogue := nodetest.NewRogue(t)
	if err := rogue.Join(a.n, invite(t, a, partyID, nil).String("token"), "Mallory"); err != nil {
		t.Fatalf("rogue join: %v", err)
	}
	if err := rogue.Connect(b.n); err != nil {
		t.Fatal(err)
	}
	return rogue
}

// TestRemovedNodeThatKeepsItsSubscriptionGetsNothing: a member node that
// ignores its own kick (or leave) and stays subscribed receives no message
// posted after the removal, from any member node.
func TestRemovedNodeThatKeepsItsSubscriptionGetsNothing(t *testing.T) {
	for _, how := range []string{"kick", "leave", "kick while in another party"} {
		t.Run(how, func(t *testing.T) {
			nodes := nodetest.Start(t, 2)
			a, b := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob")
			partyID, topic := partyOf(t, a, b)
			rogue := rogueMember(t, a, b, partyID)
			if how == "kick while in another party" {
				// The rogue stays a member node of a second party with both
				// nodes, so they keep talking pubsub with it: only this
				// party's topic must shut.
				other, _ := partyOf(t, a, b)
				if err := rogue.Join(a.n, invite(t, a, other, nil).String("token"), "Mallory"); err != nil {
					t.Fatalf("rogue join: %v", err)
				}
			}
			nodetest.Eventually(t, converge, "both member nodes to admit the rogue", func() bool {
				sa, sb := state(a.n, partyID), state(b.n, partyID)
				return sa != nil && sb != nil && sa.Members[rogue.MemberID()] != nil && sb.Members[rogue.MemberID()] != nil
			})
			// While a member, the rogue gets posts straight from both nodes:
			// it is in both meshes, so the test can see a leak.
			posts := func(prefix string, i int) {
				a.c.Must(201, "POST", "/api/parties/"+partyID+"/topics/"+topic+"/messages", map[string]string{"body": fmt.Sprintf("%s from Ann %d", prefix, i)})
				b.c.Must(201, "POST", "/api/parties/"+partyID+"/topics/"+topic+"/messages", map[string]string{"body": fmt.Sprintf("%s from Bob %d", prefix, i)})
			}
			for i := 0; ; i++ {
				_, from := postsWith(rogue, "before")
				if from[a.n.PeerID()] && from[b.n.PeerID()] {
					break
				}
				if i == 100 {
					t.Fatalf("the rogue did not get posts from both member nodes while a member (from %v)", from)
				}
				posts("before", i)
				time.Sleep(100 * time.Millisecond)
			}

			switch how {
			case "kick", "kick while in another party":
				a.c.Must(http.StatusNoContent, "DELETE", "/api/parties/"+partyID+"/members/"+rogue.MemberID(), nil)
			case "leave":
				if err := rogue.Leave(a.n, partyID); err != nil {
					t.Fatalf("rogue leave: %v", err)
				}
			}
			nodetest.Eventually(t, converge, "both member nodes to remove the rogue", func() bool {
				sa, sb := state(a.n, partyID), state(b.n, partyID)
				return sa.Members[rogue.MemberID()] == nil && sb != nil && sb.Head == sa.Head
			})
			// Post over several GossipSub heartbeats (1 s), when meshes are
			// rebuilt and gossip is emitted.
			const rounds = 20
			for i := range rounds {
				posts("after", i)
				time.Sleep(100 * time.Millisecond)
			}
			nodetest.Eventually(t, converge, "each member to get the other's posts", func() bool {
				return countPrefix(history(t, a, partyID, topic, 100), "after from Bob") == rounds &&
					countPrefix(history(t, b, partyID, topic, 100), "after from Ann") == rounds
			})
			time.Sleep(time.Second) // what the members got has had time to reach the rogue too
			for _, u := range []*user{a, b} {
				if slices.Contains(u.n.Network().TopicPeers(partyID), rogue.Peer) {
					t.Fatalf("%s's node still counts the removed node as subscribed (it would send it IHAVE ids)", u.name)
				}
			}
			if n, from := postsWith(rogue, "after"); n > 0 {
				t.Fatalf("the removed node received %d posts made after its %s, forwarded by %v", n, how, slices.Collect(mapKeys(from)))
			}
		})
	}
}

func countPrefix(ms []map[string]any, prefix string) int {
	n := 0
	for _, m := range ms {
		if b, _ := m["body"].(string); strings.HasPrefix(b, prefix) {
			n++
		}
	}
	return n
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestMembersDialOnlyWhereAJoinerWasSeen: a joiner that declares someone
// else's ports as its addresses makes no member node connect there; the
// log records the address its request came from.
func TestMembersDialOnlyWhereAJoinerWasSeen(t *testing.T) {
	nodes := nodetest.Start(t, 2)
	a, b := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob")
	partyID, _ := partyOf(t, a, b)
	victim, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	var hits atomic.Int32
	go func() {
		for {
			c, err := victim.Accept()
			if err != nil {
				return
			}
			hits.Add(1)
			c.Close()
		}
	}()
	rogue := nodetest.NewRogue(t)
	declared := []string{victim.Addr().(*net.TCPAddr).AddrPort().String()}
	declared[0] = "/ip4/127.0.0.1/tcp/" + strings.Split(declared[0], ":")[1]
	if err := rogue.JoinDeclaring(a.n, invite(t, a, partyID, nil).String("token"), "Mallory", declared); err != nil {
		t.Fatal(err)
	}
	var m *rules.Member
	nodetest.Eventually(t, converge, "Bob's node to admit the rogue", func() bool {
		if st := state(b.n, partyID); st != nil {
			m = st.Members[rogue.MemberID()]
		}
		return m != nil
	})
	if slices.Contains(m.Addrs, declared[0]) || len(m.Addrs) == 0 {
		t.Fatalf("the log records %v for the joiner, want where it was seen (not %s)", m.Addrs, declared[0])
	}
	// Bob's node dials the rogue (it is not connected to it) from the log.
	nodetest.Eventually(t, converge, "Bob's node to reach the rogue where it was seen", func() bool {
		return b.n.Network().Connected(rogue.Peer)
	})
	time.Sleep(time.Second) // several redial rounds (300 ms in tests)
	if n := hits.Load(); n > 0 {
		t.Fatalf("member nodes opened %d connections to a port the joiner declared", n)
	}
}

// syncFrom sends a raw op-sync request for partyID from seq 1 as the rogue
// and returns the kinds of the ops answered, or the error code.
func syncFrom(t *testing.T, r *nodetest.Rogue, n *node.Node, typ, partyID string) ([]string, string) {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{"party": partyID, "from": 1, "heads": map[string]uint64{}})
	frame, _ := json.Marshal(map[string]any{"type": typ, "p": payload})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	raw, err := r.Net.Request(ctx, n.PeerID(), n.Addrs(), frame)
	if err != nil {
		t.Fatalf("sync request: %v", err)
	}
	var resp struct {
		Error    string            `json:"error"`
		Ops      []rules.SignedOp  `json:"ops"`
		Messages []json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatalf("sync answer %q: %v", raw, err)
	}
	var kinds []string
	for _, sop := range resp.Ops {
		op, _ := sop.Decode()
		kinds = append(kinds, op.Kind)
	}
	if len(resp.Messages) > 0 {
		kinds = append(kinds, fmt.Sprintf("%d messages", len(resp.Messages)))
	}
	return kinds, resp.Error
}

// TestExMemberSyncStopsAtItsRemoval: an ex-member's node may pull the op
// log up to its removal (so an honest one learns it), nothing after it and
// no messages; a stranger gets neither.
func TestExMemberSyncStopsAtItsRemoval(t *testing.T) {
	n := nodetest.Start(t, 1)[0]
	a := signUp(t, n, "Ann")
	partyID := createParty(t, a, "Closed")
	rogue, stranger := nodetest.NewRogue(t), nodetest.NewRogue(t)
	if err := rogue.Join(n, invite(t, a, partyID, nil).String("token"), "Mallory"); err != nil {
		t.Fatal(err)
	}
	if kinds, code := syncFrom(t, rogue, n, "sync", partyID); code != "" || !slices.Equal(kinds, []string{rules.KindCreate, rules.KindEpoch, rules.KindMemberJoin}) {
		t.Fatalf("a member's sync = %v %q, want the create, the first epoch and its join", kinds, code)
	}
	a.c.Must(http.StatusNoContent, "DELETE", "/api/parties/"+partyID+"/members/"+rogue.MemberID(), nil)
	a.c.Must(http.StatusOK, "PATCH", "/api/parties/"+partyID, map[string]string{"name": "Renamed after the kick"})
	topic := state(n, partyID).SortedTopics()[0].ID
	a.c.Must(201, "POST", "/api/parties/"+partyID+"/topics/"+topic+"/messages", map[string]string{"body": "after the kick"})

	kinds, code := syncFrom(t, rogue, n, "sync", partyID)
	if code != "" || !slices.Equal(kinds, []string{rules.KindCreate, rules.KindEpoch, rules.KindMemberJoin, rules.KindMemberKick}) {
		t.Fatalf("the ex-member's sync = %v %q, want the log up to its kick and no further", kinds, code)
	}
	if kinds, code := syncFrom(t, rogue, n, "msgsync", partyID); code != "not_member" {
		t.Fatalf("the ex-member's message sync = %v %q, want not_member", kinds, code)
	}
	// A stranger hears not_member, whether or not the node holds the party:
	// it cannot probe which parties a node is in.
	for _, id := range []string{partyID, strings.Repeat("ab", 32)} {
		for _, typ := range []string{"sync", "msgsync"} {
			if kinds, code := syncFrom(t, stranger, n, typ, id); code != "not_member" {
				t.Fatalf("a stranger's %s of party %.8s = %v %q, want not_member", typ, id, kinds, code)
			}
		}
		// A leave signed by the stranger's own key for that party.
		req, _ := replica.EncodeLeaveRequest(stranger.Key, id, time.Now().UnixMilli())
		raw, err := stranger.Net.Request(t.Context(), n.PeerID(), n.Addrs(), req)
		if err != nil || replica.ResponseError(raw) == nil || !strings.Contains(string(raw), "not_member") {
			t.Fatalf("a stranger's leave of party %.8s = %s %v, want not_member", id, raw, err)
		}
	}
}

// TestKickedMemberCannotRejoin: a kick is a ban: the kicked member's node
// is refused with the link it still holds until the owner lifts the ban.
func TestKickedMemberCannotRejoin(t *testing.T) {
	nodes := nodetest.Start(t, 2)
	a, b := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob")
	partyID := createParty(t, a, "Strict")
	link := invite(t, a, partyID, nil).String("link") // unlimited uses
	accept(t, b, link, http.StatusOK)
	waitConverged(t, partyID, nodes...)
	a.c.Must(http.StatusNoContent, "DELETE", "/api/parties/"+partyID+"/members/"+b.memberID, nil)
	nodetest.Eventually(t, converge, "Bob's node to drop the party", func() bool { return state(b.n, partyID) == nil })
	expectCode(t, b.c.Do("POST", "/api/invites/accept", map[string]string{"link": link}), http.StatusForbidden, "banned")
	v := a.c.Must(200, "GET", "/api/parties/"+partyID, nil)
	bans, _ := v.JSON["bans"].([]any)
	if len(bans) != 1 || bans[0].(map[string]any)["memberId"] != b.memberID || bans[0].(map[string]any)["fingerprint"] == "" {
		t.Fatalf("the owner sees bans %v", v.JSON["bans"])
	}
	expectCode(t, b.c.Do("DELETE", "/api/parties/"+partyID+"/bans/"+b.memberID, nil), http.StatusNotFound, "party_not_found")
	a.c.Must(http.StatusNoContent, "DELETE", "/api/parties/"+partyID+"/bans/"+b.memberID, nil)
	expectCode(t, a.c.Do("DELETE", "/api/parties/"+partyID+"/bans/"+b.memberID, nil), http.StatusNotFound, "ban_not_found")
	accept(t, b, link, http.StatusOK)
	waitConverged(t, partyID, nodes...)
}

// TestSilentMemberStallsNoSync: a member node that never answers syncs
// does not hold up catch-up from the others: syncs run per peer,
// concurrently, with a short timeout.
func TestSilentMemberStallsNoSync(t *testing.T) {
	nodes := nodetest.Start(t, 2)
	a, b := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob")
	partyID, topic := partyOf(t, a, b)
	silent := nodetest.NewRogue(t)
	silent.SetAnswer(func(ctx context.Context, _ string, _ []byte) []byte { <-ctx.Done(); return nil })
	if err := silent.Join(a.n, invite(t, a, partyID, nil).String("token"), "Silent"); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, partyID, a.n, b.n)

	// Bob's node goes down; Ann posts; then Ann's node goes down too.
	bCfg := nodetest.SameAddrs(b.n)
	if err := b.n.Close(); err != nil {
		t.Fatal(err)
	}
	const posts = 20
	for i := range posts {
		a.c.Must(201, "POST", "/api/parties/"+partyID+"/topics/"+topic+"/messages", map[string]string{"body": fmt.Sprintf("while Bob was away %d", i)})
	}
	aCfg := nodetest.SameAddrs(a.n)
	if err := a.n.Close(); err != nil {
		t.Fatal(err)
	}
	// Bob's node comes back and finds only the silent member: its syncs
	// with it hang until they time out, again and again.
	b.rebind(t, nodetest.StartWith(t, bCfg))
	nodetest.Eventually(t, converge, "Bob's node to reach the silent member", func() bool { return b.n.Network().Connected(silent.Peer) })
	nodetest.Eventually(t, converge, "Bob's node to start syncing with it", func() bool { return silent.Requests() > 0 })
	// Ann's node comes back: Bob catches up from it at once, well within
	// one timeout of the silent member's syncs (5 s in tests).
	a.rebind(t, nodetest.StartWith(t, aCfg))
	nodetest.Eventually(t, 4*time.Second, "Bob to catch up from Ann while the silent member hangs", func() bool {
		return countPrefix(history(t, b, partyID, topic, 100), "while Bob was away") == posts
	})
}
