package node_test

import (
	"crypto/ed25519"
	"encoding/json"
	"testing"

	"github.com/chatterbox/chatterbox/node"
	"github.com/chatterbox/chatterbox/party/rules"
)

// gossipOp signs op with key and wraps it as a party topic message.
func gossipOp(t *testing.T, op rules.Op, key ed25519.PrivateKey) []byte {
	t.Helper()
	payload, err := json.Marshal(op)
	if err != nil {
		t.Fatal(err)
	}
	sop := rules.SignedOp{Payload: payload, Sig: ed25519.Sign(key, append([]byte("chatterbox/op/v1\n"), payload...))}
	raw, _ := json.Marshal(map[string]any{"t": "op", "op": sop})
	return raw
}

// signMsg signs a message with key and wraps it as a topic message.
func signMsg(t *testing.T, m rules.Message, key ed25519.PrivateKey) []byte {
	t.Helper()
	payload, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	sm := rules.SignedMessage{Payload: payload, Sig: ed25519.Sign(key, append([]byte("chatterbox/msg/v1\n"), payload...))}
	raw, _ := json.Marshal(map[string]any{"t": "msg", "msg": sm})
	return raw
}

// sealMsg is signMsg for a member's message in a party n holds: sealed
// under its current epoch first, as the member's node would send it.
func sealMsg(t *testing.T, n *node.Node, m rules.Message, key ed25519.PrivateKey) []byte {
	t.Helper()
	st, err := n.Parties().State(m.Party)
	if err != nil {
		t.Fatal(err)
	}
	if st.Encrypted() {
		secret, ok := n.Parties().EpochKey(m.Party, st.Epoch)
		if !ok {
			t.Fatalf("node holds no key of epoch %d", st.Epoch)
		}
		if m, err = rules.EncryptMessage(m, st.Epoch, secret); err != nil {
			t.Fatal(err)
		}
	}
	return signMsg(t, m, key)
}

// rawStored returns a stored message of n wrapped as a topic message.
func rawStored(t *testing.T, n *node.Node, partyID, id string) []byte {
	t.Helper()
	sm, err := n.Parties().Chat().SignedMessage(partyID, id)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(map[string]any{"t": "msg", "msg": sm})
	return raw
}
