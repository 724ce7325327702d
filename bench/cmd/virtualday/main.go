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
	"time"

	"github.com/seaflow/seaflow/bench"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "virtualday:", err)
		os.Exit(1)
	}
}

// run parses args, runs the day and writes the table to out.
func run(args []string, out io.Writer) error {
	w, o := bench.DefaultWorkload(), bench.DefaultOptions()
	fs := flag.NewFlagSet("virtualday", flag.ContinueOnError)
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
	fmt.Fprintf(out, "Workload: %s from %s (+%s drain); %d rows; urgent every %s on average; hourly job %d ops; nightly job %d ops over %d rows at +%s; seed %d.\n",
		w.Length, w.Start.Format(time.RFC3339), w.Drain, w.Rows, w.UrgentEvery, w.HourlyOps, w.NightlyOps, w.NightlyRows, w.NightlyAt, w.Seed)
	fmt.Fprintf(out, "Machine: %s/%s, %d CPUs, %s.\n\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	rs, err := bench.RunDay(w, o)
	if err != nil {
		return err
	}
	return bench.WriteTable(out, rs)
}
