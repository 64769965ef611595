package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chatterbox/chatterbox/node/nodetest"
)

// buildBinary compiles the chatterbox binary once per test run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "chatterbox-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "chatterbox")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func binary(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("process tests need the go command to build the binary:", err)
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is a running chatterbox process.
type proc struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan error
	lines  chan string
}

// start runs the binary with args and waits for it to print its gateway URL.
func start(t *testing.T, args ...string) (*proc, string) {
	t.Helper()
	p := launch(t, args...)
	deadline := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				err := <-p.done
				t.Fatalf("chatterbox exited before it was ready: %v\n%s", err, p.stderr)
			}
			if url, found := strings.CutPrefix(strings.TrimSpace(line), "gateway:"); found {
				return p, strings.TrimSpace(url)
			}
		case <-deadline:
			p.cmd.Process.Kill()
			t.Fatalf("chatterbox did not print its gateway URL within 60s\n%s", p.stderr)
		}
	}
}

func launch(t *testing.T, args ...string) *proc {
	t.Helper()
	env := append(os.Environ(), "XDG_DATA_HOME="+t.TempDir())
	for len(args) > 0 && strings.HasPrefix(args[0], "@env:") {
		env = append(env, strings.TrimPrefix(args[0], "@env:"))
		args = args[1:]
	}
	cmd := exec.Command(binary(t), args...)
	if len(args) >= 2 && args[0] == "@netns" {
		// Run inside a network namespace (netns_test.go).
		cmd = exec.Command("ip", append([]string{"netns", "exec", args[1], binary(t)}, args[2:]...)...)
	}
	cmd.Env = env
	p := &proc{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1), lines: make(chan string, 64)}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() }) // no-op once it has exited
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	for range p.lines {
	}
	select {
	case err := <-p.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(within):
		p.cmd.Process.Kill()
		t.Fatalf("chatterbox did not exit within %s\n%s", within, p.stderr)
		return -1
	}
}

func TestProcessRunStopRestart(t *testing.T) {
	dataDir := t.TempDir()
	gwPort := freePort(t)
	args := []string{"run", "--data-dir", dataDir, "--gateway-addr", fmt.Sprintf("127.0.0.1:%d", gwPort),
		"--listen", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", freePort(t)), "--mdns=false", "--nat-portmap=false"}

	p, url := start(t, args...)
	if url != fmt.Sprintf("http://localhost:%d", gwPort) {
		t.Fatalf("gateway URL = %q, want the origin mailed links use", url)
	}
	c := nodetest.NewClient(t, url)
	c.Must(200, "GET", "/healthz", nil)
	peerID := c.Must(200, "GET", "/api/node", nil).String("peerId")
	c.SignUp("ann@example.com", "correct horse battery staple", "Ann")
	memberID := c.Must(200, "GET", "/api/me", nil).String("memberId")

	// A second process on the same data dir is refused, clearly.
	second := launch(t, "run", "--data-dir", dataDir, "--gateway-addr", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0", "--mdns=false", "--nat-portmap=false")
	if code := second.wait(t, 30*time.Second); code != 1 {
		t.Fatalf("second process on a locked dir exited %d, want 1\n%s", code, second.stderr)
	}
	if !strings.Contains(second.stderr.String(), "in use by another chatterbox node") {
		t.Fatalf("second process did not say the directory is locked:\n%s", second.stderr)
	}

	c.HTTP.CloseIdleConnections()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d\n%s", code, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "msg=stopped") {
		t.Fatalf("no clean-stop log line:\n%s", p.stderr)
	}

	p2, url2 := start(t, args...)
	c2 := nodetest.NewClient(t, url2)
	if got := c2.Must(200, "GET", "/api/node", nil).String("peerId"); got != peerID {
		t.Fatalf("peer ID changed across restart: %s → %s", peerID, got)
	}
	c2.SignIn("ann@example.com", "correct horse battery staple")
	if got := c2.Must(200, "GET", "/api/me", nil).String("memberId"); got != memberID {
		t.Fatalf("member id changed across restart")
	}
	c2.HTTP.CloseIdleConnections()
	p2.cmd.Process.Signal(os.Interrupt)
	if code := p2.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code after SIGINT = %d\n%s", code, p2.stderr)
	}
}

func TestProcessUsageErrorExitCode2(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--mdns=perhaps"},
		{"run", "--gateway-addr", "nope"},
		{"frobnicate"},
	} {
		p := launch(t, args...)
		if code := p.wait(t, 30*time.Second); code != 2 {
			t.Errorf("%q exited %d, want 2\n%s", args, code, p.stderr)
		}
		msg := strings.TrimSpace(p.stderr.String())
		if !strings.HasPrefix(msg, "chatterbox: ") || strings.Count(msg, "\n") != 0 {
			t.Errorf("%q: want one sentence on stderr, got %q", args, msg)
		}
	}
	p := launch(t, "run", "--help")
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Errorf("--help exited %d", code)
	}
}

// TestProcessKill9LosesNoAcknowledgedMessage posts messages, kills the
// node with SIGKILL right after the last acknowledgement, restarts it and
// finds every acknowledged message.
func TestProcessKill9LosesNoAcknowledgedMessage(t *testing.T) {
	dataDir := t.TempDir()
	args := []string{"run", "--data-dir", dataDir, "--gateway-addr", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"--listen", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", freePort(t)), "--mdns=false", "--nat-portmap=false"}
	p, url := start(t, args...)
	c := nodetest.NewClient(t, url)
	c.SignUp("ann@example.com", "correct horse battery staple", "Ann")
	party := c.Must(201, "POST", "/api/parties", map[string]string{"name": "Durable"})
	partyID := party.String("id")
	topic := party.JSON["topics"].([]any)[0].(map[string]any)["id"].(string)
	path := "/api/parties/" + partyID + "/topics/" + topic + "/messages"

	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				r := c.Do("POST", path, map[string]string{"body": fmt.Sprintf("m %d/%d", w, i)})
				if r.Status != 201 {
					t.Errorf("post: %d %s", r.Status, r.Raw)
					return
				}
				mu.Lock()
				acked[r.String("id")] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 10*time.Second)

	_, url2 := start(t, args...)
	c2 := nodetest.NewClient(t, url2)
	c2.SignIn("ann@example.com", "correct horse battery staple")
	found := map[string]bool{}
	cursor := ""
	for range 100 {
		r := c2.Must(200, "GET", path+"?limit=100&before="+cursor, nil)
		for _, m := range r.JSON["messages"].([]any) {
			found[m.(map[string]any)["id"].(string)] = true
		}
		if cursor = r.String("nextCursor"); cursor == "" {
			break
		}
	}
	for id := range acked {
		if !found[id] {
			t.Fatalf("acknowledged message %s was lost by kill -9 (%d of %d survived)", id, len(found), len(acked))
		}
	}
	if len(acked) != 400 {
		t.Fatalf("%d messages acknowledged, want 400", len(acked))
	}
}

// A second node that would share a port with the first is refused with a
// sentence naming the flag to change, before it starts libp2p; and a
// gateway bound to every interface prints a URL a browser can open.
func TestProcessRefusesBusyPortsAndPrintsAnOpenableURL(t *testing.T) {
	gwPort := freePort(t)
	first, url := start(t, "run", "--data-dir", t.TempDir(), "--gateway-addr", fmt.Sprintf("0.0.0.0:%d", gwPort),
		"--listen", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", freePort(t)), "--mdns=false", "--nat-portmap=false")
	if url != fmt.Sprintf("http://localhost:%d", gwPort) {
		t.Fatalf("gateway on 0.0.0.0 printed %q, want a URL a browser can open", url)
	}
	nodetest.NewClient(t, url).Must(200, "GET", "/healthz", nil)

	second := launch(t, "run", "--data-dir", t.TempDir(), "--gateway-addr", fmt.Sprintf("127.0.0.1:%d", gwPort),
		"--listen", "/ip4/127.0.0.1/tcp/0", "--mdns=false", "--nat-portmap=false")
	if code := second.wait(t, 30*time.Second); code != 1 || !strings.Contains(second.stderr.String(), "--gateway-addr") {
		t.Fatalf("a second node on a busy gateway port exited %d:\n%s", code, second.stderr)
	}

	// The default libp2p port held by someone else: without --listen, the
	// node says so instead of sharing it.
	if l, err := net.Listen("tcp", fmt.Sprintf(":%d", 7734)); err == nil {
		defer l.Close()
	}
	third := launch(t, "run", "--data-dir", t.TempDir(), "--gateway-addr", "127.0.0.1:0", "--mdns=false", "--nat-portmap=false")
	if code := third.wait(t, 30*time.Second); code != 1 || !strings.Contains(third.stderr.String(), "--listen") {
		t.Fatalf("a node on the busy default port exited %d:\n%s", code, third.stderr)
	}
	first.cmd.Process.Signal(os.Interrupt)
	first.wait(t, 10*time.Second)
}
