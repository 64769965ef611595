package gateway

import (
	"embed"
	"net/http"
)

// landingFS holds the small pages that links from mails and OAuth providers
// land on. They post the token from the URL fragment to the API.
//
//go:embed landing
var landingFS embed.FS

func (s *Server) landingRoutes(mux *http.ServeMux) {
	page, _ := landingFS.ReadFile("landing/page.html")
	servePage := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(page)
	}
	for _, p := range []string{"GET /verify-email", "GET /reset-password", "GET /oauth/done"} {
		mux.HandleFunc(p, servePage)
	}
	asset := func(name, ctype string) http.HandlerFunc {
		body, _ := landingFS.ReadFile("landing/" + name)
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.Write(body)
		}
	}
	mux.HandleFunc("GET /assets/landing.js", asset("landing.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /assets/landing.css", asset("landing.css", "text/css; charset=utf-8"))
}
