package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// helpText is what `seaflow help CMD` and `seaflow CMD --help` print besides
// the command's flags, which come from its flag set.
type helpText struct {
	// usage is the synopsis, one line per form.
	usage []string
	// about says what the command does.
	about string
	// examples are command lines; a line starting with # is a comment.
	examples []string
}

// placeholders name the value of the flags whose usage does not (with a
// `NAME` in backquotes): --config FILE rather than --config string.
var placeholders = map[string]string{
	"config": "FILE", "url": "URL", "token": "TOKEN", "listen": "ADDR", "data-dir": "DIR",
	"log-level": "LEVEL", "fixture": "FILE", "since": "DURATION", "rule": "NAME", "rpm": "N", "daily": "N",
	"event": "FILE", "nats": "URL", "id": "ID", "now": "TIME",
}

// helps holds every command's help, by command name.
var helps = map[string]helpText{
	"run": {
		usage: []string{"seaflow run --config FILE [--listen ADDR] [--data-dir DIR] [--dry-run] [--log-level LEVEL]"},
		about: "Run the daemon: triggers, rules, the budget scheduler and the HTTP server (webhooks, status API, /metrics).\n" +
			"SIGHUP reloads the config (the old rules keep running if the new file is invalid); SIGTERM drains and exits.",
		examples: []string{
			"seaflow run --config rules.example.yaml",
			"# everything but the SeaTable writes, which are logged with their cost",
			"seaflow run --config rules.yaml --dry-run",
			"seaflow run --config rules.yaml --listen 127.0.0.1:9000 --data-dir /var/lib/seaflow",
		},
	},
	"validate": {
		usage: []string{"seaflow validate FILE [--online]", "seaflow validate --config FILE [--online]"},
		about: "Check a config/rules file with the code the daemon loads it with. Exit 0 and a summary when valid;\n" +
			"otherwise every error as FILE:LINE:COL: message on stderr, exit 1.",
		examples: []string{
			"seaflow validate rules.yaml",
			"# also check tables and columns against each base's metadata",
			"seaflow validate rules.yaml --online",
		},
	},
	"test": {
		usage: []string{"seaflow test FILE..."},
		about: "Run rule tests: events in, expected ops out, no network (see rules.example.test.yaml).",
		examples: []string{
			"seaflow test rules.example.test.yaml",
		},
	},
	"emulator": {
		usage: []string{"seaflow emulator --fixture FILE [--listen ADDR] [--rpm N] [--daily N]"},
		about: "Serve an in-memory SeaTable API with real limits; prints one JSON line per base (base, base_uuid, api_token, server_url).",
		examples: []string{
			"seaflow emulator --listen 127.0.0.1:8090 --fixture rules.example.fixture.yaml",
			"seaflow emulator --fixture fixture.yaml --rpm 200 --daily 0",
		},
	},
	"status": {
		usage: []string{"seaflow status [--url URL] [--token TOKEN] [--json]"},
		about: "Show a running daemon's budgets, queues, recent events (the rules each matched, their ops and errors) and dead letters.",
		examples: []string{
			"seaflow status",
			"seaflow status --url http://seaflow.internal:8080 --token \"$SEAFLOW_TOKEN\"",
			"seaflow status --json | jq .bases",
		},
	},
	"dead": {
		usage: []string{"seaflow dead [list] [--limit N] [--before SEQ] [--json] [--url URL]", "seaflow dead show SEQ [--json] [--url URL]",
			"seaflow dead retry SEQ... | --rule NAME | --base NAME [--json] [--url URL]", "seaflow dead drop SEQ... | --rule NAME | --base NAME [--json] [--url URL]"},
		about: "List the ops SeaTable refused (dead letters) with their reason and target, newest first and paged; show one with the values a retry would write; requeue or drop them one by one or every one of a rule or base.",
		examples: []string{
			"seaflow dead list",
			"seaflow dead show 12",
			"seaflow dead retry 12 13 --url http://seaflow.internal:8080",
			"seaflow dead retry --rule stamp-won-deals",
			"seaflow dead drop --base crm --json",
		},
	},
	"events": {
		usage: []string{"seaflow events [--rule NAME] [--status failed|ok|unmatched] [--base B] [--table T] [--row ID] [--echoes] [--limit N] [--before SEQ] [--json] [--url URL]",
			"seaflow events show ID [--json] [--url URL]"},
		about: "List the event history (kept in the store for history.retention, across restarts and replicas), newest first; echoes are left out unless --echoes. show prints one event: the rules it matched, their ops and each op's fate (queued, written by which call, or dead with the reason and values).",
		examples: []string{
			"seaflow events --status failed",
			"seaflow events --rule stamp-won-deals --row Qtf7xPmoRaiFyQPO1aENTQ",
			"seaflow events show wh-crm-Deals-Qtf7xPmoRaiFyQPO1aENTQ-modify_row-1795650598",
		},
	},
	"replay": {
		usage: []string{"seaflow replay --since DURATION [--rule NAME] [--dry-run] [--url URL]"},
		about: "Re-run the events stored in the last DURATION through the current rules; their ops run again.",
		examples: []string{
			"seaflow replay --since 2h --dry-run",
			"seaflow replay --since 30m --rule stamp-won-deals",
		},
	},
	"health": {
		usage: []string{"seaflow health [--url URL] [--timeout D]"},
		about: "Exit 0 when a running daemon is ready (its /readyz answers 200), 1 otherwise with the reason: the container healthcheck.",
		examples: []string{
			"seaflow health",
			"seaflow health --url http://127.0.0.1:8080 --timeout 2s",
		},
	},
	"version": {
		usage:    []string{"seaflow version", "seaflow --version"},
		about:    "Print the build's version, revision, Go version and platform.",
		examples: []string{"seaflow --version"},
	},
	"trigger": {
		usage: []string{"seaflow trigger RULE [--url URL] [--token TOKEN]"},
		about: "Fire a cron rule now through the normal path of a running daemon: the event is stored with an id of its own\n" +
			"(cron/RULE/manual/TIME), so it never collides with a scheduled tick, and the rule's ops go through the budget.",
		examples: []string{
			"seaflow trigger nightly-overdue",
			"seaflow trigger weekly-archive --url http://seaflow.internal:8080 --token \"$SEAFLOW_TOKEN\"",
		},
	},
	"publish": {
		usage: []string{"seaflow publish SUBJECT JSON [--config FILE | --nats URL] [--id ID] [--no-wait]"},
		about: "Publish a message to the NATS server the daemon's NATS rules listen on: nats.url, else storage.nats_url,\n" +
			"else the embedded server's nats.listen port (read from --config), or --nats URL. It waits for seaflow's answer\n" +
			"and prints the stored event's id. JSON may be - to read the message from stdin.",
		examples: []string{
			"seaflow publish shop.orders.created '{\"id\":\"A-1\",\"total\":9.5,\"customer\":\"Acme\"}'",
			"seaflow publish shop.orders.created '{\"id\":\"A-2\",\"total\":12}' --config rules.yaml --id order-A-2",
			"seaflow publish shop.orders.created - --nats nats://127.0.0.1:4222 < order.json",
		},
	},
	"eval": {
		usage: []string{"seaflow eval EXPR --event FILE [--config FILE] [--now TIME]", "seaflow eval --rule NAME --event FILE --config FILE [--now TIME]"},
		about: "Show what an expression gives for an event, and what each of its sub-expressions gives. The event file\n" +
			"(JSON or YAML) is an event as stored ({\"source\": \"nats\", \"name\": SUBJECT, \"msg\": {...}}, with item: for a\n" +
			"for_each row), or, with --config, a rule-test input: webhook: {name, body}, nats: {subject, data} or cron: {rule, at}.\n" +
			"--rule evaluates that rule's when: expression.",
		examples: []string{
			"seaflow eval 'msg.total > 5 && msg.customer == \"Acme\"' --event order.json",
			"seaflow eval --rule stamp-won-deals --event deal-won.yaml --config rules.example.yaml",
		},
	},
	"schema": {
		usage: []string{"seaflow schema"},
		about: "Print the JSON Schema of the config file (for editor completion), from the table of keys the loader accepts.",
		examples: []string{
			"seaflow schema > seaflow.schema.json",
			"# VS Code with the YAML extension: first line of rules.yaml",
			"# yaml-language-server: $schema=./seaflow.schema.json",
		},
	},
	"completion": {
		usage: []string{"seaflow completion bash|zsh|fish"},
		about: "Print a shell completion script for commands, flags, rule names (from --config or ./rules.yaml) and files.",
		examples: []string{
			"source <(seaflow completion bash)",
			"seaflow completion zsh > \"${fpath[1]}/_seaflow\"",
			"seaflow completion fish > ~/.config/fish/completions/seaflow.fish",
		},
	},
	"help": {
		usage:    []string{"seaflow help [COMMAND]"},
		about:    "Print the list of commands, or a command's flags and examples.",
		examples: []string{"seaflow help", "seaflow help publish"},
	},
}

func init() {
	commands["help"] = command{summary: "list the commands, or show a command's flags and examples", run: runHelp}
}

func runHelp(_ context.Context, m *Main, args []string) error {
	rest, err := parseArgs(m.newFlagSet("help"), args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return m.commandHelp(rest[0])
	}
	m.overview(m.Stdout)
	return nil
}

// overview writes the list of commands.
func (m *Main) overview(w io.Writer) {
	fmt.Fprintln(w, "seaflow automates SeaTable bases: cron, webhook and NATS triggers, expr rules, row actions within API budgets.")
	fmt.Fprintln(w, "\nUsage:\n  seaflow COMMAND [ARGS] [FLAGS]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-11s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\nRun 'seaflow help COMMAND' or 'seaflow COMMAND --help' for a command's flags and examples;")
	fmt.Fprintln(w, "'seaflow --version' for the version.")
}

// commandHelp prints the help of the named command on m.Stdout.
func (m *Main) commandHelp(name string) error {
	cmd, ok := commands[name]
	if !ok {
		return usagef("seaflow help", "unknown command %q", name)
	}
	m.flags = nil
	err := cmd.run(context.Background(), m, []string{"--help"})
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return err
	}
	m.printHelp(m.Stdout, name, m.flags)
	return nil
}

// printHelp writes a command's usage, what it does, its flags and examples.
func (m *Main) printHelp(w io.Writer, name string, fs *flag.FlagSet) {
	h, ok := helps[name]
	if !ok {
		h = helpText{usage: []string{"seaflow " + name + " [FLAGS]"}, about: commands[name].summary}
	}
	fmt.Fprintln(w, "Usage:")
	for _, u := range h.usage {
		fmt.Fprintln(w, "  "+u)
	}
	if h.about != "" {
		fmt.Fprintln(w)
		fmt.Fprintln(w, h.about)
	}
	if fs != nil {
		var lines [][2]string
		width := 0
		fs.VisitAll(func(f *flag.Flag) {
			arg, usage := flag.UnquoteUsage(f)
			left := "--" + f.Name
			if p, ok := placeholders[f.Name]; ok && arg != "" {
				arg = p
			}
			if arg != "" {
				left += " " + strings.ToUpper(arg)
			}
			// A token's default comes from the environment: never print it.
			if def := f.DefValue; !strings.Contains(f.Name, "token") && def != "" && def != "false" && def != "0" && def != "0s" && !strings.Contains(usage, "default") {
				usage += " (default " + def + ")"
			}
			width = max(width, len(left))
			lines = append(lines, [2]string{left, usage})
		})
		if len(lines) > 0 {
			fmt.Fprintln(w, "\nFlags:")
			for _, l := range lines {
				fmt.Fprintf(w, "  %-*s  %s\n", width, l[0], l[1])
			}
		}
	}
	if len(h.examples) > 0 {
		fmt.Fprintln(w, "\nExamples:")
		for _, e := range h.examples {
			fmt.Fprintln(w, "  "+e)
		}
	}
}

// nearestCommand returns the command whose name is closest to s (at most
// two edits, or s a prefix of it), or "".
func nearestCommand(s string) string {
	best, bestDist := "", 3
	for name := range commands {
		d := editDistance(s, name)
		if strings.HasPrefix(name, s) && len(s) >= 2 {
			d = min(d, 1)
		}
		if d < bestDist || (d == bestDist && name < best) {
			best, bestDist = name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
