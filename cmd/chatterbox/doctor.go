package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/chatterbox/chatterbox/gateway"
	"github.com/chatterbox/chatterbox/gossip"
	"github.com/chatterbox/chatterbox/node"
	"github.com/chatterbox/chatterbox/party/rules"
)

// chatterbox doctor: checks what a node needs and says what to fix. With
// the node running it asks the node (over the admin socket) about its
// reachability, relays, addresses, the clocks of its parties' nodes and
// its mail; with the node stopped it checks whether its ports are free.

const doctorUsage = "chatterbox doctor [--data-dir DIR] [--gateway-addr HOST:PORT] [--send-test-mail ADDRESS]"

type doctor struct {
	out   io.Writer
	fixes int
}

func (d *doctor) ok(format string, args ...any)   { fmt.Fprintf(d.out, "ok    "+format+"\n", args...) }
func (d *doctor) note(format string, args ...any) { fmt.Fprintf(d.out, "note  "+format+"\n", args...) }
func (d *doctor) fix(format string, args ...any) {
	d.fixes++
	fmt.Fprintf(d.out, "FIX   "+format+"\n", args...)
}

func runDoctor(ctx context.Context, args []string, stdout io.Writer) error {
	var dir, gwAddr, testMail string
	fs := dataDirFlags("doctor", &dir)
	fs.StringVar(&gwAddr, "gateway-addr", gateway.DefaultAddr, "the gateway `host:port` a stopped node would use")
	fs.StringVar(&testMail, "send-test-mail", "", "send a test mail to `address` through the running node")
	if err := fs.Parse(args); err != nil {
		return usagef("%v (usage: %s)", err, doctorUsage)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected %q (usage: %s)", fs.Arg(0), doctorUsage)
	}
	d := &doctor{out: stdout}
	d.checkDataDir(dir)
	report, err := askNode(ctx, dir)
	switch {
	case err == nil:
		d.ok("a node is running in %s: peer %s, version %s, open %s", dir, report.PeerID, report.Version, report.OpenURL)
		d.checkRunning(report)
		if testMail != "" {
			d.sendTestMail(ctx, dir, testMail)
		}
	case errors.Is(err, errNotRunning):
		d.note("no node is running in %s: start it (chatterbox run) to check reachability, relays and clocks", dir)
		d.checkPorts(gwAddr)
		if testMail != "" {
			d.fix("--send-test-mail needs the node running: it sends through the node's own mail settings")
		}
	default:
		d.fix("the node in %s did not answer properly: %v", dir, err)
	}
	if d.fixes > 0 {
		return fmt.Errorf("%d thing(s) to fix", d.fixes)
	}
	fmt.Fprintln(stdout, "Nothing to fix.")
	return nil
}

func (d *doctor) checkDataDir(dir string) {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		d.note("data directory %s does not exist yet: the first start creates it", dir)
		return
	case err != nil:
		d.fix("data directory %s: %v", dir, err)
		return
	case !fi.IsDir():
		d.fix("%s is not a directory: pass --data-dir", dir)
		return
	}
	if fi.Mode().Perm()&0o077 != 0 {
		d.fix("data directory %s is readable by others (mode %o): chmod 700 %s", dir, fi.Mode().Perm(), dir)
	} else {
		d.ok("data directory %s (mode %o)", dir, fi.Mode().Perm())
	}
	if ki, err := os.Stat(filepath.Join(dir, "node.key")); err == nil && ki.Mode().Perm()&0o077 != 0 {
		d.fix("node.key is readable by others (mode %o): chmod 600 %s", ki.Mode().Perm(), filepath.Join(dir, "node.key"))
	}
	probe, err := os.CreateTemp(dir, ".doctor-*")
	if err != nil {
		d.fix("cannot write in %s: %v", dir, err)
		return
	}
	probe.Close()
	os.Remove(probe.Name())
}

// askNode fetches the running node's report over its admin socket.
func askNode(ctx context.Context, dir string) (node.DoctorReport, error) {
	var r node.DoctorReport
	if _, err := os.Stat(filepath.Join(dir, node.AdminSocket)); err != nil {
		return r, errNotRunning
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://node/doctor", nil)
	res, err := node.AdminClient(dir).Do(req)
	if err != nil {
		return r, errNotRunning
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return r, fmt.Errorf("%s", res.Status)
	}
	return r, json.NewDecoder(res.Body).Decode(&r)
}

// clockLimit is how far off a peer's clock may be before doctor asks to
// fix it: well inside rules.MaxClockDrift, past which messages wait.
const clockLimit = time.Minute

func (d *doctor) checkRunning(r node.DoctorReport) {
	if len(r.Addrs) == 0 {
		d.fix("the node has no libp2p addresses: check --listen")
	} else {
		d.ok("listening on %s", strings.Join(r.Addrs, ", "))
	}
	switch r.Reachability {
	case "Public":
		d.ok("reachability: public (other nodes can dial this one)")
	case "Private":
		if len(r.Relays) > 0 {
			d.ok("reachability: private, reachable through %d relay(s)", len(r.Relays))
		} else if len(r.RelaysWanted) > 0 {
			d.fix("reachability: private, and no relay holds a slot for this node yet: check that the --relay-peer addresses are right and the relays run")
		} else {
			d.fix("reachability: private and no relay: friends outside your network cannot reach this node. Forward TCP and UDP port %d to this machine (then --announce), or add --relay-peer", gossip.DefaultPort)
		}
	default:
		d.note("reachability: not known yet (AutoNAT asks connected peers; %d connected now)", r.Peers)
	}
	if len(r.Clocks) == 0 {
		d.note("no member node connected to compare clocks with")
	}
	for _, c := range r.Clocks {
		who := strings.Join(c.Members, ", ")
		off := time.Duration(c.OffsetMs) * time.Millisecond
		switch {
		case c.Error != "":
			d.note("could not ask %s's node for its time: %s", who, c.Error)
		case off > clockLimit || off < -clockLimit:
			d.fix("%s's node's clock is %s %s ours: set the clock right on whichever machine is wrong (messages more than %s ahead wait)",
				who, off.Abs().Round(time.Second), map[bool]string{true: "ahead of", false: "behind"}[off > 0], rules.MaxClockDrift)
		default:
			d.ok("clock agrees with %s's node (%+d ms, round trip %d ms)", who, c.OffsetMs, c.RTTMs)
		}
	}
	if r.Mail == "outbox" {
		d.note("no SMTP server: verification and reset mails go to the outbox and their links to the log (--smtp-url sends them)")
	} else {
		d.ok("mail goes out through SMTP (check it with --send-test-mail ADDRESS)")
	}
}

func (d *doctor) sendTestMail(ctx context.Context, dir, to string) {
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://node/test-mail?to="+url.QueryEscape(to), nil)
	res, err := node.AdminClient(dir).Do(req)
	if err != nil {
		d.fix("test mail: %v", err)
		return
	}
	defer res.Body.Close()
	said, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != 200 {
		d.fix("test mail failed: %s (check --smtp-url and --mail-from)", strings.TrimSpace(string(said)))
		return
	}
	d.ok("test mail %s", said)
}

// checkPorts checks that a node started now could listen where it would.
func (d *doctor) checkPorts(gwAddr string) {
	if l, err := net.Listen("tcp", gwAddr); err != nil {
		d.fix("the gateway address %s is busy (%v): pass --gateway-addr with a free port", gwAddr, err)
	} else {
		l.Close()
		d.ok("gateway address %s is free", gwAddr)
	}
	port := strconv.Itoa(gossip.DefaultPort)
	if l, err := net.Listen("tcp", ":"+port); err != nil {
		d.fix("TCP port %s is busy: pass --listen /ip4/0.0.0.0/tcp/<another port> (and the udp/quic-v1 one)", port)
	} else {
		l.Close()
		d.ok("TCP port %s is free", port)
	}
	if l, err := net.ListenPacket("udp", ":"+port); err != nil {
		d.fix("UDP port %s (QUIC) is busy: pass --listen /ip4/0.0.0.0/udp/<another port>/quic-v1", port)
	} else {
		l.Close()
		d.ok("UDP port %s is free", port)
	}
}
