package main

import (
	"context"
	"errors"
	"flag"
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

// emulatorFlags are the switches of `seaflow emulator`. Each one given on
// the command line wins over the fixture's setting of the same name.
type emulatorFlags struct {
	fs            *flag.FlagSet
	listen        *string
	fixture       *string
	rpm, daily    *int
	plan          *string
	monthly       *int
	timezone      *string
	webhookEvents *string
	senders       *int
	delay         *time.Duration
}

func newEmulatorFlags(m *Main) *emulatorFlags {
	fs := m.newFlagSet("emulator")
	return &emulatorFlags{
		fs:            fs,
		listen:        fs.String("listen", "127.0.0.1:8090", "address to serve the SeaTable API on"),
		fixture:       fs.String("fixture", "", "fixture file (YAML) with bases, tables, rows and webhooks"),
		rpm:           fs.Int("rpm", 300, "calls per base allowed in any rolling minute (0 = unlimited); replaces the plan's minute window"),
		daily:         fs.Int("daily", 5000, "calls per base allowed in any rolling 24 hours (0 = unlimited); replaces the plan's daily window"),
		plan:          fs.String("plan", "legacy", "limits per base: legacy (300/min + 5,000/24h), server (500/min) or cloud (200/min)"),
		monthly:       fs.Int("monthly", 0, "calls per team (fixture team:) per calendar month, reset when it ends (0 = no quota)"),
		timezone:      fs.String("timezone", "UTC", "the server's time zone: reads return dates with its offset"),
		webhookEvents: fs.String("webhook-events", string(emulator.PerRow), "events of a multi-row API write: per-row, or batch (one *_rows event per call)"),
		senders:       fs.Int("webhook-senders", 1, "webhook senders: 1 delivers each base's events in order, 2 or more may deliver out of order"),
		delay:         fs.Duration("webhook-delay", 0, "delay every webhook delivery by this much"),
	}
}

// options resolves the emulator's options: the defaults, then the
// fixture's settings, then every flag given on the command line.
func (f *emulatorFlags) options(fx *emulator.Fixture) (emulator.Options, error) {
	opts := emulator.Options{}
	fx.Settings.Apply(&opts)
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if set["plan"] {
		plan, err := emulator.ParsePlan(*f.plan)
		if err != nil {
			return opts, err
		}
		opts.Plan, opts.Limits = plan, nil
	}
	if set["rpm"] || set["daily"] {
		opts.Limits = overrideWindows(opts, set["rpm"], *f.rpm, set["daily"], *f.daily)
	}
	if set["monthly"] {
		if *f.monthly < 0 {
			return opts, fmt.Errorf("--monthly %d is negative", *f.monthly)
		}
		opts.MonthlyQuota = *f.monthly
	}
	if set["timezone"] {
		loc, err := time.LoadLocation(*f.timezone)
		if err != nil {
			return opts, fmt.Errorf("--timezone %q: %w", *f.timezone, err)
		}
		opts.TimeZone = loc
	}
	if set["webhook-events"] {
		m, err := emulator.ParseWebhookModel(*f.webhookEvents)
		if err != nil {
			return opts, err
		}
		opts.WebhookEvents = m
	}
	if set["webhook-senders"] {
		if *f.senders < 1 {
			return opts, fmt.Errorf("--webhook-senders %d: want 1 or more", *f.senders)
		}
		opts.WebhookSenders = *f.senders
	}
	if *f.delay < 0 {
		return opts, fmt.Errorf("--webhook-delay %v is negative", *f.delay)
	}
	opts.WebhookDelay = *f.delay
	return opts, nil
}

// overrideWindows returns the limits of opts with the one-minute window
// (rpm) and the 24-hour window (daily) replaced as given; 0 removes one.
func overrideWindows(opts emulator.Options, setRPM bool, rpm int, setDaily bool, daily int) []emulator.Limit {
	base := opts.Limits
	if base == nil {
		base = emulator.PlanLimits(opts.Plan)
	}
	limits := []emulator.Limit{}
	for _, l := range base {
		if (setRPM && l.Window == time.Minute) || (setDaily && l.Window == 24*time.Hour) {
			continue
		}
		limits = append(limits, l)
	}
	if setRPM && rpm > 0 {
		limits = append(limits, emulator.Limit{Window: time.Minute, Calls: rpm})
	}
	if setDaily && daily > 0 {
		limits = append(limits, emulator.Limit{Window: 24 * time.Hour, Calls: daily})
	}
	return limits
}

func runEmulator(ctx context.Context, m *Main, args []string) error {
	f := newEmulatorFlags(m)
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	if *f.fixture == "" {
		return usagef("seaflow emulator --fixture rules.example.fixture.yaml", "emulator needs --fixture FILE")
	}
	fx, err := emulator.LoadFixtureFile(*f.fixture)
	if err != nil {
		fmt.Fprintln(m.Stderr, err)
		return exitError{1}
	}
	opts, err := f.options(fx)
	if err != nil {
		fmt.Fprintln(m.Stderr, "seaflow emulator:", err)
		return exitError{2}
	}
	opts.Logger = zerolog.New(m.Stderr).With().Timestamp().Str("component", "emulator").Logger()
	emu := emulator.New(opts)
	ln, err := net.Listen("tcp", *f.listen)
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
	if err := emu.PrintBases(m.Stdout, serverURL); err != nil {
		srv.Close()
		return err
	}
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
