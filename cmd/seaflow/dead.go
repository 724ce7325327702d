package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
		resp, err := api.do(ctx, http.MethodGet, "/api/dead")
		if err != nil {
			return fmt.Errorf("dead list: %w", err)
		}
		defer resp.Body.Close()
		var out struct{ Dead []DeadStatus }
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
		return tw.Flush()
	case "retry", "drop":
		if len(seqs) == 0 {
			return usagef("seaflow dead list, for the sequence numbers", "dead %s needs the sequence numbers of the dead letters: seaflow dead %s SEQ...", sub, sub)
		}
		for _, a := range seqs {
			if _, err := strconv.ParseUint(a, 10, 64); err != nil {
				return fmt.Errorf("dead %s: %q is not a sequence number", sub, a)
			}
			resp, err := api.do(ctx, http.MethodPost, "/api/dead/"+a+"/"+sub)
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
