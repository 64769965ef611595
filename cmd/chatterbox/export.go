package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chatterbox/chatterbox/node"
	"github.com/chatterbox/chatterbox/party/export"
)

// chatterbox export: what one account can read, as a zip archive of JSON
// and a readable page (party/export), asked of the running node over its
// admin socket — only the OS user running the node reaches that.

const exportUsage = "chatterbox export --account EMAIL [--party ID] [--data-dir DIR] [FILE]"

func exportAccount(ctx context.Context, args []string, stdout io.Writer) error {
	var dir, account, partyID string
	fs := dataDirFlags("export", &dir)
	fs.StringVar(&account, "account", "", "the `email` of the account whose messages to export")
	fs.StringVar(&partyID, "party", "", "export only this party or direct conversation (`id`); default: all")
	file, err := parseOptionalFileArg(fs, args, exportUsage)
	if err != nil {
		return err
	}
	if account == "" {
		return usagef("name the account with --account EMAIL (usage: %s)", exportUsage)
	}
	if dir == "" {
		return usagef("name the data directory with --data-dir")
	}
	if file == "" {
		name := "all"
		if partyID != "" {
			name = partyID
		}
		file = export.FileName(name, time.Now())
	}
	if _, err := os.Stat(filepath.Join(dir, node.AdminSocket)); err != nil {
		return fmt.Errorf("no node is running in %s: start it (chatterbox run), then export", dir)
	}
	q := url.Values{"account": {account}}
	if partyID != "" {
		q.Set("party", partyID)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", "http://node/export?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	res, err := node.AdminClient(dir).Do(req)
	if err != nil {
		return fmt.Errorf("no node is running in %s: start it (chatterbox run), then export", dir)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 1<<10))
		return fmt.Errorf("export: %s", strings.TrimSpace(string(msg)))
	}
	// Others' messages are in it: readable by this user only.
	var n int64
	if err := writePrivate(file, func(f *os.File) (err error) {
		n, err = io.Copy(f, res.Body)
		return err
	}); err != nil {
		return fmt.Errorf("export cut short: %w", err)
	}
	fmt.Fprintf(stdout, "Exported what %s can read to %s (%d bytes): messages.json and index.html inside.\n", account, file, n)
	return nil
}
