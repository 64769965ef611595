package replica_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/chatterbox/chatterbox/party/partytest"
	"github.com/chatterbox/chatterbox/party/replica"
	"github.com/chatterbox/chatterbox/party/rules"
)

// The protocol between two replicas, each over its own in-memory log,
// carried over net.Pipe with the length-prefixed frames gossip uses on
// libp2p streams: no libp2p host, no database.

// pipeNet connects replicas by peer id; each request is one pipe.
type pipeNet struct {
	mu    sync.Mutex
	nodes map[string]*replica.Replica
}

type pipeTransport struct {
	net  *pipeNet
	self string
}

func (p pipeTransport) SelfPeer() string           { return p.self }
func (p pipeTransport) Connected(peer string) bool { return true }
func (p pipeTransport) ObservedAddrs(peer string) []string {
	return []string{"/ip4/127.0.0.1/tcp/1/p2p/" + peer}
}

func (p pipeTransport) Request(ctx context.Context, peer string, _ []string, req []byte) ([]byte, error) {
	p.net.mu.Lock()
	remote := p.net.nodes[peer]
	p.net.mu.Unlock()
	if remote == nil {
		return nil, fmt.Errorf("no route to %s", peer)
	}
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		defer server.Close()
		r := bufio.NewReader(server)
		frame, err := readFrame(r)
		if err != nil {
			return
		}
		writeFrame(server, remote.HandleRequest(context.Background(), p.self, frame))
	}()
	if dl, ok := ctx.Deadline(); ok {
		client.SetDeadline(dl)
	}
	if err := writeFrame(client, req); err != nil {
		return nil, err
	}
	return readFrame(bufio.NewReader(client))
}

func writeFrame(w io.Writer, b []byte) error {
	_, err := w.Write(append(binary.AppendUvarint(nil, uint64(len(b))), b...))
	return err
}

func readFrame(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil || n > replica.MaxResponseBytes {
		return nil, fmt.Errorf("frame: %v (length %d)", err, n)
	}
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	return b, err
}

// memLog is a replica.Log over plain values: states and ops in maps,
// judged by the rules, with the owner's key to sequence.
type memLog struct {
	mu     sync.Mutex
	key    ed25519.PrivateKey // the owner's, on the owner's node
	states map[string]*rules.State
	ops    map[string][]rules.SignedOp
	chunks map[string][]byte // "party/hash/index" → bytes
}

func newMemLog() *memLog {
	return &memLog{states: map[string]*rules.State{}, ops: map[string][]rules.SignedOp{}}
}

func (l *memLog) State(party string) (*rules.State, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st := l.states[party]; st != nil {
		return st, nil
	}
	return nil, rules.ErrNotFound
}

func (l *memLog) Ops(party string, from uint64, limit int) ([]rules.SignedOp, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ops := l.ops[party]
	if from < 1 || int(from) > len(ops) {
		return nil, nil
	}
	return ops[from-1 : min(len(ops), int(from-1)+limit)], nil
}

// memLog has no admins: parties with sub-logs are tested on real nodes.
func (l *memLog) SubOpsAfter(string, map[string]uint64, int) ([]rules.SignedOp, error) {
	return nil, nil
}

func (l *memLog) SequenceAs(ctx context.Context, party, admin, kind string, build func(*rules.State) (any, error)) (*rules.State, error) {
	if admin != "" {
		return nil, rules.ErrNotOwnerNode
	}
	return l.Sequence(ctx, party, kind, build)
}

func (l *memLog) Apply(party string, ops, _ []rules.SignedOp, genesisFor string) (replica.Applied, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var res replica.Applied
	st := l.states[party]
	if st == nil {
		if genesisFor == "" || len(ops) == 0 {
			return res, rules.ErrNotFound
		}
		g, err := rules.Genesis(ops[0])
		if err != nil || g.ID != genesisFor {
			return res, fmt.Errorf("%w: genesis", rules.ErrInvalidOp)
		}
		l.ops[party] = []rules.SignedOp{ops[0]}
		st, ops, res.Count = g, ops[1:], 1
	}
	for _, sop := range ops {
		op, err := sop.Decode()
		if err != nil {
			return res, err
		}
		if op.Seq <= st.Seq {
			continue
		}
		next, _, err := st.Next(sop)
		if err != nil {
			return res, err
		}
		st = next
		l.ops[party] = append(l.ops[party], sop)
		res.Count++
	}
	l.states[party] = st
	res.Kept = true
	return res, nil
}

func (l *memLog) Sequence(_ context.Context, party, kind string, build func(*rules.State) (any, error)) (*rules.State, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.states[party]
	if st == nil {
		return nil, rules.ErrNotFound
	}
	body, err := build(st)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	sop, err := rules.SignOp(rules.Op{Party: party, Seq: st.Seq + 1, Prev: st.Head, Time: time.Now().UnixMilli(), Kind: kind, Body: raw}, l.key)
	if err != nil {
		return nil, err
	}
	next, _, err := st.Next(sop)
	if err != nil {
		return nil, err
	}
	l.states[party], l.ops[party] = next, append(l.ops[party], sop)
	return next, nil
}

func (l *memLog) FeedHeads(string) (map[string]uint64, error) { return map[string]uint64{}, nil }
func (l *memLog) FeedHead(string, string, string) uint64      { return 0 }
func (l *memLog) MessagesAfter(string, map[string]uint64, int) ([]rules.SignedMessage, bool, error) {
	return nil, false, nil
}
func (l *memLog) AddMessages(string, []rules.SignedMessage) (int, error) { return 0, nil }
func (l *memLog) AcceptDirect(string, rules.SignedOp) error              { return rules.ErrDirectNotAllowed }

func (l *memLog) Chunk(party, hash string, i int) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if data, ok := l.chunks[fmt.Sprintf("%s/%s/%d", party, hash, i)]; ok {
		return data, nil
	}
	return nil, rules.ErrFileNotFound
}

func (l *memLog) Held() []*rules.State {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*rules.State
	for _, st := range l.states {
		out = append(out, st)
	}
	return out
}

// cluster is an owner's node holding a party from partytest and a
// joiner's node holding nothing, wired by pipes.
type cluster struct {
	party          *partytest.Party
	owner, joiner  *replica.Replica
	ownerLog, jLog *memLog
	net            *pipeNet
}

func newCluster(t *testing.T, limits rules.Limits) *cluster {
	t.Helper()
	c := &cluster{party: partytest.NewParty(t, limits), net: &pipeNet{nodes: map[string]*replica.Replica{}}}
	c.ownerLog, c.jLog = newMemLog(), newMemLog()
	c.ownerLog.key = c.party.Key
	c.ownerLog.states[c.party.State.ID] = c.party.State
	c.ownerLog.ops[c.party.State.ID] = c.party.Ops
	c.owner = c.start(t, partytest.OwnerPeer, c.ownerLog)
	c.joiner = c.start(t, "joiner", c.jLog)
	return c
}

func (c *cluster) start(t *testing.T, peer string, log *memLog) *replica.Replica {
	r := replica.New(replica.Config{Log: log, RequestTimeout: 5 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	r.Start(ctx, pipeTransport{net: c.net, self: peer})
	t.Cleanup(func() { cancel(); r.Close() })
	c.net.mu.Lock()
	c.net.nodes[peer] = r
	c.net.mu.Unlock()
	return r
}

func (c *cluster) invite(t *testing.T, maxUses int) string {
	t.Helper()
	tok, err := rules.SignInvite(rules.Invite{V: 1, Party: c.party.State.ID, PartyName: c.party.State.Name, ID: rules.NewID(),
		Owner: c.party.State.Owner, OwnerPeer: partytest.OwnerPeer, Expires: time.Now().Add(time.Hour).Unix(), MaxUses: maxUses}, c.party.Key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func joinRequest(t *testing.T, key ed25519.PrivateKey, name, token string) []byte {
	t.Helper()
	req, err := replica.EncodeJoinRequest(replica.Joiner{Key: key, Name: name, Peer: "joiner"}, token, time.Now().UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestJoinOverPipe(t *testing.T) {
	c := newCluster(t, rules.DefaultLimits)
	id := c.party.State.ID
	ann := partytest.NewKey(t)
	tok := c.invite(t, 1)
	req := joinRequest(t, ann, "Ann", tok)
	if err := c.joiner.Join(id, partytest.OwnerPeer, nil, req); err != nil {
		t.Fatalf("join: %v", err)
	}
	mine, err := c.jLog.State(id)
	if err != nil {
		t.Fatalf("the joiner holds no party after joining: %v", err)
	}
	owners, _ := c.ownerLog.State(id)
	if m := mine.Members[partytest.MemberID(ann)]; m == nil || m.Peer != "joiner" || mine.Head != owners.Head {
		t.Fatalf("the joiner's log is not the owner's: member %+v, heads %s / %s", m, mine.Head, owners.Head)
	}
	// A retry of the same request (its answer lost) is answered again
	// and adds nothing; another joiner on the used-up invite is refused.
	if err := c.joiner.Join(id, partytest.OwnerPeer, nil, req); err != nil {
		t.Fatalf("a retried join was refused: %v", err)
	}
	if again, _ := c.ownerLog.State(id); again.Seq != owners.Seq {
		t.Fatalf("a retried join added ops: seq %d → %d", owners.Seq, again.Seq)
	}
	if err := c.joiner.Join(id, partytest.OwnerPeer, nil, joinRequest(t, partytest.NewKey(t), "Bob", tok)); !errors.Is(err, rules.ErrInviteUsedUp) {
		t.Fatalf("a second joiner on a one-use invite: %v", err)
	}
}

func TestJoinRefusalsOverPipe(t *testing.T) {
	c := newCluster(t, rules.Limits{Members: 1, Topics: 1})
	id := c.party.State.ID
	// Full: the owner holds the only seat.
	if err := c.joiner.Join(id, partytest.OwnerPeer, nil, joinRequest(t, partytest.NewKey(t), "Ann", c.invite(t, 0))); !errors.Is(err, rules.ErrPartyFull) {
		t.Fatalf("join of a full party: %v", err)
	}
	// An invite signed by someone else's key.
	forged, _ := rules.SignInvite(rules.Invite{V: 1, Party: id, ID: "x", Owner: partytest.MemberID(partytest.NewKey(t)),
		OwnerPeer: partytest.OwnerPeer, Expires: time.Now().Add(time.Hour).Unix()}, partytest.NewKey(t))
	if err := c.joiner.Join(id, partytest.OwnerPeer, nil, joinRequest(t, partytest.NewKey(t), "Mal", forged)); !errors.Is(err, rules.ErrInviteInvalid) {
		t.Fatalf("join with a forged invite: %v", err)
	}
	if _, err := c.jLog.State(id); !errors.Is(err, rules.ErrNotFound) {
		t.Fatal("a refused joiner holds the party")
	}
	// Unreachable: no node answers for the owner's peer.
	if err := c.joiner.Join(id, "nobody", nil, joinRequest(t, partytest.NewKey(t), "Ann", c.invite(t, 0))); !errors.Is(err, rules.ErrUnreachable) {
		t.Fatalf("join via an absent owner: %v", err)
	}
}

// A stranger's sync request hears not_member whether or not the party is
// held; a member node's sync pulls the ops it lacks.
func TestSyncOverPipe(t *testing.T) {
	c := newCluster(t, rules.DefaultLimits)
	id := c.party.State.ID
	ask := func(party string) []byte {
		payload, _ := json.Marshal(replica.SyncRequest{Party: party, From: 1})
		req, _ := json.Marshal(replica.Request{Type: "sync", Payload: payload})
		resp, err := pipeTransport{net: c.net, self: "stranger"}.Request(context.Background(), partytest.OwnerPeer, nil, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	held, unknown := ask(id), ask("no-such-party")
	if !errors.Is(replica.ResponseError(held), rules.ErrNotMember) || string(held) != string(unknown) {
		t.Fatalf("a stranger tells a held party from an unknown one: %s / %s", held, unknown)
	}
	if err := c.joiner.Join(id, partytest.OwnerPeer, nil, joinRequest(t, partytest.NewKey(t), "Ann", c.invite(t, 0))); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := c.ownerLog.Sequence(context.Background(), id, rules.KindTopicRename, func(*rules.State) (any, error) {
			return rules.TopicRef{ID: "general", Name: fmt.Sprintf("general-%d", i)}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	c.joiner.SyncWith(id, partytest.OwnerPeer)
	mine, _ := c.jLog.State(id)
	owners, _ := c.ownerLog.State(id)
	if mine.Head != owners.Head || mine.Topics["general"].Name != "general-2" {
		t.Fatalf("sync did not catch up: seq %d / %d", mine.Seq, owners.Seq)
	}
}

// countingTransport answers no request and counts what the replica asks:
// Connected is called once per member per periodic round.
type countingTransport struct {
	self      string
	mu        sync.Mutex
	connected int
	requests  []string
}

func (c *countingTransport) SelfPeer() string                   { return c.self }
func (c *countingTransport) ObservedAddrs(peer string) []string { return nil }
func (c *countingTransport) Connected(peer string) bool {
	c.mu.Lock()
	c.connected++
	c.mu.Unlock()
	return true
}
func (c *countingTransport) Request(_ context.Context, peer string, _ []string, _ []byte) ([]byte, error) {
	c.mu.Lock()
	c.requests = append(c.requests, peer)
	c.mu.Unlock()
	return nil, errors.New("unreachable")
}

// The periodic sync asks one member node per round, each in turn, not
// every member every round.
func TestPeriodicSyncTakesMembersInTurn(t *testing.T) {
	p := partytest.NewParty(t, rules.DefaultLimits)
	p.Admit("Ann", "peer-ann")
	p.Admit("Bob", "peer-bob")
	p.Admit("Me", "me")
	log := newMemLog()
	log.states[p.State.ID], log.ops[p.State.ID] = p.State, p.Ops
	tr := &countingTransport{self: "me"}
	r := replica.New(replica.Config{Log: log, SyncInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	r.Start(ctx, tr)
	defer func() { cancel(); r.Close() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tr.mu.Lock()
		n, rounds := len(tr.requests), tr.connected/3
		reqs := append([]string(nil), tr.requests...)
		tr.mu.Unlock()
		if n > rounds {
			t.Fatalf("%d sync requests in %d periodic rounds, want at most one a round: %v", n, rounds, reqs)
		}
		if n >= 6 {
			seen := map[string]int{}
			for _, peer := range reqs[:6] {
				seen[peer]++
			}
			if seen[partytest.OwnerPeer] != 2 || seen["peer-ann"] != 2 || seen["peer-bob"] != 2 {
				t.Fatalf("six rounds asked %v, want each of the three other members twice", seen)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d sync requests in 10 s", n)
		}
		time.Sleep(time.Millisecond)
	}
}

// With nothing waiting, the retry loop does not poll: Retry runs once at
// start and then only when woken.
func TestRetryLoopSleepsWhileNothingWaits(t *testing.T) {
	calls := make(chan bool, 100)
	var waiting sync.Mutex // held: Retry reports something waiting
	r := replica.New(replica.Config{Log: newMemLog(), RetryMin: time.Millisecond, RetryMax: time.Millisecond,
		Retry: func() bool {
			busy := !waiting.TryLock()
			if !busy {
				waiting.Unlock()
			}
			calls <- busy
			return busy
		}})
	ctx, cancel := context.WithCancel(context.Background())
	r.Start(ctx, &countingTransport{self: "me"})
	defer func() { cancel(); r.Close() }()
	<-calls // the run at start
	time.Sleep(50 * time.Millisecond)
	if n := len(calls); n != 0 {
		t.Fatalf("Retry ran %d times with nothing waiting and nobody waking it", n)
	}
	// Woken with something waiting, it keeps retrying with backoff until
	// Retry reports nothing waits, then sleeps again.
	waiting.Lock()
	r.RetryNow()
	for range 3 {
		if !<-calls {
			t.Fatal("Retry did not see the waiting work")
		}
	}
	waiting.Unlock()
	for <-calls {
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(calls); n != 0 {
		t.Fatalf("Retry ran %d more times after nothing waited", n)
	}
}
