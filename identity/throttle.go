package identity

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ThrottlePolicy is a token bucket of failed attempts: Burst failures are
// allowed at once, then one more every Every. The zero value disables it.
type ThrottlePolicy struct {
	Burst int
	Every time.Duration
}

// Default sign-in throttles: per account 5 failures, then one a minute; per
// client 20 failures, then one every 10 seconds.
var (
	DefaultAccountThrottle = ThrottlePolicy{Burst: 5, Every: time.Minute}
	DefaultClientThrottle  = ThrottlePolicy{Burst: 20, Every: 10 * time.Second}
	// DefaultRegisterThrottle: 10 registrations per client, then one a minute.
	DefaultRegisterThrottle = ThrottlePolicy{Burst: 10, Every: time.Minute}
)

// maxThrottleKeys bounds the memory of a limiterSet; buckets that have
// refilled completely carry no information and are dropped first.
const maxThrottleKeys = 10000

// limiterSet counts failures per key with golang.org/x/time/rate buckets.
// A failure takes a token; an attempt is refused while the bucket is empty.
type limiterSet struct {
	policy ThrottlePolicy

	mu sync.Mutex
	m  map[string]*rate.Limiter // guarded by mu
}

func newLimiterSet(p ThrottlePolicy) *limiterSet {
	return &limiterSet{policy: p, m: make(map[string]*rate.Limiter)}
}

func (s *limiterSet) enabled() bool { return s.policy.Burst > 0 && s.policy.Every > 0 }

// wait returns how long key must wait before its next attempt; 0 means now.
func (s *limiterSet) wait(key string, now time.Time) time.Duration {
	if !s.enabled() {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lim, ok := s.m[key]
	if !ok {
		return 0
	}
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) * float64(s.policy.Every))
}

// take reserves an attempt for key before it is judged: it takes a token
// at once, so parallel attempts cannot all pass a check made before any of
// them failed. It returns how long to wait (0: go ahead) and, when the
// attempt may go ahead, a function that gives the token back (the attempt
// succeeded and should not count).
func (s *limiterSet) take(key string, now time.Time) (time.Duration, func()) {
	if !s.enabled() {
		return 0, func() {}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.limiterLocked(key, now).ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, nil
	}
	return 0, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		r.CancelAt(now)
	}
}

// fail records a failed attempt for key.
func (s *limiterSet) fail(key string, now time.Time) {
	if !s.enabled() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limiterLocked(key, now).AllowN(now, 1)
}

// limiterLocked returns key's bucket, making it if needed; s.mu is held.
func (s *limiterSet) limiterLocked(key string, now time.Time) *rate.Limiter {
	lim, ok := s.m[key]
	if !ok {
		if len(s.m) >= maxThrottleKeys {
			s.pruneLocked(now)
		}
		lim = rate.NewLimiter(rate.Every(s.policy.Every), s.policy.Burst)
		s.m[key] = lim
	}
	return lim
}

// reset forgets key's failures (after a successful sign-in).
func (s *limiterSet) reset(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}

func (s *limiterSet) pruneLocked(now time.Time) {
	for k, lim := range s.m {
		if lim.TokensAt(now) >= float64(s.policy.Burst) {
			delete(s.m, k)
		}
	}
	// Still full: every bucket is in use by an ongoing attack. Dropping the
	// oldest would need more bookkeeping; dropping arbitrary ones keeps the
	// bound, and the per-client bucket still limits the attacker.
	for k := range s.m {
		if len(s.m) < maxThrottleKeys {
			break
		}
		delete(s.m, k)
	}
}
