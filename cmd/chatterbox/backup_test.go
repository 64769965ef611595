package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatterbox/chatterbox/node/nodetest"
)

// bodiesOf is every message body in a topic, through the API.
func bodiesOf(t *testing.T, c *nodetest.Client, path string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	cursor := ""
	for range 100 {
		r := c.Do("GET", path+"?limit=100&before="+cursor, nil)
		if r.Status != http.StatusOK {
			return out
		}
		for _, m := range r.JSON["messages"].([]any) {
			out[m.(map[string]any)["body"].(string)] = true
		}
		if cursor = r.String("nextCursor"); cursor == "" {
			break
		}
	}
	return out
}

// A running node is backed up, stops, and is restored into a new data
// directory: the restored node is the same node (peer id, accounts,
// parties), has every message acknowledged before the backup, gets back by
// catch-up what its party wrote after it, and chats on. A backup of a
// stopped node's directory works too; a restore never overwrites a node.
func TestProcessBackupAndRestore(t *testing.T) {
	dataDir, gwPort, p2pPort := t.TempDir(), freePort(t), freePort(t)
	args := func(dir string) []string {
		return []string{"run", "--data-dir", dir, "--gateway-addr", fmt.Sprintf("127.0.0.1:%d", gwPort),
			"--listen", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", p2pPort), "--mdns=false", "--nat-portmap=false"}
	}
	p, url := start(t, args(dataDir)...)
	ann := nodetest.NewClient(t, url)
	ann.SignUp("ann@example.com", "correct horse battery staple", "Ann")
	peerID := ann.Must(200, "GET", "/api/node", nil).String("peerId")
	party := ann.Must(201, "POST", "/api/parties", map[string]string{"name": "Kept"})
	partyID := party.String("id")
	topic := party.JSON["topics"].([]any)[0].(map[string]any)["id"].(string)
	path := "/api/parties/" + partyID + "/topics/" + topic + "/messages"
	link := ann.Must(201, "POST", "/api/parties/"+partyID+"/invites", map[string]any{}).String("link")

	// Bob, on a node of his own, is in the party.
	bobNode := nodetest.Start(t, 1)[0]
	bob := nodetest.NewClient(t, bobNode.GatewayURL())
	bob.SignUp("bob@example.com", "tr0ub4dor&3 is not enough here", "Bob")
	bob.Must(200, "POST", "/api/invites/accept", map[string]string{"link": link})
	for i := range 20 {
		ann.Must(201, "POST", path, map[string]string{"body": fmt.Sprintf("before %d", i)})
	}
	bob.Must(201, "POST", path, map[string]string{"body": "from bob"})
	nodetest.Eventually(t, 20*time.Second, "Ann's node to have Bob's post", func() bool { return bodiesOf(t, ann, path)["from bob"] })

	file := t.TempDir() + "/node.backup"
	b := launch(t, "backup", "--data-dir", dataDir, file)
	var out []string
	for line := range b.lines {
		out = append(out, line)
	}
	if code := b.wait(t, time.Minute); code != 0 || !strings.Contains(strings.Join(out, "\n"), "from the running node") {
		t.Fatalf("backup of a running node exited %d: %q\n%s", code, out, b.stderr)
	}
	// What Ann writes after the backup is on Bob's node only, once hers is gone.
	for i := range 3 {
		ann.Must(201, "POST", path, map[string]string{"body": fmt.Sprintf("after %d", i)})
	}
	nodetest.Eventually(t, 20*time.Second, "Bob's node to have Ann's later posts", func() bool { return bodiesOf(t, bob, path)["after 2"] })
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, time.Minute); code != 0 {
		t.Fatalf("node exited %d on SIGTERM", code)
	}

	// A stopped node's directory backs up too.
	off := launch(t, "backup", "--data-dir", dataDir, t.TempDir()+"/offline.backup")
	if code := off.wait(t, time.Minute); code != 0 {
		t.Fatalf("backup of a stopped node exited %d\n%s", code, off.stderr)
	}

	restored := t.TempDir() + "/restored"
	if code := launch(t, "restore", "--data-dir", restored, file).wait(t, time.Minute); code != 0 {
		t.Fatal("restore failed")
	}
	again := launch(t, "restore", "--data-dir", restored, file)
	if code := again.wait(t, time.Minute); code != 1 || !strings.Contains(again.stderr.String(), "holds a node already") {
		t.Fatalf("a restore over a node exited %d:\n%s", code, again.stderr)
	}
	garbage := t.TempDir() + "/garbage"
	writeFile(t, garbage, "not a backup")
	bad := launch(t, "restore", "--data-dir", t.TempDir()+"/x", garbage)
	if code := bad.wait(t, time.Minute); code != 1 || !strings.Contains(bad.stderr.String(), "not a ChatterBox backup") {
		t.Fatalf("restoring garbage exited %d:\n%s", code, bad.stderr)
	}

	_, url2 := start(t, args(restored)...)
	ann2 := nodetest.NewClient(t, url2)
	ann2.Token = ann2.SignIn("ann@example.com", "correct horse battery staple").String("accessToken")
	if got := ann2.Must(200, "GET", "/api/node", nil).String("peerId"); got != peerID {
		t.Fatalf("restored node is %s, was %s", got, peerID)
	}
	have := bodiesOf(t, ann2, path)
	for i := range 20 {
		if !have[fmt.Sprintf("before %d", i)] {
			t.Fatalf("acknowledged post %d is not in the restored node: %v", i, have)
		}
	}
	if !have["from bob"] {
		t.Fatal("Bob's post is not in the restored node")
	}
	nodetest.Eventually(t, 30*time.Second, "the restored node to catch up on what came after the backup", func() bool {
		return bodiesOf(t, ann2, path)["after 2"]
	})
	bob.Must(201, "POST", path, map[string]string{"body": "welcome back"})
	nodetest.Eventually(t, 30*time.Second, "Bob's new post to reach the restored node", func() bool { return bodiesOf(t, ann2, path)["welcome back"] })
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// chatterbox doctor on a running node says what it checked and finds
// nothing to fix on a healthy one, sends a test mail through the node,
// and on a stopped node names the flag for a busy port.
func TestProcessDoctor(t *testing.T) {
	dataDir := t.TempDir()
	if err := os.Chmod(dataDir, 0o700); err != nil { // t.TempDir's are 0755: doctor would say so
		t.Fatal(err)
	}
	gwPort := freePort(t)
	p, _ := start(t, "run", "--data-dir", dataDir, "--gateway-addr", fmt.Sprintf("127.0.0.1:%d", gwPort),
		"--listen", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", freePort(t)), "--mdns=false", "--nat-portmap=false")
	run := func(args ...string) (int, string) {
		d := launch(t, append([]string{"doctor", "--data-dir", dataDir}, args...)...)
		var out []string
		for line := range d.lines {
			out = append(out, line)
		}
		return d.wait(t, time.Minute), strings.Join(out, "\n") + d.stderr.String()
	}
	code, out := run("--send-test-mail", "ann@example.com")
	for _, want := range []string{"ok    a node is running", "ok    data directory", "ok    listening on", "note  no member node connected",
		"note  no SMTP server", "ok    test mail written to the outbox", "Nothing to fix."} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor on a healthy running node: no %q in\n%s", want, out)
		}
	}
	if code != 0 {
		t.Fatalf("doctor on a healthy node exited %d:\n%s", code, out)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, time.Minute)

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	code, out = run("--gateway-addr", busy.Addr().String())
	if code != 1 || !strings.Contains(out, "note  no node is running") || !strings.Contains(out, "FIX   the gateway address "+busy.Addr().String()+" is busy") ||
		!strings.Contains(out, "--gateway-addr") {
		t.Fatalf("doctor on a stopped node with a busy port exited %d:\n%s", code, out)
	}
}
