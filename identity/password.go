package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters. The zero value means
// DefaultArgon2Params.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	KeyLen  uint32
	SaltLen uint32
}

// DefaultArgon2Params follow OWASP's Password Storage Cheat Sheet first
// recommendation for argon2id: m=46 MiB, t=1, p=1.
var DefaultArgon2Params = Argon2Params{Memory: 46 * 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

const (
	// MinPasswordLen is the minimum password length in characters.
	MinPasswordLen = 8
	// MaxPasswordLen bounds the work an attacker can make us do per attempt.
	MaxPasswordLen = 256
	// minPasswordScore is the lowest zxcvbn score (0..4) accepted. Score 2
	// ("somewhat guessable", >10^6 guesses) refuses common passwords,
	// keyboard walks and dictionary words with trivial substitutions.
	minPasswordScore = 2
)

// CheckPassword refuses passwords that are too short, too long or common.
// userInputs (email, display name) count as known words.
func CheckPassword(password string, userInputs ...string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case !utf8.ValidString(password):
		return &WeakPasswordError{Reason: "the password is not valid UTF-8"}
	case n < MinPasswordLen:
		return &WeakPasswordError{Reason: fmt.Sprintf("the password must be at least %d characters long", MinPasswordLen)}
	case n > MaxPasswordLen:
		return &WeakPasswordError{Reason: fmt.Sprintf("the password must be at most %d characters long", MaxPasswordLen)}
	}
	// zxcvbn's cost grows with length; the first 64 characters are plenty to
	// tell a common password from a strong one.
	probe := password
	if n > 64 {
		probe = string([]rune(password)[:64])
	}
	var inputs []string
	for _, in := range userInputs {
		inputs = append(inputs, strings.ToLower(in))
		if at := strings.IndexByte(in, '@'); at > 0 {
			inputs = append(inputs, strings.ToLower(in[:at]))
		}
	}
	if zxcvbn.PasswordStrength(probe, inputs).Score < minPasswordScore {
		return &WeakPasswordError{Reason: "the password is too common or too easy to guess"}
	}
	return nil
}

// HashPassword returns an argon2id hash in the PHC string format:
// $argon2id$v=19$m=47104,t=1,p=1$<salt>$<hash>.
func HashPassword(password string, p Argon2Params) (string, error) {
	if p == (Argon2Params{}) {
		p = DefaultArgon2Params
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2Key([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// hashing counts argon2 computations in progress.
var hashing atomic.Int32

// argon2Key is argon2.IDKey, after which the last of the computations in
// progress hands their memory (46 MiB each) back to the system at once.
// Left to the Go runtime, a personal node kept it for minutes after a
// sign-in (143 MB resident instead of ~60), with the background
// scavenger spending about 1% of a core giving it back.
func argon2Key(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	hashing.Add(1)
	key := argon2.IDKey(password, salt, time, memory, threads, keyLen)
	if hashing.Add(-1) == 0 {
		debug.FreeOSMemory()
	}
	return key
}

var errBadHash = errors.New("identity: malformed password hash")

// Bounds on the costs a stored hash may ask for (ours: m=47104 KiB, t=1).
const (
	maxArgon2Time   = 10
	maxArgon2Memory = 1 << 20 // KiB: 1 GiB
)

// VerifyPassword reports whether password matches the PHC-encoded argon2id
// hash, in constant time with respect to the hash contents.
func VerifyPassword(password, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return false, errBadHash
	}
	// argon2 panics on zero rounds or parallelism, and a stored hash must
	// never make us spend more than our own parameters' order of cost.
	if p.Time < 1 || p.Threads < 1 || p.Time > maxArgon2Time || p.Memory < 8*uint32(p.Threads) || p.Memory > maxArgon2Memory {
		return false, errBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errBadHash
	}
	got := argon2Key([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
