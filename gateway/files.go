package gateway

import (
	"errors"
	"mime"
	"net/http"
	"strconv"

	"github.com/chatterbox/chatterbox/identity"
	"github.com/chatterbox/chatterbox/party/rules"
)

// Attached files: POST /api/files takes a file's bytes and answers its
// reference, which a new message then names (files: [{hash, name}]);
// GET /api/parties/{id}/files/{hash} reads a file a post of the party
// attaches, from this node or fetched from the party's other nodes.

// inlineTypes are the file types a browser may show in the page (images
// and videos it decodes itself). Everything else — SVG and HTML above
// all, which could run script — is only ever downloaded.
var inlineTypes = map[string]bool{
	"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true,
	"video/mp4": true, "video/webm": true,
}

func (s *Server) fileRoutes(mux *http.ServeMux) {
	route := func(pattern string, h authedHandler) { mux.Handle(pattern, s.requireAuth(h)) }
	route("POST /api/files", func(w http.ResponseWriter, r *http.Request, p identity.Principal) {
		// Raw bytes, as application/octet-stream: a type no cross-site
		// form can send, so a browser asks (CORS) before another site's
		// page could post one.
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/octet-stream" {
			writeAPIError(w, apiErr("unsupported_media_type").saying("Send the file's bytes as application/octet-stream."))
			return
		}
		body := http.MaxBytesReader(w, r.Body, rules.MaxFileBytes+1)
		ref, err := s.chat.Upload(actor(p), r.URL.Query().Get("name"), body)
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			err = rules.ErrFileTooLarge
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, ref)
	})
	route("GET /api/parties/{id}/files/{hash}", func(w http.ResponseWriter, r *http.Request, p identity.Principal) {
		id, hash := r.PathValue("id"), r.PathValue("hash")
		rec, err := s.chat.FileInfo(actor(p), id, hash)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		typ, disposition := "application/octet-stream", "attachment"
		if inlineTypes[rec.Type] {
			typ = rec.Type
			if r.URL.Query().Get("download") == "" {
				disposition = "inline"
			}
		}
		name := r.URL.Query().Get("name")
		if name == "" {
			name = "file"
		}
		lw := &lazyHeaders{w: w, set: func() {
			h := w.Header()
			h.Set("Content-Type", typ)
			h.Set("Content-Length", strconv.FormatInt(rec.Size, 10))
			h.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": name}))
			// Opened on its own, a file runs nothing and loads nothing.
			h.Set("Content-Security-Policy", "sandbox; default-src 'none'; img-src 'self'; media-src 'self'")
			h.Set("Cache-Control", "private, max-age=31536000, immutable") // content-addressed
			w.WriteHeader(http.StatusOK)
		}}
		err = s.chat.ReadFile(r.Context(), actor(p), id, hash, lw)
		switch {
		case err == nil:
		case !lw.sent:
			s.writeError(w, r, err)
		default:
			s.log.Warn("file read cut short", "file", hash, "err", err)
			panic(http.ErrAbortHandler) // the status is sent: cut the stream
		}
	})
}

// lazyHeaders writes the response's headers at the first byte of the
// body, so an error before it is still a JSON error.
type lazyHeaders struct {
	w    http.ResponseWriter
	set  func()
	sent bool
}

func (l *lazyHeaders) Write(b []byte) (int, error) {
	if !l.sent {
		l.sent = true
		l.set()
	}
	return l.w.Write(b)
}
