package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/seaflow/seaflow/statuspage"
)

func init() {
	commands["status"] = command{summary: "show budgets, queues, recent events and dead letters of a running daemon", run: runStatus}
}

func runStatus(ctx context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("status")
	api := addAPIFlags(fs)
	asJSON := fs.Bool("json", false, "print the raw JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := api.get(ctx, "/api/status")
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("status: read: %w", err)
	}
	if *asJSON {
		_, err := m.Stdout.Write(body)
		return err
	}
	var st Status
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("status: decode: %w", err)
	}
	printStatus(m.Stdout, st)
	return nil
}

// printStatus renders a Status as tables.
func printStatus(w io.Writer, st Status) {
	fmt.Fprintf(w, "seaflow %s, up since %s", st.Version, st.Started.Format(time.RFC3339))
	if st.DryRun {
		fmt.Fprint(w, " (dry run)")
	}
	fmt.Fprintln(w)
	if r := st.Reload; r != nil && !r.OK {
		fmt.Fprintf(w, "config reload refused at %s; the previous config keeps running:\n  %s\n",
			r.At.Format(time.RFC3339), strings.ReplaceAll(r.Error, "\n", "\n  "))
	}
	for _, x := range st.StorageDamage {
		fmt.Fprintf(w, "STORAGE DAMAGED: %s (see /readyz)\n", x)
	}
	printCatchUps(w, st.CatchUps)
	if dead, failed := max(st.DeadTotal, uint64(len(st.Dead))), failedEvents(st.Traces); dead > 0 || failed > 0 {
		fmt.Fprintf(w, "FAILURES: %d dead letters, %d failed events among the %d recent\n", dead, failed, len(st.Traces))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nBASE\tWINDOW\tUSED\tLIMIT\tREMAINING\tNEXT FREE")
	for _, b := range st.Bases {
		for _, u := range b.Windows {
			next := "now"
			if !u.NextFree.IsZero() && u.Remaining == 0 {
				next = u.NextFree.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", b.Name, u.Window, u.Used, u.Limit, u.Remaining, next)
		}
	}
	for _, b := range st.Bases {
		if f := b.Forecast; f != nil {
			when := "lasts the window"
			if f.ExhaustedAt != nil {
				when = "runs out at " + f.ExhaustedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s forecast: %.0f calls/hour, %s\n", b.Name, f.Window, f.PacePerHour, when)
		}
	}
	for _, b := range st.Bases {
		for _, r := range b.Rules {
			fmt.Fprintf(tw, "%s\trule %s (budget_share)\t%d\t%d\t%d\t%s\n", b.Name, r.Rule, r.Used, r.Limit, r.Remaining, r.Window)
		}
	}
	for _, b := range st.Bases {
		for _, bl := range b.Backlog {
			if bl.FinishAt != nil {
				fmt.Fprintf(tw, "%s\t%s backlog: %d ops (%d calls); at this pace it finishes at %s\n", b.Name, bl.Lane, bl.Ops, bl.Calls, bl.FinishAt.Format(time.RFC3339))
			} else {
				fmt.Fprintf(tw, "%s\t%s backlog: %d ops (%d calls); carries over: %d ops left at the window's end (%s)\n", b.Name, bl.Lane, bl.Ops, bl.Calls, bl.CarriesOver, bl.Horizon.Format(time.RFC3339))
			}
		}
	}
	printQuotas(tw, st.Quotas)
	if len(st.RuleSpend) > 0 {
		fmt.Fprintln(tw, "\nBASE\tRULE\tCALLS 1H\tROWS 1H\tCALLS 24H\tROWS 24H\tSHARE 24H")
		for _, x := range st.RuleSpend {
			rule := x.Rule
			if rule == "" {
				rule = "(no rule)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.0f%%\n", x.Base, rule, amount(x.Calls1h), amount(x.Rows1h), amount(x.Calls24h), amount(x.Rows24h), 100*x.Share24h)
		}
	}
	fmt.Fprintln(tw, "\nBASE\tLANE\tQUEUED\tOLDEST")
	for _, b := range st.Bases {
		for _, l := range b.Lanes {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", b.Name, l.Lane, l.Pending, l.OldestAge)
		}
	}
	if len(st.Runs) > 0 {
		fmt.Fprintln(tw, "\nRUN\tSTARTED\tBASE\tLANE\tQUEUED\tDONE\tDEAD\tFINISH")
		for _, r := range st.Runs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", r.Name, r.Started.Format(time.RFC3339), r.Base, r.Lane, r.Queued, r.Done, r.Dead, runFinish(r))
		}
	}
	tw.Flush()
	if len(st.Dead) > 0 {
		fmt.Fprintf(w, "\nDEAD LETTERS (newest %d of %d; seaflow dead list pages through them)\n", len(st.Dead), max(st.DeadTotal, uint64(len(st.Dead))))
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tBASE\tRULE\tKIND\tREASON")
		for _, d := range st.Dead {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", d.Seq, d.Base, d.Rule, d.Kind, d.Reason)
		}
		tw.Flush()
	}
	if len(st.Traces) > 0 {
		fmt.Fprintln(w, "\nRECENT EVENTS")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tSOURCE\tNAME\tMATCHED\tOPS\tERROR")
		for _, t := range st.Traces {
			matched, ops, errs := traceRules(t)
			src := t.Source
			if t.Self {
				src += " (echo)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", t.Time.Format(time.TimeOnly), src, t.Name, matched, ops, errs)
		}
		tw.Flush()
	}
}

// runFinish says when a run finishes: done, at this pace at, or carried
// over.
func runFinish(r statuspage.RunStatus) string {
	switch {
	case r.Queued-r.Done-r.Dead <= 0:
		return "finished " + r.Updated.Format(time.RFC3339)
	case r.FinishAt != nil:
		return "at this pace " + r.FinishAt.Format(time.RFC3339)
	case r.CarriesOver > 0:
		return fmt.Sprintf("carries over: %d ops left at the window's end", r.CarriesOver)
	}
	return "-"
}

// amount prints a shared count: whole numbers as such, fractions with one
// decimal.
func amount(f float64) string {
	if f == float64(int64(f)) {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', 1, 64)
}

// failedEvents counts the traces whose handling or one of whose rules
// failed.
func failedEvents(traces []statuspage.TraceStatus) int {
	n := 0
	for _, t := range traces {
		if t.Error != "" || slices.ContainsFunc(t.Rules, func(r statuspage.RuleStatus) bool { return r.Error != "" }) {
			n++
		}
	}
	return n
}

// traceRules sums up an event's rules for the status table: the rules that
// matched (when: true) or were stopped, the ops they queued, and the
// event's error followed by each rule's ("rule: reason").
func traceRules(t statuspage.TraceStatus) (matched string, ops int, errs string) {
	return summariseRules(t.Error, t.Rules)
}

// summariseRules is traceRules over an event's error and its rules.
func summariseRules(eventErr string, rules []statuspage.RuleStatus) (matched string, ops int, errs string) {
	var names, problems []string
	if eventErr != "" {
		problems = append(problems, eventErr)
	}
	for _, r := range rules {
		ops += r.Ops
		switch {
		case r.Error != "":
			names = append(names, r.Rule+"!")
			problems = append(problems, r.Rule+": "+r.Error)
		case r.Stopped != "":
			names = append(names, r.Rule+"(stopped)")
			problems = append(problems, r.Rule+": "+r.Stopped)
		case r.When:
			names = append(names, r.Rule)
		}
	}
	if len(names) == 0 {
		names = []string{"-"}
	}
	return strings.Join(names, ","), ops, strings.Join(problems, "; ")
}
