package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/chatterbox/chatterbox/gateway"
	"github.com/chatterbox/chatterbox/gossip"
	"github.com/chatterbox/chatterbox/identity"
	"github.com/chatterbox/chatterbox/node"
	"github.com/chatterbox/chatterbox/party"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise the module version from the build info is used.
var version = ""

// buildVersion is the version set at build time, else the module version,
// else "dev" with the VCS revision go build stamped (e.g.
// "dev+3e4c055a1b2c-dirty"), else "dev".
func buildVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return devVersion(bi.Settings)
}

// devVersion is "dev", with the revision and a dirty mark from the build
// settings when present.
func devVersion(settings []debug.BuildSetting) string {
	v := "dev"
	var rev, modified string
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		v += "+" + rev[:min(12, len(rev))]
		if modified == "true" {
			v += "-dirty"
		}
	}
	return v
}

// usageError is a mistake in the command line or environment: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

const topUsage = `ChatterBox — group chat without a central server.

Usage:
  chatterbox [run] [flags]   start a node (the default)
  chatterbox backup FILE     write the node's key and database to FILE (--data-dir DIR)
  chatterbox restore FILE    make a new data directory from a backup (--data-dir DIR)
  chatterbox export --account EMAIL [--party ID] [FILE]
                             write what that account can read to a zip archive (JSON and
                             a readable page), from the running node (--data-dir DIR)
  chatterbox doctor          check the node's data dir, ports, reachability, relays,
                             clocks and mail, and say what to fix (--send-test-mail ADDRESS)
  chatterbox version         print the version (also: --version)
  chatterbox help            print this help

Run "chatterbox run --help" for the flags.
`

// Run is the whole program behind main: it parses args and runs the chosen
// subcommand until ctx is cancelled.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	} else if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		cmd = "version"
	}
	switch cmd {
	case "run":
		return runNode(ctx, args, stdout, stderr)
	case "backup":
		return backupNode(ctx, args, stdout)
	case "restore":
		return restoreNode(args, stdout)
	case "doctor":
		return runDoctor(ctx, args, stdout)
	case "export":
		return exportAccount(ctx, args, stdout)
	case "version":
		fmt.Fprintln(stdout, "chatterbox", buildVersion())
		return nil
	case "help":
		fmt.Fprint(stdout, topUsage)
		return nil
	default:
		return usagef("unknown command %q (try \"chatterbox help\")", cmd)
	}
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// runConfig is what the run subcommand's flags and environment produce.
type runConfig struct {
	dataDir     string
	gatewayAddr string
	listen      listFlag
	mdns        bool
	relay       bool
	relayPeers  listFlag
	announce    listFlag
	reach       string
	portMap     bool
	logLevel    string
	fileCacheMB int64
	publicURL   string
	smtpURL     string
	mailFrom    string
	google      identity.ProviderConfig
	github      identity.ProviderConfig
}

func newRunFlags(c *runConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("chatterbox run", flag.ContinueOnError)
	defDir, err := node.DefaultDataDir()
	if err != nil {
		defDir = "(none: set --data-dir)"
	}
	fs.StringVar(&c.dataDir, "data-dir", defDir, "directory for the node key and database `path` (env CHATTERBOX_DATA_DIR)")
	fs.StringVar(&c.gatewayAddr, "gateway-addr", gateway.DefaultAddr, "`host:port` of the local web gateway (env CHATTERBOX_GATEWAY_ADDR)")
	fs.Var(&c.listen, "listen", "libp2p listen `multiaddr`, repeatable (env CHATTERBOX_LISTEN, comma-separated)\n(default TCP and QUIC on port "+strconv.Itoa(gossip.DefaultPort)+", all interfaces)")
	fs.BoolVar(&c.mdns, "mdns", true, "discover peers on the local network with mDNS (env CHATTERBOX_MDNS)")
	fs.BoolVar(&c.relay, "relay", false, "relay connections for other nodes (circuit relay v2); for a publicly reachable node (env CHATTERBOX_RELAY)")
	fs.Var(&c.relayPeers, "relay-peer", "relay `multiaddr` ending in /p2p/<peer id> to reserve a slot at while this node is not\npublicly reachable, repeatable (env CHATTERBOX_RELAY_PEER, comma-separated)")
	fs.Var(&c.announce, "announce", "libp2p `multiaddr` to tell peers instead of the listen addresses (a port forwarded\non the router), repeatable (env CHATTERBOX_ANNOUNCE, comma-separated)")
	fs.StringVar(&c.reach, "reachability", "auto", "`auto` (ask peers with AutoNAT), public or private (env CHATTERBOX_REACHABILITY)")
	fs.BoolVar(&c.portMap, "nat-portmap", true, "ask the router for a port mapping with UPnP or NAT-PMP (env CHATTERBOX_NAT_PORTMAP)")
	fs.Int64Var(&c.fileCacheMB, "file-cache", party.DefaultFileCache>>20, "`MiB` of files fetched from friends' nodes to keep; past it the least recently\nread are dropped, to be fetched again when read (your own uploads are kept apart) (env CHATTERBOX_FILE_CACHE)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log `level`: debug, info, warn or error (env CHATTERBOX_LOG_LEVEL)")
	fs.StringVar(&c.publicURL, "public-url", "", "`URL` where browsers reach the gateway, for links in mails and OAuth redirects\n(default http://localhost:<gateway port>) (env CHATTERBOX_PUBLIC_URL)")
	fs.StringVar(&c.smtpURL, "smtp-url", "", "send mail through `smtp://user:pass@host:port` (STARTTLS) or smtps://… (implicit TLS);\nempty: mails go to <data-dir>/outbox and their links are logged (env CHATTERBOX_SMTP_URL)")
	fs.StringVar(&c.mailFrom, "mail-from", identity.DefaultMailFrom, "sender `address` of mails (env CHATTERBOX_MAIL_FROM)")
	provider := func(p *identity.ProviderConfig, name, title, infoFlag, infoHelp string) {
		fs.StringVar(&p.ClientID, name+"-client-id", "", title+" OAuth client `id`; empty disables "+title+" sign-in (env "+envName(name+"-client-id")+")")
		fs.StringVar(&p.ClientSecret, name+"-client-secret", "", title+" OAuth client `secret` (env "+envName(name+"-client-secret")+"; prefer the env var)")
		fs.StringVar(&p.AuthURL, name+"-auth-url", "", "override "+title+"'s authorization endpoint `URL` (env "+envName(name+"-auth-url")+")")
		fs.StringVar(&p.TokenURL, name+"-token-url", "", "override "+title+"'s token endpoint `URL` (env "+envName(name+"-token-url")+")")
		fs.StringVar(&p.UserInfoURL, name+"-"+infoFlag, "", infoHelp+" (env "+envName(name+"-"+infoFlag)+")")
	}
	provider(&c.google, "google", "Google", "userinfo-url", "override Google's OpenID Connect userinfo `URL`")
	provider(&c.github, "github", "GitHub", "api-url", "override GitHub's API base `URL` (GitHub Enterprise: https://HOST/api/v3)")
	return fs
}

// envName maps a flag name to its environment variable.
func envName(flagName string) string {
	return "CHATTERBOX_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseRun reads flags, then the CHATTERBOX_* environment for every flag not
// given on the command line, then validates the result.
func parseRun(args []string, getenv func(string) string, stdout io.Writer) (runConfig, error) {
	var c runConfig
	fs := newRunFlags(&c)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fs.SetOutput(stdout)
			fmt.Fprint(stdout, "Usage: chatterbox run [flags]\n\nStart a ChatterBox node. Every flag can also be set with the environment\nvariable named after it; a flag on the command line wins.\n\nFlags:\n")
			fs.PrintDefaults()
			return c, flag.ErrHelp
		}
		return c, usagef("%v (see \"chatterbox run --help\")", err)
	}
	if fs.NArg() > 0 {
		return c, usagef("unexpected argument %q (see \"chatterbox run --help\")", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		v := getenv(envName(f.Name))
		if given[f.Name] || v == "" || envErr != nil {
			return
		}
		if lf, ok := f.Value.(*listFlag); ok {
			for _, a := range strings.Split(v, ",") {
				if a = strings.TrimSpace(a); a != "" {
					*lf = append(*lf, a)
				}
			}
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			envErr = usagef("invalid value %q in %s: %v", v, envName(f.Name), err)
		}
	})
	if envErr != nil {
		return c, envErr
	}
	return c, c.validate()
}

func (c *runConfig) validate() error {
	if strings.TrimSpace(c.dataDir) == "" || strings.HasPrefix(c.dataDir, "(none") {
		return usagef("no data directory: pass --data-dir or set CHATTERBOX_DATA_DIR")
	}
	host, port, err := net.SplitHostPort(c.gatewayAddr)
	if err != nil {
		return usagef("invalid --gateway-addr %q: want host:port, e.g. 127.0.0.1:%d", c.gatewayAddr, gateway.DefaultPort)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return usagef("invalid --gateway-addr %q: the port must be a number from 0 to 65535", c.gatewayAddr)
	}
	if host == "" {
		return usagef("invalid --gateway-addr %q: name the host, e.g. 127.0.0.1:%s (an empty host would listen on every interface)", c.gatewayAddr, port)
	}
	if _, err := gossip.ParseListenAddrs(c.listen); err != nil {
		return usagef("invalid --listen: %v", err)
	}
	if _, err := gossip.ParseListenAddrs(c.announce); err != nil {
		return usagef("invalid --announce: %v", err)
	}
	if _, err := gossip.ParsePeerAddrs(c.relayPeers); err != nil {
		return usagef("%v", err)
	}
	if c.fileCacheMB < 1 {
		return usagef("invalid --file-cache %d: want a number of MiB, at least 1", c.fileCacheMB)
	}
	switch gossip.Reachability(c.reach) {
	case gossip.ReachabilityAuto, gossip.ReachabilityPublic, gossip.ReachabilityPrivate:
	default:
		return usagef("invalid --reachability %q: want auto, public or private", c.reach)
	}
	if _, err := parseLevel(c.logLevel); err != nil {
		return err
	}
	if c.publicURL != "" {
		if u, err := url.Parse(c.publicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return usagef("invalid --public-url %q: want http(s)://host[:port] without a path", c.publicURL)
		}
	}
	if c.smtpURL != "" {
		if _, err := identity.NewSMTPMailer(c.smtpURL, c.mailFrom, nil); err != nil {
			return usagef("%v", err)
		}
	} else if _, err := mail.ParseAddress(c.mailFrom); err != nil {
		return usagef("invalid --mail-from %q: want an address such as \"ChatterBox <chat@example.com>\"", c.mailFrom)
	}
	for name, p := range map[string]identity.ProviderConfig{"google": c.google, "github": c.github} {
		if p.ClientID != "" && p.ClientSecret == "" {
			return usagef("--%s-client-id is set but --%s-client-secret is not", name, name)
		}
		for _, u := range []string{p.AuthURL, p.TokenURL, p.UserInfoURL} {
			if pu, err := url.Parse(u); u != "" && (err != nil || pu.Host == "" || (pu.Scheme != "https" && pu.Scheme != "http")) {
				return usagef("invalid %s endpoint URL %q", name, u)
			}
		}
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, usagef("invalid --log-level %q: want debug, info, warn or error", s)
}

func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseRun(args, os.Getenv, stdout)
	if err != nil {
		return err
	}
	level, _ := parseLevel(c.logLevel)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	if host, _, _ := net.SplitHostPort(c.gatewayAddr); !isLoopback(host) {
		log.Warn("the gateway listens beyond this machine; anyone who can reach it can try to sign in", "addr", c.gatewayAddr)
	}
	if c.relay && gossip.Reachability(c.reach) == gossip.ReachabilityAuto {
		// libp2p serves as a relay only once AutoNAT says public, and
		// AutoNAT asks only peers with public addresses: a relay whose
		// clients are all behind NATs would never serve
		// (TestNetnsAutoNATVerdicts, ARCHITECTURE.md "Reaching peers").
		log.Warn("--relay with --reachability auto: the relay serves only once another public node confirms this one is reachable; on a server with a public address pass --reachability public")
	}
	cfg := node.Config{
		DataDir:     c.dataDir,
		GatewayAddr: c.gatewayAddr,
		ListenAddrs: c.listen,
		DisableMDNS: !c.mdns,
		Network: node.NetworkConfig{
			Relays:       c.relayPeers,
			Announce:     c.announce,
			RelayService: c.relay,
			Reachability: c.reach,
			PortMap:      c.portMap,
		},
		Version:   buildVersion(),
		Logger:    log,
		PublicURL: strings.TrimRight(c.publicURL, "/"),
		SMTPURL:   c.smtpURL,
		MailFrom:  c.mailFrom,
		Identity:  identity.Config{OAuth: identity.OAuthConfig{Google: c.google, GitHub: c.github}},
	}
	cfg.Party.FileCacheBytes = c.fileCacheMB << 20
	// CHATTERBOX_CLOCK_OFFSET (a duration such as -5m) runs the node as
	// if the machine's clock were that far off. It exists for fault tests
	// of clock skew; it is not a flag because no one should need it.
	if v := os.Getenv("CHATTERBOX_CLOCK_OFFSET"); v != "" {
		off, err := time.ParseDuration(v)
		if err != nil {
			return usagef("invalid CHATTERBOX_CLOCK_OFFSET %q: want a duration such as -5m", v)
		}
		log.Warn("running with a shifted clock", "offset", off)
		skewed := func() time.Time { return time.Now().Add(off) }
		cfg.Party.Now, cfg.Identity.Now = skewed, skewed
	}
	n, err := node.New(cfg)
	if err != nil {
		return err
	}
	if err := n.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ChatterBox node is running.\n  gateway:  %s\n  peer id:  %s\n  data dir: %s\nOpen the gateway URL in your browser. Press Ctrl-C to stop.\n",
		n.OpenURL(), n.PeerID(), n.DataDir())

	<-ctx.Done()
	log.Info("shutting down")
	start := time.Now()
	if err := n.Close(); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	log.Info("stopped", "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
