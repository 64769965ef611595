package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procNode is the chatterbox binary running as its own process, so that
// its CPU time, RSS and traffic are its own.
type procNode struct {
	cmd   *exec.Cmd
	base  string
	addr  string
	ready time.Duration // exec → /healthz 200
}

// buildBinary returns binary, or builds ./cmd/chatterbox into dir.
func buildBinary(dir, binary string) (string, error) {
	if binary != "" {
		return binary, nil
	}
	binary = filepath.Join(dir, "chatterbox")
	if out, err := exec.Command("go", "build", "-o", binary, "./cmd/chatterbox").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return binary, nil
}

// startProcNode runs `chatterbox run` with its defaults, except: data in
// dataDir, gateway on a free loopback port, libp2p on loopback TCP, no
// mDNS, errors only in the log.
func startProcNode(ctx context.Context, binary, dataDir string) (*procNode, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	p := &procNode{addr: addr, base: "http://" + addr}
	p.cmd = exec.CommandContext(ctx, binary, "run", "--data-dir", dataDir, "--gateway-addr", addr,
		"--listen", "/ip4/127.0.0.1/tcp/0", "--mdns=false", "--log-level", "error")
	p.cmd.Stderr = os.Stderr
	start := time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	for {
		res, err := http.Get(p.base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				p.ready = time.Since(start)
				return p, nil
			}
		}
		if time.Since(start) > 30*time.Second {
			p.stop()
			return nil, fmt.Errorf("node not ready after 30 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// startMeasured makes a temp dir, builds the binary into it unless one is
// given, and starts it with its data in the dir; stop ends the process and
// removes the dir. tmp is for the caller's other files.
func startMeasured(ctx context.Context, binary, name string) (p *procNode, tmp string, stop func(), err error) {
	if tmp, err = os.MkdirTemp("", "chatterbox-bench-"+name+"-"); err != nil {
		return nil, "", nil, err
	}
	if binary, err = buildBinary(tmp, binary); err == nil {
		p, err = startProcNode(ctx, binary, filepath.Join(tmp, name))
	}
	if err != nil {
		os.RemoveAll(tmp)
		return nil, "", nil, err
	}
	return p, tmp, func() { p.stop(); os.RemoveAll(tmp) }, nil
}

func (p *procNode) pid() int { return p.cmd.Process.Pid }

func (p *procNode) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
}

// rssMB is the process's resident set now.
func (p *procNode) rssMB() (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid()))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", p.pid())
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's CPU times; 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// cpuSeconds is the user + system CPU time the process has used.
func (p *procNode) cpuSeconds() (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid()))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; count from after it.
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", p.pid())
	}
	utime, err1 := strconv.ParseFloat(fields[11], 64) // field 14
	stime, err2 := strconv.ParseFloat(fields[12], 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc/%d/stat", p.pid())
	}
	return (utime + stime) / clockTicks, nil
}

// traffic is the node's libp2p byte counters from GET /api/node.
func (p *procNode) traffic() (in, out float64, err error) {
	r, err := call(p.base, "", "GET", "/api/node", nil, 200)
	if err != nil {
		return 0, 0, err
	}
	t, _ := r["traffic"].(map[string]any)
	in, _ = t["bytesIn"].(float64)
	out, _ = t["bytesOut"].(float64)
	return in, out, nil
}

// sample is a reading of a process's counters.
type sample struct {
	at      time.Time
	cpu     float64
	in, out float64
}

func (p *procNode) sample() (sample, error) {
	cpu, err := p.cpuSeconds()
	if err != nil {
		return sample{}, err
	}
	in, out, err := p.traffic()
	return sample{at: time.Now(), cpu: cpu, in: in, out: out}, err
}
