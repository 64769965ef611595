package gateway

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"

	"github.com/chatterbox/chatterbox/party/rules"
)

// webDist is the built web app (gateway/web, built with `npm run build`).
// It is committed so that running a node needs no Node.js; CI rebuilds it
// and fails if the committed files differ from the sources.
//
//go:embed all:web/dist
var webDist embed.FS

// appRoutes are the paths the single-page app answers. Each serves
// index.html; the app's router picks the screen. Links in mails
// (/verify-email, /reset-password), from OAuth (/oauth/done) and invite
// links (/join) land here.
var appRoutes = []string{
	"/{$}", "/signin", "/signup", "/forgot-password", "/verify-email",
	"/reset-password", "/oauth/done", "/join", "/node", "/p/{party}", "/p/{party}/{topic}",
}

// rootFiles are the web app's files served at the root, with their types.
var rootFiles = map[string]string{
	"favicon.svg":          "image/svg+xml",
	"manifest.webmanifest": "application/manifest+json",
	"icon-192.png":         "image/png",
	"icon-512.png":         "image/png",
}

// noncePlaceholder in index.html is replaced per response by a fresh
// nonce that the CSP allows for <style> elements; the component library
// reads it from <meta name="csp-nonce"> for the styles it injects.
const noncePlaceholder = "__CSP_NONCE__"

func (s *Server) webRoutes(mux *http.ServeMux) {
	dist, err := fs.Sub(webDist, "web/dist")
	if err != nil {
		panic("gateway: embedded web app: " + err.Error())
	}
	index, err := fs.ReadFile(dist, "index.html")
	if err != nil {
		panic("gateway: embedded web app has no index.html: " + err.Error())
	}
	serveIndex := func(w http.ResponseWriter, r *http.Request) {
		nonce := newNonce()
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'nonce-"+nonce+"'; connect-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; font-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		w.Write(bytes.ReplaceAll(index, []byte(noncePlaceholder), []byte(nonce)))
	}
	for _, p := range appRoutes {
		mux.HandleFunc("GET "+p, serveIndex)
	}
	// Asset names carry a content hash, so they may be cached for good.
	mux.HandleFunc("GET /assets/{file}", func(w http.ResponseWriter, r *http.Request) {
		name := path.Join("assets", r.PathValue("file"))
		body, err := fs.ReadFile(dist, name)
		if err != nil {
			writeAPIError(w, errNotFound)
			return
		}
		if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
	// The few files at the root: the icon, the web app manifest (so the
	// app installs like an app) and its icons.
	for name, ctype := range rootFiles {
		body, err := fs.ReadFile(dist, name)
		if err != nil {
			panic("gateway: embedded web app has no " + name)
		}
		mux.HandleFunc("GET /"+name, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("Cache-Control", "public, max-age=3600")
			w.Write(body)
		})
	}
}

func newNonce() string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		panic("gateway: crypto/rand: " + err.Error())
	}
	return base64.StdEncoding.EncodeToString(b)
}

// invitePreview is what an invite says about itself, checked against the
// owner's signature, so the join page can name the party before joining.
type invitePreview struct {
	PartyID   string    `json:"partyId"`
	PartyName string    `json:"partyName"`
	ExpiresAt time.Time `json:"expiresAt"`
	MaxUses   int       `json:"maxUses,omitempty"`
}

// handleInvitePreview reads an invite without accepting it. It needs no
// sign-in: it reveals only what the token itself carries.
func (s *Server) handleInvitePreview(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token string `json:"token"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	inv, _, err := rules.ParseInvite(req.Token)
	if err == nil && inv.Expired(time.Now()) {
		err = rules.ErrInviteExpired
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, invitePreview{PartyID: inv.Party, PartyName: inv.PartyName, ExpiresAt: time.Unix(inv.Expires, 0).UTC(), MaxUses: inv.MaxUses})
}
