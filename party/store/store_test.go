package store_test

import (
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/chatterbox/chatterbox/party/partytest"
	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/store"
)

func open(t *testing.T) *store.Store {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(t.TempDir()).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return store.New(db)
}

// Messages on a real Badger: feed heads advance over gaps once filled,
// edits and deletes change their target, history pages newest first with
// cursors, and a version vector fetches exactly what is missing.
func TestMessagesOnBadger(t *testing.T) {
	s := open(t)
	p := partytest.NewParty(t, rules.DefaultLimits)
	ann := p.Admit("Ann", "peer-ann")
	id := p.State.ID
	base := time.Now().Add(-time.Hour)
	posts := make([]rules.SignedMessage, 5)
	for i := range posts {
		posts[i] = p.Post(ann, "general", "post", uint64(i+1), base.Add(time.Duration(i)*time.Second))
	}
	put := func(sms ...rules.SignedMessage) {
		t.Helper()
		err := s.Update(func(tx *store.Txn) error {
			for _, sm := range sms {
				msg, err := sm.Decode()
				if err != nil {
					return err
				}
				if _, err := tx.Messages(id).Put(sm, msg); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	head := func() uint64 {
		h, _ := store.Read(s, func(tx *store.Txn) (uint64, error) { return tx.Messages(id).Head(partytest.MemberID(ann), "peer-ann") })
		return h
	}
	put(posts[0], posts[1], posts[3]) // seq 3 missing
	if h := head(); h != 2 {
		t.Fatalf("head over a gap = %d, want 2", h)
	}
	// A feed slot holds the id and the HLC, which the judge compares
	// without decoding the record.
	slot := func(seq uint64) (string, uint64, bool) {
		var id2 string
		var hlc uint64
		var taken bool
		s.View(func(tx *store.Txn) error {
			id2, hlc, taken = tx.Messages(id).FeedSlot(partytest.MemberID(ann), "peer-ann", seq)
			return nil
		})
		return id2, hlc, taken
	}
	want1, _ := posts[1].Decode()
	if got, hlc, taken := slot(2); !taken || got != posts[1].ID() || hlc != want1.HLC {
		t.Fatalf("slot 2 = %s %d %v, want %s %d", got, hlc, taken, posts[1].ID(), want1.HLC)
	}
	if _, _, taken := slot(3); taken {
		t.Fatal("the missing slot 3 is taken")
	}
	put(posts[2])
	if h := head(); h != 4 {
		t.Fatalf("head after the gap filled = %d, want 4", h)
	}
	put(posts[4])
	// A page of 2, then the rest by cursor: newest first, each once.
	var seen []string
	cursor := ""
	for range 4 {
		page, err := store.Read(s, func(tx *store.Txn) ([]rules.StoredMessage, error) {
			pg, next, err := tx.Messages(id).Page("general", cursor, 2)
			cursor = next
			return pg, err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page {
			seen = append(seen, m.Signed.ID())
		}
		if cursor == "" {
			break
		}
	}
	if len(seen) != 5 || seen[0] != posts[4].ID() || seen[4] != posts[0].ID() {
		t.Fatalf("paging saw %d messages, newest %v", len(seen), seen)
	}
	// What a node holding the first two lacks.
	var after []rules.SignedMessage
	var more bool
	err := s.View(func(tx *store.Txn) error {
		var err error
		after, more, err = tx.Messages(id).After(map[string]uint64{partytest.MemberID(ann) + "/peer-ann": 2}, 10)
		return err
	})
	if err != nil || more || len(after) != 3 || after[0].ID() != posts[2].ID() {
		t.Fatalf("after heads 2: %d messages (more %v, err %v)", len(after), more, err)
	}
	// An edit changes its target; a delete wins over later edits.
	edit := func(kind, body string, seq uint64, at time.Time) rules.SignedMessage {
		sm, err := rules.SignMessage(rules.Message{Party: id, Topic: "general", Author: partytest.MemberID(ann), Node: "peer-ann",
			Seq: seq, HLC: uint64(at.UnixMilli()) << 16, Kind: kind, Body: body, Target: posts[0].ID()}, ann)
		if err != nil {
			t.Fatal(err)
		}
		return sm
	}
	put(edit(rules.MsgEdit, "edited", 6, base.Add(time.Minute)))
	put(edit(rules.MsgDelete, "", 7, base.Add(2*time.Minute)))
	put(edit(rules.MsgEdit, "after the delete", 8, base.Add(3*time.Minute)))
	got, _ := store.Read(s, func(tx *store.Txn) (rules.StoredMessage, error) {
		m, _ := tx.Messages(id).Get(posts[0].ID())
		return m, nil
	})
	if !got.Deleted || got.Body != "" {
		t.Fatalf("target after edit, delete, edit: %+v", got)
	}
}

// The in-memory membership view follows committed writes: a member is
// seen at once, a removed one at once, a pending join never, and a
// transaction that fails changes nothing.
func TestMembershipView(t *testing.T) {
	s := open(t)
	put := func(m store.Membership) {
		t.Helper()
		if err := s.Update(func(tx *store.Txn) error { return tx.PutMembership(m) }); err != nil {
			t.Fatal(err)
		}
	}
	if s.Member("acct", "p1") {
		t.Fatal("an empty store has a member")
	}
	put(store.Membership{Account: "acct", Party: "p1", Status: store.StatusMember})
	put(store.Membership{Account: "acct", Party: "p2", Status: store.StatusPending})
	if !s.Member("acct", "p1") || s.Member("acct", "p2") || s.Member("other", "p1") {
		t.Fatal("the view does not follow the memberships written")
	}
	failed := s.Update(func(tx *store.Txn) error {
		if err := tx.DeleteMembership("acct", "p1"); err != nil {
			return err
		}
		return rules.ErrInvalidOp // abort: nothing is committed
	})
	if failed == nil || !s.Member("acct", "p1") {
		t.Fatal("an aborted delete removed the member from the view")
	}
	if err := s.Update(func(tx *store.Txn) error { return tx.DeleteMembership("acct", "p1") }); err != nil {
		t.Fatal(err)
	}
	if s.Member("acct", "p1") {
		t.Fatal("a removed member is still in the view")
	}
}

// Store.State answers from memory, and a committed state write or a
// dropped party is seen by the next call.
func TestStateSeesEveryCommittedWrite(t *testing.T) {
	s := open(t)
	p := partytest.NewParty(t, rules.DefaultLimits)
	id := p.State.ID
	if _, err := s.State(id); err == nil {
		t.Fatal("a party never stored has a state")
	}
	put := func(st *rules.State) {
		t.Helper()
		if err := s.Update(func(tx *store.Txn) error { return tx.PutState(st) }); err != nil {
			t.Fatal(err)
		}
	}
	put(p.State)
	for range 2 { // the second read comes from memory
		if st, err := s.State(id); err != nil || st.Seq != p.State.Seq {
			t.Fatalf("state = %v, %v; want seq %d", st, err, p.State.Seq)
		}
	}
	p.Admit("Ann", "peer-ann")
	put(p.State)
	if st, _ := s.State(id); st == nil || st.Seq != p.State.Seq || len(st.Members) != 2 {
		t.Fatalf("after a write the state is %+v, want seq %d with 2 members", st, p.State.Seq)
	}
	if err := s.Update(func(tx *store.Txn) error { return tx.DropParty(id) }); err != nil {
		t.Fatal(err)
	}
	if st, err := s.State(id); err == nil {
		t.Fatalf("a dropped party still has state seq %d", st.Seq)
	}
}
