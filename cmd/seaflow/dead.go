package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"
)

func init() {
	commands["dead"] = command{summary: "list, retry or drop dead-lettered ops of a running daemon (dead list|retry SEQ|drop SEQ)", run: runDead}
}

func runDead(ctx context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("dead")
	api := addAPIFlags(fs)
	limit := fs.Int("limit", 100, "list: how many dead letters, newest first (at most 1000)")
	before := fs.Uint64("before", 0, "list: only those with a sequence below this (the next page)")
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
		resp, err := api.get(ctx, "/api/dead?"+q.Encode())
		if err != nil {
			return fmt.Errorf("dead list: %w", err)
		}
		defer resp.Body.Close()
		var out DeadPage
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			return fmt.Errorf("dead list: decode: %w", err)
		}
		if len(out.Dead) == 0 {
			fmt.Fprintln(m.Stdout, "no dead letters")
			return nil
		}
		tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tTIME\tBASE\tRULE\tKIND\tREASON")
		for _, d := range out.Dead {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", d.Seq, d.Time.Format(time.RFC3339), d.Base, d.Rule, d.Kind, d.Reason)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if out.Next != 0 {
			fmt.Fprintf(m.Stdout, "%d of %d dead letters shown, newest first; more with --before %d\n", len(out.Dead), out.Total, out.Next)
		}
		return nil
	case "retry", "drop":
		if len(seqs) == 0 {
			return usagef("seaflow dead list, for the sequence numbers", "dead %s needs the sequence numbers of the dead letters: seaflow dead %s SEQ...", sub, sub)
		}
		for _, a := range seqs {
			seq, err := strconv.ParseUint(a, 10, 64)
			if err != nil || seq == 0 {
				return fmt.Errorf("dead %s: %q is not a sequence number", sub, a)
			}
			resp, err := api.post(ctx, "/api/dead/"+sub, DeadAction{Seq: seq})
			if err != nil {
				return fmt.Errorf("dead %s %s: %w", sub, a, err)
			}
			resp.Body.Close()
			fmt.Fprintf(m.Stdout, "%s %s\n", a, map[string]string{"retry": "requeued", "drop": "dropped"}[sub])
		}
		return nil
	default:
		return usagef("seaflow dead --help", "dead: unknown subcommand %q (want list, retry or drop)", sub)
	}
}
