package replica

import (
	"encoding/json"
	"testing"

	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/store"
)

// FuzzDecodeRequest: request frames from the network are decoded and
// their signatures checked without panicking.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"type":"sync","p":"e30="}`))
	f.Add([]byte(`{"type":"join","p":"e30=","s":"AA=="}`))
	f.Add([]byte(`{"type":"leave"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRequest(data)
		if err != nil {
			return
		}
		var jr JoinRequest
		OpenSigned(r, rules.JoinDomain, &jr, func() string { return jr.Member })
		var lr LeaveRequest
		OpenSigned(r, rules.LeaveDomain, &lr, func() string { return lr.Member })
	})
}

// FuzzSyncFrames: sync requests and responses from the network decode
// without panicking, and sorting fetched messages never panics.
func FuzzSyncFrames(f *testing.F) {
	f.Add([]byte(`{"party":"p","heads":{"a/n":3}}`))
	f.Add([]byte(`{"messages":[{"p":"e30=","s":""}],"more":true}`))
	f.Add([]byte(`{"ops":[{"p":"e30=","s":""}],"more":true,"error":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req MsgSyncRequest
		json.Unmarshal(data, &req)
		var resp MsgSyncResponse
		if json.Unmarshal(data, &resp) == nil {
			store.SortByHLC(resp.Messages)
		}
		var wr Response
		if json.Unmarshal(data, &wr) == nil {
			for _, op := range wr.Ops {
				op.Decode()
			}
			rules.ErrorFromCode(wr.Error)
		}
	})
}
