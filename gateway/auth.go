package gateway

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/chatterbox/chatterbox/identity"
)

// accountView is an account as clients see it: never the password hash or
// the member private key.
type accountView struct {
	ID            string    `json:"id"`
	MemberID      string    `json:"memberId"`
	Fingerprint   string    `json:"fingerprint"`
	Email         string    `json:"email"`
	DisplayName   string    `json:"displayName"`
	EmailVerified bool      `json:"emailVerified"`
	CreatedAt     time.Time `json:"createdAt"`
}

func viewAccount(a identity.Account) accountView {
	return accountView{
		ID:            a.ID,
		MemberID:      a.MemberID(),
		Fingerprint:   identity.Fingerprint(a.MemberPublicKey()),
		Email:         a.Email,
		DisplayName:   a.DisplayName,
		EmailVerified: a.EmailVerified,
		CreatedAt:     a.CreatedAt,
	}
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email       string `json:"email"`
		Password    string `json:"password"`
		DisplayName string `json:"displayName"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	acct, err := s.id.Register(identity.RegisterInput{Email: req.Email, Password: req.Password, DisplayName: req.DisplayName, Client: clientKey(r)})
	// A taken address is answered exactly like a new one (its owner gets a
	// mail instead), as forgot-password does: registration tells no one
	// which addresses have accounts.
	if err != nil && !errors.Is(err, identity.ErrEmailTaken) {
		s.writeError(w, r, err)
		return
	}
	email, _ := identity.NormalizeEmail(req.Email)
	if err == nil {
		email = acct.Email
	}
	writeJSON(w, http.StatusAccepted, registeredView{Email: email, Status: "check_email"})
}

// registeredView answers a registration: the same for a new and a taken
// address. The client signs in next.
type registeredView struct {
	Email  string `json:"email"`
	Status string `json:"status"`
}

type tokensView struct {
	identity.Tokens
	Account *accountView `json:"account,omitempty"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	toks, acct, err := s.id.Login(req.Email, req.Password, clientKey(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v := viewAccount(acct)
	writeJSON(w, http.StatusOK, tokensView{Tokens: toks, Account: &v})
}

func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RefreshToken string `json:"refreshToken"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	toks, err := s.id.Refresh(req.RefreshToken)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tokensView{Tokens: toks})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, p identity.Principal) {
	if err := s.id.Logout(p.SessionID); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request, p identity.Principal) {
	writeJSON(w, http.StatusOK, viewAccount(p.Account))
}

// authedHandler is a handler that runs only for a verified principal.
type authedHandler func(http.ResponseWriter, *http.Request, identity.Principal)

// requireAuth verifies the "Authorization: Bearer <access token>" header
// and the session behind it before calling h.
func (s *Server) requireAuth(h authedHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="chatterbox"`)
			writeAPIError(w, errUnauthorized)
			return
		}
		p, err := s.id.Authenticate(strings.TrimSpace(token))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="chatterbox", error="invalid_token"`)
			s.writeError(w, r, err)
			return
		}
		h(w, r, p)
	})
}
