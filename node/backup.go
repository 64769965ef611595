package node

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/chatterbox/chatterbox/party"
	"github.com/chatterbox/chatterbox/party/export"
	"github.com/chatterbox/chatterbox/party/rules"
)

// Backups: a node's whole state in one file — its libp2p key (its peer id,
// which every party it is in names as its members' home node) and a
// Badger backup of its database (accounts and their member keys, parties,
// messages). Taken from a running node through its admin socket, which is
// consistent while the node writes (Badger's backup reads one snapshot),
// or from a stopped node's data directory; restored only into a directory
// that holds no node. What other nodes hold and the backup lacks (what
// came after it) comes back by catch-up when the restored node runs.
//
// The file: backupMagic, then a gzip stream of the key's length (uint32,
// big endian), the key (libp2p's protobuf encoding) and Badger's backup
// stream.

const backupMagic = "CHATTERBOX-BACKUP-1\n"

// AdminSocket is the file name, in the data directory, of the Unix socket
// on which a running node answers its operator (chatterbox backup). The
// data directory is 0700 and the socket 0600: only the user the node runs
// as reaches it.
const AdminSocket = "admin.sock"

// ErrNotEmpty means a restore was asked into a directory that holds a node.
var ErrNotEmpty = errors.New("the data directory holds a node already")

func writeBackup(w io.Writer, key []byte, db *badger.DB) error {
	if _, err := io.WriteString(w, backupMagic); err != nil {
		return err
	}
	zw := gzip.NewWriter(w)
	if err := binary.Write(zw, binary.BigEndian, uint32(len(key))); err != nil {
		return err
	}
	if _, err := zw.Write(key); err != nil {
		return err
	}
	if _, err := db.Backup(zw, 0); err != nil {
		return fmt.Errorf("back up the database: %w", err)
	}
	return zw.Close()
}

// Backup writes a backup of the running node to w.
func (n *Node) Backup(w io.Writer) error {
	key, err := os.ReadFile(filepath.Join(n.cfg.DataDir, "node.key"))
	if err != nil {
		return err
	}
	return writeBackup(w, key, n.db)
}

// BackupDataDir writes a backup of the node in dataDir, which must not be
// running (it takes the directory's lock).
func BackupDataDir(dataDir string, w io.Writer) error {
	if _, err := os.Stat(filepath.Join(dataDir, "node.key")); err != nil {
		return fmt.Errorf("no node in %s: %w", dataDir, err)
	}
	lock, err := lockDataDir(dataDir)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	key, err := os.ReadFile(filepath.Join(dataDir, "node.key"))
	if err != nil {
		return err
	}
	db, err := badger.Open(dbOptions(dataDir, slog.New(slog.DiscardHandler)))
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	return writeBackup(w, key, db)
}

// Restore makes dataDir (created if missing) a copy of the node backed up
// in r. It refuses a directory that holds a node already.
func Restore(r io.Reader, dataDir string) error {
	br := bufio.NewReader(r)
	magic := make([]byte, len(backupMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != backupMagic {
		return errors.New("not a ChatterBox backup")
	}
	for _, name := range []string{"node.key", "db"} {
		if _, err := os.Stat(filepath.Join(dataDir, name)); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s (restore into an empty or new directory)", ErrNotEmpty, dataDir)
		}
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return fmt.Errorf("backup is damaged: %w", err)
	}
	var n uint32
	if err := binary.Read(zr, binary.BigEndian, &n); err != nil || n == 0 || n > 1<<12 {
		return errors.New("backup is damaged: no node key")
	}
	key := make([]byte, n)
	if _, err := io.ReadFull(zr, key); err != nil {
		return errors.New("backup is damaged: node key cut short")
	}
	if _, err := crypto.UnmarshalPrivateKey(key); err != nil {
		return fmt.Errorf("backup is damaged: node key: %w", err)
	}
	lock, err := lockDataDir(dataDir)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	// The search index is rebuilt from the database at start.
	if err := os.RemoveAll(filepath.Join(dataDir, "search")); err != nil {
		return err
	}
	db, err := badger.Open(dbOptions(dataDir, slog.New(slog.DiscardHandler)))
	if err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	if err := db.Load(zr, 256); err != nil {
		db.Close()
		os.RemoveAll(filepath.Join(dataDir, "db"))
		return fmt.Errorf("backup is damaged: %w", err)
	}
	if err := db.Close(); err != nil {
		return err
	}
	// The key last: a directory with a key and no complete database
	// would start as a node that lost everything.
	tmp := filepath.Join(dataDir, "node.key.tmp")
	if err := os.WriteFile(tmp, key, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dataDir, "node.key"))
}

// serveExport answers chatterbox export: what the account named by
// ?account= (its email) can read — all of it, or the party ?party= — as a
// zip archive. Errors are a status and a sentence.
func (n *Node) serveExport(w http.ResponseWriter, r *http.Request) {
	acct, err := n.id.AccountByEmail(r.URL.Query().Get("account"))
	if err != nil {
		http.Error(w, "there is no account with that email on this node", http.StatusNotFound)
		return
	}
	a := party.Actor{AccountID: acct.ID, Name: acct.DisplayName, Key: acct.MemberKey}
	ar, err := export.Collect(a, n.ps.Parties(), n.ps.Chat(), r.URL.Query().Get("party"), time.Now())
	if errors.Is(err, rules.ErrNotFound) {
		http.Error(w, "that account is not in that party", http.StatusNotFound)
		return
	}
	if err != nil {
		n.log.Error("export failed", "err", err)
		http.Error(w, "the export failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	if err := export.Write(r.Context(), w, ar, a, n.ps.Chat()); err != nil {
		n.log.Error("export failed", "err", err)
		panic(http.ErrAbortHandler)
	}
	n.log.Info("export taken", "parties", len(ar.Parties))
}

// serveAdmin answers the operator on the admin socket until the node
// stops: GET /backup streams a backup; GET /metrics and doctor's routes.
func (n *Node) serveAdmin() {
	path := filepath.Join(n.cfg.DataDir, AdminSocket)
	os.Remove(path) // a crashed node's; we hold the data directory's lock
	ln, err := net.Listen("unix", path)
	if err != nil {
		n.log.Warn("no admin socket; chatterbox backup works only while the node is stopped", "err", err)
		return
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		n.log.Warn("admin socket permissions", "err", err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		if err := n.Backup(w); err != nil {
			n.log.Error("backup failed", "err", err)
			// The status is sent; a cut stream fails the restore's checks.
			panic(http.ErrAbortHandler)
		}
		n.log.Info("backup taken")
	})
	n.doctorRoutes(mux)
	mux.HandleFunc("GET /export", n.serveExport)
	mux.Handle("GET /metrics", n.metrics.handler()) // the operator's, wherever the gateway listens
	n.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	n.adminDone = make(chan struct{})
	go func() {
		defer close(n.adminDone)
		n.admin.Serve(ln)
	}()
}

// stopAdmin stops the admin socket, letting a backup in flight finish
// within ctx.
func (n *Node) stopAdmin(ctx context.Context) {
	if n.admin == nil {
		return
	}
	n.admin.Shutdown(ctx)
	<-n.adminDone
	os.Remove(filepath.Join(n.cfg.DataDir, AdminSocket))
	n.admin = nil
}

// AdminClient is an HTTP client that reaches the node running in dataDir
// through its admin socket (the URL's host is ignored).
func AdminClient(dataDir string) *http.Client {
	path := filepath.Join(dataDir, AdminSocket)
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}
