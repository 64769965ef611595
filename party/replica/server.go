package replica

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/chatterbox/chatterbox/party/rules"
)

// The answering side's entry point: one request frame in, one response
// frame out, dispatched by type to handleJoin (join.go), handleLeave
// (leave.go), handleSync and handleMsgSync (sync.go).

// HandleRequest answers one request frame from peer `from`. It never
// fails: errors travel as codes.
func (r *Replica) HandleRequest(ctx context.Context, from string, raw []byte) []byte {
	out, err := r.handle(ctx, from, raw)
	if err == nil {
		return out
	}
	var e *rules.Error
	if !errors.As(err, &e) {
		r.lg.Warn("party request failed", "from", from, "err", err)
	}
	out, _ = json.Marshal(Response{Error: rules.CodeOf(err), Message: err.Error()})
	return out
}

func (r *Replica) handle(ctx context.Context, from string, raw []byte) ([]byte, error) {
	req, err := DecodeRequest(raw)
	if err != nil {
		return nil, err
	}
	var resp any
	switch req.Type {
	case reqJoin:
		resp, err = r.handleJoin(ctx, from, req)
	case reqLeave:
		resp, err = r.handleLeave(ctx, from, req)
	case reqSync:
		resp, err = r.handleSync(from, req)
	case reqMsgSync:
		resp, err = r.handleMsgSync(from, req)
	case reqDirect:
		resp, err = r.handleDirect(ctx, from, req)
	case reqInvite:
		resp, err = r.handleInvite(req)
	case reqTime:
		resp, err = r.handleTime(from)
	case reqChunk:
		resp, err = r.handleChunk(from, req)
	case reqKey:
		resp, err = r.handleKeyChange(ctx, from, req)
	default:
		err = fmt.Errorf("%w: unknown request type %q", rules.ErrBadRequest, req.Type)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}
