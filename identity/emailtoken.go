package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Email token kinds and lifetimes.
const (
	tokenVerify = "verify"
	tokenReset  = "reset"

	DefaultVerifyTTL = 24 * time.Hour
	DefaultResetTTL  = time.Hour
	// tokenGrace keeps an expired token's record long enough to say
	// "expired" rather than "invalid".
	tokenGrace = 7 * 24 * time.Hour
)

// emailToken is stored under id/etok/<hash>; the token itself is only in
// the mail.
type emailToken struct {
	Kind      string    `json:"kind"`
	AccountID string    `json:"account"`
	ExpiresAt time.Time `json:"exp"`
}

// issueToken stores a new single-use token and returns it.
func (s *Service) issueToken(kind, accountID string, ttl time.Duration) (string, error) {
	tok := randomToken(32)
	rec := emailToken{Kind: kind, AccountID: accountID, ExpiresAt: s.now().Add(ttl)}
	err := update(s.db, func(txn *badger.Txn) error {
		raw, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if err := txn.SetEntry(badger.NewEntry([]byte(prefixEmailToken+tokenHash(tok)), raw).WithTTL(ttl + tokenGrace)); err != nil {
			return err
		}
		return txn.SetEntry(badger.NewEntry([]byte(prefixAcctToken+accountID+"/"+kind+"/"+tokenHash(tok)), nil).WithTTL(ttl + tokenGrace))
	})
	return tok, err
}

// useToken consumes a token of kind inside txn: it is deleted whatever
// the outcome, so it works at most once.
func (s *Service) useToken(txn *badger.Txn, kind, tok string) (emailToken, error) {
	var rec emailToken
	if tok == "" || len(tok) > 256 {
		return rec, ErrTokenInvalid
	}
	key := prefixEmailToken + tokenHash(tok)
	if err := getJSON(txn, key, &rec); err != nil {
		if errors.Is(err, ErrNotFound) {
			return rec, ErrTokenInvalid
		}
		return rec, err
	}
	if rec.Kind != kind {
		return rec, ErrTokenInvalid
	}
	if err := txn.Delete([]byte(key)); err != nil {
		return rec, err
	}
	if err := txn.Delete([]byte(prefixAcctToken + rec.AccountID + "/" + kind + "/" + tokenHash(tok))); err != nil {
		return rec, err
	}
	if !s.now().Before(rec.ExpiresAt) {
		return rec, ErrTokenExpired
	}
	return rec, nil
}

// deleteTokens removes every outstanding token of kind for an account.
func deleteTokens(txn *badger.Txn, accountID, kind string) error {
	prefix := []byte(prefixAcctToken + accountID + "/" + kind + "/")
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	var hashes []string
	for it.Rewind(); it.Valid(); it.Next() {
		hashes = append(hashes, string(it.Item().Key()[len(prefix):]))
	}
	it.Close()
	for _, h := range hashes {
		if err := txn.Delete([]byte(prefixEmailToken + h)); err != nil {
			return err
		}
		if err := txn.Delete(append(append([]byte(nil), prefix...), h...)); err != nil {
			return err
		}
	}
	return nil
}

// link builds <public URL><path>#token=<tok>. The token travels in the
// fragment, which browsers never send to a server.
func (s *Service) link(path, tok string) string {
	return strings.TrimRight(s.cfg.PublicURL, "/") + path + "#token=" + tok
}

// sendVerification issues a verification token and queues its mail.
func (s *Service) sendVerification(a Account) error {
	tok, err := s.issueToken(tokenVerify, a.ID, s.cfg.VerifyTTL)
	if err != nil {
		return err
	}
	m, err := verifyMail.render(a.Email, mailData{Name: a.DisplayName, Link: s.link("/verify-email", tok), Hours: int(s.cfg.VerifyTTL / time.Hour)})
	if err != nil {
		return err
	}
	s.queueMail(m)
	return nil
}

// mailTaken tells the owner of an address that someone tried to register
// it again (at most a few times per hour): registration answers the same
// for taken and free addresses, so only the mailbox learns which it was.
func (s *Service) mailTaken(a Account) {
	now := s.now()
	if s.mailFails.wait("taken:"+a.ID, now) > 0 {
		return
	}
	s.mailFails.fail("taken:"+a.ID, now)
	m, err := takenMail.render(a.Email, mailData{Name: a.DisplayName, Link: strings.TrimRight(s.cfg.PublicURL, "/") + "/signin"})
	if err != nil {
		s.log.Error("taken-address mail not rendered", "err", err)
		return
	}
	s.queueMail(m)
}

// ResendVerification sends a new verification mail to a signed-in account,
// at most a few times per hour.
func (s *Service) ResendVerification(accountID string) error {
	a, err := s.Account(accountID)
	if err != nil {
		return err
	}
	if a.EmailVerified {
		return ErrAlreadyVerified
	}
	now := s.now()
	if wait := s.mailFails.wait("verify:"+a.ID, now); wait > 0 {
		return &ThrottledError{RetryAfter: wait}
	}
	s.mailFails.fail("verify:"+a.ID, now)
	return s.sendVerification(a)
}

// VerifyEmail marks the token's account verified.
func (s *Service) VerifyEmail(tok string) (Account, error) {
	var a Account
	err := update(s.db, func(txn *badger.Txn) error {
		rec, err := s.useToken(txn, tokenVerify, tok)
		if err != nil {
			return err
		}
		if err := getJSON(txn, prefixAccount+rec.AccountID, &a); err != nil {
			return err
		}
		a.EmailVerified = true
		return setJSON(txn, prefixAccount+a.ID, a)
	})
	if errors.Is(err, ErrTokenExpired) {
		// The failed use consumed the token: commit that separately.
		update(s.db, func(txn *badger.Txn) error { s.useToken(txn, tokenVerify, tok); return nil })
	}
	return a, err
}

// ForgotPassword mails a reset link if email belongs to an account. It
// reveals nothing: unknown emails, throttled accounts and mail failures
// all return nil. client is throttled visibly (that reveals nothing).
func (s *Service) ForgotPassword(email, client string) error {
	now := s.now()
	if wait := s.clientFails.wait("forgot:"+client, now); wait > 0 {
		return &ThrottledError{RetryAfter: wait}
	}
	s.clientFails.fail("forgot:"+client, now)
	norm, err := NormalizeEmail(email)
	if err != nil {
		// Not an address at all: saying so reveals nothing about accounts.
		return err
	}
	a, err := s.accountByEmail(norm)
	if err != nil {
		return nil
	}
	if s.mailFails.wait("reset:"+a.ID, now) > 0 {
		s.log.Warn("password reset mails throttled for account", "account", a.ID)
		return nil
	}
	s.mailFails.fail("reset:"+a.ID, now)
	tok, err := s.issueToken(tokenReset, a.ID, s.cfg.ResetTTL)
	if err != nil {
		s.log.Error("issue reset token", "err", err)
		return nil
	}
	m, err := resetMail.render(a.Email, mailData{Name: a.DisplayName, Link: s.link("/reset-password", tok), Hours: int(s.cfg.ResetTTL / time.Hour)})
	if err != nil {
		s.log.Error("render reset mail", "err", err)
		return nil
	}
	s.queueMail(m)
	return nil
}

// ResetPassword sets a new password with a reset token, ends every session
// of the account (its access tokens stop working at once) and voids its
// other reset links. Following the link proves the mailbox, so the email
// counts as verified.
func (s *Service) ResetPassword(tok, password string) (Account, error) {
	var a Account
	var rec emailToken
	err := s.db.View(func(txn *badger.Txn) error {
		if err := getJSON(txn, prefixEmailToken+tokenHash(tok), &rec); err != nil || rec.Kind != tokenReset {
			return ErrTokenInvalid
		}
		return getJSON(txn, prefixAccount+rec.AccountID, &a)
	})
	if errors.Is(err, ErrNotFound) {
		err = ErrTokenInvalid
	}
	if err != nil {
		return Account{}, err
	}
	// Check strength before consuming the token, so a weak choice can be
	// corrected with the same link.
	if err := CheckPassword(password, a.Email, a.DisplayName); err != nil {
		return Account{}, err
	}
	hash, err := s.hash(password)
	if err != nil {
		return Account{}, err
	}
	err = update(s.db, func(txn *badger.Txn) error {
		rec, err := s.useToken(txn, tokenReset, tok)
		if err != nil {
			return err
		}
		if err := getJSON(txn, prefixAccount+rec.AccountID, &a); err != nil {
			return err
		}
		a.PasswordHash, a.EmailVerified = hash, true
		if err := setJSON(txn, prefixAccount+a.ID, a); err != nil {
			return err
		}
		return deleteTokens(txn, a.ID, tokenReset)
	})
	if errors.Is(err, ErrTokenExpired) {
		update(s.db, func(txn *badger.Txn) error { s.useToken(txn, tokenReset, tok); return nil })
	}
	if err != nil {
		return Account{}, err
	}
	if err := s.EndAllSessions(a.ID); err != nil {
		return Account{}, fmt.Errorf("end sessions after reset: %w", err)
	}
	s.accountFails.reset(a.Email)
	s.log.Info("password reset; all sessions ended", "account", a.ID)
	return a, nil
}

// queueMail hands m to the mail goroutine; sending never blocks a request.
func (s *Service) queueMail(m Mail) {
	select {
	case s.mailQ <- m:
	default:
		s.log.Error("mail not sent", "to", m.To, "subject", m.Subject, "err", errMailQueueFull)
	}
}

// mailLoop sends queued mail until Close.
func (s *Service) mailLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case m := <-s.mailQ:
			ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
			if err := s.cfg.Mailer.Send(ctx, m); err != nil {
				s.log.Error("mail not sent; the user can ask for it again", "to", m.To, "subject", m.Subject, "err", err)
			} else {
				s.log.Debug("mail sent", "to", m.To, "subject", m.Subject)
			}
			cancel()
		}
	}
}
