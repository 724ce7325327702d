package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow/seatable/emulator"
)

func init() {
	commands["emulator"] = command{summary: "serve an in-memory SeaTable API seeded from a fixture", run: runEmulator}
}

func runEmulator(ctx context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("emulator")
	listen := fs.String("listen", "127.0.0.1:8090", "address to serve the SeaTable API on")
	fixture := fs.String("fixture", "", "fixture file (YAML) with bases, tables, rows and webhooks")
	rpm := fs.Int("rpm", 300, "calls per base allowed in any rolling minute (0 = unlimited)")
	daily := fs.Int("daily", 5000, "calls per base allowed in any rolling 24 hours (0 = unlimited)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *fixture == "" {
		return usagef("seaflow emulator --fixture rules.example.fixture.yaml", "emulator needs --fixture FILE")
	}
	fx, err := emulator.LoadFixtureFile(*fixture)
	if err != nil {
		fmt.Fprintln(m.Stderr, err)
		return exitError{1}
	}
	limits := []emulator.Limit{}
	if *rpm > 0 {
		limits = append(limits, emulator.Limit{Window: time.Minute, Calls: *rpm})
	}
	if *daily > 0 {
		limits = append(limits, emulator.Limit{Window: 24 * time.Hour, Calls: *daily})
	}
	logger := zerolog.New(m.Stderr).With().Timestamp().Str("component", "emulator").Logger()
	emu := emulator.New(emulator.Options{Limits: limits, Logger: logger})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("emulator: listen: %w", err)
	}
	serverURL := "http://" + ln.Addr().String()
	emu.SetServerURL(serverURL)
	if _, err := emu.Load(fx); err != nil {
		ln.Close()
		return fmt.Errorf("emulator: load fixture: %w", err)
	}
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	emu.PrintBases(m.Stdout, serverURL)
	select {
	case err := <-errc:
		return fmt.Errorf("emulator: serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("emulator: shutdown: %w", err)
	}
	return nil
}
