package store

import (
	"time"

	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/chatterbox/chatterbox/party/partytest"
	"github.com/chatterbox/chatterbox/party/rules"
)

// A feed slot written before slots kept the HLC holds the id alone; its
// HLC then comes from the record.
func TestFeedSlotWrittenWithoutHLC(t *testing.T) {
	db, err := badger.Open(badger.DefaultOptions(t.TempDir()).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := New(db)
	p := partytest.NewParty(t, rules.DefaultLimits)
	ann := p.Admit("Ann", "peer-ann")
	sm := p.Post(ann, "general", "hello", 1, time.Now())
	msg, _ := sm.Decode()
	author := partytest.MemberID(ann)
	err = s.Update(func(tx *Txn) error {
		m := tx.Messages(p.State.ID)
		if _, err := m.Put(sm, msg); err != nil {
			return err
		}
		return tx.txn.Set(m.feedKey(author, "peer-ann", 1), []byte(sm.ID())) // the old form
	})
	if err != nil {
		t.Fatal(err)
	}
	s.View(func(tx *Txn) error {
		id, hlc, taken := tx.Messages(p.State.ID).FeedSlot(author, "peer-ann", 1)
		if !taken || id != sm.ID() || hlc != msg.HLC {
			t.Fatalf("old slot = %s %d %v, want %s %d", id, hlc, taken, sm.ID(), msg.HLC)
		}
		return nil
	})
}
