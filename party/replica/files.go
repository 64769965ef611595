package replica

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/chatterbox/chatterbox/party/rules"
)

// Attached files, both sides: a member node asks another for one chunk of
// a file a post of their party attaches (FetchChunk), and checks it
// against the chunk's hash in that post before keeping it; the answering
// node serves only a member node of the party, only files a post of that
// party attaches (handleChunk). A stranger or an ex-member learns nothing,
// not even whether the file exists.

// ChunkRequest asks for chunk Index of file Hash, attached in Party.
type ChunkRequest struct {
	Party string `json:"party"`
	Hash  string `json:"hash"`
	Index int    `json:"index"`
}

// ChunkResponse carries the chunk, or an error code.
type ChunkResponse struct {
	Error string `json:"error,omitempty"`
	Data  []byte `json:"data,omitempty"`
}

// ErrChunkMismatch is a chunk whose bytes do not hash to what the post
// says: the peer that sent it is faulty or lying.
var ErrChunkMismatch = errors.New("replica: chunk does not match its hash")

// FetchChunk asks peer for chunk i of the file ref, attached in party,
// and returns it once its hash matches ref's.
func (r *Replica) FetchChunk(ctx context.Context, peer, party string, ref rules.FileRef, i int) ([]byte, error) {
	if i < 0 || i >= len(ref.Chunks) {
		return nil, fmt.Errorf("%w: chunk %d of %d", rules.ErrBadRequest, i, len(ref.Chunks))
	}
	payload, _ := json.Marshal(ChunkRequest{Party: party, Hash: ref.Hash, Index: i})
	req, err := json.Marshal(Request{Type: reqChunk, Payload: payload})
	if err != nil {
		return nil, err
	}
	timeout := r.cfg.SyncTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, d.Sub(r.cfg.Now()))
	}
	var resp ChunkResponse
	if err := r.roundTrip(peer, nil, req, timeout, &resp); err != nil {
		return nil, err
	}
	if resp.Error != "" {
		return nil, rules.ErrorFromCode(resp.Error)
	}
	sum := sha256.Sum256(resp.Data)
	if len(resp.Data) != rules.ChunkSize(ref.Size, i) || hex.EncodeToString(sum[:]) != ref.Chunks[i] {
		return nil, ErrChunkMismatch
	}
	return resp.Data, nil
}

func (r *Replica) handleChunk(from string, req Request) (ChunkResponse, error) {
	var cr ChunkRequest
	if err := json.Unmarshal(req.Payload, &cr); err != nil || cr.Party == "" || cr.Hash == "" || cr.Index < 0 {
		return ChunkResponse{}, fmt.Errorf("%w: chunk request", rules.ErrBadRequest)
	}
	st, err := r.log.State(cr.Party)
	if err != nil || !st.MemberByPeer(from) {
		return ChunkResponse{}, rules.ErrNotMember // the same whether or not we hold the party
	}
	data, err := r.log.Chunk(cr.Party, cr.Hash, cr.Index)
	if err != nil {
		return ChunkResponse{}, err
	}
	return ChunkResponse{Data: data}, nil
}
