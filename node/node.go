package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/libp2p/go-libp2p/core/metrics"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/gofrs/flock"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/chatterbox/chatterbox/gateway"
	"github.com/chatterbox/chatterbox/gossip"
	"github.com/chatterbox/chatterbox/identity"
	"github.com/chatterbox/chatterbox/party"
	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/search"
)

// Config configures a Node. Its zero value runs a node with good defaults.
type Config struct {
	// DataDir holds the node key, the database and the lock file; empty
	// means DefaultDataDir().
	DataDir string
	// GatewayAddr is the gateway's host:port; empty means 127.0.0.1:7733
	// (gateway.DefaultAddr). Port 0 picks a free port.
	GatewayAddr string
	// ListenAddrs are libp2p multiaddrs; empty means TCP and QUIC on all
	// interfaces at port 7734 (gossip.DefaultListenAddrs).
	ListenAddrs []string
	// defaultListen records that ListenAddrs are the defaults: a second
	// node on the machine must then be told to use others.
	defaultListen bool
	// PublicURL is where browsers reach the gateway, used in mailed links
	// and OAuth redirects; empty means http://localhost:<gateway port>.
	PublicURL string
	// SMTPURL (smtp://user:pass@host:587 or smtps://…) sends mail; empty
	// means mails are written to <DataDir>/outbox and their links logged.
	SMTPURL string
	// MailFrom is the sender of mails; empty means identity.DefaultMailFrom.
	MailFrom string
	// SMTPTLS, when set, is the TLS configuration for SMTP (tests use it to
	// trust their server's certificate).
	SMTPTLS *tls.Config
	// DisableMDNS turns off local-network discovery (on by default).
	DisableMDNS bool
	// Network configures reachability: relays, relay service, NAT.
	Network NetworkConfig
	// Version is reported by /api/node; empty means "dev".
	Version string
	// Logger receives the node's logs; nil means slog.Default().
	Logger *slog.Logger
	// Identity overrides identity settings (token lifetimes, argon2 costs,
	// throttles); its DB and Logger are always set by the node.
	Identity identity.Config
	// Party overrides party settings (retry backoff, sync interval,
	// request timeout); its DB, Keys and Logger are always set by the node.
	Party party.Config
	// RedialInterval is how often unreachable party peers are re-dialled;
	// zero means 10 seconds.
	RedialInterval time.Duration
	// ShutdownTimeout bounds how long Close waits for in-flight HTTP
	// requests; zero means 5 seconds.
	ShutdownTimeout time.Duration
}

// NetworkConfig is how the node makes itself reachable to peers.
type NetworkConfig struct {
	// Relays are circuit relay v2 nodes (multiaddrs with /p2p/<id>) to
	// reserve a slot at while this node is not publicly reachable.
	Relays []string
	// Announce replaces the addresses told to peers (e.g. a forwarded
	// port on the router); empty means the listen addresses.
	Announce []string
	// RelayService makes this node a relay for others.
	RelayService bool
	// Reachability: "" or "auto" (AutoNAT decides), "public", "private".
	Reachability string
	// PortMap asks the router for a port mapping (UPnP / NAT-PMP).
	PortMap bool
}

// Node is one running ChatterBox node.
type Node struct {
	cfg Config
	log *slog.Logger

	// Set by Start, constant after it returns.
	lock *flock.Flock
	db   *badger.DB
	host host.Host
	disc *gossip.Discovery
	id   *identity.Service
	ps   *party.Service
	net  *gossip.Network
	gw   *gateway.Server
	// search is the local message index (search box); closed after ps.
	search *search.Index
	// gater bans peers cut off for their GossipSub score.
	gater *gossip.Gater
	// traffic counts libp2p stream bytes for GET /api/node.
	traffic *metrics.BandwidthCounter
	// ctx is the node's root context, passed down to the parts that run
	// background work; cancel ends it once they are all closed.
	ctx    context.Context
	cancel context.CancelFunc

	// metrics is the node's Prometheus registry (metrics.go).
	metrics *nodeMetrics
	// mail is the mailer of the identity service (doctor's test mail).
	mail identity.Mailer
	// admin answers the operator on the admin socket (backup.go).
	admin     *http.Server
	adminDone chan struct{}

	startMu   sync.Mutex
	started   bool // guarded by startMu
	closeOnce sync.Once
	closeErr  error
}

// New checks cfg and fills in defaults. It starts nothing.
func New(cfg Config) (*Node, error) {
	if cfg.DataDir == "" {
		d, err := DefaultDataDir()
		if err != nil {
			return nil, err
		}
		cfg.DataDir = d
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data directory %q: %w", cfg.DataDir, err)
	}
	cfg.DataDir = abs
	if cfg.GatewayAddr == "" {
		cfg.GatewayAddr = gateway.DefaultAddr
	}
	if len(cfg.ListenAddrs) == 0 {
		cfg.ListenAddrs = gossip.DefaultListenAddrs()
		cfg.defaultListen = true
	}
	if _, err := gossip.ParseListenAddrs(cfg.ListenAddrs); err != nil {
		return nil, err
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 5 * time.Second
	}
	return &Node{cfg: cfg, log: cfg.Logger}, nil
}

// Start brings the node up: lock the data dir → open Badger → node key →
// libp2p host → mDNS → identity → gateway. On error everything already
// started is stopped again. Start may be called once.
func (n *Node) Start(ctx context.Context) (err error) {
	n.startMu.Lock()
	defer n.startMu.Unlock()
	if n.started {
		return errors.New("node: already started")
	}
	n.started = true
	// The node's lifetime is its own: Start's ctx bounds starting only.
	n.ctx, n.cancel = context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		if err != nil {
			n.shutdown()
		}
	}()

	if n.lock, err = lockDataDir(n.cfg.DataDir); err != nil {
		return err
	}
	if n.db, err = badger.Open(dbOptions(n.cfg.DataDir, n.log)); err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	key, created, err := identity.LoadOrCreateNodeKey(filepath.Join(n.cfg.DataDir, "node.key"))
	if err != nil {
		return err
	}
	// Bind the gateway before libp2p starts: a busy port is the commonest
	// mistake with a second node, and with port 0 the public URL needs
	// the port.
	ln, err := net.Listen("tcp", n.cfg.GatewayAddr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("the gateway address %s is in use (is another node running?); give this node another with --gateway-addr, e.g. --gateway-addr 127.0.0.1:7743", n.cfg.GatewayAddr)
	}
	if err != nil {
		return fmt.Errorf("gateway: listen on %s: %w", n.cfg.GatewayAddr, err)
	}
	defer func() {
		if n.gw == nil {
			ln.Close()
		}
	}()
	if n.cfg.defaultListen {
		if err := defaultPortFree(); err != nil {
			return err
		}
	}
	n.gater = gossip.NewGater()
	n.traffic = metrics.NewBandwidthCounter()
	metrics := newMetrics()
	n.metrics = metrics
	if n.host, err = gossip.NewHost(gossip.HostConfig{Key: key, ListenAddrs: n.cfg.ListenAddrs, Gater: n.gater, Version: n.cfg.Version, Bandwidth: n.traffic, Metrics: metrics.reg,
		Relays: n.cfg.Network.Relays, Announce: n.cfg.Network.Announce, RelayService: n.cfg.Network.RelayService,
		Reachability: gossip.Reachability(n.cfg.Network.Reachability), PortMap: n.cfg.Network.PortMap}); err != nil {
		return err
	}
	n.log.Info("libp2p host started", "peer", n.host.ID().String(), "new_key", created, "addrs", n.Addrs())
	if !n.cfg.DisableMDNS {
		if n.disc, err = gossip.StartDiscovery(n.host, n.log.With("component", "mdns")); err != nil {
			// The node is fully usable without local discovery.
			n.log.Warn("mDNS discovery unavailable; peers on this network will not be found automatically", "err", err)
			n.disc = nil
		}
	}

	publicURL := n.cfg.PublicURL
	if publicURL == "" {
		publicURL = "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	}
	idCfg := n.cfg.Identity
	idCfg.DB = n.db
	idCfg.Logger = n.log.With("component", "identity")
	idCfg.PublicURL = publicURL
	if idCfg.Mailer, err = n.mailer(); err != nil {
		return err
	}
	n.mail = idCfg.Mailer
	// Ended sessions lose their WebSockets at once. Sessions end only in
	// gateway requests, which run after n.gw is set.
	idCfg.SessionsEnded = func(ids []string) {
		if gw := n.gw; gw != nil {
			gw.SessionsEnded(ids)
		}
	}
	if n.id, err = identity.NewService(idCfg); err != nil {
		return err
	}
	pCfg := n.cfg.Party
	pCfg.DB, pCfg.Keys, pCfg.Logger, pCfg.Observer = n.db, n.id, n.log.With("component", "party"), metrics
	if n.ps, err = party.New(pCfg); err != nil {
		return err
	}
	if n.net, err = gossip.NewNetwork(n.host, domain{n.ps}, gossip.NetworkConfig{
		RedialInterval: n.cfg.RedialInterval,
		Logger:         n.log.With("component", "gossip"),
		Gater:          n.gater,
		AddrBook:       addrBook{n.db},
		Relays:         n.cfg.Network.Relays,
	}); err != nil {
		return err
	}

	if n.search, err = search.Open(filepath.Join(n.cfg.DataDir, "search"), n.ps.Parties(), n.ps.Chat(), n.log.With("component", "search")); err != nil {
		return err
	}
	gw, err := gateway.New(gateway.Config{
		Search:    n.search,
		Addr:      n.cfg.GatewayAddr,
		Listener:  ln,
		PublicURL: publicURL,
		Identity:  n.id,
		Parties:   n.ps.Parties(),
		Chat:      n.ps.Chat(),
		Node:      n,
		Version:   n.cfg.Version,
		Logger:    n.log.With("component", "gateway"),
		Metrics:   metrics.handler(),
	})
	if err != nil {
		return err
	}
	n.ps.SetEventSink(func(ev party.Event) {
		gw.Publish(ev)
		n.search.Observe(ev)
	})
	metrics.watch(gw, n.host, n.db, n.ps)
	if err := n.ps.Start(n.ctx, n.net); err != nil {
		return err
	}
	if err := n.net.Start(); err != nil {
		return err
	}
	if err := gw.Start(); err != nil {
		return err
	}
	n.gw = gw
	n.gw.SetReady(true)
	n.serveAdmin()
	return nil
}

// dbOptions are the options of the node's Badger database in dataDir.
func dbOptions(dataDir string, log *slog.Logger) badger.Options {
	return badger.DefaultOptions(filepath.Join(dataDir, "db")).
		// Durability is chosen per write: kv.Update syncs before it
		// returns (accounts, own posts, sequenced ops: whatever is
		// acknowledged survives a crash); messages received from other
		// nodes are synced by the party service's flusher within a second,
		// and catch-up brings back any a crash loses. A sync per received
		// message cost one fsync per message per node (BENCHMARKS.md).
		WithSyncWrites(false).
		WithLogger(badgerLogger{log.With("component", "badger")}).
		// A personal node holds little data; Badger's server-sized
		// defaults (64 MiB memtables, 256 MiB block cache) would dominate
		// its memory (BENCHMARKS.md: 124 → 107 MB with 1,000 clients).
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithBlockCacheSize(8 << 20).
		WithValueLogFileSize(64 << 20).
		// Each compactor wakes every 50 ms to look for work; two (the
		// minimum, one for L0) are plenty for a personal node's writes
		// and halve that idle cost.
		WithNumCompactors(2)
}

// Close stops the node in the reverse order of Start and releases the data
// directory. It is safe to call more than once; later calls return the
// first call's result.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.startMu.Lock()
		defer n.startMu.Unlock()
		n.closeErr = n.shutdown()
	})
	return n.closeErr
}

// shutdown stops whatever has been started. Called with startMu held.
func (n *Node) shutdown() error {
	var errs []error
	if n.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ShutdownTimeout)
		n.stopAdmin(ctx)
		cancel()
	}
	if n.gw != nil {
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ShutdownTimeout)
		if err := n.gw.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop gateway: %w", err))
		}
		cancel()
		n.gw = nil
	}
	// The network before the parties: until it is closed it calls into
	// them (gossip, requests, connection events). Then parties, then the
	// identity service they were built on — the reverse of Start.
	if n.net != nil {
		n.net.Close()
		n.net = nil
	}
	if n.ps != nil {
		n.ps.Close()
		n.ps = nil
	}
	if n.search != nil {
		if err := n.search.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close search index: %w", err))
		}
		n.search = nil
	}
	if n.id != nil {
		n.id.Close()
		n.id = nil
	}
	if n.disc != nil {
		if err := n.disc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("stop mDNS: %w", err))
		}
		n.disc = nil
	}
	if n.host != nil {
		if err := n.host.Close(); err != nil {
			errs = append(errs, fmt.Errorf("stop libp2p host: %w", err))
		}
		n.host = nil
	}
	if n.db != nil {
		if err := n.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close database: %w", err))
		}
		n.db = nil
	}
	if n.lock != nil {
		if err := n.lock.Unlock(); err != nil {
			errs = append(errs, fmt.Errorf("unlock data directory: %w", err))
		}
		n.lock = nil
	}
	if n.cancel != nil {
		n.cancel()
	}
	return errors.Join(errs...)
}

// mailer is SMTP when configured, else the outbox folder.
func (n *Node) mailer() (identity.Mailer, error) {
	if n.cfg.SMTPURL == "" {
		return &identity.OutboxMailer{Dir: filepath.Join(n.cfg.DataDir, "outbox"), From: n.cfg.MailFrom,
			Log: n.log.With("component", "mail")}, nil
	}
	return identity.NewSMTPMailer(n.cfg.SMTPURL, n.cfg.MailFrom, n.cfg.SMTPTLS)
}

// PeerID is the node's libp2p peer ID.
func (n *Node) PeerID() string {
	if n.host == nil {
		return ""
	}
	return n.host.ID().String()
}

// Reachability is AutoNAT's view of this node: Public, Private or Unknown.
func (n *Node) Reachability() string {
	if n.net == nil {
		return "Unknown"
	}
	return n.net.Reachability()
}

// Relays are the peer IDs of the relays this node has a reservation at.
func (n *Node) Relays() []string {
	if n.net == nil {
		return nil
	}
	return n.net.Relays()
}

// Traffic is what the node has sent and received over libp2p streams since
// it started, and the current rates (bytes per second, smoothed over a
// few seconds).
func (n *Node) Traffic() gateway.Traffic {
	if n.traffic == nil {
		return gateway.Traffic{}
	}
	t := n.traffic.GetBandwidthTotals()
	return gateway.Traffic{BytesIn: t.TotalIn, BytesOut: t.TotalOut, RateIn: t.RateIn, RateOut: t.RateOut}
}

// StorageBytes is the size of the node's database on disk (its files now:
// Badger's own figures are refreshed only every minute).
func (n *Node) StorageBytes() int64 {
	var total int64
	filepath.WalkDir(filepath.Join(n.cfg.DataDir, "db"), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}

// Addrs are the node's dialable libp2p addresses, each ending in /p2p/<id>.
func (n *Node) Addrs() []string {
	if n.host == nil {
		return nil
	}
	ai := peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()}
	full, err := peer.AddrInfoToP2pAddrs(&ai)
	if err != nil {
		return nil
	}
	out := make([]string, len(full))
	for i, a := range full {
		out[i] = a.String()
	}
	return out
}

// GatewayURL is the base URL of the node's gateway, e.g.
// http://127.0.0.1:7733. Valid after Start.
func (n *Node) GatewayURL() string {
	if n.gw == nil {
		return ""
	}
	return n.gw.URL()
}

// OpenURL is where a browser should open the web app: the one origin
// links in mails and invites use (see gateway.Server.OpenURL).
func (n *Node) OpenURL() string {
	if n.gw == nil {
		return ""
	}
	return n.gw.OpenURL()
}

// Config is the node's configuration with defaults filled in.
func (n *Node) Config() Config { return n.cfg }

// DataDir is the node's absolute data directory.
func (n *Node) DataDir() string { return n.cfg.DataDir }

// Host is the node's libp2p host. Valid after Start.
func (n *Node) Host() host.Host { return n.host }

// Identity is the node's account service. Valid after Start.
func (n *Node) Identity() *identity.Service { return n.id }

// Gateway is the node's HTTP gateway. Valid after Start.
func (n *Node) Gateway() *gateway.Server { return n.gw }

// Parties is the node's party service. Valid after Start.
func (n *Node) Parties() *party.Service { return n.ps }

// Network is the node's libp2p side (nil before Start).
func (n *Node) Network() *gossip.Network { return n.net }

// domain adapts the party service to the network's Domain interface: the
// two packages do not import each other, and their verdicts map 1:1.
type domain struct{ *party.Service }

// The concrete types meet the interfaces their consumers declare.
var (
	_ gossip.Domain = domain{}
	_ party.Network = (*gossip.Network)(nil)
	_ party.Keys    = (*identity.Service)(nil)
)

func (d domain) ValidateGossip(p, from string, data []byte) gossip.Verdict {
	switch d.Service.ValidateGossip(p, from, data) {
	case rules.Accept:
		return gossip.Accept
	case rules.Reject:
		return gossip.Reject
	}
	return gossip.Ignore
}

// defaultPortFree refuses the default libp2p port when another program
// (another node) holds it: libp2p binds TCP with SO_REUSEPORT, so a second
// node would share the port without a word and lose QUIC.
func defaultPortFree() error {
	port := strconv.Itoa(gossip.DefaultPort)
	busy := func(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }
	tcp, err := net.Listen("tcp", ":"+port)
	if err == nil {
		tcp.Close()
	}
	udp, uerr := net.ListenPacket("udp", ":"+port)
	if uerr == nil {
		udp.Close()
	}
	if busy(err) || busy(uerr) {
		return fmt.Errorf("port %s is in use (is another node running on this machine?); give this node other addresses with --listen, e.g. --listen /ip4/0.0.0.0/tcp/7744 --listen /ip4/0.0.0.0/udp/7744/quic-v1", port)
	}
	return nil
}
