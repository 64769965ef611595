package party

import (
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/chatterbox/chatterbox/identity/member"
	"github.com/chatterbox/chatterbox/party/replica"
	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/store"
)

// Network is what the party service needs from the network layer. Peers
// are libp2p peer IDs and addresses multiaddrs, both as strings.
type Network interface {
	replica.Transport
	// SelfAddrs are this node's dialable addresses.
	SelfAddrs() []string
	// Publish sends data on the party's pubsub topic.
	Publish(ctx context.Context, party string, data []byte) error
	// JoinTopic and LeaveTopic subscribe to / leave the party's topic.
	JoinTopic(party string) error
	LeaveTopic(party string) error
	// PeersChanged tells the network that WantedPeers changed.
	PeersChanged()
	// MembersChanged tells the network at once that party's members may
	// have changed: it stops sending the party's traffic to nodes that are
	// no longer members' home nodes and lets new ones in.
	MembersChanged(party string)
	// Relayed reports whether every connection to peer goes through a
	// relay (none direct).
	Relayed(peer string) bool
}

// Keys finds the private member key of a local account by its MemberID.
// The owner's node uses it to sign ops no user is present for (admitting a
// joiner, recording a leave).
type Keys interface {
	MemberKey(memberID string) (ed25519.PrivateKey, bool)
	// EncKey returns a local account's current encryption key, which the
	// epoch secrets of its encrypted parties are sealed to; EncKeys every
	// generation of it, the current first (seals made before a rotation
	// open with an earlier one).
	EncKey(memberID string) (hpke.PrivateKey, bool)
	EncKeys(memberID string) []hpke.PrivateKey
}

// Actor is the local account on whose behalf an action runs.
type Actor struct {
	AccountID string
	Name      string
	Key       ed25519.PrivateKey
}

// MemberID is the actor's global identity.
func (a Actor) MemberID() string { return member.ID(a.Key.Public().(ed25519.PublicKey)) }

// Config configures a Service; DB and Keys are required.
type Config struct {
	DB   *badger.DB
	Keys Keys
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// RetryMin and RetryMax bound the backoff of pending joins and leaves;
	// zero means 1 second and 1 minute.
	RetryMin, RetryMax time.Duration
	// SyncInterval is how often each party is synced with one of its
	// connected member nodes, each in turn (the periodic anti-entropy);
	// zero means 30 seconds.
	SyncInterval time.Duration
	// RequestTimeout bounds one request to another node; zero means 10 s.
	RequestTimeout time.Duration
	// SyncTimeout bounds one sync round trip; zero means 5 s (or
	// RequestTimeout if that is shorter).
	SyncTimeout time.Duration
	// FlushInterval bounds how long a message received from another node
	// may stay committed but not synced to disk; zero means 1 second.
	// What this node acknowledges (its own posts, ops it sequences) is
	// synced before the answer.
	FlushInterval time.Duration
	// Observer, when set, hears what the service does (for metrics).
	Observer Observer
	// FileCacheBytes bounds the bytes of files this node fetched from
	// others (its own accounts' uploads are kept apart from it); past it
	// the least recently read are dropped, to be fetched again if read.
	// Zero means DefaultFileCache.
	FileCacheBytes int64
}

// DefaultFileCache is the default FileCacheBytes: 2 GiB.
const DefaultFileCache = 2 << 30

// Observer hears what a Service does, for metrics. Its methods must be
// cheap and must not block: they run on the hot paths.
type Observer interface {
	// Posted: a local author's message was stored durably.
	Posted()
	// Received: n messages from other nodes were judged and stored.
	Received(n int)
	// Rejected: a message was refused by the judge, for reason
	// (rules.Judgement.Reason).
	Rejected(reason string)
	// Synced: a sync with a peer ended after d, with err (nil: whole).
	Synced(d time.Duration, err error)
}

// noObserver hears nothing.
type noObserver struct{}

func (noObserver) Posted()                     {}
func (noObserver) Received(int)                {}
func (noObserver) Rejected(string)             {}
func (noObserver) Synced(time.Duration, error) {}

// Service runs the parties of one node. New builds it; Start starts its
// background work with a network; Close stops it. Its use cases are in
// Parties (parties, topics, invites, members) and Chat (messages); the
// network calls the rest (gossip, requests, connections).
type Service struct {
	c       *core
	parties *Parties
	chat    *Chat
	ledger  *ledger
	once    sync.Once
	// The rekey loop (epochs.go).
	stopRekey context.CancelFunc
	rekeyDone chan struct{}
	// The flusher: syncs lazy writes every FlushInterval.
	stopFlush context.CancelFunc
	flushed   chan struct{}
}

// core is what the parts of the service share: storage, keys, clocks, the
// network, the event sink and the replication protocol. Each party's
// mutable state has one writer at a time: the party's lock (see lock),
// held while an op is sequenced or applied; messages are written by the
// committer (Chat) and by ledger.AddMessages in Badger transactions,
// which Badger serialises.
type core struct {
	cfg    Config
	store  *store.Store
	keys   Keys
	lg     *slog.Logger
	now    func() time.Time
	hlc    *rules.HLC
	sigs   *rules.SigCache // message signatures verified recently
	locks  sync.Map        // party or "acct:"+id or "feed:"+party/member → *sync.Mutex
	net    Network         // set by Start, constant after
	sink   EventSink       // set before Start, constant after
	rekeyQ chan struct{}   // wakes the rekey loop
	// refusals: when an encryption refusal was last logged, by party,
	// author and reason (refused).
	refusals     sync.Map
	refusalCount atomic.Int64
	rep          *replica.Replica
	ctx          context.Context // ends when the service closes
	names        nameBook        // members' names, for direct conversations
	// For the Node page (health.go): when each peer was last connected,
	// and how the last sync of each party with each peer went.
	seen  sync.Map // peer → time.Time
	syncs sync.Map // party+"/"+peer → syncNote
}

// New returns a Service; it starts nothing (Start does).
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Keys == nil {
		return nil, errors.New("party: Config.DB and Config.Keys are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = time.Second
	}
	if cfg.Observer == nil {
		cfg.Observer = noObserver{}
	}
	c := &core{cfg: cfg, store: store.New(cfg.DB), keys: cfg.Keys, lg: cfg.Logger, now: cfg.Now,
		hlc: rules.NewHLC(cfg.Now), sigs: rules.NewSigCache(8192), ctx: context.Background(), rekeyQ: make(chan struct{}, 1)}
	s := &Service{c: c, ledger: &ledger{c}}
	s.parties = &Parties{c: c, ledger: s.ledger}
	s.chat = newChat(c, s.ledger)
	c.rep = replica.New(replica.Config{Log: s.ledger, Logger: cfg.Logger, Now: cfg.Now,
		SyncInterval: cfg.SyncInterval, RequestTimeout: cfg.RequestTimeout, SyncTimeout: cfg.SyncTimeout,
		RetryMin: cfg.RetryMin, RetryMax: cfg.RetryMax, Retry: s.parties.retryPending, OnSync: c.noteSync})
	return s, nil
}

// Parties are the use cases of parties, topics, invites and members.
func (s *Service) Parties() *Parties { return s.parties }

// Chat are the use cases of messages.
func (s *Service) Chat() *Chat { return s.chat }

// SetEventSink sets where events go. Call it before Start.
func (s *Service) SetEventSink(sink EventSink) { s.c.sink = sink }

// Start joins the topics of every local party and starts the flusher, the
// committer and the replication loops, until ctx ends or Close is called.
func (s *Service) Start(ctx context.Context, net Network) error {
	s.c.net = net
	s.c.ctx = ctx
	for _, st := range s.ledger.Held() {
		if err := net.JoinTopic(st.ID); err != nil {
			return fmt.Errorf("party %s: join topic: %w", st.ID, err)
		}
	}
	s.chat.start(ctx)
	s.c.rep.Start(ctx, net)
	rctx, stop := context.WithCancel(ctx)
	s.stopRekey, s.rekeyDone = stop, make(chan struct{})
	go func() {
		defer close(s.rekeyDone)
		s.rekeyLoop(rctx)
	}()
	net.PeersChanged()
	return nil
}

// Close stops the replication loops, the committer and the flusher (which
// syncs what is left), the reverse of Start, and waits for them. Safe to
// call twice.
func (s *Service) Close() error {
	s.once.Do(func() {
		if s.stopRekey != nil {
			s.stopRekey()
			<-s.rekeyDone
		}
		s.c.rep.Close()
		s.chat.stop()
		if s.stopFlush != nil {
			s.stopFlush()
			<-s.flushed
		}
	})
	return nil
}

// startFlusher syncs lazy writes (received messages) every FlushInterval
// and once more when it stops.
func (s *Service) startFlusher(ctx context.Context) {
	ctx, s.stopFlush = context.WithCancel(ctx)
	s.flushed = make(chan struct{})
	go func() {
		defer close(s.flushed)
		tick := time.NewTicker(s.c.cfg.FlushInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				if err := s.c.store.Flush(); err != nil {
					s.c.lg.Error("sync received messages to disk", "err", err)
				}
				return
			case <-tick.C:
				if err := s.c.store.Flush(); err != nil {
					s.c.lg.Error("sync received messages to disk", "err", err)
				}
			}
		}
	}()
}

// State returns the replicated state of a party this node holds.
func (s *Service) State(party string) (*rules.State, error) { return s.c.store.State(party) }

// EpochKey returns the secret of an epoch of an encrypted party, if this
// node holds it (for tools and tests that act as a member's node would).
func (s *Service) EpochKey(party string, epoch uint64) ([]byte, bool) {
	return s.c.epochKey(party)(epoch)
}

// Ops returns up to limit ops of party from seq from.
func (s *Service) Ops(party string, from uint64, limit int) ([]rules.SignedOp, error) {
	return s.ledger.Ops(party, from, limit)
}

// Forks returns the fork evidence recorded for party.
func (s *Service) Forks(party string) ([]store.ForkEvidence, error) {
	return store.Read(s.c.store, func(t *store.Txn) ([]store.ForkEvidence, error) { return t.Forks(party) })
}

// HandleRequest answers one request frame of the replication protocol
// from peer `from`.
func (s *Service) HandleRequest(ctx context.Context, from string, raw []byte) []byte {
	return s.c.rep.HandleRequest(ctx, from, raw)
}
