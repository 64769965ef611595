// Package store keeps parties in Badger: each party's op log and state,
// its messages and their indexes, and this node's own records (local
// accounts' memberships, leaves waiting for the owner, issued invites).
// Every key of the party domain is laid out here and nowhere else.
//
// Key layout, all under "p/":
//
//	p/state/<party>                             rules.State (JSON) after the last applied op
//	p/op/<party>/<seq:016x>                     rules.SignedOp (JSON); seq order = key order
//	p/fork/<party>/<seq:016x>                   ForkEvidence (JSON)
//	p/inv/<party>/<invite>                      InviteRecord (JSON), on the owner's node
//	p/mine/<account>/<party>                    Membership (JSON) of a local account
//	p/leave/<party>/<member>                    LeaveOutbox (JSON): a leave not yet recorded by the owner
//	p/msg/<party>/<id>                          rules.StoredMessage (JSON)
//	p/feed/<party>/<author>/<node>/<seq:016x>   "<message id> <hlc>" (older: the id alone)
//	p/fhead/<party>/<author>/<node>             contiguous head seq of the feed (decimal)
//	p/tidx/<party>/<topic>/<hlc:016x>/<id>      empty: a topic's posts in time order
//	p/cid/<account>/<party>/<clientId>          message id (TTL 24 h): idempotent posts
//	p/equiv/<party>/<author>/<node>/<seq:016x>  equivocation evidence (JSON)
//	p/file/<hash>                               FileRecord (JSON): an attached file, its chunks' hashes
//	p/chunk/<hash>/<index:04x>                  the bytes of one chunk of a file
//	p/fref/<party>/<hash>                       empty: a post of the party attaches the file
//
// Reads and writes happen in transactions (View, Update); a Txn offers
// the typed operations. The store judges nothing: callers apply the rules
// before they write.
package store

import (
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"

	"github.com/chatterbox/chatterbox/identity/kv"
	"github.com/chatterbox/chatterbox/party/rules"
)

const (
	pState = "p/state/"
	pOp    = "p/op/"
	pSub   = "p/sub/" // admins' sub-logs: party/admin/seq
	pFork  = "p/fork/"
	pInv   = "p/inv/"
	pMine  = "p/mine/"
	pLeave = "p/leave/"
	pKeyCh = "p/keychange/" // party/member: a key change waiting for the owner's node
	pMsg   = "p/msg/"
	pFeed  = "p/feed/"
	pFHead = "p/fhead/"
	pTIdx  = "p/tidx/"
	pCID   = "p/cid/"
	pEquiv = "p/equiv/"
	pFile  = "p/file/"
	pChunk = "p/chunk/"
	pFRef  = "p/fref/"
	pEKey  = "p/ekey/"   // party/epoch → the epoch's secret
	pELink = "p/elink/"  // party/epoch → the previous epoch's secret sealed under this one's
	pUnrd  = "p/unread/" // party/epoch/id: messages kept sealed, waiting for their epoch's key
)

// ErrMissing is a record that is not there.
var ErrMissing = kv.ErrNotFound

// Store is the party domain's storage in one Badger database.
type Store struct {
	db *badger.DB
	// states caches decoded party states by the Badger version of their
	// record (party id → cachedState), so the hot paths (every message
	// judged, every event fanned out) do not decode JSON again.
	states sync.Map
	dirty  atomic.Bool // lazy writes not yet synced
	// The in-memory view of local memberships (see Member): rebuilt when
	// mineVersion moved, which a committed membership write does.
	mineVersion atomic.Uint64
	mine        atomic.Pointer[mineView]
	// stateEpoch moves after every committed transaction that wrote or
	// dropped a party state; fresh holds states read at an epoch (party
	// id → freshState), so Store.State answers from memory without a
	// Badger read until the next such commit.
	stateEpoch atomic.Uint64
	fresh      sync.Map
}

type freshState struct {
	epoch uint64
	state *rules.State
}

type mineView struct {
	version uint64
	members map[string]bool // account + "/" + party, active members only
}

type cachedState struct {
	version uint64
	state   *rules.State
}

// New returns the store of db.
func New(db *badger.DB) *Store { return &Store{db: db} }

// Txn is one Badger transaction with the party domain's operations.
type Txn struct {
	txn *badger.Txn
	s   *Store
	// wroteMine: a membership was written (the view is rebuilt after the
	// commit).
	wroteMine bool
	// wroteState: a party state was written or dropped.
	wroteState bool
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(*Txn) error) error {
	return s.db.View(func(txn *badger.Txn) error { return fn(&Txn{txn: txn, s: s}) })
}

// Update runs fn in a read-write transaction, committed durably (synced)
// when fn returns nil; on a conflict it is run again.
func (s *Store) Update(fn func(*Txn) error) error {
	return s.update(kv.Update, fn)
}

// update runs fn through commit (kv.Update or kv.UpdateLazy) and, once a
// transaction that wrote memberships has committed, invalidates the
// membership view.
func (s *Store) update(commit func(*badger.DB, func(*badger.Txn) error) error, fn func(*Txn) error) error {
	var wroteMine, wroteState bool
	err := commit(s.db, func(txn *badger.Txn) error {
		t := &Txn{txn: txn, s: s}
		err := fn(t)
		wroteMine, wroteState = t.wroteMine, t.wroteState
		return err
	})
	if wroteMine {
		s.mineVersion.Add(1)
	}
	if wroteState {
		s.stateEpoch.Add(1)
	}
	return err
}

// Member reports whether a local account is an active member of party,
// from an in-memory view of the committed memberships (the WebSocket hub
// asks this for every client and every event).
func (s *Store) Member(account, party string) bool {
	v := s.mine.Load()
	if now := s.mineVersion.Load(); v == nil || v.version != now {
		// The version is read before the scan: a write committed during
		// it moves the version again, and the next call rebuilds.
		v = &mineView{version: now, members: map[string]bool{}}
		s.View(func(t *Txn) error {
			ms, err := t.Memberships("")
			for _, m := range ms {
				if m.Status == StatusMember {
					v.members[m.Account+"/"+m.Party] = true
				}
			}
			return err
		})
		s.mine.Store(v)
	}
	return v.members[account+"/"+party]
}

// UpdateLazy is Update committed but not synced: it reaches the disk with
// the next Update or Flush. For what other nodes can send again (received
// messages); a node that crashes before the flush fetches them by
// catch-up.
func (s *Store) UpdateLazy(fn func(*Txn) error) error {
	err := s.update(kv.UpdateLazy, fn)
	if err == nil {
		s.dirty.Store(true)
	}
	return err
}

// Flush syncs lazy writes to disk, if there are any.
func (s *Store) Flush() error {
	if !s.dirty.Swap(false) {
		return nil
	}
	return s.db.Sync()
}

// State returns a party's state as of t (rules.ErrNotFound if there is
// none). A returned state is shared: callers must not modify it
// (State.Next and Clone make new ones).
func (t *Txn) State(party string) (*rules.State, error) {
	item, err := t.txn.Get([]byte(pState + party))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, rules.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if c, ok := t.s.states.Load(party); ok && c.(cachedState).version == item.Version() {
		return c.(cachedState).state, nil
	}
	var st rules.State
	if err := item.Value(func(raw []byte) error { return json.Unmarshal(raw, &st) }); err != nil {
		return nil, err
	}
	t.s.states.Store(party, cachedState{version: item.Version(), state: &st})
	return &st, nil
}

// Read runs fn in a read-only transaction of s and returns its result.
func Read[T any](s *Store, fn func(*Txn) (T, error)) (T, error) {
	var out T
	err := s.View(func(t *Txn) error {
		var err error
		out, err = fn(t)
		return err
	})
	return out, err
}

// State returns a party's state (see Txn.State).
//
// It answers from memory while no state was written since it last read
// this one: it is called for every gossiped message and every peer pubsub
// asks about, and a Badger read each time was a sixth of an idle node's
// CPU. The epoch is taken before the read, so a write committed meanwhile
// makes the next call read again.
func (s *Store) State(party string) (*rules.State, error) {
	epoch := s.stateEpoch.Load()
	if f, ok := s.fresh.Load(party); ok && f.(freshState).epoch == epoch {
		return f.(freshState).state, nil
	}
	st, err := Read(s, func(t *Txn) (*rules.State, error) { return t.State(party) })
	if err == nil {
		s.fresh.Store(party, freshState{epoch: epoch, state: st})
	} else {
		s.fresh.Delete(party)
	}
	return st, err
}

// Epoch moves after every committed transaction that wrote or dropped a
// party state: what is derived from the held states stays true while it
// does not move.
func (s *Store) Epoch() uint64 { return s.stateEpoch.Load() }

// listAll decodes every record under prefix.
func listAll[T any](t *Txn, prefix string) ([]T, error) {
	var out []T
	err := t.list(prefix, func(_ []byte, raw []byte) error {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// list calls fn with every record under prefix.
func (t *Txn) list(prefix string, fn func(key, raw []byte) error) error {
	return kv.List(t.txn, prefix, fn)
}

func (t *Txn) get(key []byte, v any) error { return kv.GetJSON(t.txn, key, v) }

func (t *Txn) set(key []byte, v any) error { return kv.SetJSON(t.txn, key, v) }
