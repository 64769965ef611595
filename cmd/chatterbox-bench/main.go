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
	CatchUp    []catchUp      `json:"catchUp,omitempty"`
	Node       *nodeFootprint `json:"node,omitempty"`
	Cost       []costRow      `json:"cost,omitempty"`
	Network    []networkRow   `json:"network,omitempty"`
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
	only := fs.String("only", "latency,throughput,catchup,node", "measurements to run (also: network, cost)")
	binary := fs.String("binary", "", "chatterbox binary for the start-up/memory run (default: go build it)")
	jsonOut := fs.String("json", "", "also write the report as JSON to this file")
	costFlag := fs.String("cost", "1x2,1x5,1x10,5x2,5x5,5x10,10x2,10x5,10x10", "cost cases: PARTIESxMEMBERS of the measured node")
	costSettle := fs.Duration("cost-settle", 20*time.Second, "wait after set-up before the cost windows")
	costWindow := fs.Duration("cost-window", 30*time.Second, "length of each cost window (idle, then loaded)")
	catchupFlag := fs.String("catchup", "10000", "missed messages for the catch-up runs")
	networkFlag := fs.String("network", "25,50,100", "node counts for the larger-network run (overlapping 10-member parties)")
	networkRate := fs.Int("network-rate", 50, "messages/s over the whole larger network")
	networkDur := fs.Duration("network-duration", 20*time.Second, "length of the larger-network load")
	costRate := fs.Int("cost-rate", 10, "messages/s over all the measured node's parties in the loaded cost window")
	if err := fs.Parse(args); err != nil {
		return err
	}
	costCases, err := parseCostCases(*costFlag)
	if err != nil {
		return err
	}
	catchups, err := ints(*catchupFlag)
	if err != nil {
		return err
	}
	networkSizes, err := ints(*networkFlag)
	if err != nil {
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
	if *binary == "" && (want["cost"] || want["node"]) {
		// Built once for every run of the binary below.
		dir, err := os.MkdirTemp("", "chatterbox-bench-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if *binary, err = buildBinary(dir, ""); err != nil {
			return err
		}
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
		for _, k := range catchups {
			fmt.Fprintf(os.Stderr, "… catch-up of %d\n", k)
			cu, err := measureCatchUp(k)
			if err != nil {
				return fmt.Errorf("catch-up of %d: %w", k, err)
			}
			rep.CatchUp = append(rep.CatchUp, *cu)
		}
	}
	if want["node"] && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "… start-up and memory")
		nf, err := measureNode(ctx, *binary)
		if err != nil {
			return fmt.Errorf("start-up and memory: %w", err)
		}
		rep.Node = nf
	}
	if want["network"] {
		for _, n := range networkSizes {
			if ctx.Err() != nil {
				break
			}
			fmt.Fprintf(os.Stderr, "… network of %d nodes\n", n)
			row, err := measureNetwork(ctx, n, *networkRate, *networkDur)
			if err != nil {
				return fmt.Errorf("network of %d nodes: %w", n, err)
			}
			rep.Network = append(rep.Network, *row)
		}
	}
	if want["cost"] {
		for _, c := range costCases {
			if ctx.Err() != nil {
				break
			}
			fmt.Fprintf(os.Stderr, "… cost, %d parties × %d members\n", c.Parties, c.Members)
			row, err := measureCost(ctx, *binary, c, *costSettle, *costWindow, *costRate)
			if err != nil {
				return fmt.Errorf("cost of %d parties × %d members: %w", c.Parties, c.Members, err)
			}
			rep.Cost = append(rep.Cost, *row)
		}
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
	if len(rep.CatchUp) > 0 {
		fmt.Fprintln(out, "Catch-up: a node restarts after missing messages; time until it holds them all, and its traffic")
		fmt.Fprintln(tw, "missed\tseconds\tMB in\tMB out\tbytes in per message\t")
		for _, c := range rep.CatchUp {
			fmt.Fprintf(tw, "%d\t%.2f\t%.1f\t%.1f\t%.0f\t\n", c.Messages, c.Seconds, float64(c.BytesIn)/1e6, float64(c.BytesOut)/1e6, float64(c.BytesIn)/float64(c.Messages))
		}
		tw.Flush()
		fmt.Fprintln(out)
	}
	if len(rep.Network) > 0 {
		fmt.Fprintln(out, "Larger networks: overlapping parties, every node in 10 of 10 members; WebSocket send → every other member")
		fmt.Fprintln(tw, "nodes\tparties\tset-up s\trate/s\tsent\tdelivered %\tafter catch-up %\terrors\tp50 ms\tp95 ms\tp99 ms\tconns min/mean/max\t")
		for _, r := range rep.Network {
			fmt.Fprintf(tw, "%d\t%d\t%.0f\t%d\t%d\t%.2f\t%.2f\t%d\t%.2f\t%.2f\t%.2f\t%d / %.1f / %d\t\n", r.Nodes, r.Parties, r.SetupSeconds, r.Rate, r.Sent,
				r.Delivered, r.Final, r.Errors, r.P50, r.P95, r.P99, r.ConnsMin, r.ConnsMean, r.ConnsMax)
		}
		tw.Flush()
		fmt.Fprintln(out)
	}
	if len(rep.Cost) > 0 {
		fmt.Fprintln(out, "Cost of the measured node (its own process), idle and at the loaded rate")
		fmt.Fprintln(tw, "parties\tmembers\tconns\tidle CPU %\tidle RSS MB\tidle in B/s\tidle out B/s\trate/s\tCPU %\tRSS MB\tin B/s\tout B/s\t")
		for _, r := range rep.Cost {
			fmt.Fprintf(tw, "%d\t%d\t%d\t%.2f\t%.1f\t%.0f\t%.0f\t%d\t%.2f\t%.1f\t%.0f\t%.0f\t\n", r.Parties, r.Members, r.Connections,
				r.Idle.CPUPercent, r.Idle.RSSMB, r.Idle.InBps, r.Idle.OutBps, r.Rate, r.Loaded.CPUPercent, r.Loaded.RSSMB, r.Loaded.InBps, r.Loaded.OutBps)
		}
		tw.Flush()
		fmt.Fprintln(out)
	}
	if nf := rep.Node; nf != nil {
		fmt.Fprintf(out, "Node: ready %.0f ms after exec; RSS idle %.1f MB; with %d parties and %d idle WebSocket clients %.1f MB\n",
			nf.ReadyMs, nf.IdleRSSMB, nf.Parties, nf.Clients, nf.LoadedRSSMB)
	}
}
