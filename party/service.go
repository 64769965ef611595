package party

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/chatterbox/chatterbox/identity/member"
)

// Network is what the party service needs from the network layer. Peers
// are libp2p peer IDs and addresses multiaddrs, both as strings.
type Network interface {
	// SelfPeer is this node's peer ID; SelfAddrs its dialable addresses.
	SelfPeer() string
	SelfAddrs() []string
	// Request sends one request frame to peer (dialling addrs if needed)
	// and returns the response frame.
	Request(ctx context.Context, peer string, addrs []string, req []byte) ([]byte, error)
	// Publish sends data on the party's pubsub topic.
	Publish(ctx context.Context, party string, data []byte) error
	// JoinTopic and LeaveTopic subscribe to / leave the party's topic.
	JoinTopic(party string) error
	LeaveTopic(party string) error
	// Connected reports whether there is a live connection to peer.
	Connected(peer string) bool
	// ObservedAddrs are the addresses peer is connected from (not the ones
	// it declares).
	ObservedAddrs(peer string) []string
	// PeersChanged tells the network that WantedPeers changed.
	PeersChanged()
	// MembersChanged tells the network at once that party's members may
	// have changed: it stops sending the party's traffic to nodes that are
	// no longer members' home nodes and lets new ones in.
	MembersChanged(party string)
}

// Keys finds the private member key of a local account by its MemberID.
// The owner's node uses it to sign ops no user is present for (admitting a
// joiner, recording a leave).
type Keys interface {
	MemberKey(memberID string) (ed25519.PrivateKey, bool)
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
	// SyncInterval is how often parties are synced with connected member
	// nodes; zero means 30 seconds.
	SyncInterval time.Duration
	// RequestTimeout bounds one request to another node; zero means 10 s.
	RequestTimeout time.Duration
	// SyncTimeout bounds one sync round trip; zero means 5 s (or
	// RequestTimeout if that is shorter).
	SyncTimeout time.Duration
}

// Service runs the parties of one node. New builds it; Start starts its
// background work with a network; Close stops it.
type Service struct {
	cfg  Config
	db   *badger.DB
	keys Keys
	log  *slog.Logger
	now  func() time.Time

	net  Network   // set by Start, constant after
	sink EventSink // set before Start, constant after
	hlc  *hlcClock
	sigs *sigCache // message signatures verified recently
	// states caches decoded party states of this node's database by
	// Badger version (party id → cachedState); see loadState.
	states sync.Map

	locks sync.Map // party or "acct:"+id → *sync.Mutex

	commitQ chan *postReq // own posts waiting for the group commit
	syncQ   chan syncTask
	gapQ    chan gapCheck
	// chores are writes a topic validator hands off (validators only
	// judge): fork and equivocation evidence. The sync loop runs them.
	chores chan func()
	retryQ chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

type syncTask struct{ party, peer string }

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
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = time.Minute
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
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{
		cfg: cfg, db: cfg.DB, keys: cfg.Keys, log: cfg.Logger, now: cfg.Now,
		syncQ: make(chan syncTask, 256), gapQ: make(chan gapCheck, 256), chores: make(chan func(), 64), retryQ: make(chan struct{}, 1), hlc: &hlcClock{now: cfg.Now}, sigs: newSigCache(8192),
		commitQ: make(chan *postReq, commitBatch),
		ctx:     ctx, cancel: cancel,
	}
	return s, nil
}

// Start joins the topics of every local party and starts the sync and
// retry loops.
func (s *Service) Start(net Network) error {
	s.net = net
	parties, err := s.localParties()
	if err != nil {
		return err
	}
	for _, p := range parties {
		if err := net.JoinTopic(p); err != nil {
			return fmt.Errorf("party %s: join topic: %w", p, err)
		}
	}
	s.wg.Add(3)
	go s.commitLoop()
	go s.syncLoop()
	go s.retryLoop()
	net.PeersChanged()
	return nil
}

// Close stops the background loops and waits for them. Safe to call twice.
func (s *Service) Close() error {
	s.once.Do(func() {
		s.cancel()
		s.wg.Wait()
	})
	return nil
}

func (s *Service) lock(key string) func() {
	v, _ := s.locks.LoadOrStore(key, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

var idEnc = base32.StdEncoding.WithPadding(base32.NoPadding)

func randomID() string {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic("party: crypto/rand: " + err.Error())
	}
	return strings.ToLower(idEnc.EncodeToString(b))
}

// localParties lists parties some local account is a member of.
func (s *Service) localParties() ([]string, error) {
	seen := map[string]bool{}
	var out []string
	err := s.db.View(func(txn *badger.Txn) error {
		return listJSON(txn, pMine, func(_ []byte, raw []byte) error {
			var m Membership
			if err := json.Unmarshal(raw, &m); err != nil {
				return err
			}
			if m.Status == StatusMember && !seen[m.Party] {
				seen[m.Party] = true
				out = append(out, m.Party)
			}
			return nil
		})
	})
	return out, err
}

// handOff queues a write for the sync loop: validators only judge.
func (s *Service) handOff(f func()) {
	select {
	case s.chores <- f:
	default:
		s.log.Warn("evidence queue full; a fork or equivocation record was dropped (it is seen again on the next copy)")
	}
}

// eachLocalMember calls fn for every member of every party a local account
// is in.
func (s *Service) eachLocalMember(fn func(st *State, m *Member)) {
	parties, _ := s.localParties()
	for _, p := range parties {
		st, err := s.State(p)
		if err != nil {
			continue
		}
		for _, m := range st.Members {
			fn(st, m)
		}
	}
}

// State returns the replicated state of a party this node holds.
func (s *Service) State(party string) (*State, error) {
	var st *State
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		st, err = s.loadState(txn, party)
		return err
	})
	return st, err
}

// Ops returns up to limit ops of party from seq from.
func (s *Service) Ops(party string, from uint64, limit int) ([]SignedOp, error) {
	var ops []SignedOp
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		ops, err = opsFrom(txn, party, from, limit)
		return err
	})
	return ops, err
}

// Forks returns the fork evidence recorded for party.
func (s *Service) Forks(party string) ([]ForkEvidence, error) {
	var out []ForkEvidence
	err := s.db.View(func(txn *badger.Txn) error {
		return listJSON(txn, pFork+party+"/", func(_ []byte, raw []byte) error {
			var f ForkEvidence
			if err := json.Unmarshal(raw, &f); err != nil {
				return err
			}
			out = append(out, f)
			return nil
		})
	})
	return out, err
}
