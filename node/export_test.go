package node_test

import (
	"crypto/ed25519"
	"encoding/json"
	"testing"

	"github.com/chatterbox/chatterbox/party"
)

// gossipOp signs op with key and wraps it as a party topic message.
func gossipOp(t *testing.T, op party.Op, key ed25519.PrivateKey) []byte {
	t.Helper()
	payload, err := json.Marshal(op)
	if err != nil {
		t.Fatal(err)
	}
	sop := party.SignedOp{Payload: payload, Sig: ed25519.Sign(key, append([]byte("chatterbox/op/v1\n"), payload...))}
	raw, _ := json.Marshal(map[string]any{"t": "op", "op": sop})
	return raw
}
