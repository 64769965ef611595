package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatterbox/chatterbox/identity"
)

// DefaultPort is the gateway's fixed default port on 127.0.0.1. Invite
// links are written against it, so that a link opened by someone whose own
// node runs on the default port lands in their node's UI.
const DefaultPort = 7733

// DefaultAddr is where the gateway listens when Config.Addr is empty.
var DefaultAddr = "127.0.0.1:" + strconv.Itoa(DefaultPort)

// NodeInfo is what the gateway needs to know about its node.
type NodeInfo interface {
	PeerID() string
	Addrs() []string
	// Reachability is "Public", "Private" or "Unknown" (AutoNAT's view).
	Reachability() string
	// Relays are the peer IDs of relays holding a reservation for us.
	Relays() []string
	// Traffic is what the node sent and received over libp2p.
	Traffic() Traffic
	// StorageBytes is the size of the node's database on disk.
	StorageBytes() int64
}

// Traffic is a node's libp2p stream bytes since start and current rates.
type Traffic struct {
	BytesIn  int64   `json:"bytesIn"`
	BytesOut int64   `json:"bytesOut"`
	RateIn   float64 `json:"rateIn"`
	RateOut  float64 `json:"rateOut"`
}

// Config configures a Server.
type Config struct {
	// Addr is the host:port to listen on; empty means DefaultAddr. Port 0
	// picks a free port (see Server.URL).
	Addr string
	// Listener, when set, is used instead of listening on Addr (the node
	// binds early to learn a port-0 address).
	Listener net.Listener
	// AllowedHosts are extra Host header names accepted besides localhost
	// and IP literals (for a node behind a reverse proxy). Empty: none.
	AllowedHosts []string
	// Identity manages accounts and sessions. Required.
	Identity *identity.Service
	// PublicURL is where browsers reach this gateway (links, OAuth
	// redirects); empty means http://localhost:<port of Addr>.
	PublicURL string
	// Parties runs parties, topics and invites; Chat runs messages. Both
	// are required for /api/parties.
	Parties Parties
	Chat    Chat
	// Search answers GET /api/search; nil: that route answers 404.
	Search Searcher
	// Node describes the node; nil answers /api/node with an empty peer id.
	Node NodeInfo
	// Version is reported by /api/node.
	Version string
	// Metrics, when set, answers GET /metrics (Prometheus text format) to
	// clients on this machine only.
	Metrics http.Handler
	// Logger receives request errors; nil means slog.Default().
	Logger *slog.Logger
}

// Server is the HTTP gateway. New builds it; Start listens; Close stops it.
type Server struct {
	cfg     Config
	log     *slog.Logger
	id      *identity.Service
	parties Parties
	chat    Chat
	handler http.Handler
	hub     *hub
	ready   atomic.Bool

	mu  sync.Mutex
	srv *http.Server // guarded by mu
	// fresh holds connections that have not sent a request yet (browsers
	// open them ahead of need). Shutdown would wait 5 s for each before
	// treating it as idle; Close closes them at once.
	fresh map[net.Conn]struct{} // guarded by mu
	ln    net.Listener          // guarded by mu
	done  chan struct{}
}

// New builds the gateway's routes. It does not listen.
func New(cfg Config) (*Server, error) {
	if cfg.Identity == nil {
		return nil, errors.New("gateway: Config.Identity is required")
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PublicURL == "" {
		addr := cfg.Addr
		if cfg.Listener != nil {
			addr = cfg.Listener.Addr().String()
		}
		_, port, _ := net.SplitHostPort(addr)
		cfg.PublicURL = "http://localhost:" + port
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	s := &Server{cfg: cfg, log: cfg.Logger, id: cfg.Identity, parties: cfg.Parties, chat: cfg.Chat}
	s.hub = newHub(s)
	s.handler = s.routes()
	return s, nil
}

// Handler is the gateway's complete HTTP handler, middleware included.
func (s *Server) Handler() http.Handler { return s.handler }

// SetReady flips /healthz between 503 and 200.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Start binds the listen address and serves in the background.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("gateway: already started")
	}
	ln := s.cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.cfg.Addr); err != nil {
			return fmt.Errorf("gateway: listen on %s: %w", s.cfg.Addr, err)
		}
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ConnState:         s.trackConn,
	}
	s.done = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("gateway stopped serving", "err", err)
		}
	}(s.srv, s.done)
	return nil
}

// URL is the gateway's base URL, e.g. http://127.0.0.1:7733. Valid after
// Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return "http://" + openableAddr(s.ln.Addr().(*net.TCPAddr))
}

// openableAddr is a listener's address as a browser can open it: an
// unspecified IP (0.0.0.0, ::) is served on loopback too, so it names
// 127.0.0.1.
func openableAddr(a *net.TCPAddr) string {
	if a.IP == nil || a.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(a.Port))
	}
	return a.String()
}

// Close stops accepting requests and waits (until ctx ends) for those in
// flight. It is safe to call more than once.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	s.SetReady(false)
	s.hub.Close() // Shutdown does not close hijacked (WebSocket) connections
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()
	s.mu.Lock()
	for c := range s.fresh {
		c.Close()
	}
	s.mu.Unlock()
	err := <-shut
	if err != nil {
		srv.Close()
	}
	<-done
	return err
}

func (s *Server) trackConn(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st == http.StateNew {
		if s.fresh == nil {
			s.fresh = map[net.Conn]struct{}{}
		}
		s.fresh[c] = struct{}{}
	} else {
		delete(s.fresh, c)
	}
}
