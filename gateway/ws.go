package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatterbox/chatterbox/identity"
	"github.com/chatterbox/chatterbox/party"
)

// WebSocket tuning.
const (
	wsQueue      = 256 // events buffered per client before it is dropped
	wsTicketTTL  = 30 * time.Second
	wsPingEvery  = 25 * time.Second
	wsWriteWait  = 10 * time.Second
	wsMaxFrame   = 64 << 10
	maxWSTickets = 1000
	// maxWSTicketsPerAccount bounds one account's unused tickets, so one
	// account cannot take the node's whole table (a browser needs one per
	// tab that is connecting).
	maxWSTicketsPerAccount = 20
	closeOverflow          = 4008 // our close code: the client fell behind; reload history
)

// hub fans events out to WebSocket clients. It owns every connection: the
// HTTP server's Shutdown does not close hijacked connections, so Close
// does.
type hub struct {
	s *Server

	mu      sync.Mutex
	clients map[*wsClient]struct{} // guarded by mu
	tickets map[string]wsTicket    // guarded by mu
	closed  bool                   // guarded by mu
	wg      sync.WaitGroup
	// delivered counts events queued to clients (for metrics).
	delivered atomic.Uint64
}

type wsTicket struct {
	principal identity.Principal
	expires   time.Time
}

type wsClient struct {
	h         *hub
	conn      *websocket.Conn
	principal identity.Principal
	send      chan []byte
	done      chan struct{}
	once      sync.Once
	dropping  atomic.Bool // an overflow close is under way
	seen      sync.Map    // party id → true: parties this client was in
}

func newHub(s *Server) *hub {
	return &hub{s: s, clients: map[*wsClient]struct{}{}, tickets: map[string]wsTicket{}}
}

func (s *Server) wsRoutes(mux *http.ServeMux) {
	mux.Handle("POST /api/ws/ticket", s.requireAuth(s.handleWSTicket))
	mux.HandleFunc("GET /api/ws", s.handleWS)
}

// handleWSTicket issues a single-use ticket (30 s) for a browser, which
// cannot set an Authorization header on a WebSocket.
func (s *Server) handleWSTicket(w http.ResponseWriter, r *http.Request, p identity.Principal) {
	h := s.hub
	now := time.Now()
	h.mu.Lock()
	for k, t := range h.tickets {
		if now.After(t.expires) {
			delete(h.tickets, k)
		}
	}
	mine := 0
	for _, t := range h.tickets {
		if t.principal.Account.ID == p.Account.ID {
			mine++
		}
	}
	if mine >= maxWSTicketsPerAccount {
		h.mu.Unlock()
		writeAPIError(w, retryLater(apiErr("too_many_attempts").saying("Too many connections are starting for this account. Try again shortly."), wsTicketTTL))
		return
	}
	if len(h.tickets) >= maxWSTickets {
		h.mu.Unlock()
		writeAPIError(w, retryLater(apiErr("too_many_attempts").saying("Too many connections are starting. Try again shortly."), wsTicketTTL))
		return
	}
	ticket := randomTicket()
	h.tickets[ticket] = wsTicket{principal: p, expires: now.Add(wsTicketTTL)}
	h.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"ticket": ticket, "expiresIn": int(wsTicketTTL / time.Second)})
}

func (h *hub) redeem(ticket string) (identity.Principal, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.tickets[ticket]
	delete(h.tickets, ticket)
	if !ok || time.Now().After(t.expires) {
		return identity.Principal{}, false
	}
	return t.principal, true
}

func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	var p identity.Principal
	switch {
	case r.URL.Query().Get("ticket") != "":
		var ok bool
		if p, ok = s.hub.redeem(r.URL.Query().Get("ticket")); !ok || !s.id.SessionActive(p.SessionID) {
			writeAPIError(w, apiErr("invalid_token").saying("The connection ticket is unknown, used or expired. Ask for a new one."))
			return
		}
	default:
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			writeAPIError(w, errUnauthorized)
			return
		}
		var err error
		if p, err = s.id.Authenticate(strings.TrimSpace(token)); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	up := websocket.Upgrader{
		ReadBufferSize: 4096, WriteBufferSize: 4096,
		// Browsers always send Origin: it must be this gateway. Other
		// clients send none and authenticate with a bearer token.
		CheckOrigin: func(r *http.Request) bool {
			o := r.Header.Get("Origin")
			return o == "" || originAllowed(o, r.Host)
		},
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			code := "bad_websocket"
			switch status {
			case http.StatusForbidden:
				code = "bad_origin"
			case http.StatusMethodNotAllowed:
				code = "method_not_allowed"
			}
			writeAPIError(w, apiErr(code).saying("WebSocket upgrade refused: "+reason.Error()+"."))
		},
	}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrader wrote the error
	}
	s.hub.serve(conn, p)
}

func (h *hub) serve(conn *websocket.Conn, p identity.Principal) {
	c := &wsClient{h: h, conn: conn, principal: p, send: make(chan []byte, wsQueue), done: make(chan struct{})}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		conn.Close()
		return
	}
	h.clients[c] = struct{}{}
	h.wg.Add(2)
	h.mu.Unlock()
	if list, err := h.s.parties.List(actor(p)); err == nil {
		for _, v := range list {
			c.seen.Store(v.ID, true)
		}
	}
	go c.writeLoop()
	go c.readLoop()
}

// close ends the client once; code and reason go in the close frame.
func (c *wsClient) close(code int, reason string) {
	c.once.Do(func() {
		c.h.mu.Lock()
		delete(c.h.clients, c) // no more events for it from here on
		c.h.mu.Unlock()
		// The close frame queues behind a frame being written; a client
		// that is merely slow still gets it and learns why.
		c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(wsWriteWait))
		close(c.done)
		c.conn.Close()
	})
}

// publish sends ev to every client whose account is in the party. A client
// whose queue is full is told so and disconnected; it reloads history.
func (h *hub) publish(ev party.Event) {
	raw, err := json.Marshal(ev)
	if err != nil {
		return
	}
	h.mu.Lock()
	clients := make([]*wsClient, 0, len(h.clients))
	for c := range h.clients {
		clients = append(clients, c)
	}
	h.mu.Unlock()
	for _, c := range clients {
		if !c.wants(ev) {
			continue
		}
		select {
		case c.send <- raw:
			h.delivered.Add(1)
		default:
			c.overflow()
		}
	}
}

// wants reports whether the client's account may see ev.
func (c *wsClient) wants(ev party.Event) bool {
	if c.h.s.parties.IsMember(c.principal.Account.ID, ev.Party) {
		c.seen.Store(ev.Party, true)
		return true
	}
	// Those who just left, were kicked or saw the party deleted still hear
	// about it.
	_, was := c.seen.Load(ev.Party)
	return was && (ev.Type == party.EvPartyDeleted || ev.Type == party.EvMemberLeft)
}

func (c *wsClient) writeLoop() {
	defer c.h.wg.Done()
	ping := time.NewTicker(wsPingEvery)
	defer ping.Stop()
	for {
		select {
		case <-c.done:
			return
		case raw := <-c.send:
			c.conn.SetWriteDeadline(time.Now().Add(wsWriteWait))
			if err := c.conn.WriteMessage(websocket.TextMessage, raw); err != nil {
				c.close(websocket.CloseGoingAway, "write failed")
				return
			}
		case <-ping.C:
			if !c.h.s.id.SessionActive(c.principal.SessionID) {
				c.close(websocket.ClosePolicyViolation, "session ended")
				return
			}
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteWait)); err != nil {
				c.close(websocket.CloseGoingAway, "ping failed")
				return
			}
		}
	}
}

// clientFrame is what a client sends.
type clientFrame struct {
	Type     string `json:"type"` // "message.send" or "typing"
	ID       string `json:"id"`   // echoed in the ack or error
	PartyID  string `json:"partyId"`
	TopicID  string `json:"topicId"`
	Body     string `json:"body,omitempty"`
	ClientID string `json:"clientId,omitempty"`
}

func (c *wsClient) readLoop() {
	defer c.h.wg.Done()
	defer c.close(websocket.CloseNormalClosure, "")
	c.conn.SetReadLimit(wsMaxFrame)
	c.conn.SetReadDeadline(time.Now().Add(2 * wsPingEvery))
	c.conn.SetPongHandler(func(string) error {
		c.conn.SetReadDeadline(time.Now().Add(2 * wsPingEvery))
		return nil
	})
	for {
		_, raw, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		c.conn.SetReadDeadline(time.Now().Add(2 * wsPingEvery))
		var f clientFrame
		if err := json.Unmarshal(raw, &f); err != nil {
			c.reply(map[string]any{"type": "error", "error": apiErrorBody(errBadJSON("The frame is not valid JSON."))})
			continue
		}
		c.handle(f)
	}
}

func (c *wsClient) handle(f clientFrame) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	a := actor(c.principal)
	var (
		result any
		err    error
	)
	switch f.Type {
	case "message.send":
		result, err = c.h.s.chat.Post(ctx, a, f.PartyID, f.TopicID, f.Body, f.ClientID)
	case "typing":
		err = c.h.s.chat.SendTyping(ctx, a, f.PartyID, f.TopicID)
	default:
		err = apiErr("bad_request").saying("Unknown frame type; send message.send or typing.")
	}
	if err != nil {
		ae := toAPIError(err)
		if ae == nil {
			c.h.s.log.Error("websocket request failed", "type", f.Type, "err", err)
			ae = apiErr("internal_error")
		}
		c.reply(map[string]any{"type": "error", "id": f.ID, "error": apiErrorBody(ae)})
		return
	}
	ack := map[string]any{"type": "ack", "id": f.ID}
	if result != nil {
		ack["message"] = result
	}
	c.reply(ack)
}

// reply queues a direct answer to this client.
func (c *wsClient) reply(v any) {
	raw, _ := json.Marshal(v)
	select {
	case c.send <- raw:
	case <-c.done:
	default:
		c.overflow()
	}
}

// overflow drops a client that fell behind, once, without blocking.
func (c *wsClient) overflow() {
	if !c.dropping.CompareAndSwap(false, true) {
		return
	}
	c.h.s.log.Warn("websocket client too slow; disconnecting it", "account", c.principal.Account.ID)
	c.h.wg.Add(1)
	go func() {
		defer c.h.wg.Done()
		c.close(closeOverflow, "overflow: events were coming faster than you read them; reload history")
	}()
}

// WSClients is the number of connected WebSocket clients.
func (s *Server) WSClients() int {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return len(s.hub.clients)
}

// SessionsEnded closes at once the WebSockets of sessions that ended
// (logout, password reset) and drops their unused tickets.
func (s *Server) SessionsEnded(ids []string) {
	ended := map[string]bool{}
	for _, id := range ids {
		ended[id] = true
	}
	h := s.hub
	h.mu.Lock()
	var clients []*wsClient
	for c := range h.clients {
		if ended[c.principal.SessionID] {
			clients = append(clients, c)
		}
	}
	for k, t := range h.tickets {
		if ended[t.principal.SessionID] {
			delete(h.tickets, k)
		}
	}
	h.mu.Unlock()
	for _, c := range clients {
		c.close(websocket.ClosePolicyViolation, "session ended")
	}
}

// Close disconnects every client and waits for their goroutines.
func (h *hub) Close() {
	h.mu.Lock()
	h.closed = true
	clients := make([]*wsClient, 0, len(h.clients))
	for c := range h.clients {
		clients = append(clients, c)
	}
	h.mu.Unlock()
	for _, c := range clients {
		c.close(websocket.CloseGoingAway, "node shutting down")
	}
	h.wg.Wait()
}

func randomTicket() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic("gateway: crypto/rand: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Publish delivers a party event to the WebSocket clients that may see it.
// It never blocks.
func (s *Server) Publish(ev party.Event) { s.hub.publish(ev) }

// EventsDelivered is how many events were queued to WebSocket clients.
func (s *Server) EventsDelivered() uint64 { return s.hub.delivered.Load() }
