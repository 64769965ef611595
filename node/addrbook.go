package node

import (
	"encoding/json"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// addrBookPrefix keys the persisted address book: ab/<peer id> → JSON
// list of multiaddrs.
const addrBookPrefix = "ab/"

// addrBook is gossip.AddrBook on the node's Badger database.
type addrBook struct{ db *badger.DB }

func (b addrBook) Load() (map[string][]string, error) {
	out := map[string][]string{}
	err := b.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(addrBookPrefix), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var addrs []string
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &addrs) }); err != nil {
				continue // one bad entry does not lose the rest
			}
			out[strings.TrimPrefix(string(it.Item().Key()), addrBookPrefix)] = addrs
		}
		return nil
	})
	return out, err
}

func (b addrBook) Save(peer string, addrs []string) error {
	raw, err := json.Marshal(addrs)
	if err != nil {
		return err
	}
	return b.db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(addrBookPrefix+peer), raw) })
}
