package main

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatterbox/chatterbox/node/nodetest"
)

// chatterbox export writes what one account of the running node can read
// to a zip file readable by the user alone; an unknown account, or a node
// that is not running, gets a sentence and exit code 1.
func TestProcessExport(t *testing.T) {
	dataDir, gwPort, p2pPort := t.TempDir(), freePort(t), freePort(t)
	p, url := start(t, "run", "--data-dir", dataDir, "--gateway-addr", fmt.Sprintf("127.0.0.1:%d", gwPort),
		"--listen", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", p2pPort), "--mdns=false", "--nat-portmap=false")
	ann := nodetest.NewClient(t, url)
	ann.SignUp("ann@example.com", "correct horse battery staple", "Ann")
	party := ann.Must(201, "POST", "/api/parties", map[string]string{"name": "Book club"})
	topic := party.JSON["topics"].([]any)[0].(map[string]any)["id"].(string)
	ann.Must(201, "POST", "/api/parties/"+party.String("id")+"/topics/"+topic+"/messages", map[string]string{"body": "chapter 3 by Friday"})
	zoe := nodetest.NewClient(t, url)
	zoe.SignUp("zoe@example.com", "tr0ub4dor&3 is not enough here", "Zoe")

	file := t.TempDir() + "/ann.zip"
	e := launch(t, "export", "--data-dir", dataDir, "--account", "ann@example.com", file)
	if code := e.wait(t, time.Minute); code != 0 {
		t.Fatalf("export exited %d\n%s", code, e.stderr)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("export file: %v %v", fi, err)
	}
	z, err := zip.OpenReader(file)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	var json string
	for _, f := range z.File {
		if f.Name == "chatterbox-export/messages.json" {
			rc, _ := f.Open()
			raw, _ := io.ReadAll(rc)
			rc.Close()
			json = string(raw)
		}
	}
	if !strings.Contains(json, "chapter 3 by Friday") || !strings.Contains(json, "Book club") {
		t.Fatalf("messages.json:\n%s", json)
	}
	// Zoe's export (an account in no party) holds none of it.
	zf := t.TempDir() + "/zoe.zip"
	if code := launch(t, "export", "--data-dir", dataDir, "--account", "zoe@example.com", zf).wait(t, time.Minute); code != 0 {
		t.Fatal("Zoe's export failed")
	}
	if raw, _ := os.ReadFile(zf); strings.Contains(string(raw), "Book club") {
		t.Fatal("Zoe's export names Ann's party")
	}

	bad := launch(t, "export", "--data-dir", dataDir, "--account", "nobody@example.com", t.TempDir()+"/x.zip")
	if code := bad.wait(t, time.Minute); code != 1 || !strings.Contains(bad.stderr.String(), "no account with that email") {
		t.Fatalf("export of an unknown account exited %d:\n%s", code, bad.stderr)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, time.Minute); code != 0 {
		t.Fatalf("node exited %d on SIGTERM", code)
	}
	off := launch(t, "export", "--data-dir", dataDir, "--account", "ann@example.com", t.TempDir()+"/y.zip")
	if code := off.wait(t, time.Minute); code != 1 || !strings.Contains(off.stderr.String(), "no node is running") {
		t.Fatalf("export with no node running exited %d:\n%s", code, off.stderr)
	}
}
