package identity

import (
	"errors"

	"github.com/dgraph-io/badger/v4"

	"github.com/chatterbox/chatterbox/identity/kv"
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
	err := kv.GetJSON(txn, []byte(key), v)
	if errors.Is(err, kv.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

func setJSON(txn *badger.Txn, key string, v any) error { return kv.SetJSON(txn, []byte(key), v) }

func update(db *badger.DB, fn func(txn *badger.Txn) error) error { return kv.Update(db, fn) }
