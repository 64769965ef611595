package rules_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatterbox/chatterbox/party/partytest"
	"github.com/chatterbox/chatterbox/party/rules"
)

// keyLookup is memLookup with the epoch secrets a node holds.
type keyLookup struct {
	memLookup
	secrets map[uint64][]byte
}

func (k keyLookup) EpochKey(e uint64) ([]byte, bool) { s, ok := k.secrets[e]; return s, ok }

func TestEncryptedPartyStartsEpochsOnEveryMembershipChange(t *testing.T) {
	p := partytest.NewEncryptedParty(t, rules.Limits{Members: 4, Topics: 2})
	if !p.State.Encrypted() || p.State.Epoch != 1 || !p.State.Holders[p.State.Owner] {
		t.Fatalf("after create and first epoch: %+v", p.State)
	}
	bob := p.Admit("bob", "peer-bob")
	bobID := partytest.MemberID(bob)
	if p.State.Epoch != 2 || p.State.KeyFrom[bobID] != 2 {
		t.Fatalf("a join starts epoch 2 and bob holds from it: epoch %d, keyFrom %v", p.State.Epoch, p.State.KeyFrom)
	}
	// Each member opens its own seal of the current epoch.
	last := p.Ops[len(p.Ops)-1]
	op, _ := last.Decode()
	for id, k := range p.Enc {
		s, err := rules.OpenEpoch(k, p.State.ID, 2, id, op.Keys.Seals[id])
		if err != nil || !bytes.Equal(s, p.Secrets[2]) {
			t.Fatalf("%s cannot open epoch 2: %v", id, err)
		}
	}
	// A topic changes no membership: no new epoch.
	p.Apply(rules.KindTopicCreate, rules.TopicRef{ID: "t2", Name: "second"})
	if p.State.Epoch != 2 {
		t.Fatalf("a topic started epoch %d", p.State.Epoch)
	}
	// A kick starts one sealed to the rest only.
	p.Apply(rules.KindMemberKick, rules.MemberBody{Member: bobID})
	op, _ = p.Ops[len(p.Ops)-1].Decode()
	if p.State.Epoch != 3 || op.Keys == nil || slices.Contains(op.Keys.SealedTo(), bobID) || p.State.KeyFrom[bobID] != 0 {
		t.Fatalf("the kick: epoch %d, sealed to %v", p.State.Epoch, op.Keys.SealedTo())
	}
	if p.State.NeedsEpoch(time.Now().UnixMilli()) {
		t.Fatal("a fresh epoch held by exactly the members needs no other")
	}
	if !p.State.NeedsEpoch(time.Now().Add(8 * 24 * time.Hour).UnixMilli()) {
		t.Fatal("a week-old epoch needs a new one")
	}
}

func TestEpochOpsAreJudged(t *testing.T) {
	p := partytest.NewEncryptedParty(t, rules.Limits{Members: 4, Topics: 2})
	bob := p.Admit("bob", "peer-bob")
	bobID := partytest.MemberID(bob)
	next := func(op rules.Op) error {
		_, _, err := p.State.Next(p.SignOp(op))
		return err
	}
	base := func(kind string, body []byte) rules.Op {
		return rules.Op{Party: p.State.ID, Seq: p.State.Seq + 1, Prev: p.State.Head, Time: time.Now().UnixMilli(), Kind: kind, Body: body}
	}
	kick := base(rules.KindMemberKick, []byte(`{"member":"`+bobID+`"}`))
	keys := p.Keys(kick)
	cases := map[string]func() rules.Op{
		"a kick without a new epoch": func() rules.Op { return kick },
		"a kick whose epoch still seals to the kicked": func() rules.Op {
			op := kick
			op.Keys = &rules.EpochKeys{Epoch: keys.Epoch, Seals: maps.Clone(keys.Seals)}
			op.Keys.Seals[bobID] = keys.Seals[p.State.Owner]
			return op
		},
		"an epoch that skips a number": func() rules.Op {
			op := kick
			op.Keys = &rules.EpochKeys{Epoch: keys.Epoch + 1, Seals: keys.Seals}
			return op
		},
		"an epoch op without keys": func() rules.Op { return base(rules.KindEpoch, []byte(`{}`)) },
		"an epoch sealed to a stranger": func() rules.Op {
			op := base(rules.KindEpoch, []byte(`{}`))
			op.Keys = p.Keys(op)
			op.Keys.Seals[partytest.MemberID(partytest.NewKey(t))] = op.Keys.Seals[bobID]
			return op
		},
		"an epoch that leaves a member out": func() rules.Op {
			op := base(rules.KindEpoch, []byte(`{}`))
			op.Keys = p.Keys(op)
			delete(op.Keys.Seals, bobID)
			return op
		},
		"a join without an encryption key": func() rules.Op {
			b := p.JoinBody(partytest.NewKey(t), "cat", "peer-cat")
			b.Enc = nil
			op := base(rules.KindMemberJoin, []byte(mustJSON(b)))
			op.Keys = &rules.EpochKeys{Epoch: p.State.Epoch + 1, Seals: map[string][]byte{}}
			return op
		},
	}
	for name, mk := range cases {
		if err := next(mk()); !errors.Is(err, rules.ErrInvalidOp) {
			t.Errorf("%s: %v, want refused", name, err)
		}
	}
	// The same kick with its keys is fine.
	kick.Keys = keys
	if err := next(kick); err != nil {
		t.Fatalf("the right kick refused: %v", err)
	}
	// A party that is not encrypted takes no keys.
	plain := partytest.NewParty(t, rules.Limits{Members: 3, Topics: 1})
	op := rules.Op{Party: plain.State.ID, Seq: 2, Prev: plain.State.Head, Time: 2, Kind: rules.KindRename, Body: []byte(`{"name":"x"}`),
		Keys: &rules.EpochKeys{Epoch: 1, Seals: map[string][]byte{plain.State.Owner: make([]byte, rules.SealSize)}}}
	if _, _, err := plain.State.Next(plain.SignOp(op)); !errors.Is(err, rules.ErrInvalidOp) {
		t.Fatalf("keys in a plain party: %v", err)
	}
}

func TestJudgeOfSealedMessages(t *testing.T) {
	p := partytest.NewEncryptedParty(t, rules.Limits{Members: 4, Topics: 2})
	bob := p.Admit("bob", "peer-bob")
	at := time.Now()
	look := keyLookup{memLookup{}, maps.Clone(p.Secrets)}
	judge := func(sm rules.SignedMessage) rules.Judgement {
		return rules.JudgeMessage(look, p.State, sm, nil, time.Now().Add(time.Second))
	}
	good := p.SealedPost(bob, "general", "hello", 1, at)
	if j := judge(good); j.Verdict != rules.Accept || j.Unread || j.Msg.Body != "hello" {
		t.Fatalf("a sealed post: %+v", j)
	}
	// Without the key here: kept unread, not refused.
	noKey := keyLookup{memLookup{}, nil}
	if j := rules.JudgeMessage(noKey, p.State, good, nil, at.Add(time.Second)); j.Verdict != rules.Accept || !j.Unread || j.Msg.Body != "" {
		t.Fatalf("without the key: %+v", j)
	}
	bobM := p.State.Members[partytest.MemberID(bob)]
	sign := func(m rules.Message) rules.SignedMessage {
		sm, err := rules.SignMessage(m, bob)
		if err != nil {
			t.Fatal(err)
		}
		return sm
	}
	header := rules.Message{Party: p.State.ID, Topic: "general", Author: bobM.ID, Node: bobM.Peer, Seq: 1, HLC: uint64(at.UnixMilli()) << 16}
	seal := func(m rules.Message, epoch uint64, secret []byte) rules.Message {
		out, err := rules.EncryptMessage(m, epoch, secret)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	plain := header
	plain.Kind, plain.Body = rules.MsgPost, "in the clear"
	post := plain
	wrongTag := seal(post, p.State.Epoch, p.Secrets[p.State.Epoch])
	wrongTag.Sealed[len(wrongTag.Sealed)-1] ^= 1
	// Epoch 1 was sealed to the owner alone: bob never held it.
	revoked := seal(post, 1, p.Secrets[1])
	// Made when bob joined, under an epoch the ops up to our head (a
	// topic made since) do not have: made up.
	p.Apply(rules.KindTopicCreate, rules.TopicRef{ID: "t2", Name: "second"})
	future := seal(func() rules.Message { m := post; m.HLC = uint64(p.State.HeadTime+500) << 16; return m }(), p.State.Epoch+1, p.Secrets[p.State.Epoch])
	oldFuture := seal(func() rules.Message { m := post; m.HLC = uint64(bobM.JoinedAt) << 16; return m }(), p.State.Epoch+1, p.Secrets[p.State.Epoch])
	both := seal(post, p.State.Epoch, p.Secrets[p.State.Epoch])
	both.Body = "beside"
	for name, tc := range map[string]struct {
		m      rules.Message
		reason string
	}{
		"plaintext":          {plain, "plaintext"},
		"wrong tag":          {wrongTag, "bad_ciphertext"},
		"an epoch not his":   {revoked, "revoked_epoch"},
		"an unknown epoch":   {oldFuture, "unknown_epoch"},
		"content beside it":  {both, "malformed"},
		"another's feed key": {seal(func() rules.Message { m := post; m.Node = "peer-owner"; return m }(), p.State.Epoch, p.Secrets[p.State.Epoch]), "wrong_node"},
	} {
		j := judge(sign(tc.m))
		if j.Verdict != rules.Reject || j.Reason != tc.reason {
			t.Errorf("%s: %v %q (%v), want rejected as %s", name, j.Verdict, j.Reason, j.Err, tc.reason)
		}
	}
	// An epoch beyond ours on a message newer than our head may be on its
	// way: wait for ops, do not refuse.
	if j := judge(sign(future)); j.Verdict != rules.Ignore || !j.NeedOps {
		t.Fatalf("a newer epoch: %+v", j)
	}
}

// FuzzSealedMessage: arbitrary ciphertext in a correctly signed header of
// an encrypted party never panics the judge and is never accepted as
// readable unless it opens under the epoch's key.
func FuzzSealedMessage(f *testing.F) {
	p := partytest.NewEncryptedParty(f, rules.Limits{Members: 3, Topics: 1})
	bob := p.Admit("bob", "peer-bob")
	at := time.Now()
	good := p.SealedPost(bob, "general", "hi", 1, at)
	gm, _ := good.Decode()
	f.Add(gm.Sealed, gm.Epoch)
	f.Add(gm.Sealed[:30], gm.Epoch)
	f.Add([]byte{}, uint64(1))
	f.Add(bytes.Repeat([]byte{0}, 64), uint64(0))
	look := keyLookup{memLookup{}, p.Secrets}
	f.Fuzz(func(t *testing.T, sealed []byte, epoch uint64) {
		m := gm
		m.Sealed, m.Epoch = sealed, epoch
		sm, err := rules.SignMessage(m, bob)
		if err != nil {
			return
		}
		j := rules.JudgeMessage(look, p.State, sm, nil, at.Add(time.Second))
		if j.Verdict == rules.Accept && !j.Unread {
			if _, err := rules.DecryptMessage(m, p.Secrets[epoch]); err != nil {
				t.Fatalf("accepted as readable a ciphertext that does not open: %x", sealed)
			}
		}
		rules.DecryptMessage(m, sealed) // a secret of any length: no panic
	})
}

// TestEpochLinksReachBackNotForward: an epoch's secret opens the links to
// every earlier epoch (a joiner reads the party's history); nothing opens
// a later one (a removed member reads nothing after its removal).
func TestEpochLinksReachBackNotForward(t *testing.T) {
	p := partytest.NewEncryptedParty(t, rules.Limits{Members: 4, Topics: 2})
	bob := p.Admit("bob", "peer-bob")
	p.Apply(rules.KindMemberKick, rules.MemberBody{Member: partytest.MemberID(bob)})
	p.Admit("cat", "peer-cat")
	links := map[uint64][]byte{}
	for _, sop := range p.Ops {
		if op, _ := sop.Decode(); op.Keys != nil && op.Keys.Prev != nil {
			links[op.Keys.Epoch] = op.Keys.Prev
		}
	}
	last := p.State.Epoch
	if last != 4 || len(links) != 3 {
		t.Fatalf("epoch %d with %d links, want 4 and 3", last, len(links))
	}
	secret := p.Secrets[last]
	for e := last; e > 1; e-- {
		prev, err := rules.OpenLink(p.State.ID, e, secret, links[e])
		if err != nil || !bytes.Equal(prev, p.Secrets[e-1]) {
			t.Fatalf("the link of epoch %d does not open to epoch %d: %v", e, e-1, err)
		}
		secret = prev
	}
	// Bob held epoch 2 when he was kicked: no link opens with it but its
	// own, which leads back; epoch 3 (his removal) and 4 stay closed.
	for _, e := range []uint64{3, 4} {
		if _, err := rules.OpenLink(p.State.ID, e, p.Secrets[2], links[e]); err == nil {
			t.Fatalf("epoch 2's secret opens the link of epoch %d", e)
		}
	}
	if _, err := rules.OpenLink("other", 2, p.Secrets[2], links[2]); err == nil {
		t.Fatal("a link opens as another party's")
	}
	// A link on an admin's join, or of the wrong size, is refused.
	op := rules.Op{Party: p.State.ID, Seq: p.State.Seq + 1, Prev: p.State.Head, Time: time.Now().UnixMilli(), Kind: rules.KindEpoch, Body: []byte(`{}`)}
	op.Keys = p.Keys(op)
	op.Keys.Prev = op.Keys.Prev[:10]
	if _, _, err := p.State.Next(p.SignOp(op)); !errors.Is(err, rules.ErrInvalidOp) {
		t.Fatalf("a short link: %v", err)
	}
}

// TestMemberKeyChange: a member's new encryption key is recorded only from
// its own signed request for this party, newer than its key, and only with
// a new epoch sealed to the new key.
func TestMemberKeyChange(t *testing.T) {
	p := partytest.NewEncryptedParty(t, rules.Limits{Members: 4, Topics: 2})
	bob := p.Admit("bob", "peer-bob")
	bobID := partytest.MemberID(bob)
	newEnc := partytest.EncKey(t)
	change := func(key ed25519.PrivateKey, kc rules.KeyChange) rules.MemberKeyBody {
		e, err := rules.Seal(rules.EncKeyDomain, kc, key)
		if err != nil {
			t.Fatal(err)
		}
		return rules.MemberKeyBody{Member: bobID, Request: e}
	}
	good := rules.KeyChange{Party: p.State.ID, Member: bobID, Enc: rules.EncPublic(newEnc), Time: time.Now().UnixMilli()}
	base := func(body rules.MemberKeyBody) rules.Op {
		return rules.Op{Party: p.State.ID, Seq: p.State.Seq + 1, Prev: p.State.Head, Time: time.Now().UnixMilli(), Kind: rules.KindMemberKey, Body: []byte(mustJSON(body))}
	}
	other := good
	other.Party = "another party"
	stale := good
	stale.Time = p.State.Members[bobID].JoinedAt - 1
	for name, op := range map[string]rules.Op{
		"without a new epoch":    base(change(bob, good)),
		"signed by someone else": func() rules.Op { o := base(change(p.Key, good)); o.Keys = p.Keys(o); return o }(),
		"for another party":      func() rules.Op { o := base(change(bob, other)); o.Keys = p.Keys(o); return o }(),
		"with no key":            func() rules.Op { kc := good; kc.Enc = nil; o := base(change(bob, kc)); o.Keys = p.Keys(o); return o }(),
		"that leaves the member out": func() rules.Op {
			o := base(change(bob, good))
			o.Keys = p.Keys(o)
			delete(o.Keys.Seals, bobID)
			return o
		}(),
	} {
		if _, _, err := p.State.Next(p.SignOp(op)); !errors.Is(err, rules.ErrInvalidOp) {
			t.Errorf("a key change %s: %v, want refused", name, err)
		}
	}
	// From before bob joined: kept without effect.
	o := base(change(bob, stale))
	if _, _, err := p.State.Next(p.SignOp(o)); !errors.Is(err, rules.ErrNoEffect) {
		t.Fatalf("a stale key change: %v, want no effect", err)
	}
	epoch := p.State.Epoch
	p.Apply(rules.KindMemberKey, change(bob, good))
	if !bytes.Equal(p.State.Members[bobID].Enc, rules.EncPublic(newEnc)) || p.State.Epoch != epoch+1 {
		t.Fatalf("after the change: key recorded %v, epoch %d (was %d)", bytes.Equal(p.State.Members[bobID].Enc, rules.EncPublic(newEnc)), p.State.Epoch, epoch)
	}
	op, _ := p.Ops[len(p.Ops)-1].Decode()
	if _, err := rules.OpenEpoch(newEnc, p.State.ID, op.Keys.Epoch, bobID, op.Keys.Seals[bobID]); err != nil {
		t.Fatalf("the new epoch does not open with the new key: %v", err)
	}
	if _, err := rules.OpenEpoch(p.Enc[bobID], p.State.ID, op.Keys.Epoch, bobID, op.Keys.Seals[bobID]); err == nil {
		t.Fatal("the new epoch opens with the old key")
	}
	// The same request again changes nothing.
	if _, _, err := p.State.Next(p.SignOp(base(change(bob, good)))); !errors.Is(err, rules.ErrNoEffect) {
		t.Fatalf("a replayed key change: %v", err)
	}
}

// TestLargestMessageFitsEncrypted: a 4000-character body of 4-byte
// characters and 8 files at every limit, encrypted and signed, is within
// MaxMsgPayload and opens again.
func TestLargestMessageFitsEncrypted(t *testing.T) {
	p := partytest.NewEncryptedParty(t, rules.Limits{Members: 2, Topics: 1})
	bob := p.Admit("bob", "peer-bob")
	m := p.State.Members[partytest.MemberID(bob)]
	thumb := append([]byte{0xff, 0xd8, 0xff}, bytes.Repeat([]byte{0xfe}, rules.MaxThumbBytes-3)...)
	var files []rules.FileRef
	for i := range rules.MaxFilesPerMessage {
		chunks := make([]string, rules.ChunkCount(rules.MaxFileBytes))
		for j := range chunks {
			chunks[j] = strings.Repeat("ab", 32)
		}
		files = append(files, rules.FileRef{Hash: strings.Repeat(fmt.Sprint(i%10), 64), Size: rules.MaxFileBytes, Type: "image/" + strings.Repeat("x", 90),
			Name: strings.Repeat("😀", rules.MaxFileNameChars-4) + ".jpg", Chunks: chunks, Thumb: thumb})
	}
	msg := rules.Message{Party: p.State.ID, Topic: "general", Author: m.ID, Node: m.Peer, Seq: 1, HLC: uint64(time.Now().UnixMilli()) << 16,
		Kind: rules.MsgPost, Body: strings.Repeat("😀", rules.MaxBodyChars), Files: files, ClientID: strings.Repeat("c", 64)}
	if err := rules.CheckContent(msg); err != nil {
		t.Fatalf("the largest message is not valid content: %v", err)
	}
	sealed, err := rules.EncryptMessage(msg, p.State.Epoch, p.Secrets[p.State.Epoch])
	if err != nil {
		t.Fatal(err)
	}
	sm, err := rules.SignMessage(sealed, bob)
	if err != nil {
		t.Fatal(err)
	}
	if len(sm.Payload) > rules.MaxMsgPayload {
		t.Fatalf("the largest message encrypted is %d bytes, over %d", len(sm.Payload), rules.MaxMsgPayload)
	}
	look := keyLookup{memLookup{}, p.Secrets}
	if j := rules.JudgeMessage(look, p.State, sm, nil, time.Now().Add(time.Second)); j.Verdict != rules.Accept || j.Msg.Body != msg.Body {
		t.Fatalf("the largest message judged %v (%v)", j.Verdict, j.Err)
	}
	t.Logf("largest message: %d bytes signed and encrypted (limit %d)", len(sm.Payload), rules.MaxMsgPayload)
}
