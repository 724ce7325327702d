package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

func init() {
	commands["dead"] = command{summary: "list, show, retry or drop dead-lettered ops of a running daemon (dead list|show SEQ|retry SEQ|drop SEQ)", run: runDead}
}

func runDead(ctx context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("dead")
	api := addAPIFlags(fs)
	limit := fs.Int("limit", 100, "list: how many dead letters, newest first (at most 1000)")
	before := fs.Uint64("before", 0, "list: only those with a sequence below this (the next page)")
	rule := fs.String("rule", "", "retry, drop: every dead letter of this rule (no SEQ)")
	base := fs.String("base", "", "retry, drop: every dead letter of this base (no SEQ)")
	asJSON := fs.Bool("json", false, "print the daemon's JSON answer")
	// Flags may come anywhere: dead retry 7 --url URL.
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	sub, seqs := "", []string(nil)
	if len(rest) > 0 {
		sub, seqs = rest[0], rest[1:]
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	switch sub {
	case "", "list":
		q := url.Values{"limit": {strconv.Itoa(*limit)}}
		if *before > 0 {
			q.Set("before", strconv.FormatUint(*before, 10))
		}
		var out DeadPage
		raw, err := api.getJSON(ctx, "/api/dead?"+q.Encode(), &out)
		if err != nil {
			return fmt.Errorf("dead list: %w", err)
		}
		if *asJSON {
			_, err := m.Stdout.Write(raw)
			return err
		}
		return printDeadList(m.Stdout, out)
	case "show":
		if len(seqs) != 1 {
			return usagef("seaflow dead list, for the sequence numbers", "dead show needs one sequence number: seaflow dead show SEQ")
		}
		seq, err := parseSeq("show", seqs[0])
		if err != nil {
			return err
		}
		var d DeadStatus
		raw, err := api.getJSON(ctx, "/api/dead/"+strconv.FormatUint(seq, 10), &d)
		if err != nil {
			return fmt.Errorf("dead show %d: %w", seq, err)
		}
		if *asJSON {
			_, err := m.Stdout.Write(raw)
			return err
		}
		printDead(m.Stdout, d)
		return nil
	case "retry", "drop":
		byFilter := *rule != "" || *base != ""
		switch {
		case len(seqs) == 0 && !byFilter:
			return usagef("seaflow dead list, for the sequence numbers", "dead %s needs the sequence numbers of the dead letters, or --rule/--base: seaflow dead %s SEQ...", sub, sub)
		case len(seqs) > 0 && byFilter:
			return usagef("seaflow dead --help", "dead %s takes sequence numbers or --rule/--base, not both", sub)
		}
		var bodies []DeadAction
		for _, a := range seqs {
			seq, err := parseSeq(sub, a)
			if err != nil {
				return err
			}
			bodies = append(bodies, DeadAction{Seq: seq})
		}
		if byFilter {
			bodies = []DeadAction{{Rule: *rule, Base: *base}}
		}
		var results []DeadActionResult
		for _, body := range bodies {
			var res DeadActionResult
			if err := api.postJSON(ctx, "/api/dead/"+sub, body, &res); err != nil {
				if body.Seq != 0 {
					return fmt.Errorf("dead %s %d: %w", sub, body.Seq, err)
				}
				return fmt.Errorf("dead %s: %w", sub, err)
			}
			results = append(results, res)
			if *asJSON {
				continue
			}
			if body.Seq != 0 {
				fmt.Fprintf(m.Stdout, "%d %s\n", body.Seq, deadVerb(sub))
				continue
			}
			fmt.Fprintf(m.Stdout, "%d dead letters %s%s\n", res.Count, deadVerb(sub), deadSelection(body))
		}
		if *asJSON {
			return writeIndented(m.Stdout, results)
		}
		return nil
	default:
		return usagef("seaflow dead --help", "dead: unknown subcommand %q (want list, show, retry or drop)", sub)
	}
}

func parseSeq(sub, a string) (uint64, error) {
	seq, err := strconv.ParseUint(a, 10, 64)
	if err != nil || seq == 0 {
		return 0, fmt.Errorf("dead %s: %q is not a sequence number", sub, a)
	}
	return seq, nil
}

func deadVerb(sub string) string {
	if sub == "retry" {
		return "requeued"
	}
	return "dropped"
}

// deadSelection says which dead letters a --rule/--base action took.
func deadSelection(a DeadAction) string {
	var parts []string
	if a.Rule != "" {
		parts = append(parts, "rule "+a.Rule)
	}
	if a.Base != "" {
		parts = append(parts, "base "+a.Base)
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// printDeadList renders a page of dead letters as a table, with what each
// targets.
func printDeadList(w io.Writer, page DeadPage) error {
	if len(page.Dead) == 0 {
		fmt.Fprintln(w, "no dead letters")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tBASE\tRULE\tKIND\tTARGET\tREASON")
	for _, d := range page.Dead {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Seq, d.Time.Format(time.RFC3339), d.Base, d.Rule, d.Kind, deadTarget(d), d.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if page.Next != 0 {
		fmt.Fprintf(w, "%d of %d dead letters shown, newest first; more with --before %d\n", len(page.Dead), page.Total, page.Next)
	}
	return nil
}

// deadTarget is the table and row an op targets: "Deals/ROW", "Deals".
func deadTarget(d DeadStatus) string {
	t := d.Table
	if d.RowID != "" {
		t += "/" + d.RowID
	}
	if t == "" {
		return "-"
	}
	return t
}

// printDead renders one dead letter in full: where it came from, what it
// targets and what a retry would write.
func printDead(w io.Writer, d DeadStatus) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	line("seq", strconv.FormatUint(d.Seq, 10))
	line("time", d.Time.Format(time.RFC3339))
	line("reason", d.Reason)
	line("base", d.Base)
	line("table", d.Table)
	line("row", d.RowID)
	line("rule", d.Rule)
	line("kind", d.Kind)
	line("lane", d.Lane)
	line("key", d.Key)
	line("sql", d.SQL)
	if len(d.Params) > 0 {
		line("params", compactJSON(d.Params))
	}
	line("event", d.EventID)
	line("op", d.OpID)
	_ = tw.Flush()
	if len(d.Values) == 0 {
		return
	}
	fmt.Fprintln(w, "values a retry would write:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	cols := make([]string, 0, len(d.Values))
	for c := range d.Values {
		cols = append(cols, c)
	}
	slices.Sort(cols)
	for _, c := range cols {
		fmt.Fprintf(tw, "  %s\t%s\n", c, compactJSON(d.Values[c]))
	}
	_ = tw.Flush()
}

// compactJSON is v as one line of JSON.
func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// writeIndented writes v as indented JSON.
func writeIndented(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
