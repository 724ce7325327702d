// Command virtualday runs "a day in virtual time" (see package bench):
// the same mixed workload through seaflow and two baselines, each against
// its own in-process SeaTable emulator at the default limits, and prints
// the results side by side as a Markdown table.
//
//	go run ./bench/cmd/virtualday [flags]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/seaflow/seaflow/bench"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "virtualday:", err)
		os.Exit(1)
	}
}

// workloads are the named workloads of -workload.
var workloads = map[string]func() bench.Workload{
	"mixed":     bench.DefaultWorkload,
	"steady":    bench.SteadyWorkload,
	"saturated": bench.SaturatedWorkload,
}

// workloadArg returns the value of -workload in args ("mixed" when absent),
// read before the other flags, whose defaults are the workload's.
func workloadArg(args []string) string {
	for i, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "workload" {
			continue
		}
		if hasValue {
			return value
		}
		if i+1 < len(args) {
			return args[i+1]
		}
	}
	return "mixed"
}

// run parses args, runs the day and writes the table (or JSON) to out.
func run(args []string, out io.Writer) error {
	name := workloadArg(args)
	newWorkload, ok := workloads[name]
	if !ok {
		return fmt.Errorf("unknown workload %q (want mixed, steady or saturated)", name)
	}
	w, o := newWorkload(), bench.DefaultOptions()
	fs := flag.NewFlagSet("virtualday", flag.ContinueOnError)
	fs.String("workload", "mixed", "the workload: mixed (the default day), steady (the mixed day after a day of itself) or saturated (a 10 M-op bulk backlog and the urgent trickle, after a day of warm-up); the other flags change it")
	asJSON := fs.Bool("json", false, "print one JSON object per strategy instead of the table")
	fs.DurationVar(&w.Warmup, "warmup", w.Warmup, "how long the workload runs before the measured day (its calls fill the windows)")
	fs.IntVar(&w.Backlog, "backlog", w.Backlog, "bulk row updates queued at the start (0: none)")
	fs.DurationVar(&w.Length, "length", w.Length, "length of the simulated day")
	fs.DurationVar(&w.Drain, "drain", w.Drain, "how long to run on after the day with no new arrivals")
	fs.IntVar(&w.Rows, "rows", w.Rows, "rows in the table")
	fs.DurationVar(&w.UrgentEvery, "urgent-every", w.UrgentEvery, "mean time between urgent webhook updates (0: none)")
	fs.IntVar(&w.HourlyOps, "hourly-ops", w.HourlyOps, "row updates of the hourly job (0: none)")
	fs.DurationVar(&w.NightlyAt, "nightly-at", w.NightlyAt, "when the nightly job runs, after the start of the day")
	fs.IntVar(&w.NightlyOps, "nightly-ops", w.NightlyOps, "row updates of the nightly job (0: none)")
	fs.IntVar(&w.NightlyRows, "nightly-rows", w.NightlyRows, "rows the nightly job's updates are spread over")
	fs.Uint64Var(&w.Seed, "seed", w.Seed, "seed of the urgent arrivals")
	fs.IntVar(&o.MaxTries, "max-tries", o.MaxTries, "attempts per op of the one-call-per-op baseline (0: until the day ends)")
	fs.Float64Var(&o.Bucket.Capacity, "bucket", o.Bucket.Capacity, "capacity of the token-bucket baseline")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := w.Validate(); err != nil {
		return err
	}
	info := out
	if *asJSON {
		info = os.Stderr
	}
	fmt.Fprintf(info, "Workload %s: %s from %s (+%s drain, after %s of warm-up); %d rows; bulk backlog %d ops; urgent every %s on average; hourly job %d ops; nightly job %d ops over %d rows at +%s; seed %d.\n",
		name, w.Length, w.Start.Format(time.RFC3339), w.Drain, w.Warmup, w.Rows, w.Backlog, w.UrgentEvery, w.HourlyOps, w.NightlyOps, w.NightlyRows, w.NightlyAt, w.Seed)
	fmt.Fprintf(info, "Machine: %s/%s, %d CPUs, %s.\n\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	rs, err := bench.RunDay(w, o)
	if err != nil {
		return err
	}
	if *asJSON {
		return bench.WriteJSON(out, rs, w.Length)
	}
	return bench.WriteTable(out, rs)
}
