package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/ruletest"
)

func init() {
	commands["eval"] = command{summary: "show what an expression (or a rule's when:) gives for an event, sub-expression by sub-expression", run: runEval}
}

func runEval(_ context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("eval")
	eventPath := fs.String("event", "", "event file (JSON or YAML): a stored event, or a rule-test input with --config")
	configPath := fs.String("config", "", "config file: decodes webhook:/cron: inputs through its triggers; needed for --rule")
	ruleName := fs.String("rule", "", "evaluate this rule's when: instead of EXPR (needs --config)")
	nowFlag := fs.String("now", "", "the clock now() returns, RFC 3339 (default: the current time)")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	const try = `seaflow eval 'msg.total > 5' --event order.json`
	switch {
	case *ruleName == "" && len(rest) != 1:
		return usagef(try, "eval needs one expression (quote it), or --rule NAME")
	case *ruleName != "" && len(rest) != 0:
		return usagef("seaflow eval --rule NAME --event FILE --config FILE", "eval takes an expression or --rule, not both")
	case *ruleName != "" && *configPath == "":
		return usagef("seaflow eval --rule "+*ruleName+" --event FILE --config rules.yaml", "eval --rule needs --config FILE")
	case *eventPath == "":
		return usagef(try, "eval needs --event FILE")
	}
	now := time.Now()
	if *nowFlag != "" {
		if now, err = time.Parse(time.RFC3339, *nowFlag); err != nil {
			return usagef("--now 2026-11-26T10:00:00Z", "eval: --now %q is not an RFC 3339 time", *nowFlag)
		}
	}
	cfg := rules.DefaultConfig()
	if *configPath != "" {
		if cfg, err = m.loadConfig(*configPath); err != nil {
			return err
		}
	}
	data, err := os.ReadFile(*eventPath)
	if err != nil {
		return fmt.Errorf("eval: read the event: %w", err)
	}
	ev, item, now, err := evalEvent(cfg, *configPath != "", data, now)
	if err != nil {
		return fmt.Errorf("eval: %s: %w", *eventPath, err)
	}
	var steps []rules.Step
	if *ruleName != "" {
		r := cfg.Rule(*ruleName)
		if r == nil {
			return withTry(fmt.Errorf("eval: %s has no rule %q", *configPath, *ruleName), "seaflow validate "+*configPath+" lists what it holds")
		}
		steps, err = r.Explain(&ev, item, now)
	} else {
		steps, err = rules.Explain(rest[0], &ev, item, now)
	}
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	printSteps(m, steps)
	if steps[0].Err != "" {
		return fmt.Errorf("eval: the expression fails for this event: %s", steps[0].Err)
	}
	return nil
}

// evalEvent reads an event file: a rule-test input (webhook:, nats: or
// cron:, decoded through cfg's triggers), or an event as stored, with an
// optional item: (a for_each row).
func evalEvent(cfg *rules.Config, haveConfig bool, data []byte, now time.Time) (seaflow.Event, map[string]any, time.Time, error) {
	if ruletest.IsInput(data) {
		ev, at, err := ruletest.Event(cfg, data, now)
		if err != nil && !haveConfig {
			err = withTry(err, "webhook: and cron: inputs go through a config's triggers: pass --config FILE")
		}
		return ev, nil, at, err
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return seaflow.Event{}, nil, now, err
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return seaflow.Event{}, nil, now, err
	}
	var stored struct {
		seaflow.Event
		Item map[string]any `json:"item"`
	}
	if err := json.Unmarshal(js, &stored); err != nil {
		return seaflow.Event{}, nil, now, fmt.Errorf("not an event: %w", err)
	}
	if stored.Source == "" {
		return seaflow.Event{}, nil, now, withTry(fmt.Errorf("the event has no source"),
			`write one as {"source": "nats", "name": "shop.orders.created", "msg": {...}}, or a rule-test input (nats: {subject, data})`)
	}
	return stored.Event, stored.Item, now, nil
}

// printSteps writes one line per (sub-)expression, indented by depth, with
// its value.
func printSteps(m *Main, steps []rules.Step) {
	tw := tabwriter.NewWriter(m.Stdout, 0, 0, 3, ' ', 0)
	for _, s := range steps {
		val := formatValue(s.Value)
		if s.Err != "" {
			val = "error: " + s.Err
		}
		fmt.Fprintf(tw, "%s%s\t%s\n", strings.Repeat("  ", s.Depth), s.Expr, val)
	}
	tw.Flush()
}

// formatValue prints a value as expr would write it: strings quoted, times
// in RFC 3339, durations as 1h30m, lists and maps as JSON.
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		return strconv.Quote(x)
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case time.Duration:
		return x.String()
	case bool, int, int64, float64:
		return fmt.Sprint(x)
	}
	if b, err := json.Marshal(v); err == nil {
		return string(b)
	}
	return fmt.Sprintf("%v", v)
}
