package member

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

func TestIDRoundTripAndFingerprint(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	id := ID(pub)
	if len(id) != 52 || strings.ToLower(id) != id {
		t.Fatalf("id %q is not 52 lowercase characters", id)
	}
	back, err := Parse(id)
	if err != nil || !back.Equal(pub) {
		t.Fatalf("Parse(ID(k)) = %v, %v", back, err)
	}
	for _, bad := range []string{"", "abc", id[:51], id + "a", strings.Repeat("0", 52)} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	if fp := Fingerprint(pub); len(fp) != 19 || strings.Count(fp, "-") != 3 {
		t.Fatalf("fingerprint %q is not four groups of four", fp)
	}
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{"  Ann ": "Ann", "Zoë ✨": "Zoë ✨", strings.Repeat("x", 64): strings.Repeat("x", 64)} {
		if got, err := NormalizeName(in); err != nil || got != want {
			t.Errorf("NormalizeName(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "   ", strings.Repeat("x", 65), "Ann\u202egnp", "Ann\x1b[31m", "a\nb"} {
		if _, err := NormalizeName(bad); !errors.Is(err, ErrInvalidName) {
			t.Errorf("NormalizeName(%q) accepted", bad)
		}
	}
}
