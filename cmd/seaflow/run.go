package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow/rules"
)

func init() {
	commands["run"] = command{summary: "run the daemon", run: runDaemon}
}

// shutdownGrace bounds how long a SIGTERM waits for in-flight SeaTable
// calls before the process exits.
const shutdownGrace = 20 * time.Second

func runDaemon(ctx context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("run")
	configPath := fs.String("config", "", "rules/config file (YAML)")
	dataDir := fs.String("data-dir", "", "storage directory (overrides storage.dir)")
	dryRun := fs.Bool("dry-run", false, "run everything but the SeaTable writes, which are logged with their cost")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	acceptLoss := fs.Bool("accept-data-loss", false, "start even though the store lost messages since the last run (it is refused otherwise; see docs/guide.md)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *configPath == "" {
		fmt.Fprintln(m.Stderr, "seaflow run: --config is required")
		return exitError{2}
	}
	level, err := zerolog.ParseLevel(*logLevel)
	if err != nil {
		fmt.Fprintf(m.Stderr, "seaflow run: --log-level: %v\n", err)
		return exitError{2}
	}
	logger := newLogger(m).Level(level)
	cfg, err := rules.Load(*configPath, m.LookupEnv)
	if err != nil {
		fmt.Fprintln(m.Stderr, err)
		return exitError{1}
	}
	if *dataDir != "" {
		cfg.Storage.Dir = *dataDir
	}
	d, err := startDaemon(ctx, cfg, daemonOptions{DryRun: *dryRun, AcceptDataLoss: *acceptLoss, Logger: logger, LookupEnv: m.LookupEnv})
	if msg, ok := damageMessage(err); ok {
		fmt.Fprintln(m.Stderr, msg)
		return exitError{1}
	}
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			d.reload(*configPath)
		case err := <-d.failed:
			d.stop(shutdownGrace)
			return err
		case <-ctx.Done():
			logger.Info().Msg("stopping: intake closed, draining in-flight calls")
			return d.stop(shutdownGrace)
		}
	}
}

// newLogger logs JSON, or a console format when stderr is a terminal.
func newLogger(m *Main) zerolog.Logger {
	out := m.Stderr
	if f, ok := out.(*os.File); ok && isTerminal(f) {
		out = zerolog.ConsoleWriter{Out: f, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(out).With().Timestamp().Logger()
}
