package gateway

import (
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/chatterbox/chatterbox/identity"
	"github.com/chatterbox/chatterbox/party"
	"github.com/chatterbox/chatterbox/party/export"
	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/search"
	"github.com/chatterbox/chatterbox/party/store"
)

func actor(p identity.Principal) party.Actor {
	return party.Actor{AccountID: p.Account.ID, Name: p.Account.DisplayName, Key: p.Account.MemberKey}
}

// partyRoutes registers the party, topic and invite endpoints.
func (s *Server) partyRoutes(mux *http.ServeMux) {
	ps := s.parties
	route := func(pattern string, h authedHandler) { mux.Handle(pattern, s.requireAuth(h)) }

	route("GET /api/parties", answer(s, func(r *http.Request, p identity.Principal) (any, error) {
		list, err := ps.List(actor(p))
		return map[string]any{"parties": list}, err
	}))
	route("POST /api/parties", withBody(s, http.StatusCreated, func(r *http.Request, p identity.Principal, req nameRequest) (any, error) {
		return ps.Create(r.Context(), actor(p), req.Name)
	}))
	route("GET /api/parties/{id}", answer(s, func(r *http.Request, p identity.Principal) (any, error) {
		return ps.Get(actor(p), r.PathValue("id"))
	}))
	route("PATCH /api/parties/{id}", withBody(s, http.StatusOK, func(r *http.Request, p identity.Principal, req nameRequest) (any, error) {
		return ps.Rename(r.Context(), actor(p), r.PathValue("id"), req.Name)
	}))
	route("DELETE /api/parties/{id}", noContent(s, func(r *http.Request, p identity.Principal) error {
		return ps.Delete(r.Context(), actor(p), r.PathValue("id"))
	}))
	route("POST /api/me/encryption-key", answer(s, func(r *http.Request, p identity.Principal) (any, error) {
		k, err := s.id.RotateEncKey(p.Account.ID)
		if err != nil {
			return nil, err
		}
		pub := rules.EncPublic(k)
		n, err := ps.ChangeKey(r.Context(), actor(p), pub)
		if err != nil {
			return nil, err
		}
		return map[string]any{"keyFingerprint": rules.EncFingerprint(pub), "parties": n}, nil
	}))
	route("POST /api/parties/{id}/leave", noContent(s, func(r *http.Request, p identity.Principal) error {
		return ps.Leave(r.Context(), actor(p), r.PathValue("id"))
	}))
	route("DELETE /api/parties/{id}/members/{memberId}", noContent(s, func(r *http.Request, p identity.Principal) error {
		return ps.Kick(r.Context(), actor(p), r.PathValue("id"), r.PathValue("memberId"))
	}))
	route("DELETE /api/parties/{id}/bans/{memberId}", noContent(s, func(r *http.Request, p identity.Principal) error {
		return ps.Unban(r.Context(), actor(p), r.PathValue("id"), r.PathValue("memberId"))
	}))
	route("PUT /api/parties/{id}/admins/{memberId}", withBody(s, http.StatusOK, func(r *http.Request, p identity.Principal, req adminRequest) (any, error) {
		seats := -1
		if req.Seats != nil {
			if *req.Seats < 0 {
				return nil, errBadJSON("seats must be a number from 0 to 10.")
			}
			seats = *req.Seats
		}
		return ps.SetAdmin(r.Context(), actor(p), r.PathValue("id"), r.PathValue("memberId"), seats)
	}))
	route("DELETE /api/parties/{id}/admins/{memberId}", answer(s, func(r *http.Request, p identity.Principal) (any, error) {
		return ps.RemoveAdmin(r.Context(), actor(p), r.PathValue("id"), r.PathValue("memberId"))
	}))
	route("POST /api/parties/{id}/transfer", withBody(s, http.StatusOK, func(r *http.Request, p identity.Principal, req memberRequest) (any, error) {
		return ps.Transfer(r.Context(), actor(p), r.PathValue("id"), req.MemberID)
	}))

	route("POST /api/parties/{id}/invites", withBody(s, http.StatusCreated, func(r *http.Request, p identity.Principal, req inviteRequest) (any, error) {
		if req.ExpiresIn < 0 || req.ExpiresIn > int64(rules.MaxInviteTTL/time.Second) {
			return nil, rules.ErrInviteOptions
		}
		return ps.CreateInvite(actor(p), r.PathValue("id"), time.Duration(req.ExpiresIn)*time.Second, req.MaxUses)
	}))
	route("GET /api/parties/{id}/invites", answer(s, func(r *http.Request, p identity.Principal) (any, error) {
		list, err := ps.Invites(actor(p), r.PathValue("id"))
		return map[string]any{"invites": list}, err
	}))
	route("DELETE /api/parties/{id}/invites/{inviteId}", noContent(s, func(r *http.Request, p identity.Principal) error {
		return ps.RevokeInvite(r.Context(), actor(p), r.PathValue("id"), r.PathValue("inviteId"))
	}))
	route("POST /api/invites/accept", s.handleAcceptInvite)
	route("POST /api/invites/status", withBody(s, http.StatusOK, func(r *http.Request, p identity.Principal, req tokenRequest) (any, error) {
		return ps.InviteStatus(r.Context(), req.Token)
	}))

	route("GET /api/node/parties", answer(s, func(r *http.Request, p identity.Principal) (any, error) {
		list, err := ps.Health(actor(p))
		return map[string]any{"parties": list}, err
	}))
	if s.cfg.Search != nil {
		route("GET /api/search", answer(s, func(r *http.Request, p identity.Principal) (any, error) {
			q := r.URL.Query()
			limit, offset := 0, 0
			for name, v := range map[string]*int{"limit": &limit, "offset": &offset} {
				if raw := q.Get(name); raw != "" {
					n, err := strconv.Atoi(raw)
					if err != nil {
						return nil, search.ErrLimit
					}
					*v = n
				}
			}
			return s.cfg.Search.Search(actor(p), q.Get("q"), limit, offset)
		}))
	}
	s.fileRoutes(mux)
	route("GET /api/export", s.handleExport)
	route("GET /api/parties/{id}/export", s.handleExport)
	route("GET /api/dms", answer(s, func(r *http.Request, p identity.Principal) (any, error) {
		list, err := ps.Directs(actor(p))
		return map[string]any{"dms": list}, err
	}))
	route("POST /api/dms", withBody(s, http.StatusOK, func(r *http.Request, p identity.Principal, req memberRequest) (any, error) {
		return ps.OpenDirect(r.Context(), actor(p), req.MemberID)
	}))
	route("DELETE /api/dms/{id}", noContent(s, func(r *http.Request, p identity.Principal) error {
		return ps.CloseDirect(actor(p), r.PathValue("id"))
	}))

	route("POST /api/parties/{id}/topics", withBody(s, http.StatusCreated, func(r *http.Request, p identity.Principal, req nameRequest) (any, error) {
		return ps.CreateTopic(r.Context(), actor(p), r.PathValue("id"), req.Name)
	}))
	route("PATCH /api/parties/{id}/topics/{topicId}", withBody(s, http.StatusOK, func(r *http.Request, p identity.Principal, req nameRequest) (any, error) {
		return ps.RenameTopic(r.Context(), actor(p), r.PathValue("id"), r.PathValue("topicId"), req.Name)
	}))
	route("DELETE /api/parties/{id}/topics/{topicId}", noContent(s, func(r *http.Request, p identity.Principal) error {
		return ps.DeleteTopic(r.Context(), actor(p), r.PathValue("id"), r.PathValue("topicId"))
	}))
	s.messageRoutes(mux)
	s.wsRoutes(mux)
}

type nameRequest struct {
	Name string `json:"name"`
}

// adminRequest sets an admin's number of delegated seats (omitted: 2 for
// a new admin, no change for an admin).
type adminRequest struct {
	Seats *int `json:"seats"`
}

type memberRequest struct {
	MemberID string `json:"memberId"`
}

type inviteRequest struct {
	ExpiresIn int64 `json:"expiresIn"` // seconds; 0 = 7 days
	MaxUses   int   `json:"maxUses"`   // 0 = unlimited
}

// answer runs fn and writes its result as 200 JSON, or its error.
// handleExport sends what the account can read — all of it, or the party
// in the path — as a zip archive (party/export). Everything is read before
// the first byte is sent, so a failure is still a JSON error.
func (s *Server) handleExport(w http.ResponseWriter, r *http.Request, p identity.Principal) {
	only := r.PathValue("id")
	ar, err := export.Collect(actor(p), s.parties, s.chat, only, time.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	name := "all"
	if only != "" && len(ar.Parties) == 1 {
		name = ar.Parties[0].Name
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": export.FileName(name, time.Now())}))
	if err := export.Write(r.Context(), w, ar, actor(p), s.chat); err != nil {
		s.log.Error("export failed", "err", err)
		panic(http.ErrAbortHandler) // the status is sent: cut the stream
	}
}

func answer(s *Server, fn func(*http.Request, identity.Principal) (any, error)) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, p identity.Principal) {
		v, err := fn(r, p)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

// withBody decodes the JSON body into Req, runs fn and writes its result
// with status, or the error.
func withBody[Req any](s *Server, status int, fn func(*http.Request, identity.Principal, Req) (any, error)) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, p identity.Principal) {
		var req Req
		if err := decodeJSON(w, r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		v, err := fn(r, p, req)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, status, v)
	}
}

// noContent runs fn and answers 204, or the error.
func noContent(s *Server, fn func(*http.Request, identity.Principal) error) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, p identity.Principal) {
		if err := fn(r, p); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) handleAcceptInvite(w http.ResponseWriter, r *http.Request, p identity.Principal) {
	var req struct {
		Link  string `json:"link"`
		Token string `json:"token"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	in := req.Link
	if in == "" {
		in = req.Token
	}
	v, err := s.parties.Accept(r.Context(), actor(p), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if v.Status == store.StatusPending {
		writeJSON(w, http.StatusAccepted, map[string]any{"status": "pending", "party": v})
		return
	}
	writeJSON(w, http.StatusOK, v)
}
