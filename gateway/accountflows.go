package gateway

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/chatterbox/chatterbox/identity"
)

// oauthCookie binds a sign-in's state to the browser that started it.
const oauthCookie = "cb_oauth_state"

// loginCookie binds a one-time login code to the browser that finished the
// sign-in.
const loginCookie = "cb_oauth_login"

func (s *Server) accountRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/auth/verify-email", s.handleVerifyEmail)
	mux.Handle("POST /api/auth/resend-verification", s.requireAuth(s.handleResendVerification))
	mux.HandleFunc("POST /api/auth/forgot-password", s.handleForgotPassword)
	mux.HandleFunc("POST /api/auth/reset-password", s.handleResetPassword)
	mux.HandleFunc("GET /api/auth/providers", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"providers": s.id.OAuthProviders()})
	})
	mux.HandleFunc("GET /api/auth/oauth/{provider}/start", s.handleOAuthStart)
	mux.HandleFunc("GET /api/auth/oauth/{provider}/callback", s.handleOAuthCallback)
	mux.HandleFunc("POST /api/auth/oauth/exchange", s.handleOAuthExchange)
}

type tokenRequest struct {
	Token string `json:"token"`
}

func (s *Server) handleVerifyEmail(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := s.id.VerifyEmail(req.Token)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewAccount(a))
}

func (s *Server) handleResendVerification(w http.ResponseWriter, r *http.Request, p identity.Principal) {
	if err := s.id.ResendVerification(p.Account.ID); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "sent"})
}

func (s *Server) handleForgotPassword(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email string `json:"email"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.id.ForgotPassword(req.Email, clientKey(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	// The same answer whether or not the email has an account.
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "sent",
		"message": "If an account uses this email, a link to reset its password is on its way."})
}

func (s *Server) handleResetPassword(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.id.ResetPassword(req.Token, req.Password); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "reset", "message": "Your password was changed and every session was signed out. Sign in with the new password."})
}

func (s *Server) secureCookies() bool { return strings.HasPrefix(s.cfg.PublicURL, "https://") }

func (s *Server) handleOAuthStart(w http.ResponseWriter, r *http.Request) {
	authURL, state, err := s.id.OAuthStart(r.PathValue("provider"), clientKey(r))
	if err != nil {
		s.oauthDone(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oauthCookie, Value: state, Path: "/api/auth/oauth/", MaxAge: 600,
		HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, authURL, http.StatusFound)
}

func (s *Server) handleOAuthCallback(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: oauthCookie, Value: "", Path: "/api/auth/oauth/", MaxAge: -1,
		HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
	q := r.URL.Query()
	if q.Get("error") != "" {
		s.oauthDone(w, r, identity.ErrOAuthDenied)
		return
	}
	cookieState := ""
	if c, err := r.Cookie(oauthCookie); err == nil {
		cookieState = c.Value
	}
	ctx := r.Context()
	acct, err := s.id.OAuthFinish(ctx, r.PathValue("provider"), q.Get("state"), cookieState, q.Get("code"))
	if err != nil {
		s.oauthDone(w, r, err)
		return
	}
	code, binding := s.id.NewLoginCode(acct.ID)
	// The code only works with this cookie, which only this browser holds.
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: binding, Path: "/api/auth/oauth/exchange", MaxAge: 120,
		HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, s.cfg.PublicURL+"/oauth/done#code="+url.QueryEscape(code), http.StatusFound)
}

// oauthDone ends a failed sign-in on the UI's page with a clear sentence.
func (s *Server) oauthDone(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if ae == nil {
		s.log.Error("oauth sign-in failed", "err", err)
		ae = apiErr("oauth_failed")
	}
	// Only the code travels: the page shows its own sentence for it, so no
	// link can make it show someone else's text.
	frag := url.Values{"error": {ae.Code}}.Encode()
	http.Redirect(w, r, s.cfg.PublicURL+"/oauth/done#"+frag, http.StatusFound)
}

func (s *Server) handleOAuthExchange(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Code string `json:"code"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	binding := ""
	if c, err := r.Cookie(loginCookie); err == nil {
		binding = c.Value
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/api/auth/oauth/exchange", MaxAge: -1,
		HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteStrictMode})
	toks, acct, err := s.id.ExchangeLoginCode(req.Code, binding)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v := viewAccount(acct)
	writeJSON(w, http.StatusOK, tokensView{Tokens: toks, Account: &v})
}
