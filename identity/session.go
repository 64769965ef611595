package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/golang-jwt/jwt/v5"
)

// Session is a server-side sign-in. Access tokens name it (claim "sid") and
// stop working the moment it is deleted; its refresh tokens form one
// rotation family.
type Session struct {
	ID         string    `json:"id"`
	AccountID  string    `json:"accountId"`
	Generation int       `json:"generation"` // of the one valid refresh token
	CreatedAt  time.Time `json:"createdAt"`
	ExpiresAt  time.Time `json:"expiresAt"` // of the current refresh token
}

// refreshRecord indexes a refresh token (by hash) to its session and its
// generation. Records of rotated-out tokens are kept until they expire so
// that reuse of a stolen old token is detected.
type refreshRecord struct {
	SessionID  string `json:"sid"`
	Generation int    `json:"gen"`
}

// Tokens are what a successful sign-in or refresh returns to the client.
type Tokens struct {
	AccessToken      string    `json:"accessToken"`
	AccessExpiresAt  time.Time `json:"accessExpiresAt"`
	RefreshToken     string    `json:"refreshToken"`
	RefreshExpiresAt time.Time `json:"refreshExpiresAt"`
	TokenType        string    `json:"tokenType"`
}

// Principal is the verified bearer of an access token.
type Principal struct {
	Account   Account
	SessionID string
}

type accessClaims struct {
	SessionID string `json:"sid"`
	jwt.RegisteredClaims
}

// accessAlg is the only algorithm accepted on verify; "none" and every
// other algorithm are refused by jwt.WithValidMethods.
var accessAlg = jwt.SigningMethodHS256

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("identity: crypto/rand failed: " + err.Error()) // never returns an error on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// newSession creates a session for acct in txn and returns its tokens.
func (s *Service) newSession(txn *badger.Txn, acct Account, now time.Time) (Tokens, error) {
	sess := Session{ID: randomToken(16), AccountID: acct.ID, Generation: 1, CreatedAt: now}
	if err := txn.Set([]byte(prefixAcctSession+acct.ID+"/"+sess.ID), nil); err != nil {
		return Tokens{}, err
	}
	return s.rotate(txn, &sess, now)
}

// rotate issues the next refresh token of sess (already at its new
// generation) and a fresh access token, and stores both records.
func (s *Service) rotate(txn *badger.Txn, sess *Session, now time.Time) (Tokens, error) {
	refresh := randomToken(32)
	sess.ExpiresAt = now.Add(s.cfg.RefreshTTL)
	if err := setJSON(txn, prefixSession+sess.ID, sess); err != nil {
		return Tokens{}, err
	}
	raw, err := json.Marshal(refreshRecord{SessionID: sess.ID, Generation: sess.Generation})
	if err != nil {
		return Tokens{}, err
	}
	e := badger.NewEntry([]byte(prefixRefresh+tokenHash(refresh)), raw).WithTTL(s.cfg.RefreshTTL)
	if err := txn.SetEntry(e); err != nil {
		return Tokens{}, err
	}
	access, accessExp, err := s.signAccess(sess, now)
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{
		AccessToken:      access,
		AccessExpiresAt:  accessExp,
		RefreshToken:     refresh,
		RefreshExpiresAt: sess.ExpiresAt,
		TokenType:        "Bearer",
	}, nil
}

func (s *Service) signAccess(sess *Session, now time.Time) (string, time.Time, error) {
	exp := now.Add(s.cfg.AccessTTL)
	claims := accessClaims{
		SessionID: sess.ID,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.cfg.Issuer,
			Subject:   sess.AccountID,
			Audience:  jwt.ClaimStrings{s.cfg.Audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        randomToken(12),
		},
	}
	tok, err := jwt.NewWithClaims(accessAlg, claims).SignedString(s.jwtKey)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign access token: %w", err)
	}
	return tok, exp, nil
}

// Refresh exchanges a refresh token for a new pair. The old token stops
// working. Presenting a token that was already rotated out means it leaked
// (or a client raced itself): the whole session is revoked and
// ErrRefreshReused returned.
func (s *Service) Refresh(refreshToken string) (Tokens, error) {
	if refreshToken == "" || len(refreshToken) > 256 {
		return Tokens{}, ErrInvalidToken
	}
	now := s.now()
	var (
		out     Tokens
		reused  bool
		endedID string
	)
	err := update(s.db, func(txn *badger.Txn) error {
		reused = false
		var rec refreshRecord
		if err := getJSON(txn, prefixRefresh+tokenHash(refreshToken), &rec); err != nil {
			if errors.Is(err, ErrNotFound) {
				return ErrInvalidToken
			}
			return err
		}
		var sess Session
		if err := getJSON(txn, prefixSession+rec.SessionID, &sess); err != nil {
			if errors.Is(err, ErrNotFound) {
				return ErrInvalidToken // session ended (logout, reset, reuse)
			}
			return err
		}
		if rec.Generation != sess.Generation {
			reused, endedID = true, sess.ID
			return deleteSession(txn, sess)
		}
		if !now.Before(sess.ExpiresAt) {
			return ErrInvalidToken
		}
		sess.Generation++
		var err error
		out, err = s.rotate(txn, &sess, now)
		return err
	})
	if err != nil {
		return Tokens{}, err
	}
	if reused {
		s.sessionsEnded(endedID)
		return Tokens{}, ErrRefreshReused
	}
	return out, nil
}

func deleteSession(txn *badger.Txn, sess Session) error {
	if err := txn.Delete([]byte(prefixSession + sess.ID)); err != nil {
		return err
	}
	return txn.Delete([]byte(prefixAcctSession + sess.AccountID + "/" + sess.ID))
}

// Logout ends a session: its refresh token and every access token issued
// for it stop working at once.
func (s *Service) Logout(sessionID string) error {
	err := update(s.db, func(txn *badger.Txn) error {
		var sess Session
		if err := getJSON(txn, prefixSession+sessionID, &sess); err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil // already ended
			}
			return err
		}
		return deleteSession(txn, sess)
	})
	if err == nil {
		s.sessionsEnded(sessionID)
	}
	return err
}

// sessionsEnded tells Config.SessionsEnded (the gateway closes their
// WebSockets at once).
func (s *Service) sessionsEnded(ids ...string) {
	if s.cfg.SessionsEnded != nil && len(ids) > 0 {
		s.cfg.SessionsEnded(ids)
	}
}

// EndAllSessions ends every session of an account (after a password reset).
func (s *Service) EndAllSessions(accountID string) error {
	var ids []string
	err := update(s.db, func(txn *badger.Txn) error {
		prefix := []byte(prefixAcctSession + accountID + "/")
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		ids = nil
		for it.Rewind(); it.Valid(); it.Next() {
			ids = append(ids, string(it.Item().Key()[len(prefix):]))
		}
		it.Close()
		for _, id := range ids {
			if err := deleteSession(txn, Session{ID: id, AccountID: accountID}); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.sessionsEnded(ids...)
	}
	return err
}

// Authenticate verifies an access token — algorithm, signature, issuer,
// audience, expiry and issued-at are all required — and checks that its
// session still exists.
func (s *Service) Authenticate(accessToken string) (Principal, error) {
	var claims accessClaims
	_, err := jwt.ParseWithClaims(accessToken, &claims,
		func(*jwt.Token) (any, error) { return s.jwtKey, nil },
		jwt.WithValidMethods([]string{accessAlg.Alg()}),
		jwt.WithIssuer(s.cfg.Issuer),
		jwt.WithAudience(s.cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(s.now),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil || claims.SessionID == "" || claims.Subject == "" {
		return Principal{}, ErrInvalidToken
	}
	var p Principal
	err = s.db.View(func(txn *badger.Txn) error {
		var sess Session
		if err := getJSON(txn, prefixSession+claims.SessionID, &sess); err != nil {
			return err
		}
		if sess.AccountID != claims.Subject {
			return ErrInvalidToken
		}
		p.SessionID = sess.ID
		return getJSON(txn, prefixAccount+sess.AccountID, &p.Account)
	})
	if errors.Is(err, ErrNotFound) {
		return Principal{}, ErrInvalidToken
	}
	if err != nil {
		return Principal{}, err
	}
	return p, nil
}

// SessionActive reports whether a session still exists (not logged out,
// reset or revoked). Long-lived connections check it periodically.
func (s *Service) SessionActive(sessionID string) bool {
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get([]byte(prefixSession + sessionID))
		return err
	})
	return err == nil
}
