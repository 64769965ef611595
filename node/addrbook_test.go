package node_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/chatterbox/chatterbox/node/nodetest"
)

// A member's node moves to a new address; the owner's node learns it when
// they reconnect, keeps it across its own restart, and knows it before
// any connection is made.
func TestAddressBookRemembersMovedPeers(t *testing.T) {
	nodes := nodetest.Start(t, 2)
	ownerNode, bobNode := nodes[0], nodes[1]
	a, b := signUp(t, ownerNode, "Ann"), signUp(t, bobNode, "Bob")
	id := createParty(t, a, "Movers")
	accept(t, b, invite(t, a, id, nil).String("link"), http.StatusOK)
	waitConverged(t, id, ownerNode, bobNode)

	// Bob's node restarts on new ports: the party log still has the old.
	cfg := bobNode.Config() // ListenAddrs on port 0: new ports
	bobID := bobNode.Host().ID()
	if err := bobNode.Close(); err != nil {
		t.Fatal(err)
	}
	bobNode = nodetest.StartWith(t, cfg)
	b.rebind(t, bobNode)
	moved := bobNode.Host().Addrs()
	nodetest.Connect(t, bobNode, ownerNode)
	knows := func(addrs []string) bool {
		for _, m := range moved {
			if !slices.Contains(addrs, m.String()) {
				return false
			}
		}
		return true
	}
	peerAddrs := func() []string {
		var out []string
		for _, a := range ownerNode.Host().Peerstore().Addrs(bobID) {
			out = append(out, a.String())
		}
		return out
	}
	nodetest.Eventually(t, converge, "the owner to learn Bob's new address", func() bool { return knows(peerAddrs()) })

	// The owner restarts with Bob offline: the book gives the new address.
	if err := bobNode.Close(); err != nil {
		t.Fatal(err)
	}
	ownerNode = nodetest.Restart(t, ownerNode)
	if got := peerAddrs(); !knows(got) {
		t.Fatalf("after a restart the owner knows Bob at %v, not at his new %v", got, moved)
	}
}
