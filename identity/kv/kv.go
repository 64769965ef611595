// Package kv is the small set of typed helpers over a Badger transaction
// that the identity and party stores share: JSON values by key, listing and
// deleting by prefix, and read-write transactions retried on Badger's
// optimistic-concurrency conflicts. Each store documents its own key
// layout beside its code (identity/store.go, party/store.go).
package kv

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// ErrNotFound is returned by GetJSON for a missing key.
var ErrNotFound = errors.New("kv: key not found")

// GetJSON decodes the value at key into v.
func GetJSON(txn *badger.Txn, key []byte, v any) error {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	return item.Value(func(raw []byte) error {
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		return nil
	})
}

// SetJSON stores v as JSON at key.
func SetJSON(txn *badger.Txn, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return txn.Set(key, raw)
}

// List calls fn with every key and raw value under prefix, in key order.
func List(txn *badger.Txn, prefix string, fn func(key, raw []byte) error) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix), PrefetchValues: true})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		k := it.Item().KeyCopy(nil)
		if err := it.Item().Value(func(raw []byte) error { return fn(k, raw) }); err != nil {
			return err
		}
	}
	return nil
}

// DeletePrefix deletes every key under prefix.
func DeletePrefix(txn *badger.Txn, prefix []byte) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	var keys [][]byte
	for it.Rewind(); it.Valid(); it.Next() {
		keys = append(keys, it.Item().KeyCopy(nil))
	}
	it.Close()
	for _, k := range keys {
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Update runs fn in a read-write transaction, retrying on Badger's
// optimistic-concurrency conflicts so that concurrent callers serialise,
// and syncs it to disk before it returns: what a caller acknowledges
// after Update survives a crash, whether or not the database syncs every
// write by itself.
func Update(db *badger.DB, fn func(txn *badger.Txn) error) error {
	if err := UpdateLazy(db, fn); err != nil {
		return err
	}
	return db.Sync()
}

// UpdateLazy is Update without the sync: the write is committed and seen
// by every later read, and reaches the disk with the next sync (any
// Update, or a periodic flush). For data another node can send again —
// messages received from the network — so that each does not cost an
// fsync.
func UpdateLazy(db *badger.DB, fn func(txn *badger.Txn) error) error {
	const attempts = 8
	var err error
	for range attempts {
		if err = db.Update(fn); !errors.Is(err, badger.ErrConflict) {
			return err
		}
	}
	return err
}
