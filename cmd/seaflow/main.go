// Command seaflow is the seaflow daemon and its tools: run, validate, test,
// emulator, status and version. main only wires; every subcommand lives in
// its own file and registers itself in commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
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
}

// NewMain returns a Main bound to the process.
func NewMain() *Main {
	return &Main{Stdout: os.Stdout, Stderr: os.Stderr, LookupEnv: os.LookupEnv}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := NewMain().Run(ctx, os.Args[1:])
	var exit exitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		os.Exit(exit.code)
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "seaflow:", err)
		os.Exit(1)
	}
}

// Run runs the subcommand named by args[0].
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		m.usage()
		if len(args) == 0 {
			return exitError{2}
		}
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(m.Stderr, "seaflow: unknown command %q\n", args[0])
		m.usage()
		return exitError{2}
	}
	return cmd.run(ctx, m, args[1:])
}

func (m *Main) usage() {
	fmt.Fprintln(m.Stderr, "usage: seaflow <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(m.Stderr, "  %-10s %s\n", name, commands[name].summary)
	}
}

// newFlagSet returns a flag set that reports to m.Stderr and returns errors
// instead of exiting.
func (m *Main) newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("seaflow "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	return fs
}
