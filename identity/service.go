package identity

import (
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Config configures a Service. Only DB is required; every other field has a
// documented default for its zero value.
type Config struct {
	// DB is the node's Badger database. Required.
	DB *badger.DB
	// Issuer is the "iss" of access tokens; empty means "chatterbox".
	Issuer string
	// Audience is the "aud" of access tokens; empty means "chatterbox-gateway".
	Audience string
	// AccessTTL is the lifetime of access tokens; zero means 15 minutes.
	AccessTTL time.Duration
	// RefreshTTL is the lifetime of a refresh token (sliding: each rotation
	// extends the session); zero means 30 days.
	RefreshTTL time.Duration
	// Argon2 are the password hashing costs; zero means DefaultArgon2Params.
	Argon2 Argon2Params
	// AccountThrottle and ClientThrottle limit failed sign-ins; zero values
	// mean DefaultAccountThrottle and DefaultClientThrottle.
	AccountThrottle ThrottlePolicy
	ClientThrottle  ThrottlePolicy
	// RegisterThrottle limits registrations per client; zero means
	// DefaultRegisterThrottle.
	RegisterThrottle ThrottlePolicy
	// SessionsEnded, when set, is called with the ids of sessions that
	// ended (logout, password reset, refresh-token theft) after they are
	// gone. It must not block.
	SessionsEnded func(sessionIDs []string)
	// Mailer delivers verification and reset mails; nil means mails are
	// only logged (the node wires an outbox or SMTP mailer).
	Mailer Mailer
	// PublicURL is the base of links in mails, e.g. http://localhost:7733.
	// Never taken from a request's Host header. Empty means
	// http://localhost:7733.
	PublicURL string
	// VerifyTTL and ResetTTL are the lifetimes of email links; zero means
	// 24 hours and 1 hour.
	VerifyTTL, ResetTTL time.Duration
	// OAuth configures sign-in with Google and GitHub; providers without a
	// client id are disabled.
	OAuth OAuthConfig
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives the service's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Service manages accounts and sessions. It is safe for concurrent use.
type Service struct {
	cfg    Config
	db     *badger.DB
	log    *slog.Logger
	now    func() time.Time
	jwtKey []byte

	// hashSem bounds concurrent argon2 computations: each takes ~46 MiB, so
	// a burst of sign-ins must not exhaust memory.
	hashSem chan struct{}
	// dummyHash is verified against when the email is unknown, so unknown
	// and known emails take the same time. Made on first use: an argon2
	// hash needs 46 MiB, which start-up should not pay.
	dummyOnce sync.Once
	dummyHash string

	encKeys sync.Map // MemberID → hpke.PrivateKey, derived once

	accountFails *limiterSet
	clientFails  *limiterSet
	mailFails    *limiterSet // mails per account: 3, then one per 20 minutes
	// registrations per client: 10, then one a minute.
	registrations *limiterSet

	oauth *oauthState

	mailQ  chan Mail
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// NewService loads (or creates) the access-token key and returns a Service.
func NewService(cfg Config) (*Service, error) {
	if cfg.DB == nil {
		return nil, errors.New("identity: Config.DB is required")
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "chatterbox"
	}
	if cfg.Audience == "" {
		cfg.Audience = "chatterbox-gateway"
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = 15 * time.Minute
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = 30 * 24 * time.Hour
	}
	if cfg.Argon2 == (Argon2Params{}) {
		cfg.Argon2 = DefaultArgon2Params
	}
	if cfg.AccountThrottle == (ThrottlePolicy{}) {
		cfg.AccountThrottle = DefaultAccountThrottle
	}
	if cfg.RegisterThrottle == (ThrottlePolicy{}) {
		cfg.RegisterThrottle = DefaultRegisterThrottle
	}
	if cfg.ClientThrottle == (ThrottlePolicy{}) {
		cfg.ClientThrottle = DefaultClientThrottle
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Mailer == nil {
		cfg.Mailer = logMailer{cfg.Logger}
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://localhost:7733"
	}
	if cfg.VerifyTTL <= 0 {
		cfg.VerifyTTL = DefaultVerifyTTL
	}
	if cfg.ResetTTL <= 0 {
		cfg.ResetTTL = DefaultResetTTL
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{
		mailFails:     newLimiterSet(ThrottlePolicy{Burst: 3, Every: 20 * time.Minute}),
		registrations: newLimiterSet(cfg.RegisterThrottle),
		mailQ:         make(chan Mail, 128),
		ctx:           ctx,
		cancel:        cancel,
		cfg:           cfg,
		db:            cfg.DB,
		log:           cfg.Logger,
		now:           cfg.Now,
		hashSem:       make(chan struct{}, max(1, runtime.GOMAXPROCS(0))),
		accountFails:  newLimiterSet(cfg.AccountThrottle),
		clientFails:   newLimiterSet(cfg.ClientThrottle),
	}
	key, err := s.loadOrCreateSecret(keyJWTSecret, 32)
	if err != nil {
		return nil, err
	}
	s.jwtKey = key
	if s.oauth, err = newOAuthState(cfg.OAuth, cfg.PublicURL); err != nil {
		return nil, err
	}
	s.wg.Add(1)
	go s.mailLoop()
	return s, nil
}

// Close stops the mail goroutine (mails still queued are dropped; users
// can ask again). Safe to call more than once.
func (s *Service) Close() error {
	s.once.Do(func() {
		s.cancel()
		s.wg.Wait()
	})
	return nil
}

// logMailer is the mailer of last resort: it logs the link.
type logMailer struct{ log *slog.Logger }

func (l logMailer) Send(_ context.Context, m Mail) error {
	l.log.Warn("no mailer configured; mail not sent", "to", m.To, "subject", m.Subject, "link", m.Link)
	return nil
}

func (s *Service) loadOrCreateSecret(key string, n int) ([]byte, error) {
	var secret []byte
	err := update(s.db, func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(key))
		if err == nil {
			secret, err = item.ValueCopy(nil)
			return err
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		secret = make([]byte, n)
		if _, err := rand.Read(secret); err != nil {
			return err
		}
		return txn.Set([]byte(key), secret)
	})
	if err != nil {
		return nil, fmt.Errorf("identity: load %s: %w", key, err)
	}
	return secret, nil
}

func (s *Service) hash(password string) (string, error) {
	s.hashSem <- struct{}{}
	defer func() { <-s.hashSem }()
	return HashPassword(password, s.cfg.Argon2)
}

func (s *Service) verify(password, encoded string) (bool, error) {
	s.hashSem <- struct{}{}
	defer func() { <-s.hashSem }()
	return VerifyPassword(password, encoded)
}

// RegisterInput is what a new user provides.
type RegisterInput struct {
	Email       string
	Password    string
	DisplayName string
	// Client identifies the caller (its IP) for throttling.
	Client string
}

// Register creates an account with its own Ed25519 member key. The email
// is unverified until the user follows the verification link.
func (s *Service) Register(in RegisterInput) (Account, error) {
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return Account{}, err
	}
	name, err := NormalizeDisplayName(in.DisplayName)
	if err != nil {
		return Account{}, err
	}
	if err := CheckPassword(in.Password, email, name); err != nil {
		return Account{}, err
	}
	if wait, _ := s.registrations.take(in.Client, s.now()); wait > 0 {
		return Account{}, &ThrottledError{RetryAfter: wait}
	}
	// The hash is paid for whether or not the email is taken, so the time
	// of the answer does not tell either.
	hash, err := s.hash(in.Password)
	if err != nil {
		return Account{}, err
	}
	if taken, err := s.accountByEmail(email); err == nil {
		s.mailTaken(taken)
		return Account{}, ErrEmailTaken
	}
	_, memberKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Account{}, fmt.Errorf("identity: member key: %w", err)
	}
	acct := Account{
		ID:           randomToken(12),
		Email:        email,
		DisplayName:  name,
		PasswordHash: hash,
		CreatedAt:    s.now().UTC(),
		MemberKey:    memberKey,
	}
	err = update(s.db, func(txn *badger.Txn) error {
		if _, err := txn.Get([]byte(prefixEmail + email)); err == nil {
			return ErrEmailTaken
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		if err := txn.Set([]byte(prefixEmail+email), []byte(acct.ID)); err != nil {
			return err
		}
		if err := txn.Set([]byte(prefixMember+acct.MemberID()), []byte(acct.ID)); err != nil {
			return err
		}
		return setJSON(txn, prefixAccount+acct.ID, acct)
	})
	if err != nil {
		return Account{}, err
	}
	s.log.Info("account registered", "account", acct.ID, "member", Fingerprint(acct.MemberPublicKey()))
	if err := s.sendVerification(acct); err != nil {
		s.log.Error("verification mail not sent; the user can ask again", "account", acct.ID, "err", err)
	}
	return acct, nil
}

// Login checks an email and password and starts a session. Unknown emails
// and wrong passwords return the same ErrInvalidCredentials after the same
// work. client identifies the caller (its IP) for throttling; failures are
// throttled per account and per client with a *ThrottledError.
func (s *Service) Login(email, password, client string) (Tokens, Account, error) {
	now := s.now()
	key, err := NormalizeEmail(email)
	if err != nil {
		key = "invalid:" + email
	}
	// Each attempt takes its tokens before the password is checked, so
	// parallel attempts are throttled like sequential ones; a success gives
	// them back.
	waitA, undoA := s.accountFails.take(key, now)
	if waitA > 0 {
		return Tokens{}, Account{}, &ThrottledError{RetryAfter: waitA}
	}
	waitC, undoC := s.clientFails.take(client, now)
	if waitC > 0 {
		undoA()
		return Tokens{}, Account{}, &ThrottledError{RetryAfter: waitC}
	}
	fail := func() (Tokens, Account, error) {
		return Tokens{}, Account{}, ErrInvalidCredentials
	}
	if len(password) > 4*MaxPasswordLen {
		return fail()
	}
	acct, err := s.accountByEmail(key)
	if errors.Is(err, ErrNotFound) || (err == nil && acct.PasswordHash == "") {
		s.dummyOnce.Do(func() { s.dummyHash, _ = s.hash(randomToken(16)) })
		s.verify(password, s.dummyHash)
		return fail()
	}
	if err != nil {
		undoA()
		undoC()
		return Tokens{}, Account{}, err
	}
	ok, err := s.verify(password, acct.PasswordHash)
	if err != nil {
		undoA()
		undoC()
		return Tokens{}, Account{}, fmt.Errorf("identity: account %s: %w", acct.ID, err)
	}
	if !ok {
		return fail()
	}
	undoC()
	s.accountFails.reset(key)
	var toks Tokens
	err = update(s.db, func(txn *badger.Txn) error {
		var err error
		toks, err = s.newSession(txn, acct, now)
		return err
	})
	if err != nil {
		return Tokens{}, Account{}, err
	}
	return toks, acct, nil
}

// Account returns the account with the given id, or ErrNotFound.
func (s *Service) Account(id string) (Account, error) {
	var a Account
	err := s.db.View(func(txn *badger.Txn) error { return getJSON(txn, prefixAccount+id, &a) })
	return a, err
}

// AccountByEmail returns the account registered with email, or
// ErrNotFound.
func (s *Service) AccountByEmail(email string) (Account, error) {
	key, err := NormalizeEmail(email)
	if err != nil {
		return Account{}, ErrNotFound
	}
	return s.accountByEmail(key)
}

func (s *Service) accountByEmail(email string) (Account, error) {
	return s.accountByIndex(prefixEmail + email)
}

// accountByIndex follows an index key (email or member id → account id)
// to the account.
func (s *Service) accountByIndex(key string) (Account, error) {
	var a Account
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		id, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		return getJSON(txn, prefixAccount+string(id), &a)
	})
	return a, err
}

// EncKey returns the current encryption key of the local account whose
// MemberID is memberID: the key its parties seal their epoch secrets to
// (see party/rules/e2e.go). It is derived from the member key (EncKey), so
// whatever restores the member key (and the generation) restores it too.
func (s *Service) EncKey(memberID string) (hpke.PrivateKey, bool) {
	keys := s.EncKeys(memberID)
	if len(keys) == 0 {
		return nil, false
	}
	return keys[0], true
}

// EncKeys returns every encryption key generation of the local account
// whose MemberID is memberID, the current first: seals made before a
// rotation reached the account's parties open with an earlier one.
func (s *Service) EncKeys(memberID string) []hpke.PrivateKey {
	if k, ok := s.encKeys.Load(memberID); ok {
		return k.([]hpke.PrivateKey)
	}
	a, err := s.accountByIndex(prefixMember + memberID)
	if err != nil {
		return nil
	}
	var keys []hpke.PrivateKey
	for gen := a.EncGen; gen >= 0; gen-- {
		k, err := EncKey(a.MemberKey, gen)
		if err != nil {
			s.log.Error("derive encryption key", "err", err)
			return nil
		}
		keys = append(keys, k)
	}
	s.encKeys.Store(memberID, keys)
	return keys
}

// RotateEncKey moves the account to its next encryption key generation and
// returns the new key. Its parties learn it from the party service.
func (s *Service) RotateEncKey(accountID string) (hpke.PrivateKey, error) {
	var a Account
	err := update(s.db, func(txn *badger.Txn) error {
		if err := getJSON(txn, prefixAccount+accountID, &a); err != nil {
			return err
		}
		if a.EncGen >= maxEncGen {
			return ErrTooManyKeys
		}
		a.EncGen++
		return setJSON(txn, prefixAccount+a.ID, a)
	})
	if err != nil {
		return nil, err
	}
	s.encKeys.Delete(a.MemberID())
	k, ok := s.EncKey(a.MemberID())
	if !ok {
		return nil, errors.New("identity: encryption key not derived")
	}
	return k, nil
}

// maxEncGen bounds an account's encryption key rotations (each one is
// derived again whenever the account's keys are needed).
const maxEncGen = 100

// MemberKey returns the private member key of the local account whose
// MemberID is memberID. The party service signs with it on the owner's
// behalf (admitting joiners) when no request of the owner is in flight.
func (s *Service) MemberKey(memberID string) (ed25519.PrivateKey, bool) {
	a, err := s.accountByIndex(prefixMember + memberID)
	if err != nil {
		return nil, false
	}
	return a.MemberKey, true
}
