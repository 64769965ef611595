package gateway

import (
	"net/http"
	"strconv"

	"github.com/chatterbox/chatterbox/identity"
	"github.com/chatterbox/chatterbox/party"
)

func (s *Server) messageRoutes(mux *http.ServeMux) {
	ps := s.chat
	route := func(pattern string, h authedHandler) { mux.Handle(pattern, s.requireAuth(h)) }
	const base = "/api/parties/{id}/topics/{topicId}/messages"

	route("GET "+base, answer(s, func(r *http.Request, p identity.Principal) (any, error) {
		limit := 50
		if l := r.URL.Query().Get("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil || n < 1 || n > 100 {
				return nil, apiErr("limit_invalid")
			}
			limit = n
		}
		q := r.URL.Query()
		pq := party.PageQuery{Before: q.Get("before"), After: q.Get("after"), Around: q.Get("around"), Limit: limit}
		if (pq.Before != "" && pq.After != "") || (pq.Around != "" && pq.Before+pq.After != "") {
			return nil, apiErr("cursor_invalid").saying("Ask for one of before, after and around.")
		}
		return ps.Page(actor(p), r.PathValue("id"), r.PathValue("topicId"), pq)
	}))
	route("POST "+base, withBody(s, http.StatusCreated, func(r *http.Request, p identity.Principal, req postRequest) (any, error) {
		if len(req.Files) > 0 {
			return ps.PostFiles(r.Context(), actor(p), r.PathValue("id"), r.PathValue("topicId"), req.Body, req.ReplyTo, req.ClientID, req.Files)
		}
		if req.ReplyTo != "" {
			return ps.Reply(r.Context(), actor(p), r.PathValue("id"), r.PathValue("topicId"), req.ReplyTo, req.Body, req.ClientID)
		}
		return ps.Post(r.Context(), actor(p), r.PathValue("id"), r.PathValue("topicId"), req.Body, req.ClientID)
	}))
	route("PUT "+base+"/{messageId}/reactions/{emoji}", answer(s, func(r *http.Request, p identity.Principal) (any, error) {
		return ps.React(r.Context(), actor(p), r.PathValue("id"), r.PathValue("topicId"), r.PathValue("messageId"), r.PathValue("emoji"), true)
	}))
	route("DELETE "+base+"/{messageId}/reactions/{emoji}", answer(s, func(r *http.Request, p identity.Principal) (any, error) {
		return ps.React(r.Context(), actor(p), r.PathValue("id"), r.PathValue("topicId"), r.PathValue("messageId"), r.PathValue("emoji"), false)
	}))
	route("PATCH "+base+"/{messageId}", withBody(s, http.StatusOK, func(r *http.Request, p identity.Principal, req postRequest) (any, error) {
		if req.ClientID != "" || req.ReplyTo != "" || len(req.Files) > 0 {
			return nil, errBadJSON("clientId, replyTo and files are only for new messages.")
		}
		return ps.Edit(r.Context(), actor(p), r.PathValue("id"), r.PathValue("topicId"), r.PathValue("messageId"), req.Body)
	}))
	route("DELETE "+base+"/{messageId}", noContent(s, func(r *http.Request, p identity.Principal) error {
		return ps.DeleteMessage(r.Context(), actor(p), r.PathValue("id"), r.PathValue("topicId"), r.PathValue("messageId"))
	}))
}

type postRequest struct {
	Body     string `json:"body"`
	ClientID string `json:"clientId"`
	ReplyTo  string `json:"replyTo"` // new messages only: the post it answers
	// Files (new messages only) are files uploaded with POST /api/files.
	Files []party.FileChoice `json:"files"`
}
