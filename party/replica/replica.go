// Package replica is the replication protocol of parties between nodes:
// join and leave requests to the owner's node, op sync and message sync
// with member nodes, the frames they exchange, the handlers that answer
// them, and the loops that sync and retry.
//
// It owns no storage and judges nothing itself: what it needs of a party's
// log it asks through Log (implemented by the party service, which applies
// the rules), and what it needs of the network through Transport
// (implemented by gossip.Network over libp2p, and by a pipe in tests).
package replica

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/chatterbox/chatterbox/party/rules"
)

// Transport carries request frames between nodes. Peers are node ids as
// strings; addresses are dialable addresses as strings.
type Transport interface {
	// SelfPeer is this node's id.
	SelfPeer() string
	// Request sends one request frame to peer (dialling addrs if needed)
	// and returns the response frame.
	Request(ctx context.Context, peer string, addrs []string, req []byte) ([]byte, error)
	// Connected reports whether there is a live connection to peer.
	Connected(peer string) bool
	// ObservedAddrs are the addresses peer is connected from (not the ones
	// it declares).
	ObservedAddrs(peer string) []string
}

// Log is what the protocol needs of the parties this node holds.
type Log interface {
	// State returns a party's state (rules.ErrNotFound if not held).
	State(party string) (*rules.State, error)
	// Ops returns up to limit ops of party from seq from.
	Ops(party string, from uint64, limit int) ([]rules.SignedOp, error)
	// SubOpsAfter returns up to limit ops of the admins' sub-logs of party
	// beyond heads (admin → seq).
	SubOpsAfter(party string, heads map[string]uint64, limit int) ([]rules.SignedOp, error)
	// Apply applies owner ops (in seq order) and sub-log ops received from
	// a peer, keeps what could be applied, and returns an error wrapping
	// ErrGap when some wait for ops not here. genesisFor, when set, allows
	// creating the party from its create op (a join).
	Apply(party string, ops, subs []rules.SignedOp, genesisFor string) (Applied, error)
	// Sequence appends one op built from the current state, on the
	// owner's node, one at a time per party; build may return ErrDone to
	// add nothing.
	Sequence(ctx context.Context, party, kind string, build func(*rules.State) (any, error)) (*rules.State, error)
	// SequenceAs appends one op to admin's sub-log on the admin's node
	// (the owner log for admin ""), as Sequence does.
	SequenceAs(ctx context.Context, party, admin, kind string, build func(*rules.State) (any, error)) (*rules.State, error)
	// FeedHeads is the party's version vector of messages.
	FeedHeads(party string) (map[string]uint64, error)
	// FeedHead is the contiguous head of one feed.
	FeedHead(party, author, node string) uint64
	// MessagesAfter returns up to limit messages beyond heads, and
	// whether more remain.
	MessagesAfter(party string, heads map[string]uint64, limit int) ([]rules.SignedMessage, bool, error)
	// AddMessages judges and stores messages received from a peer and
	// returns how many were new.
	AddMessages(party string, sms []rules.SignedMessage) (int, error)
	// Held lists the states of the parties a local account is in.
	Held() []*rules.State
	// AcceptDirect takes a direct conversation's create op, sent by peer
	// from, for the local member it names (rules.ErrDirectNotAllowed
	// unless the other member is homed at from and shares a party with
	// that member). Taking one held already is no error.
	AcceptDirect(from string, create rules.SignedOp) error
	// Chunk returns chunk i of a file a post of party attaches
	// (rules.ErrFileNotFound when the party attaches no such file or the
	// chunk is not here).
	Chunk(party, hash string, i int) ([]byte, error)
}

// Applied says what applying a batch of ops did.
type Applied struct {
	Count int  // ops applied
	Kept  bool // some local account is still a member
}

// ErrGap means ops arrived that build on ops this node lacks: a sync with
// their sender brings those.
var ErrGap = errors.New("replica: ops missing before some that came; sync needed")

// ErrDone, returned by a Sequence build function, means the request was
// answered already: nothing is added and the caller answers as if it had
// been (a retried join whose answer was lost, a leave of someone gone).
var ErrDone = errDone{}

type errDone struct{}

func (errDone) Error() string { return "replica: already done" }

// Config configures a Replica; Log is required.
type Config struct {
	Log Log
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SyncInterval is how often each party is synced with one of its
	// connected member nodes, each in turn (the periodic anti-entropy);
	// zero means 30 seconds.
	SyncInterval time.Duration
	// RequestTimeout bounds one request to another node; zero means 10 s.
	RequestTimeout time.Duration
	// SyncTimeout bounds one sync round trip; zero means 5 s (or
	// RequestTimeout if that is shorter).
	SyncTimeout time.Duration
	// RetryMin and RetryMax bound the backoff of pending joins and leaves;
	// zero means 1 second and 1 minute.
	RetryMin, RetryMax time.Duration
	// OnSync, when set, hears of every sync of a party with a peer: how
	// long it took and how it ended (for metrics and the Node page).
	OnSync func(party, peer string, d time.Duration, err error)
	// Retry tries every pending join and leave once and reports whether
	// any still waits for a node that cannot be reached. Nil: nothing to
	// retry.
	Retry func() bool
}

// Replica runs the protocol for one node. New builds it; Start starts its
// loops; Close stops them.
type Replica struct {
	cfg Config
	log Log
	net Transport // set by Start, constant after
	lg  *slog.Logger

	syncQ  chan syncTask
	gapQ   chan gapCheck
	chores chan func()
	retryQ chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	stop   func() bool // unhooks Start's context
	wg     sync.WaitGroup
	once   sync.Once
}

// New returns a Replica; it starts nothing.
func New(cfg Config) *Replica {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = 30 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.SyncTimeout <= 0 {
		cfg.SyncTimeout = min(5*time.Second, cfg.RequestTimeout)
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = time.Minute
	}
	if cfg.Retry == nil {
		cfg.Retry = func() bool { return false }
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Replica{cfg: cfg, log: cfg.Log, lg: cfg.Logger,
		syncQ: make(chan syncTask, 256), gapQ: make(chan gapCheck, 256), chores: make(chan func(), 64), retryQ: make(chan struct{}, 1),
		ctx: ctx, cancel: cancel}
}

// Start starts the sync and retry loops over net; they stop when ctx ends
// or Close is called. Before Start, requests fail as unreachable and syncs
// are not scheduled.
func (r *Replica) Start(ctx context.Context, net Transport) {
	r.net = net
	r.stop = context.AfterFunc(ctx, r.cancel)
	r.wg.Add(2)
	go r.syncLoop()
	go r.retryLoop()
}

// Close stops the loops and waits for them. Safe to call twice.
func (r *Replica) Close() {
	r.once.Do(func() {
		r.cancel()
		if r.stop != nil {
			r.stop()
		}
		r.wg.Wait()
	})
}

// HandOff queues work for the sync loop, which runs it: topic validators
// only judge, and hand the writes their judgement calls for (evidence of
// forks and equivocations) to this loop.
func (r *Replica) HandOff(f func()) {
	select {
	case r.chores <- f:
	default:
		r.lg.Warn("evidence queue full; a fork or equivocation record was dropped (it is seen again on the next copy)")
	}
}

// RetryNow wakes the retry loop: a node a join or leave waits for may be
// reachable now.
func (r *Replica) RetryNow() {
	select {
	case r.retryQ <- struct{}{}:
	default:
	}
}

// retryLoop resends pending joins and leaves with exponential backoff, and
// at once when RetryNow is called. It runs Retry once at start (joins and
// leaves left pending by an earlier run) and then only while something
// waits or when woken.
func (r *Replica) retryLoop() {
	defer r.wg.Done()
	backoff := r.cfg.RetryMin
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.retryQ:
		case <-timer.C:
		}
		if !r.cfg.Retry() {
			// Nothing waits: sleep until RetryNow (a new pending join or
			// leave, a peer connecting) instead of polling the store.
			backoff = r.cfg.RetryMin
			continue
		}
		timer.Reset(backoff)
		backoff = min(backoff*2, r.cfg.RetryMax)
	}
}
