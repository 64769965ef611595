package gossip

import (
	"bytes"
	"net"
	"testing"

	"github.com/libp2p/go-msgio"
)

// The request protocol works on any stream; here both ends run over an
// in-memory pipe, without libp2p.
func TestExchangeOverPipe(t *testing.T) {
	client, server := net.Pipe()
	done := make(chan error, 1)
	go func() {
		defer server.Close()
		done <- serve(server, func(req []byte) []byte { return append([]byte("echo:"), req...) })
	}()
	resp, err := exchange(client, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if string(resp) != "echo:hello" {
		t.Fatalf("response = %q", resp)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestServeRefusesOversizedRequest(t *testing.T) {
	var buf bytes.Buffer
	msgio.NewVarintWriter(&buf).WriteMsg(bytes.Repeat([]byte("x"), MaxRequestFrame+1))
	called := false
	err := serve(&buf, func([]byte) []byte { called = true; return nil })
	if err == nil || called {
		t.Fatalf("an oversized request was handled (err=%v)", err)
	}
}
