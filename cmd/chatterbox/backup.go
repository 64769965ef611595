package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/chatterbox/chatterbox/node"
)

// chatterbox backup FILE and chatterbox restore FILE: a node's whole state
// (node key and database) in one file, and back (node/backup.go).

// dataDirFlags is a flag set with only --data-dir, for the subcommands that
// act on a data directory.
func dataDirFlags(name string, dir *string) *flag.FlagSet {
	fs := flag.NewFlagSet("chatterbox "+name, flag.ContinueOnError)
	def, err := node.DefaultDataDir()
	if err != nil {
		def = ""
	}
	if env := os.Getenv("CHATTERBOX_DATA_DIR"); env != "" {
		def = env
	}
	fs.StringVar(dir, "data-dir", def, "the node's data directory `path` (env CHATTERBOX_DATA_DIR)")
	fs.SetOutput(io.Discard)
	return fs
}

// parseFileArg parses the flags around one FILE argument.
func parseFileArg(fs *flag.FlagSet, args []string, usage string) (string, error) {
	file, err := parseOptionalFileArg(fs, args, usage)
	if err == nil && file == "" {
		return "", usagef("name the backup file (usage: %s)", usage)
	}
	return file, err
}

// parseOptionalFileArg parses the flags around at most one FILE argument.
func parseOptionalFileArg(fs *flag.FlagSet, args []string, usage string) (string, error) {
	var file string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return "", err
			}
			return "", usagef("%v (usage: %s)", err, usage)
		}
		if fs.NArg() == 0 {
			return file, nil
		}
		if file != "" {
			return "", usagef("one file only (usage: %s)", usage)
		}
		file, args = fs.Arg(0), fs.Args()[1:]
	}
}

// writePrivate writes file through fill, readable by this user only: into
// a temporary file beside it, synced, then renamed into place, so a cut
// write never leaves a partial file under the name.
func writePrivate(file string, fill func(*os.File) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), ".chatterbox-*")
	if err != nil {
		return fmt.Errorf("create %s: %w", file, err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	err = tmp.Chmod(0o600)
	if err == nil {
		err = fill(tmp)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

const (
	backupUsage  = "chatterbox backup [--data-dir DIR] FILE"
	restoreUsage = "chatterbox restore [--data-dir DIR] FILE"
)

// backupNode writes a backup of the node in --data-dir to FILE: through
// the running node's admin socket, or from the directory when no node
// runs there.
func backupNode(ctx context.Context, args []string, stdout io.Writer) error {
	var dir string
	file, err := parseFileArg(dataDirFlags("backup", &dir), args, backupUsage)
	if err != nil {
		return err
	}
	if dir == "" {
		return usagef("name the data directory with --data-dir")
	}
	how := "from the running node"
	err = writePrivate(file, func(tmp *os.File) error {
		err := backupRunning(ctx, dir, tmp)
		if errors.Is(err, errNotRunning) {
			how = "from its data directory (no node is running there)"
			if _, serr := tmp.Seek(0, io.SeekStart); serr != nil {
				return serr
			}
			err = node.BackupDataDir(dir, tmp)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("back up %s: %w", dir, err)
	}
	fi, _ := os.Stat(file)
	fmt.Fprintf(stdout, "Backed up the node in %s to %s (%d bytes), %s.\nIt holds your accounts' keys: keep it as safe as the data directory.\n", dir, file, fi.Size(), how)
	return nil
}

var errNotRunning = errors.New("no node answers on the admin socket")

func backupRunning(ctx context.Context, dir string, w io.Writer) error {
	if _, err := os.Stat(filepath.Join(dir, node.AdminSocket)); err != nil {
		return errNotRunning
	}
	req, err := http.NewRequestWithContext(ctx, "GET", "http://node/backup", nil)
	if err != nil {
		return err
	}
	res, err := node.AdminClient(dir).Do(req)
	if err != nil {
		return errNotRunning // a socket left by a node that was killed
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("the node answered %s", res.Status)
	}
	_, err = io.Copy(w, res.Body)
	return err
}

// restoreNode makes --data-dir a copy of the node in FILE.
func restoreNode(args []string, stdout io.Writer) error {
	var dir string
	file, err := parseFileArg(dataDirFlags("restore", &dir), args, restoreUsage)
	if err != nil {
		return err
	}
	if dir == "" {
		return usagef("name the data directory with --data-dir")
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := node.Restore(f, dir); err != nil {
		return fmt.Errorf("restore %s: %w", file, err)
	}
	fmt.Fprintf(stdout, "Restored the node from %s into %s. Start it with: chatterbox run --data-dir %s\n", file, dir, dir)
	return nil
}
