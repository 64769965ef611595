package replica_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/chatterbox/chatterbox/party/partytest"
	"github.com/chatterbox/chatterbox/party/replica"
	"github.com/chatterbox/chatterbox/party/rules"
)

// A member node fetches a chunk of an attached file and checks it; a
// chunk whose bytes differ from the hash the post gives is refused; a
// stranger, or a file the party does not attach, gets not_member /
// file_not_found alike whether the file is held or not.
func TestChunksOverPipe(t *testing.T) {
	c := newCluster(t, rules.DefaultLimits)
	id := c.party.State.ID
	if err := c.joiner.Join(id, partytest.OwnerPeer, nil, joinRequest(t, partytest.NewKey(t), "Ann", c.invite(t, 1))); err != nil {
		t.Fatal(err)
	}
	data := []byte("the bytes of a small file")
	sum := sha256.Sum256(data)
	ref := rules.FileRef{Hash: hex.EncodeToString(sum[:]), Size: int64(len(data)), Type: "text/plain", Name: "a.txt", Chunks: []string{hex.EncodeToString(sum[:])}}
	c.ownerLog.mu.Lock()
	c.ownerLog.chunks = map[string][]byte{fmt.Sprintf("%s/%s/0", id, ref.Hash): data}
	c.ownerLog.mu.Unlock()

	got, err := c.joiner.FetchChunk(context.Background(), partytest.OwnerPeer, id, ref, 0)
	if err != nil || string(got) != string(data) {
		t.Fatalf("fetch: %q %v", got, err)
	}
	// The owner's node turns liar: same length, other bytes.
	c.ownerLog.mu.Lock()
	c.ownerLog.chunks[fmt.Sprintf("%s/%s/0", id, ref.Hash)] = []byte("THE bytes of a small file")
	c.ownerLog.mu.Unlock()
	if _, err := c.joiner.FetchChunk(context.Background(), partytest.OwnerPeer, id, ref, 0); !errors.Is(err, replica.ErrChunkMismatch) {
		t.Fatalf("a corrupted chunk: %v", err)
	}
	other := ref
	other.Hash = "00" + ref.Hash[2:]
	if _, err := c.joiner.FetchChunk(context.Background(), partytest.OwnerPeer, id, other, 0); !errors.Is(err, rules.ErrFileNotFound) {
		t.Fatalf("a file the party does not attach: %v", err)
	}
	// A stranger (a node in no party) is not a member.
	stranger := c.start(t, "stranger", newMemLog())
	if _, err := stranger.FetchChunk(context.Background(), partytest.OwnerPeer, id, ref, 0); !errors.Is(err, rules.ErrNotMember) {
		t.Fatalf("a stranger's fetch: %v", err)
	}
}
