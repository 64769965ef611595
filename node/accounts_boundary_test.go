package node_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatterbox/chatterbox/node/nodetest"
)

// The account side of the trust boundary, through a real node's gateway.

// TestSocketsCloseWhenTheSessionEnds: logging out closes that session's
// WebSocket at once (not at the next ping, 25 s later), and only its.
func TestSocketsCloseWhenTheSessionEnds(t *testing.T) {
	n := nodetest.Start(t, 1)[0]
	a := signUp(t, n, "Ann")
	other := nodetest.NewClient(t, n.GatewayURL())
	other.SignIn("ann@example.com", password)
	dial := func(c *nodetest.Client) *websocket.Conn {
		conn, _, err := websocket.DefaultDialer.Dial(wsURL(n.GatewayURL()), http.Header{"Authorization": {"Bearer " + c.Token}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	mine, theirs := dial(a.c), dial(other)
	a.c.Must(204, "POST", "/api/auth/logout", nil)
	mine.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := mine.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.ClosePolicyViolation {
		t.Fatalf("the logged-out session's socket: %v, want a close with code %d at once", err, websocket.ClosePolicyViolation)
	}
	// The other session's socket stays open: a ping is answered.
	if err := theirs.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)); err != nil {
		t.Fatalf("the other session's socket was closed: %v", err)
	}
	if n.Gateway().WSClients() != 1 {
		t.Fatalf("%d sockets open, want the other session's one", n.Gateway().WSClients())
	}
}

// TestOneAccountCannotTakeEveryTicket: an account asking for socket tickets
// in a loop is refused after a few; another account still gets one.
func TestOneAccountCannotTakeEveryTicket(t *testing.T) {
	n := nodetest.Start(t, 1)[0]
	a, b := signUp(t, n, "Ann"), signUp(t, n, "Bob")
	refused := 0
	for range 1000 {
		r := a.c.Do("POST", "/api/ws/ticket", nil)
		if r.Status == http.StatusTooManyRequests {
			refused++
		}
	}
	if refused < 900 {
		t.Fatalf("one account got %d of 1000 tickets", 1000-refused)
	}
	b.c.Must(201, "POST", "/api/ws/ticket", nil)
}

// TestParallelSignInsAreThrottled: wrong passwords sent all at once count
// like wrong passwords sent one by one.
func TestParallelSignInsAreThrottled(t *testing.T) {
	n := nodetest.Start(t, 1)[0]
	signUp(t, n, "Ann")
	const tries = 60
	var wg sync.WaitGroup
	statuses := make(chan int, tries)
	for range tries {
		wg.Go(func() {
			c := nodetest.NewClient(t, n.GatewayURL())
			statuses <- c.Do("POST", "/api/auth/login", map[string]string{"email": "ann@example.com", "password": "wrong password 123"}).Status
		})
	}
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for s := range statuses {
		counts[s]++
	}
	// The account allows 5 failures at once (DefaultAccountThrottle).
	if counts[401] > 5 || counts[401]+counts[429] != tries {
		t.Fatalf("60 parallel wrong passwords: %v, want at most 5 × 401 and the rest 429", counts)
	}
}

// TestRegistrationTellsNoOneWhichEmailsExist: registering a taken address
// answers exactly like a new one (the owner is mailed instead), and
// registrations from one client are throttled.
func TestRegistrationTellsNoOneWhichEmailsExist(t *testing.T) {
	n := nodetest.Start(t, 1)[0]
	signUp(t, n, "Ann")
	c := nodetest.NewClient(t, n.GatewayURL())
	taken := c.Do("POST", "/api/auth/register", map[string]string{"email": "ANN@example.com", "password": password, "displayName": "Imposter"})
	fresh := c.Do("POST", "/api/auth/register", map[string]string{"email": "zed@example.com", "password": password, "displayName": "Zed"})
	if taken.Status != fresh.Status || len(taken.JSON) != len(fresh.JSON) || taken.String("status") != fresh.String("status") {
		t.Fatalf("taken: %d %s; new: %d %s — they differ", taken.Status, taken.Raw, fresh.Status, fresh.Raw)
	}
	// Ann's password still works and the imposter's does not.
	c.Must(401, "POST", "/api/auth/login", map[string]string{"email": "ann@example.com", "password": "wrong " + password})
	nodetest.NewClient(t, n.GatewayURL()).SignIn("ann@example.com", password)
	throttled := false
	for i := range 30 {
		r := c.Do("POST", "/api/auth/register", map[string]string{"email": "x" + string(rune('a'+i)) + "@example.com", "password": password, "displayName": "X"})
		if r.Status == http.StatusTooManyRequests {
			throttled = true
			break
		}
	}
	if !throttled {
		t.Fatal("30 registrations from one client were not throttled")
	}
}

// TestBodiesMeanWhatTheySay: a literal null body is not an empty object
// (it made an unlimited invite), forgot-password wants an address, and a
// clientId is bounded in characters as documented.
func TestBodiesMeanWhatTheySay(t *testing.T) {
	n := nodetest.Start(t, 1)[0]
	a := signUp(t, n, "Ann")
	partyID := createParty(t, a, "Exact")
	req, _ := http.NewRequest("POST", n.GatewayURL()+"/api/parties/"+partyID+"/invites", strings.NewReader("null"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.c.Token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("invite with a null body = %d, want 400", res.StatusCode)
	}
	if list := a.c.Must(200, "GET", "/api/parties/"+partyID+"/invites", nil).JSON["invites"].([]any); len(list) != 0 {
		t.Fatalf("a null body made %d invites", len(list))
	}
	anon := nodetest.NewClient(t, n.GatewayURL())
	expectCode(t, anon.Do("POST", "/api/auth/forgot-password", map[string]string{}), http.StatusUnprocessableEntity, "invalid_email")
	topic := state(n, partyID).SortedTopics()[0].ID
	path := "/api/parties/" + partyID + "/topics/" + topic + "/messages"
	a.c.Must(201, "POST", path, map[string]string{"body": "64 characters", "clientId": strings.Repeat("é", 64)})
	expectCode(t, a.c.Do("POST", path, map[string]string{"body": "65 characters", "clientId": strings.Repeat("é", 65)}), http.StatusUnprocessableEntity, "message_invalid")
}
