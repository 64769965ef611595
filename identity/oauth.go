package identity

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/oauth2"
)

// ProviderConfig configures one OAuth provider. Empty endpoints mean the
// provider's public ones; override them for tests or self-hosted providers
// (GitHub Enterprise).
type ProviderConfig struct {
	ClientID     string
	ClientSecret string
	AuthURL      string
	TokenURL     string
	// UserInfoURL is Google's OpenID Connect userinfo endpoint, or GitHub's
	// API base URL (…/user and …/user/emails are appended).
	UserInfoURL string
}

// OAuthConfig configures sign-in with Google and GitHub. A provider without
// a client id is disabled.
type OAuthConfig struct {
	Google ProviderConfig
	GitHub ProviderConfig
	// HTTPClient talks to providers; nil means a client with a 15 s timeout.
	HTTPClient *http.Client
}

type provider struct {
	name     string
	conf     *oauth2.Config
	userInfo string
}

type pendingAuth struct {
	provider string
	verifier string
	client   string
	expires  time.Time
}

type loginCode struct {
	accountID string
	binding   string // SHA-256 of the secret in the browser's cookie
	expires   time.Time
}

// oauthState holds the providers and the short-lived, in-memory halves of
// sign-ins in progress: PKCE verifiers by state, and one-time login codes.
type oauthState struct {
	providers map[string]*provider
	client    *http.Client

	mu      sync.Mutex
	pending map[string]pendingAuth // guarded by mu
	codes   map[string]loginCode   // guarded by mu
}

const (
	oauthFlowTTL  = 10 * time.Minute
	loginCodeTTL  = 2 * time.Minute
	maxOAuthFlows = 1000
	// maxOAuthFlowsPerClient bounds the sign-ins one client may have
	// started: starting more evicts its oldest, so no page (image tags
	// pointing at /start) can fill the table for everyone.
	maxOAuthFlowsPerClient = 8
)

func newOAuthState(cfg OAuthConfig, publicURL string) (*oauthState, error) {
	o := &oauthState{providers: map[string]*provider{}, client: cfg.HTTPClient,
		pending: map[string]pendingAuth{}, codes: map[string]loginCode{}}
	if o.client == nil {
		o.client = &http.Client{Timeout: 15 * time.Second}
	}
	base := strings.TrimRight(publicURL, "/")
	add := func(name string, pc ProviderConfig, auth, token, info string, scopes []string) {
		if pc.ClientID == "" {
			return
		}
		pick := func(v, def string) string {
			if v != "" {
				return v
			}
			return def
		}
		o.providers[name] = &provider{name: name, userInfo: pick(pc.UserInfoURL, info), conf: &oauth2.Config{
			ClientID: pc.ClientID, ClientSecret: pc.ClientSecret, Scopes: scopes,
			RedirectURL: base + "/api/auth/oauth/" + name + "/callback",
			Endpoint:    oauth2.Endpoint{AuthURL: pick(pc.AuthURL, auth), TokenURL: pick(pc.TokenURL, token)},
		}}
	}
	add("google", cfg.Google, "https://accounts.google.com/o/oauth2/v2/auth", "https://oauth2.googleapis.com/token",
		"https://openidconnect.googleapis.com/v1/userinfo", []string{"openid", "email", "profile"})
	add("github", cfg.GitHub, "https://github.com/login/oauth/authorize", "https://github.com/login/oauth/access_token",
		"https://api.github.com", []string{"read:user", "user:email"})
	return o, nil
}

// OAuthProviders lists the enabled providers, sorted.
func (s *Service) OAuthProviders() []string {
	out := []string{}
	for name := range s.oauth.providers {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// OAuthStart begins a sign-in: it returns the provider URL to redirect to
// and the state, which the caller binds to the browser (a cookie). The PKCE
// verifier stays on this node.
//
// Sign-ins in progress are bounded per client and in all; starting one more
// evicts the oldest (of the client first), so starting is never refused.
func (s *Service) OAuthStart(providerName, client string) (authURL, state string, err error) {
	p := s.oauth.providers[providerName]
	if p == nil {
		return "", "", ErrOAuthUnknownProvider
	}
	state, verifier := randomToken(24), oauth2.GenerateVerifier()
	now := s.now()
	o := s.oauth
	o.mu.Lock()
	for k, v := range o.pending {
		if now.After(v.expires) {
			delete(o.pending, k)
		}
	}
	o.evictOldestLocked(func(p pendingAuth) bool { return p.client == client }, maxOAuthFlowsPerClient)
	o.evictOldestLocked(func(pendingAuth) bool { return true }, maxOAuthFlows)
	o.pending[state] = pendingAuth{provider: providerName, verifier: verifier, client: client, expires: now.Add(oauthFlowTTL)}
	o.mu.Unlock()
	return p.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), state, nil
}

// evictOldestLocked removes the oldest pending sign-ins matching match
// until fewer than limit match.
func (o *oauthState) evictOldestLocked(match func(pendingAuth) bool, limit int) {
	for {
		n, oldest, at := 0, "", time.Time{}
		for k, v := range o.pending {
			if !match(v) {
				continue
			}
			n++
			if oldest == "" || v.expires.Before(at) {
				oldest, at = k, v.expires
			}
		}
		if n < limit {
			return
		}
		delete(o.pending, oldest)
	}
}

// OAuthFinish completes a sign-in with the provider's code. cookieState is
// the state bound to the browser; it must equal the state the provider
// returned, and that state must be pending (each works once). It returns
// the signed-in account, linked or created.
func (s *Service) OAuthFinish(ctx context.Context, providerName, state, cookieState, code string) (Account, error) {
	p := s.oauth.providers[providerName]
	if p == nil {
		return Account{}, ErrOAuthUnknownProvider
	}
	o := s.oauth
	o.mu.Lock()
	pa, ok := o.pending[state]
	delete(o.pending, state)
	o.mu.Unlock()
	if state == "" || cookieState != state || !ok || pa.provider != providerName || s.now().After(pa.expires) {
		return Account{}, ErrOAuthState
	}
	if code == "" {
		return Account{}, ErrOAuthFailed
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, o.client)
	tok, err := p.conf.Exchange(ctx, code, oauth2.VerifierOption(pa.verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			s.log.Warn("oauth token exchange refused", "provider", providerName, "status", re.Response.StatusCode, "error", re.ErrorCode)
			return Account{}, ErrOAuthFailed
		}
		s.log.Warn("oauth token exchange failed", "provider", providerName, "err", err)
		return Account{}, ErrOAuthUnavailable
	}
	var info oauthUser
	switch providerName {
	case "google":
		info, err = s.googleUser(ctx, p, tok)
	case "github":
		info, err = s.githubUser(ctx, p, tok)
	}
	if err != nil {
		return Account{}, err
	}
	return s.linkOAuth(providerName, info)
}

type oauthUser struct {
	Subject, Email, Name string
}

// getJSONAPI fetches a provider API resource with the access token.
func (s *Service) getJSONAPI(ctx context.Context, url string, tok *oauth2.Token, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return ErrOAuthUnavailable
	}
	req.Header.Set("Accept", "application/json")
	tok.SetAuthHeader(req)
	res, err := s.oauth.client.Do(req)
	if err != nil {
		s.log.Warn("oauth user info unreachable", "url", url, "err", err)
		return ErrOAuthUnavailable
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		s.log.Warn("oauth user info refused", "url", url, "status", res.StatusCode)
		if res.StatusCode >= 500 {
			return ErrOAuthUnavailable
		}
		return ErrOAuthFailed
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(v); err != nil {
		return ErrOAuthFailed
	}
	return nil
}

func (s *Service) googleUser(ctx context.Context, p *provider, tok *oauth2.Token) (oauthUser, error) {
	var u struct {
		Sub           string `json:"sub"`
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		Name          string `json:"name"`
	}
	if err := s.getJSONAPI(ctx, p.userInfo, tok, &u); err != nil {
		return oauthUser{}, err
	}
	if u.Sub == "" {
		return oauthUser{}, ErrOAuthFailed
	}
	if u.Email == "" || !u.EmailVerified {
		return oauthUser{}, ErrOAuthEmailUnverified
	}
	return oauthUser{Subject: u.Sub, Email: u.Email, Name: u.Name}, nil
}

func (s *Service) githubUser(ctx context.Context, p *provider, tok *oauth2.Token) (oauthUser, error) {
	base := strings.TrimRight(p.userInfo, "/")
	var u struct {
		ID    int64  `json:"id"`
		Login string `json:"login"`
		Name  string `json:"name"`
	}
	if err := s.getJSONAPI(ctx, base+"/user", tok, &u); err != nil {
		return oauthUser{}, err
	}
	if u.ID == 0 {
		return oauthUser{}, ErrOAuthFailed
	}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := s.getJSONAPI(ctx, base+"/user/emails", tok, &emails); err != nil {
		return oauthUser{}, err
	}
	for _, e := range emails {
		if e.Primary && e.Verified && e.Email != "" {
			name := u.Name
			if name == "" {
				name = u.Login
			}
			return oauthUser{Subject: strconv.FormatInt(u.ID, 10), Email: e.Email, Name: name}, nil
		}
	}
	return oauthUser{}, ErrOAuthEmailUnverified
}

// linkOAuth signs in the account linked to the provider identity, or links
// the account with the same (now verified) email, or creates one.
//
// Linking to an account whose email was never verified first removes its
// password and ends its sessions: otherwise someone who registered the
// victim's address beforehand would share the victim's account.
func (s *Service) linkOAuth(providerName string, u oauthUser) (Account, error) {
	email, err := NormalizeEmail(u.Email)
	if err != nil {
		return Account{}, ErrOAuthEmailUnverified
	}
	name, err := NormalizeDisplayName(u.Name)
	if err != nil {
		name = email[:strings.IndexByte(email, '@')]
		if name, err = NormalizeDisplayName(name); err != nil {
			name = "ChatterBox user"
		}
	}
	linkKey := prefixOAuth + providerName + "/" + u.Subject
	var (
		acct      Account
		endOthers bool
	)
	err = update(s.db, func(txn *badger.Txn) error {
		endOthers = false
		if item, err := txn.Get([]byte(linkKey)); err == nil {
			id, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			return getJSON(txn, prefixAccount+string(id), &acct)
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		item, err := txn.Get([]byte(prefixEmail + email))
		switch {
		case err == nil:
			id, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if err := getJSON(txn, prefixAccount+string(id), &acct); err != nil {
				return err
			}
			if !acct.EmailVerified {
				acct.PasswordHash, endOthers = "", true
			}
			acct.EmailVerified = true
		case errors.Is(err, badger.ErrKeyNotFound):
			_, key, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			acct = Account{ID: randomToken(12), Email: email, DisplayName: name, EmailVerified: true,
				CreatedAt: s.now().UTC(), MemberKey: key}
			if err := txn.Set([]byte(prefixEmail+email), []byte(acct.ID)); err != nil {
				return err
			}
			if err := txn.Set([]byte(prefixMember+acct.MemberID()), []byte(acct.ID)); err != nil {
				return err
			}
		default:
			return err
		}
		if err := setJSON(txn, prefixAccount+acct.ID, acct); err != nil {
			return err
		}
		return txn.Set([]byte(linkKey), []byte(acct.ID))
	})
	if err != nil {
		return Account{}, fmt.Errorf("link %s account: %w", providerName, err)
	}
	if endOthers {
		if err := s.EndAllSessions(acct.ID); err != nil {
			return Account{}, err
		}
		s.log.Warn("unverified account claimed through OAuth: password removed, sessions ended", "account", acct.ID, "provider", providerName)
	}
	s.log.Info("signed in with OAuth", "provider", providerName, "account", acct.ID)
	return acct, nil
}

// NewLoginCode returns a one-time code (2 minutes) that the web app
// exchanges for tokens, so tokens never travel in a URL, and the secret
// that binds it to the browser that finished the sign-in (the caller puts
// it in an HttpOnly cookie): a code alone, carried to another browser
// (login CSRF on a shared node), signs no one in.
func (s *Service) NewLoginCode(accountID string) (code, binding string) {
	code, binding = randomToken(32), randomToken(32)
	now := s.now()
	o := s.oauth
	o.mu.Lock()
	defer o.mu.Unlock()
	for k, v := range o.codes {
		if now.After(v.expires) {
			delete(o.codes, k)
		}
	}
	if len(o.codes) >= maxOAuthFlows {
		for k := range o.codes { // all live: drop one; its sign-in can be redone
			delete(o.codes, k)
			break
		}
	}
	o.codes[code] = loginCode{accountID: accountID, binding: tokenHash(binding), expires: now.Add(loginCodeTTL)}
	return code, binding
}

// ExchangeLoginCode starts a session for a one-time login code presented
// with the binding secret NewLoginCode returned with it.
func (s *Service) ExchangeLoginCode(code, binding string) (Tokens, Account, error) {
	o := s.oauth
	o.mu.Lock()
	lc, ok := o.codes[code]
	delete(o.codes, code)
	o.mu.Unlock()
	now := s.now()
	if !ok || now.After(lc.expires) || subtle.ConstantTimeCompare([]byte(tokenHash(binding)), []byte(lc.binding)) != 1 {
		return Tokens{}, Account{}, ErrInvalidToken
	}
	acct, err := s.Account(lc.accountID)
	if err != nil {
		return Tokens{}, Account{}, ErrInvalidToken
	}
	var toks Tokens
	err = update(s.db, func(txn *badger.Txn) error {
		var err error
		toks, err = s.newSession(txn, acct, now)
		return err
	})
	return toks, acct, err
}
