package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

func init() {
	commands["replay"] = command{summary: "re-run stored events through the current rules (--since DURATION [--rule NAME] [--dry-run])", run: runReplay}
}

func runReplay(ctx context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("replay")
	api := addAPIFlags(fs)
	since := fs.Duration("since", 0, "replay events received in this last duration, e.g. 2h")
	rule := fs.String("rule", "", "only queue the ops of this rule")
	dryRun := fs.Bool("dry-run", false, "count the ops the events would produce, queue nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *since <= 0 {
		return usagef("seaflow replay --since 2h --dry-run", "replay needs --since DURATION")
	}
	resp, err := api.post(ctx, "/api/replay", ReplayRequest{Since: since.String(), Rule: *rule, DryRun: *dryRun})
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	defer resp.Body.Close()
	tty := isTerminal(m.Stdout)
	start := time.Now()
	var last ReplayProgress
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			return fmt.Errorf("replay: decode progress: %w", err)
		}
		if tty && !last.Done {
			fmt.Fprintf(m.Stdout, "\r%s %d events, %d ops", spinnerBar(last.Events), last.Events, last.Ops)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	if tty {
		fmt.Fprint(m.Stdout, "\r"+strings.Repeat(" ", 60)+"\r")
	}
	verb := "queued"
	if *dryRun {
		verb = "would queue"
	}
	fmt.Fprintf(m.Stdout, "replayed %d events in %s: %s %d ops (%d expression errors)\n", last.Events, time.Since(start).Round(time.Millisecond), verb, last.Ops, last.Errors)
	if last.Error != "" {
		return fmt.Errorf("replay stopped: %s", last.Error)
	}
	if !last.Done {
		return fmt.Errorf("replay: the daemon ended the stream early")
	}
	return nil
}

// spinnerBar is an indeterminate progress bar: the total is unknown until
// the stream ends.
func spinnerBar(n int) string {
	const width = 20
	pos := (n / 200) % width
	return "[" + strings.Repeat("=", pos) + ">" + strings.Repeat(" ", width-pos-1) + "]"
}

// isTerminal reports whether w is a character device.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
