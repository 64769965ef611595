package identity

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Badger key layout, all under "id/":
//
//	id/acct/<accountID>          Account (JSON)
//	id/email/<normalized email>  accountID
//	id/member/<memberID>         accountID
//	id/sess/<sessionID>          Session (JSON)
//	id/acctsess/<acct>/<sess>    empty; lists an account's sessions
//	id/rt/<hex sha256(token)>    refreshRecord (JSON), TTL = refresh TTL
//	id/etok/<hex sha256(token)>  emailToken (JSON): verification / reset, TTL
//	id/acctok/<acct>/<kind>/<h>  empty; lists an account's outstanding tokens
//	id/oauth/<provider>/<sub>    accountID linked to a provider identity
//	id/key/jwt                   HMAC key for access tokens
const (
	prefixAccount     = "id/acct/"
	prefixEmail       = "id/email/"
	prefixMember      = "id/member/"
	prefixSession     = "id/sess/"
	prefixAcctSession = "id/acctsess/"
	prefixRefresh     = "id/rt/"
	prefixEmailToken  = "id/etok/"
	prefixAcctToken   = "id/acctok/"
	prefixOAuth       = "id/oauth/"
	keyJWTSecret      = "id/key/jwt"
)

func getJSON(txn *badger.Txn, key string, v any) error {
	item, err := txn.Get([]byte(key))
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

func setJSON(txn *badger.Txn, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return txn.Set([]byte(key), raw)
}

// update runs fn in a read-write transaction, retrying on Badger's
// optimistic-concurrency conflicts so that concurrent callers serialise.
func update(db *badger.DB, fn func(txn *badger.Txn) error) error {
	const attempts = 8
	var err error
	for range attempts {
		err = db.Update(fn)
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
	}
	return err
}
