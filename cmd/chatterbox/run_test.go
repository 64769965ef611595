package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/chatterbox/chatterbox/gateway"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestParseRunDefaults(t *testing.T) {
	c, err := parseRun(nil, env(map[string]string{"XDG_DATA_HOME": "/x"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.gatewayAddr != gateway.DefaultAddr || !c.mdns || c.logLevel != "info" || len(c.listen) != 0 || c.dataDir == "" {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestParseRunFlagsAndEnv(t *testing.T) {
	e := env(map[string]string{
		"CHATTERBOX_DATA_DIR":     "/from/env",
		"CHATTERBOX_GATEWAY_ADDR": "127.0.0.1:9000",
		"CHATTERBOX_LISTEN":       "/ip4/127.0.0.1/tcp/1, /ip4/127.0.0.1/udp/1/quic-v1",
		"CHATTERBOX_MDNS":         "false",
		"CHATTERBOX_LOG_LEVEL":    "debug",
	})
	c, err := parseRun(nil, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.dataDir != "/from/env" || c.gatewayAddr != "127.0.0.1:9000" || c.mdns || c.logLevel != "debug" ||
		!slices.Equal(c.listen, []string{"/ip4/127.0.0.1/tcp/1", "/ip4/127.0.0.1/udp/1/quic-v1"}) {
		t.Fatalf("from env = %+v", c)
	}
	// Flags win over the environment.
	c, err = parseRun([]string{"--data-dir", "/from/flag", "--listen", "/ip4/127.0.0.1/tcp/2", "--mdns=true"}, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.dataDir != "/from/flag" || !c.mdns || !slices.Equal(c.listen, []string{"/ip4/127.0.0.1/tcp/2"}) || c.gatewayAddr != "127.0.0.1:9000" {
		t.Fatalf("flags over env = %+v", c)
	}
}

func TestParseRunInvalid(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--mdns=maybe"}, nil, "mdns"},
		{[]string{"--gateway-addr", "nonsense"}, nil, "--gateway-addr"},
		{[]string{"--gateway-addr", "127.0.0.1:99999"}, nil, "port"},
		{[]string{"--gateway-addr", ":7733"}, nil, "host"},
		{[]string{"--listen", "/ip4/1.2.3.4/tcpx/1"}, nil, "--listen"},
		{[]string{"--log-level", "loud"}, nil, "--log-level"},
		{[]string{"--reachability", "sometimes"}, nil, "--reachability"},
		{[]string{"--relay-peer", "/ip4/1.2.3.4/tcp/7734"}, nil, "/p2p/"},
		{[]string{"--relay-peer", "relay.example.com"}, nil, "relay address"},
		{[]string{"--announce", "1.2.3.4:7734"}, nil, "--announce"},
		{nil, map[string]string{"CHATTERBOX_RELAY_PEER": "/ip4/1.2.3.4/tcp/1, nonsense"}, "relay address"},
		{[]string{"--no-such-flag"}, nil, "no-such-flag"},
		{[]string{"stray"}, nil, "stray"},
		{[]string{"--data-dir", ""}, nil, "data directory"},
		{nil, map[string]string{"CHATTERBOX_MDNS": "perhaps"}, "CHATTERBOX_MDNS"},
	}
	for _, tt := range tests {
		_, err := parseRun(tt.args, env(tt.env), io.Discard)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("parseRun(%q, %v) = %v, want a usage error", tt.args, tt.env, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("parseRun(%q): %q should be one sentence naming %q", tt.args, err, tt.want)
		}
		if exitCode(err) != 2 {
			t.Errorf("exit code for %q = %d, want 2", tt.args, exitCode(err))
		}
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	var out strings.Builder
	_, err := parseRun([]string{"--help"}, env(nil), &out)
	if !errors.Is(err, flag.ErrHelp) || exitCode(err) != 0 {
		t.Fatalf("--help = %v", err)
	}
	for _, f := range []string{"-data-dir", "-gateway-addr", "-listen", "-mdns", "-log-level", "CHATTERBOX_DATA_DIR", "7733", "7734"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("--help does not mention %s:\n%s", f, out.String())
		}
	}
}

// A development build names the revision it was built from; --version
// and the version command print the same line.
func TestVersion(t *testing.T) {
	rev := []debug.BuildSetting{{Key: "vcs.revision", Value: "3e4c055a1b2c3d4e5f60718293a4b5c6d7e8f901"}}
	for _, c := range []struct {
		settings []debug.BuildSetting
		want     string
	}{
		{nil, "dev"},
		{rev, "dev+3e4c055a1b2c"},
		{append(rev, debug.BuildSetting{Key: "vcs.modified", Value: "true"}), "dev+3e4c055a1b2c-dirty"},
		{append(rev, debug.BuildSetting{Key: "vcs.modified", Value: "false"}), "dev+3e4c055a1b2c"},
	} {
		if got := devVersion(c.settings); got != c.want {
			t.Errorf("devVersion(%v) = %q, want %q", c.settings, got, c.want)
		}
	}
	var a, b strings.Builder
	if err := Run(context.Background(), []string{"version"}, &a, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := Run(context.Background(), []string{"--version"}, &b, io.Discard); err != nil {
		t.Fatal(err)
	}
	if want := "chatterbox " + buildVersion() + "\n"; a.String() != want || b.String() != want {
		t.Fatalf("version printed %q and --version %q, want %q", a.String(), b.String(), want)
	}
}
