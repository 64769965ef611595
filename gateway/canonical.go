package gateway

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// One origin for the web app. Browsers treat http://localhost:7733 and
// http://127.0.0.1:7733 as two sites with their own storage, so a link
// mailed for one opened signed out in the other. The public URL's origin
// is the canonical one when it is a loopback name: a page opened under
// another loopback name of the same port is redirected there (the
// fragment of an invite link survives a redirect). The API is answered
// under any allowed name, so scripts and tests that dial 127.0.0.1 are
// not bounced.

// canonicalHost is the host:port pages are served under, or "" when the
// public URL is not on loopback (a proxy's name: nothing to unify).
func canonicalHost(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil || u.Scheme != "http" || u.Port() == "" || !loopbackName(u.Hostname()) {
		return ""
	}
	return u.Host
}

// loopbackName reports whether host is "localhost" or a loopback IP.
func loopbackName(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// canonical redirects page requests that name this gateway by another
// loopback name, on the canonical port, to the canonical origin.
func (s *Server) canonical(next http.Handler) http.Handler {
	want := canonicalHost(s.cfg.PublicURL)
	if want == "" {
		return next
	}
	_, wantPort, _ := net.SplitHostPort(want)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, port, err := net.SplitHostPort(r.Host)
		page := (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
			!strings.HasPrefix(r.URL.Path, "/api/") && r.URL.Path != "/healthz" && r.URL.Path != "/metrics"
		if page && err == nil && port == wantPort && loopbackName(host) && !strings.EqualFold(r.Host, want) {
			http.Redirect(w, r, "http://"+want+r.URL.RequestURI(), http.StatusFound)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// OpenURL is the URL to open the web app at: the canonical origin when
// this gateway serves it (it listens on loopback or every interface, on
// the canonical port), else the address it listens on.
func (s *Server) OpenURL() string {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	want := canonicalHost(s.cfg.PublicURL)
	if ln == nil || want == "" {
		return s.URL()
	}
	a := ln.Addr().(*net.TCPAddr)
	_, wantPort, _ := net.SplitHostPort(want)
	if (a.IP != nil && !a.IP.IsLoopback() && !a.IP.IsUnspecified()) || strconv.Itoa(a.Port) != wantPort {
		return s.URL()
	}
	return "http://" + want
}
