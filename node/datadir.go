package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/gofrs/flock"
)

// ErrDataDirLocked means another node process uses the data directory.
var ErrDataDirLocked = errors.New("data directory is in use by another chatterbox node")

// DefaultDataDir is where a node keeps its data when none is configured:
// $XDG_DATA_HOME/chatterbox, else the platform's per-user data folder
// (~/.local/share/chatterbox on Linux).
func DefaultDataDir() (string, error) {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "chatterbox"), nil
	}
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "ChatterBox"), nil
		}
	case "darwin":
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, "Library", "Application Support", "ChatterBox"), nil
		}
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the data directory: %w (set --data-dir)", err)
	}
	return filepath.Join(h, ".local", "share", "chatterbox"), nil
}

// lockDataDir creates dir (0700) and takes an exclusive advisory lock on
// dir/LOCK, held until the returned lock is unlocked. The lock dies with the
// process, so a crash never leaves a stale lock behind.
func lockDataDir(dir string) (*flock.Flock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	l := flock.New(filepath.Join(dir, "LOCK"))
	ok, err := l.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s (stop the other node, or pass a different --data-dir)", ErrDataDirLocked, dir)
	}
	return l, nil
}
