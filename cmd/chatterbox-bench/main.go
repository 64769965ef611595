// Command chatterbox-bench measures a ChatterBox network on loopback and
// compares it with bare GossipSub on the same topology in the same run:
// end-to-end WebSocket latency at a fixed load, the highest sustained rate
// (≥ 99.9% delivered, p99 < 1 s) and what happens at twice that rate,
// catch-up of a node that missed 10,000 messages, and node start-up and
// memory. It prints a table and can write JSON.
//
//	go run ./cmd/chatterbox-bench --nodes 2,5,10 --json bench.json
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// Report is the JSON output.
type Report struct {
	Machine    string         `json:"machine"`
	Date       string         `json:"date"`
	Latency    []result       `json:"latency"`
	Throughput []throughput   `json:"throughput"`
	CatchUp    *catchUp       `json:"catchUp,omitempty"`
	Node       *nodeFootprint `json:"node,omitempty"`
}

type throughput struct {
	Nodes    int      `json:"nodes"`
	OursMax  int      `json:"oursMaxMsgsPerSec"`
	BareMax  int      `json:"bareMaxMsgsPerSec"`
	Ratio    float64  `json:"oursOverBare"`
	OursAt2x result   `json:"oursAtTwiceMax"`
	Ladder   []result `json:"ladder"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := Run(ctx, os.Args[1:], os.Stdout); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "chatterbox-bench:", err)
		os.Exit(1)
	}
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a list of positive numbers", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// Run parses flags and runs the selected measurements.
func Run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("chatterbox-bench", flag.ContinueOnError)
	nodesFlag := fs.String("nodes", "2,5,10", "party sizes to measure")
	rate := fs.Int("rate", 100, "offered load for the latency run, messages/s")
	dur := fs.Duration("duration", 5*time.Second, "length of the latency run")
	ladderFlag := fs.String("ladder", "100,200,400,800,1600,3200", "rates tried for the sustained-rate search, messages/s")
	step := fs.Duration("step", 3*time.Second, "length of each sustained-rate step")
	only := fs.String("only", "latency,throughput,catchup,node", "measurements to run")
	binary := fs.String("binary", "", "chatterbox binary for the start-up/memory run (default: go build it)")
	jsonOut := fs.String("json", "", "also write the report as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	nodes, err := ints(*nodesFlag)
	if err != nil {
		return err
	}
	ladder, err := ints(*ladderFlag)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, w := range strings.Split(*only, ",") {
		want[strings.TrimSpace(w)] = true
	}
	rep := Report{Machine: machine(), Date: time.Now().UTC().Format(time.RFC3339)}
	var cur atomic.Pointer[recorder]
	recFn := func() *recorder { return cur.Load() }

	for _, n := range nodes {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !want["latency"] && !want["throughput"] {
			break
		}
		type sysFactory struct {
			name string
			make func() (system, error)
		}
		var tp throughput
		tp.Nodes = n
		for _, f := range []sysFactory{
			{"ours", func() (system, error) { return newOurs(n, recFn) }},
			{"bare", func() (system, error) { return newBare(n, recFn) }},
		} {
			fmt.Fprintf(os.Stderr, "… %s, %d nodes\n", f.name, n)
			sys, err := f.make()
			if err != nil {
				return fmt.Errorf("%s with %d nodes: %w", f.name, n, err)
			}
			cur.Store(newRecorder(n))
			run(f.name+"-warmup", sys, cur.Load(), 20, time.Second, 5*time.Second)
			if want["latency"] {
				cur.Store(newRecorder(n))
				rep.Latency = append(rep.Latency, run(f.name, sys, cur.Load(), *rate, *dur, 0))
			}
			if want["throughput"] {
				best := 0
				for _, r := range ladder {
					cur.Store(newRecorder(n))
					res := run(f.name, sys, cur.Load(), r, *step, 0)
					tp.Ladder = append(tp.Ladder, res)
					if !res.ok() {
						break
					}
					best = r
				}
				if f.name == "ours" {
					tp.OursMax = best
					if best > 0 {
						cur.Store(newRecorder(n))
						tp.OursAt2x = run(f.name, sys, cur.Load(), 2*best, *step, 30*time.Second)
					}
				} else {
					tp.BareMax = best
				}
			}
			sys.close()
		}
		if want["throughput"] {
			if tp.BareMax > 0 {
				tp.Ratio = float64(tp.OursMax) / float64(tp.BareMax)
			}
			rep.Throughput = append(rep.Throughput, tp)
		}
	}
	if want["catchup"] && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "… catch-up")
		cu, err := measureCatchUp(10000)
		if err != nil {
			return fmt.Errorf("catch-up: %w", err)
		}
		rep.CatchUp = cu
	}
	if want["node"] && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "… start-up and memory")
		nf, err := measureNode(ctx, *binary)
		if err != nil {
			return fmt.Errorf("start-up and memory: %w", err)
		}
		rep.Node = nf
	}
	printReport(out, rep)
	if *jsonOut != "" {
		raw, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*jsonOut, raw, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func machine() string {
	model := "unknown CPU"
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%d cores, %s, %s/%s, %s", runtime.NumCPU(), model, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

func printReport(out io.Writer, rep Report) {
	fmt.Fprintf(out, "machine: %s\n\n", rep.Machine)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	if len(rep.Latency) > 0 {
		fmt.Fprintln(out, "Latency, WebSocket send → every other node (bare: publish → every other host)")
		fmt.Fprintln(tw, "system\tnodes\trate/s\tsent\tdelivered %\tp50 ms\tp95 ms\tp99 ms\t")
		for _, r := range rep.Latency {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t\n", r.System, r.Nodes, r.Rate, r.Sent, r.Delivered, r.P50, r.P95, r.P99)
		}
		tw.Flush()
		fmt.Fprintln(out)
	}
	if len(rep.Throughput) > 0 {
		fmt.Fprintln(out, "Highest sustained rate with ≥ 99.9% delivered and p99 < 1 s")
		fmt.Fprintln(tw, "nodes\tours/s\tbare/s\tours/bare\tours at 2×: delivered %\tafter catch-up %\terrors\tp99 ms\t")
		for _, t := range rep.Throughput {
			fmt.Fprintf(tw, "%d\t%d\t%d\t%.2f\t%.2f\t%.2f\t%d\t%.1f\t\n", t.Nodes, t.OursMax, t.BareMax, t.Ratio, t.OursAt2x.Delivered, t.OursAt2x.Final, t.OursAt2x.Errors, t.OursAt2x.P99)
		}
		tw.Flush()
		fmt.Fprintln(out)
	}
	if c := rep.CatchUp; c != nil {
		fmt.Fprintf(out, "Catch-up: %d missed messages held %.2f s after the node restarted\n\n", c.Messages, c.Seconds)
	}
	if nf := rep.Node; nf != nil {
		fmt.Fprintf(out, "Node: ready %.0f ms after exec; RSS idle %.1f MB; with %d parties and %d idle WebSocket clients %.1f MB\n",
			nf.ReadyMs, nf.IdleRSSMB, nf.Parties, nf.Clients, nf.LoadedRSSMB)
	}
}
