package gateway

import (
	"net/http"
	"strconv"

	"github.com/chatterbox/chatterbox/identity"
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
		msgs, next, err := ps.Messages(actor(p), r.PathValue("id"), r.PathValue("topicId"), r.URL.Query().Get("before"), limit)
		return map[string]any{"messages": msgs, "nextCursor": next}, err
	}))
	route("POST "+base, withBody(s, http.StatusCreated, func(r *http.Request, p identity.Principal, req postRequest) (any, error) {
		return ps.Post(r.Context(), actor(p), r.PathValue("id"), r.PathValue("topicId"), req.Body, req.ClientID)
	}))
	route("PATCH "+base+"/{messageId}", withBody(s, http.StatusOK, func(r *http.Request, p identity.Principal, req postRequest) (any, error) {
		if req.ClientID != "" {
			return nil, errBadJSON("clientId is only for new messages.")
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
}
