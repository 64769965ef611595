package node_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatterbox/chatterbox/node/nodetest"
	"github.com/chatterbox/chatterbox/party/rules"
)

// End-to-end encryption across real nodes: what a removed member's node,
// modified to stay in the mesh, and a stranger let into the mesh by a bug
// get from a party.

// sealedAfter returns the messages of partyID as they travel (signed,
// sealed), from n's store, whose opened body starts with prefix: what a
// member node that forwards too much would hand on.
func sealedAfter(t *testing.T, u *user, partyID, topic, prefix string) []rules.Message {
	t.Helper()
	var out []rules.Message
	for _, m := range history(t, u, partyID, topic, 100) {
		if b, _ := m["body"].(string); !strings.HasPrefix(b, prefix) {
			continue
		}
		sm, err := u.n.Parties().Chat().SignedMessage(partyID, m["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		msg, err := sm.Decode()
		if err != nil {
			t.Fatal(err)
		}
		if msg.Sealed == nil || msg.Body != "" || msg.Kind != "" || bytes.Contains(sm.Payload, []byte(prefix)) {
			t.Fatalf("a message of an encrypted party travels readable: %s", sm.Payload)
		}
		out = append(out, msg)
	}
	return out
}

// opensWithAny reports whether any secret in secrets opens m.
func opensWithAny(m rules.Message, secrets map[string]map[uint64][]byte) bool {
	for _, byEpoch := range secrets {
		for _, s := range byEpoch {
			if _, err := rules.DecryptMessage(m, s); err == nil {
				return true
			}
		}
	}
	return false
}

// TestKickedMemberCannotReadWhatFollows: a member node modified to ignore
// its kick keeps its subscription and every key it was given; it gets
// ciphertext written after the kick (from the mesh, and handed on whole
// by a member that forwards too much) and opens none of it, while the
// members chat on.
func TestKickedMemberCannotReadWhatFollows(t *testing.T) {
	nodes := nodetest.Start(t, 2)
	a, b := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob")
	partyID, topic := partyOf(t, a, b)
	rogue := rogueMember(t, a, b, partyID)
	nodetest.Eventually(t, converge, "both member nodes to admit the rogue", func() bool {
		sa, sb := state(a.n, partyID), state(b.n, partyID)
		return sa != nil && sb != nil && sa.Members[rogue.MemberID()] != nil && sb.Head == sa.Head
	})
	epochWhileMember := state(a.n, partyID).Epoch
	if !state(a.n, partyID).Encrypted() || epochWhileMember < 2 {
		t.Fatalf("party not encrypted, or no epoch for the join: %+v", state(a.n, partyID))
	}
	// While a member, it reads what is posted: the keys work for it.
	for i := 0; ; i++ {
		if n, _ := postsWith(rogue, "before"); n > 0 {
			break
		}
		if i == 100 {
			t.Fatal("the rogue read no post while a member")
		}
		a.c.Must(201, "POST", "/api/parties/"+partyID+"/topics/"+topic+"/messages", map[string]string{"body": fmt.Sprintf("before %d", i)})
		time.Sleep(100 * time.Millisecond)
	}

	a.c.Must(http.StatusNoContent, "DELETE", "/api/parties/"+partyID+"/members/"+rogue.MemberID(), nil)
	nodetest.Eventually(t, converge, "both member nodes to apply the kick", func() bool {
		sa, sb := state(a.n, partyID), state(b.n, partyID)
		return sa.Members[rogue.MemberID()] == nil && sb != nil && sb.Head == sa.Head
	})
	if st := state(a.n, partyID); st.Epoch <= epochWhileMember || st.Holders[rogue.MemberID()] {
		t.Fatalf("the kick started no epoch without the rogue: epoch %d (was %d), holders %v", st.Epoch, epochWhileMember, st.Holders)
	}
	const rounds = 10
	for i := range rounds {
		a.c.Must(201, "POST", "/api/parties/"+partyID+"/topics/"+topic+"/messages", map[string]string{"body": fmt.Sprintf("after from Ann %d", i)})
		b.c.Must(201, "POST", "/api/parties/"+partyID+"/topics/"+topic+"/messages", map[string]string{"body": fmt.Sprintf("after from Bob %d", i)})
	}
	nodetest.Eventually(t, converge, "each member to read the other's posts", func() bool {
		return countPrefix(history(t, a, partyID, topic, 100), "after from Bob") == rounds &&
			countPrefix(history(t, b, partyID, topic, 100), "after from Ann") == rounds
	})
	// Everything the rogue got on the topic after the kick, and every
	// post made after it as Bob's node holds it.
	secrets := rogue.Secrets()
	if len(secrets[partyID]) == 0 {
		t.Fatal("the rogue holds no key at all: the test would prove nothing")
	}
	for e := range secrets[partyID] {
		if e > epochWhileMember {
			t.Fatalf("the rogue holds epoch %d, started after it was a member", e)
		}
	}
	var tried int
	for _, g := range rogue.Gossip() {
		if m, ok := g.Message(); ok && m.Party == partyID && m.Epoch > epochWhileMember {
			tried++
			if opensWithAny(m, secrets) {
				t.Fatalf("the kicked node opened a message gossiped after its kick (epoch %d)", m.Epoch)
			}
		}
	}
	handed := append(sealedAfter(t, b, partyID, topic, "after from Ann"), sealedAfter(t, b, partyID, topic, "after from Bob")...)
	if len(handed) != 2*rounds {
		t.Fatalf("%d sealed posts after the kick, want %d", len(handed), 2*rounds)
	}
	for _, m := range handed {
		tried++
		if opensWithAny(m, secrets) {
			t.Fatalf("the kicked node opens a post made after its kick (epoch %d)", m.Epoch)
		}
	}
	if n, _ := postsWith(rogue, "after"); n > 0 {
		t.Fatalf("the kicked node read %d posts made after its kick", n)
	}
	t.Logf("%d ciphertexts after the kick tried with each of the %d epoch keys the kicked node holds: none opens", tried, len(secrets[partyID]))
}

// TestStrangerLetIntoTheMeshSeesOnlyCiphertext: a plain go-libp2p peer that
// is no member, let into a party's mesh by a member node that admits
// anyone (a bug), receives the party's messages as ciphertext only.
func TestStrangerLetIntoTheMeshSeesOnlyCiphertext(t *testing.T) {
	nodes := nodetest.Start(t, 1)
	a := signUp(t, nodes[0], "Ann")
	partyID, topic := partyOf(t, a)
	buggy := nodetest.NewRogue(t) // a member whose node meshes with anyone
	if err := buggy.Join(a.n, invite(t, a, partyID, nil).String("token"), "Buggy"); err != nil {
		t.Fatal(err)
	}
	stranger := nodetest.NewRogue(t)
	if err := stranger.Subscribe(partyID); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := stranger.Host.Connect(ctx, buggy.Host.Peerstore().PeerInfo(buggy.Host.ID())); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		got := 0
		for _, g := range stranger.Gossip() {
			if m, ok := g.Message(); ok && m.Party == partyID {
				got++
			}
		}
		if got >= 3 {
			break
		}
		if i == 150 {
			t.Fatalf("the stranger got %d messages through the buggy member: the test would prove nothing", got)
		}
		a.c.Must(201, "POST", "/api/parties/"+partyID+"/topics/"+topic+"/messages", map[string]string{"body": fmt.Sprintf("secret plan %d", i)})
		time.Sleep(100 * time.Millisecond)
	}
	for _, g := range stranger.Gossip() {
		if bytes.Contains(g.Data, []byte("secret plan")) {
			t.Fatalf("the stranger got readable bytes: %s", g.Data)
		}
		if m, ok := g.Message(); ok && (m.Sealed == nil || m.Body != "") {
			t.Fatalf("the stranger got a message that is not sealed: %+v", m)
		}
	}
	if n, _ := postsWith(buggy, "secret plan"); n == 0 {
		t.Fatal("the member node read nothing: the messages it forwarded were not the party's")
	}
	if len(stranger.Secrets()) != 0 {
		t.Fatal("the stranger holds epoch keys")
	}
}

// TestOfflineMemberReadsAcrossRotations: a member whose node was away
// during two new epochs comes back, fetches the ops that seal them by
// sync, and reads everything written meanwhile; a member who joins reads
// what was written before.
func TestOfflineMemberReadsAcrossRotations(t *testing.T) {
	nodes := nodetest.Start(t, 3)
	a, b, c := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob"), signUp(t, nodes[2], "Cat")
	partyID, topic := partyOf(t, a, b)
	// Cat joins and leaves: two epochs while Bob's node is away.
	bobCfg := nodetest.SameAddrs(b.n)
	if err := b.n.Close(); err != nil {
		t.Fatal(err)
	}
	start := state(a.n, partyID).Epoch
	post := func(body string) {
		a.c.Must(201, "POST", "/api/parties/"+partyID+"/topics/"+topic+"/messages", map[string]string{"body": body})
	}
	post("away 1")
	accept(t, c, invite(t, a, partyID, nil).String("link"), http.StatusOK)
	// Cat reads what was written before it joined: the party's history
	// is shared with new members (SECURITY.md).
	nodetest.Eventually(t, converge, "Cat to read the history from before it joined", func() bool {
		return countPrefix(history(t, c, partyID, topic, 100), "away 1") == 1
	})
	post("away 2")
	post("away 3")
	c.c.Must(http.StatusNoContent, "POST", "/api/parties/"+partyID+"/leave", nil)
	nodetest.Eventually(t, converge, "Cat's leave to be applied", func() bool {
		return state(a.n, partyID).Members[c.memberID] == nil
	})
	post("away 4")
	if e := state(a.n, partyID).Epoch; e < start+2 {
		t.Fatalf("epoch %d after a join and a leave from %d", e, start)
	}
	bobNode := nodetest.StartWith(t, bobCfg)
	b.rebind(t, bobNode)
	nodetest.Eventually(t, converge, "Bob's node to read everything written while it was away", func() bool {
		got := 0
		for _, m := range history(t, b, partyID, topic, 100) {
			if s, _ := m["body"].(string); strings.HasPrefix(s, "away ") {
				got++
			}
		}
		return got == 4
	})
	bodies := []string{}
	for _, m := range history(t, b, partyID, topic, 100) {
		bodies = append(bodies, m["body"].(string))
	}
	for _, want := range []string{"away 1", "away 2", "away 3", "away 4"} {
		if !slices.Contains(bodies, want) {
			t.Fatalf("Bob reads %v, missing %q", bodies, want)
		}
	}
	// Each came under the epoch current when it was written.
	epochs := map[uint64]bool{}
	for _, m := range history(t, b, partyID, topic, 100) {
		sm, err := b.n.Parties().Chat().SignedMessage(partyID, m["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		d, _ := sm.Decode()
		epochs[d.Epoch] = true
	}
	if len(epochs) < 3 {
		t.Fatalf("the posts span epochs %v, want three", epochs)
	}
}

// TestMemberChangesItsKey: a member makes a new encryption key; every
// party it is in records it with a new epoch sealed to it — at once where
// it owns the party, through the owner's node elsewhere (later, when that
// node was away) — and chat goes on under the new key.
func TestMemberChangesItsKey(t *testing.T) {
	nodes := nodetest.Start(t, 2)
	a, b := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob")
	partyID, topic := partyOf(t, a, b)
	bobsOwn, _ := partyOf(t, b, a)
	oldKey := b.encPublic(t)
	before := state(a.n, partyID).Epoch

	r := b.c.Must(http.StatusOK, "POST", "/api/me/encryption-key", nil)
	newKey := b.encPublic(t)
	if bytes.Equal(newKey, oldKey) || r.String("keyFingerprint") != rules.EncFingerprint(newKey) || r.JSON["parties"].(float64) != 2 {
		t.Fatalf("rotation answered %s (key changed: %v)", r.Raw, !bytes.Equal(newKey, oldKey))
	}
	for _, id := range []string{partyID, bobsOwn} {
		nodetest.Eventually(t, converge, "both nodes to record Bob's new key", func() bool {
			sa, sb := state(a.n, id), state(b.n, id)
			return sa != nil && sb != nil && sa.Head == sb.Head && bytes.Equal(sa.Members[b.memberID].Enc, newKey)
		})
	}
	if st := state(a.n, partyID); st.Epoch != before+1 {
		t.Fatalf("epoch %d after the key change, want %d", st.Epoch, before+1)
	}
	// Ann's app shows the new fingerprint for Bob.
	for _, m := range members(a.c.Must(200, "GET", "/api/parties/"+partyID, nil)) {
		if m["memberId"] == b.memberID && m["keyFingerprint"] != rules.EncFingerprint(newKey) {
			t.Fatalf("Ann sees Bob's key as %v", m["keyFingerprint"])
		}
	}
	a.c.Must(201, "POST", "/api/parties/"+partyID+"/topics/"+topic+"/messages", map[string]string{"body": "after Bob's new key, from Ann"})
	b.c.Must(201, "POST", "/api/parties/"+partyID+"/topics/"+topic+"/messages", map[string]string{"body": "after my new key, from Bob"})
	nodetest.Eventually(t, converge, "each to read the other under the new epoch", func() bool {
		return countPrefix(history(t, b, partyID, topic, 100), "after Bob's new key") == 1 &&
			countPrefix(history(t, a, partyID, topic, 100), "after my new key") == 1
	})

	// With Ann's node away, Bob's next key waits for it.
	annCfg := nodetest.SameAddrs(a.n)
	if err := a.n.Close(); err != nil {
		t.Fatal(err)
	}
	b.c.Must(http.StatusOK, "POST", "/api/me/encryption-key", nil)
	third := b.encPublic(t)
	annNode := nodetest.StartWith(t, annCfg)
	a.rebind(t, annNode)
	nodetest.Eventually(t, converge, "Ann's node to record Bob's key change once it is back", func() bool {
		st := state(annNode, partyID)
		return st != nil && bytes.Equal(st.Members[b.memberID].Enc, third)
	})
}

// TestRefusedCiphertextIsLoggedWithItsReason: a member node that sends a
// message of an encrypted party in the clear, under an epoch it never
// held, or with a broken tag has it rejected by the validator (GossipSub
// lowers the sender's score for each) and the reason logged.
func TestRefusedCiphertextIsLoggedWithItsReason(t *testing.T) {
	logs := &lockedBuffer{}
	cfg := nodetest.Config(t, t.TempDir())
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n := nodetest.StartWith(t, cfg)
	a := signUp(t, n, "Ann")
	partyID, topic := partyOf(t, a)
	rogue := nodetest.NewRogue(t)
	if err := rogue.Join(n, invite(t, a, partyID, nil).String("token"), "Mallory"); err != nil {
		t.Fatal(err)
	}
	st := state(n, partyID)
	msg := rules.Message{Party: partyID, Topic: topic, Author: rogue.MemberID(), Node: rogue.Peer, Seq: 1,
		HLC: uint64(time.Now().UnixMilli()) << 16, Kind: rules.MsgPost, Body: "hello"}
	broken := rogue.Seal(msg)
	broken.Sealed[len(broken.Sealed)-1] ^= 1
	old, err := rules.EncryptMessage(msg, 1, make([]byte, rules.EpochSecretSize)) // epoch 1: the owner's alone
	if err != nil {
		t.Fatal(err)
	}
	for reason, m := range map[string]rules.Message{"plaintext": msg, "bad_ciphertext": broken, "revoked_epoch": old} {
		if v := n.Parties().ValidateGossip(partyID, rogue.Peer, signMsg(t, m, rogue.Key)); v != rules.Reject {
			t.Fatalf("%s judged %v", reason, v)
		}
		if !strings.Contains(logs.String(), `"reason":"`+reason+`"`) || !strings.Contains(logs.String(), rogue.MemberID()) {
			t.Fatalf("no log line says %s for the rogue's message: %s", reason, logs.String())
		}
	}
	if st.KeyFrom[rogue.MemberID()] <= 1 {
		t.Fatalf("the rogue was sealed epoch %d: the revoked-epoch case proves nothing", st.KeyFrom[rogue.MemberID()])
	}
}
