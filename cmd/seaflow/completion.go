package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/seaflow/seaflow/rules"
)

func init() {
	commands["completion"] = command{summary: "print a shell completion script (completion bash|zsh|fish)", run: runCompletion}
}

// completeCommand is the hidden command the completion scripts call for
// names only a config knows: `seaflow __complete KIND WORDS...` prints
// the cron rules (KIND cron-rules), all rules (rules) or the literal NATS
// subjects (subjects) of the config named by --config among WORDS, else
// $SEAFLOW_CONFIG, else ./rules.yaml or ./rules.example.yaml. It prints
// nothing when there is no readable config.
const completeCommand = "__complete"

// fileFlags take a path: the scripts complete file names after them.
var fileFlags = map[string]bool{"config": true, "event": true, "fixture": true, "data-dir": true}

func runCompletion(_ context.Context, m *Main, args []string) error {
	rest, err := parseArgs(m.newFlagSet("completion"), args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("source <(seaflow completion bash)", "completion needs a shell: bash, zsh or fish")
	}
	names := commandNames()
	flags := map[string][]*flag.Flag{}
	for _, name := range names {
		flags[name] = commandFlags(name)
	}
	switch rest[0] {
	case "bash":
		writeBash(m.Stdout, names, flags, false)
	case "zsh":
		writeBash(m.Stdout, names, flags, true)
	case "fish":
		writeFish(m.Stdout, names, flags)
	default:
		return usagef("seaflow completion bash", "completion: unknown shell %q (want bash, zsh or fish)", rest[0])
	}
	return nil
}

func commandNames() []string {
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// commandFlags returns a command's flags, read from the flag set it builds
// (it is run with --help on a Main that prints nothing).
func commandFlags(name string) []*flag.Flag {
	m := &Main{Stdout: io.Discard, Stderr: io.Discard, LookupEnv: func(string) (string, bool) { return "", false }}
	_ = commands[name].run(context.Background(), m, []string{"--help"})
	var out []*flag.Flag
	if m.flags != nil {
		m.flags.VisitAll(func(f *flag.Flag) { out = append(out, f) })
	}
	return out
}

func flagWords(fs []*flag.Flag) string {
	words := make([]string, len(fs))
	for i, f := range fs {
		words[i] = "--" + f.Name
	}
	return strings.Join(words, " ")
}

// writeBash writes the bash script; for zsh, the same behind bashcompinit.
func writeBash(w io.Writer, names []string, flags map[string][]*flag.Flag, zsh bool) {
	if zsh {
		fmt.Fprintln(w, "#compdef seaflow\n# zsh completion for seaflow: seaflow completion zsh > \"${fpath[1]}/_seaflow\"")
		fmt.Fprintln(w, "autoload -U +X bashcompinit && bashcompinit")
	} else {
		fmt.Fprintln(w, "# bash completion for seaflow: source <(seaflow completion bash)")
	}
	var files []string
	for f := range fileFlags {
		files = append(files, "--"+f)
	}
	sort.Strings(files)
	fmt.Fprintf(w, `_seaflow() {
  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" cmd="${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "%[1]s --help --version" -- "$cur")); return
  fi
  case "$prev" in
    %[2]s) COMPREPLY=($(compgen -f -- "$cur")); return;;
    --rule) COMPREPLY=($(compgen -W "$(seaflow %[3]s rules "${COMP_WORDS[@]}" 2>/dev/null)" -- "$cur")); return;;
  esac
  if [[ "$cur" == -* ]]; then
    case "$cmd" in
`, strings.Join(names, " "), strings.Join(files, "|"), completeCommand)
	for _, name := range names {
		if len(flags[name]) > 0 {
			fmt.Fprintf(w, "      %s) COMPREPLY=($(compgen -W \"%s --help\" -- \"$cur\"));;\n", name, flagWords(flags[name]))
		}
	}
	fmt.Fprintf(w, `    esac
    return
  fi
  case "$cmd" in
    trigger) COMPREPLY=($(compgen -W "$(seaflow %[2]s cron-rules "${COMP_WORDS[@]}" 2>/dev/null)" -- "$cur"));;
    publish) [ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W "$(seaflow %[2]s subjects "${COMP_WORDS[@]}" 2>/dev/null)" -- "$cur"));;
    dead) [ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W "list show retry drop" -- "$cur"));;
    completion) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur"));;
    help) COMPREPLY=($(compgen -W "%[1]s" -- "$cur"));;
    *) COMPREPLY=($(compgen -f -- "$cur"));;
  esac
}
complete -o default -F _seaflow seaflow
`, strings.Join(names, " "), completeCommand)
}

// writeFish writes the fish script.
func writeFish(w io.Writer, names []string, flags map[string][]*flag.Flag) {
	fmt.Fprintln(w, "# fish completion for seaflow: seaflow completion fish > ~/.config/fish/completions/seaflow.fish")
	fmt.Fprintln(w, "complete -c seaflow -f")
	fmt.Fprintln(w, "complete -c seaflow -n __fish_use_subcommand -l help -d 'show the commands'")
	fmt.Fprintln(w, "complete -c seaflow -n __fish_use_subcommand -l version -d 'print the version'")
	for _, name := range names {
		fmt.Fprintf(w, "complete -c seaflow -n __fish_use_subcommand -a %s -d %s\n", name, fishQuote(commands[name].summary))
	}
	for _, name := range names {
		cond := fishQuote("__fish_seen_subcommand_from " + name)
		for _, f := range flags[name] {
			_, usage := flag.UnquoteUsage(f)
			arg := ""
			switch {
			case fileFlags[f.Name]:
				arg = " -r -F"
			case f.Name == "rule":
				arg = " -x -a " + fishQuote("(seaflow "+completeCommand+" rules (commandline -opc))")
			case !isBoolFlag(f):
				arg = " -x"
			}
			fmt.Fprintf(w, "complete -c seaflow -n %s -l %s%s -d %s\n", cond, f.Name, arg, fishQuote(usage))
		}
	}
	fmt.Fprintf(w, "complete -c seaflow -n %s -a %s\n", fishQuote("__fish_seen_subcommand_from trigger"), fishQuote("(seaflow "+completeCommand+" cron-rules (commandline -opc))"))
	fmt.Fprintf(w, "complete -c seaflow -n %s -a %s\n", fishQuote("__fish_seen_subcommand_from publish"), fishQuote("(seaflow "+completeCommand+" subjects (commandline -opc))"))
	fmt.Fprintf(w, "complete -c seaflow -n %s -a 'list show retry drop'\n", fishQuote("__fish_seen_subcommand_from dead"))
	fmt.Fprintf(w, "complete -c seaflow -n %s -a 'bash zsh fish'\n", fishQuote("__fish_seen_subcommand_from completion"))
	fmt.Fprintf(w, "complete -c seaflow -n %s -a %s\n", fishQuote("__fish_seen_subcommand_from help"), fishQuote(strings.Join(names, " ")))
	fmt.Fprintf(w, "complete -c seaflow -n %s -F\n", fishQuote("__fish_seen_subcommand_from validate test"))
}

func fishQuote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// runComplete prints the names a completion script asks for (see
// completeCommand), one a line. Errors print nothing: completion must not
// spill messages into the shell.
func (m *Main) runComplete(args []string) error {
	if len(args) == 0 {
		return nil
	}
	kind, words := args[0], args[1:]
	path := ""
	for i, w := range words {
		if v, ok := strings.CutPrefix(w, "--config="); ok {
			path = v
		} else if (w == "--config" || w == "-config") && i+1 < len(words) {
			path = words[i+1]
		}
	}
	if path == "" {
		if v, ok := m.LookupEnv("SEAFLOW_CONFIG"); ok && v != "" {
			path = v
		}
	}
	candidates := []string{path}
	if path == "" {
		candidates = []string{"rules.yaml", "rules.example.yaml"}
	}
	var cfg *rules.Config
	for _, p := range candidates {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if c, err := rules.Load(p, m.LookupEnv); err == nil {
			cfg = c
			break
		}
	}
	if cfg == nil {
		return nil
	}
	for _, r := range cfg.Rules {
		switch {
		case kind == "rules",
			kind == "cron-rules" && r.On.Cron != "":
			fmt.Fprintln(m.Stdout, r.Name)
		case kind == "subjects" && r.On.NATS != "" && !strings.ContainsAny(r.On.NATS, "*>"):
			fmt.Fprintln(m.Stdout, r.On.NATS)
		}
	}
	return nil
}
