package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
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
	listen := fs.String("listen", "", "host:port of the HTTP server (overrides server.listen)")
	acceptLoss := fs.Bool("accept-data-loss", false, "start even though the store lost messages since the last run (it is refused otherwise; see docs/guide.md)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *configPath == "" {
		return usagef("seaflow run --config rules.example.yaml", "run needs --config FILE")
	}
	if fs.NArg() > 0 {
		return usagef("seaflow run --config "+fs.Arg(0), "run takes no arguments, got %q", fs.Arg(0))
	}
	level, err := zerolog.ParseLevel(*logLevel)
	if err != nil || *logLevel == "" {
		return usagef("--log-level debug, info, warn or error", "run: --log-level %q is not a level", *logLevel)
	}
	if *listen != "" {
		if _, port, err := net.SplitHostPort(*listen); err != nil || port == "" {
			return usagef("--listen 127.0.0.1:8080", "run: --listen %q is not host:port", *listen)
		}
	}
	logger := newLogger(m).Level(level)
	cfg, err := m.loadConfig(*configPath)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Server.Listen = *listen
	}
	limit := chooseMemoryLimit(cfg.Process, m.LookupEnv, func() (int64, bool) { return cgroupMemoryLimit("/") })
	applyMemoryLimit(logger, limit)
	go watchMemory(ctx, logger, limit, seaflow.SystemClock{}.Now)
	d, err := startDaemon(ctx, cfg, daemonOptions{DryRun: *dryRun, AcceptDataLoss: *acceptLoss, Logger: logger, LookupEnv: m.LookupEnv, DataDir: *dataDir, ListenOverride: *listen})
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
			_ = d.reload(*configPath) // a refused reload is logged, counted and shown; the old config runs on
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
