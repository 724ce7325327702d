// Command seaflow is the seaflow daemon and its tools: run, validate, test,
// emulator, status, version and the operator commands (trigger, publish,
// eval, schema, completion, ...). main only wires; every subcommand lives in
// its own file and registers itself in commands; help.go holds what
// `seaflow help CMD` prints for each.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// exitError carries a process exit code up to main without printing a
// message of its own (the command has already printed what went wrong).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// command is one seaflow subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, m *Main, args []string) error
}

// commands maps subcommand names to their implementations; each file
// registers its own in an init function.
var commands = map[string]command{}

// Main holds what every subcommand needs from the process: its streams and
// environment. Tests build one with buffers and call Run.
type Main struct {
	Stdout io.Writer
	Stderr io.Writer
	// LookupEnv reads the environment (for ${VAR} in config files).
	LookupEnv func(string) (string, bool)

	// flags is the flag set of the running command (for its help), and
	// flagFailed is set when parsing it failed or asked for help.
	flags      *flag.FlagSet
	flagFailed bool
}

// NewMain returns a Main bound to the process.
func NewMain() *Main {
	return &Main{Stdout: os.Stdout, Stderr: os.Stderr, LookupEnv: os.LookupEnv}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	m := NewMain()
	if err := startDebug(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(2)
	}
	code := m.ExitCode(m.Run(ctx, os.Args[1:]))
	stop()
	os.Exit(code)
}

// ExitCode prints err the way the CLI reports errors (one line "Error: …",
// and a "Try: …" line when there is a hint) on m.Stderr and returns the
// process exit code: 0 for nil, the code of an exitError (whose command
// already printed what went wrong), 2 for a usage error, 1 otherwise.
func (m *Main) ExitCode(err error) int {
	var exit exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.code
	}
	printError(m.Stderr, err)
	var u *usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// Run runs the subcommand named by args[0]. "help", -h and --help print
// the overview (or a command's help) on m.Stdout; --version prints the
// version; no command at all prints the overview on m.Stderr and exits 2.
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		m.overview(m.Stderr)
		return exitError{2}
	}
	switch args[0] {
	case "-h", "-help", "--help":
		args = append([]string{"help"}, args[1:]...)
	case "--version", "-version":
		args = append([]string{"version"}, args[1:]...)
	case completeCommand:
		return m.runComplete(args[1:])
	}
	name := args[0]
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(m.Stderr, "Error: unknown command %q\n", name)
		if near := nearestCommand(name); near != "" {
			fmt.Fprintf(m.Stderr, "Try: seaflow %s\n\n", near)
		} else {
			fmt.Fprintln(m.Stderr)
		}
		m.overview(m.Stderr)
		return exitError{2}
	}
	m.flags = nil
	err := cmd.run(ctx, m, args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp):
		m.printHelp(m.Stdout, name, m.flags)
		return nil
	case err != nil && m.flags != nil && m.flagFailed:
		// A flag the command does not know, or a bad flag value.
		return &usageError{msg: err.Error(), try: "seaflow " + name + " --help"}
	}
	return err
}

// newFlagSet returns a flag set that returns errors instead of exiting and
// prints nothing itself: Run prints the command's help for -h and --help,
// and one "Error:" line for a bad flag.
func (m *Main) newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("seaflow "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	m.flagFailed = false
	fs.Usage = func() { m.flagFailed = true }
	m.flags = fs
	return fs
}

// parseArgs parses fs from args with the flags anywhere among the
// positional arguments (`seaflow validate FILE --online`, `seaflow dead
// retry 7 --url URL`), which flag.Parse alone stops at. Everything after
// "--" is positional. It returns the positional arguments in order.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}
