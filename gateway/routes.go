package gateway

import (
	_ "embed"
	"net"
	"net/http"
)

//go:embed openapi.yaml
var openAPIDoc []byte

// routes registers every endpoint in one place. The API contract is
// openapi.yaml, served at /api/openapi.yaml.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET /api/node", s.handleNode)
	if s.cfg.Metrics != nil {
		mux.HandleFunc("GET /metrics", s.handleMetrics)
	}
	mux.HandleFunc("GET /api/openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(openAPIDoc)
	})

	mux.HandleFunc("POST /api/auth/register", s.handleRegister)
	mux.HandleFunc("POST /api/auth/login", s.handleLogin)
	mux.HandleFunc("POST /api/auth/refresh", s.handleRefresh)
	mux.Handle("POST /api/auth/logout", s.requireAuth(s.handleLogout))
	mux.Handle("GET /api/me", s.requireAuth(s.handleMe))
	s.accountRoutes(mux)
	s.webRoutes(mux)
	mux.HandleFunc("POST /api/invites/preview", s.handleInvitePreview)
	if s.parties != nil && s.chat != nil {
		s.partyRoutes(mux)
	}

	return s.recoverer(securityHeaders(s.guard(s.canonical(jsonFallbacks(mux)))))
}

// jsonFallbacks answers requests no route matches (404, or 405 for a known
// path) with a JSON error instead of ServeMux's plain text.
func jsonFallbacks(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		probe := &statusProbe{header: http.Header{}}
		mux.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			writeAPIError(w, errMethod)
			return
		}
		writeAPIError(w, errNotFound)
	})
}

// statusProbe records the status ServeMux would send and discards the body.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(status int)      { p.status = status }

// handleMetrics serves the node's metrics to clients on this machine only:
// they name the parties it holds and how many peers it has in each, which
// is nobody else's business even when the gateway listens more widely.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		writeAPIError(w, errNotFound)
		return
	}
	s.cfg.Metrics.ServeHTTP(w, r)
}
