package export

import (
	"testing"
	"time"
)

func TestFileNameIsASafeSlug(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for name, want := range map[string]string{
		"Book Club":          "chatterbox-book-club-2026-12-02.zip",
		"../../etc/passwd":   "chatterbox-etc-passwd-2026-12-02.zip",
		"  ":                 "chatterbox-party-2026-12-02.zip",
		"Café ☕ & friends!!": "chatterbox-café-friends-2026-12-02.zip",
	} {
		if got := FileName(name, now); got != want {
			t.Errorf("FileName(%q) = %q, want %q", name, got, want)
		}
	}
}
