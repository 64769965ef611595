package node_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatterbox/chatterbox/node/nodetest"
)

func wsURL(base string) string { return "ws" + strings.TrimPrefix(base, "http") + "/api/ws" }

func TestWebSocketAuthAndOrigin(t *testing.T) {
	n := nodetest.Start(t, 1)[0]
	a := signUp(t, n, "Ann")
	// No credentials.
	if _, res, err := websocket.DefaultDialer.Dial(wsURL(n.GatewayURL()), nil); err == nil || res.StatusCode != 401 {
		t.Fatalf("anonymous websocket: %v %v", err, res)
	}
	// A browser: ticket, then the socket, from the gateway's own origin.
	ticket := a.c.Must(201, "POST", "/api/ws/ticket", nil).String("ticket")
	origin := http.Header{"Origin": {n.GatewayURL()}}
	conn, _, err := websocket.DefaultDialer.Dial(wsURL(n.GatewayURL())+"?ticket="+ticket, origin)
	if err != nil {
		t.Fatalf("websocket with a ticket: %v", err)
	}
	conn.Close()
	// Tickets work once.
	if _, res, err := websocket.DefaultDialer.Dial(wsURL(n.GatewayURL())+"?ticket="+ticket, origin); err == nil || res.StatusCode != 401 {
		t.Fatalf("reused ticket: %v %v", err, res)
	}
	// A page from another origin cannot open the socket, even with a ticket.
	ticket = a.c.Must(201, "POST", "/api/ws/ticket", nil).String("ticket")
	if _, res, err := websocket.DefaultDialer.Dial(wsURL(n.GatewayURL())+"?ticket="+ticket, http.Header{"Origin": {"https://evil.example"}}); err == nil || res.StatusCode != 403 {
		t.Fatalf("foreign origin: %v %v", err, res)
	}
	// Logging out ends the session; a new ticket cannot be had with the old token.
	a.c.Must(204, "POST", "/api/auth/logout", nil)
	expectCode(t, a.c.Do("POST", "/api/ws/ticket", nil), 401, "invalid_token")
}

func TestWebSocketTypingAndErrors(t *testing.T) {
	nodes := nodetest.Start(t, 2)
	a, b := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob")
	partyID, topic := partyOf(t, a, b)
	wa, wb := dialWS(t, a), dialWS(t, b)
	// Typing is acknowledged and reaches the other node's clients.
	nodetest.Eventually(t, converge, "Bob's client to see Ann typing", func() bool {
		wa.conn.WriteJSON(map[string]string{"type": "typing", "id": "t", "partyId": partyID, "topicId": topic})
		<-wa.acks
		time.Sleep(50 * time.Millisecond) // pace the retries of this poll
		return wb.hasEvent("typing")
	})
	// Errors come back with the request id and a code.
	wa.conn.WriteJSON(map[string]string{"type": "message.send", "id": "bad", "partyId": partyID, "topicId": topic, "body": "  "})
	if e := <-wa.acks; e["type"] != "error" || e["id"] != "bad" || e["error"].(map[string]any)["code"] != "message_empty" {
		t.Fatalf("error frame = %v", e)
	}
	wa.conn.WriteJSON(map[string]string{"type": "nonsense", "id": "x"})
	if e := <-wa.acks; e["type"] != "error" || e["error"].(map[string]any)["code"] != "bad_request" {
		t.Fatalf("unknown frame = %v", e)
	}
}

// A client that stops reading is disconnected with a reason once its
// queue overflows, while the node keeps accepting posts at full speed
// (publishing never waits for a client).
func TestSlowWebSocketClientIsDropped(t *testing.T) {
	n := nodetest.Start(t, 1)[0]
	a := signUp(t, n, "Ann")
	partyID := createParty(t, a, "Flood")
	topic := state(n, partyID).SortedTopics()[0].ID
	slow, _, err := websocket.DefaultDialer.Dial(wsURL(n.GatewayURL()), http.Header{"Authorization": {"Bearer " + a.c.Token}})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	// The server registers the client just after the handshake answer.
	nodetest.Eventually(t, converge, "the node to register the client", func() bool { return n.Gateway().WSClients() == 1 })
	// Messages of 4,000 two-byte characters from 8 writers while the slow
	// client reads nothing, until the node drops it (bounded: 20,000 would
	// be 160 MB, far more than loopback socket buffers hold). The writers
	// are fast so that the queue overflows well before a write times out.
	big := strings.Repeat("é", 4000)
	act := a.actor(t)
	var posted atomic.Int64
	var wg sync.WaitGroup
	postStart := time.Now()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n.Gateway().WSClients() == 1 && posted.Load() < 20000 {
				if _, err := n.Parties().Chat().Post(t.Context(), act, partyID, topic, big, ""); err != nil {
					t.Error(err)
					return
				}
				posted.Add(1)
			}
		}()
	}
	wg.Wait()
	if n.Gateway().WSClients() != 0 {
		t.Fatal("the slow client was never dropped")
	}
	if posted.Load() < 256 {
		t.Fatalf("dropped after %d posts, before its queue could fill", posted.Load())
	}
	took := time.Since(postStart)
	// It is told why, as soon as it reads again.
	told, err := overflowed(slow)
	switch {
	case told:
	case took > 10*time.Second:
		// On a heavily loaded machine the queue filled so slowly that the
		// server's 10 s write timeout fired first: the client is cut off as
		// dead, with no room left in the socket to say why.
		t.Logf("posting took %s; the slow client was disconnected by the write timeout (%v)", took, err)
	default:
		t.Fatalf("the slow client was not told it overflowed: %v", err)
	}
}

// overflowed reads what the slow client was sent and reports whether the
// connection ended with the overflow close code, and how it ended.
func overflowed(c *websocket.Conn) (bool, error) {
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code == 4008 && strings.Contains(ce.Text, "overflow"), err
		}
		if err != nil {
			return false, err
		}
	}
}

// A kicked account on the owner's own node hears the kick and nothing of
// the party after it, while a member still there hears everything: the
// hub's membership view follows the log at once.
func TestKickedAccountHearsNothingAfter(t *testing.T) {
	n := nodetest.Start(t, 1)[0]
	ann, bob, cat := signUp(t, n, "Ann"), signUp(t, n, "Bob"), signUp(t, n, "Cat")
	partyID, topic := partyOf(t, ann, bob, cat)
	wb, wc := dialWS(t, bob), dialWS(t, cat)
	msgs := "/api/parties/" + partyID + "/topics/" + topic + "/messages"
	before := ann.c.Must(201, "POST", msgs, map[string]string{"body": "before"}).String("id")
	nodetest.Eventually(t, converge, "Bob's socket to hear the first post", func() bool { return wb.created()[before] == 1 })
	ann.c.Must(204, "DELETE", "/api/parties/"+partyID+"/members/"+bob.memberID, nil)
	nodetest.Eventually(t, converge, "Bob's socket to hear the kick", func() bool { return wb.hasEvent("member.left") })
	after := ann.c.Must(201, "POST", msgs, map[string]string{"body": "after"}).String("id")
	// Cat hears the post; by then the hub has judged Bob's socket too
	// (one hub fans each event out to every client in order).
	nodetest.Eventually(t, converge, "Cat's socket to hear the second post", func() bool { return wc.created()[after] == 1 })
	ann.c.Must(201, "POST", msgs, map[string]string{"body": "a marker for Cat"})
	nodetest.Eventually(t, converge, "Cat's socket to hear the marker", func() bool { return len(wc.created()) == 3 })
	if n := wb.created()[after]; n != 0 {
		t.Fatalf("a kicked account's socket heard a post made after the kick")
	}
	if len(wb.created()) != 1 {
		t.Fatalf("Bob's socket heard %d posts, want only the one before the kick", len(wb.created()))
	}
}
