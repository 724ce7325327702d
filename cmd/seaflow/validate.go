package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/ruletest"
	"github.com/seaflow/seaflow/seatable"
)

func init() {
	commands["validate"] = command{summary: "check a config/rules file; every error as FILE:LINE:COL", run: runValidate}
	commands["test"] = command{summary: "run rule tests (events in, expected ops out), no network", run: runRuleTests}
}

func runValidate(ctx context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("validate")
	configPath := fs.String("config", "", "config/rules file (YAML)")
	online := fs.Bool("online", false, "also check tables and columns against each base's metadata")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *configPath == "" {
		fmt.Fprintln(m.Stderr, "seaflow validate: --config is required")
		return exitError{2}
	}
	cfg, err := rules.Load(*configPath, m.LookupEnv)
	if err != nil {
		fmt.Fprintln(m.Stderr, err)
		return exitError{1}
	}
	if *online {
		if errs := checkOnline(ctx, cfg); len(errs) > 0 {
			fmt.Fprintln(m.Stderr, errs)
			return exitError{1}
		}
	}
	fmt.Fprintln(m.Stdout, cfg.Summary())
	return nil
}

func runRuleTests(ctx context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("test")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(m.Stderr, "usage: seaflow test FILE...")
		return exitError{2}
	}
	failed, err := ruletest.Run(fs.Args(), m.Stdout)
	if err != nil {
		var list rules.ErrorList
		if errors.As(err, &list) {
			fmt.Fprintln(m.Stderr, list)
		} else {
			fmt.Fprintln(m.Stderr, "seaflow test:", err)
		}
		return exitError{1}
	}
	if failed > 0 {
		return exitError{1}
	}
	return nil
}

// checkOnline fetches each base's metadata (from SeaTable, or from an
// in-process emulator for `url: emulator` bases) and checks every table and
// column the rules name.
func checkOnline(ctx context.Context, cfg *rules.Config) rules.ErrorList {
	emus := newEmulators(time.Now, zerolog.Nop())
	defer emus.close()
	meta := func(ctx context.Context, base string) (map[string][]string, error) {
		b, ok := cfg.Bases[base]
		if !ok {
			return nil, fmt.Errorf("unknown base %q", base)
		}
		serverURL, token := b.URL, b.APIToken
		if b.Emulator() {
			var err error
			if serverURL, token, err = emus.ensure(cfg, base); err != nil {
				return nil, err
			}
		}
		md, err := seatable.New(seatable.Config{ServerURL: serverURL, APIToken: token}).Metadata(ctx)
		if err != nil {
			return nil, err
		}
		tables := make(map[string][]string, len(md.Tables))
		for _, t := range md.Tables {
			for _, c := range t.Columns {
				tables[t.Name] = append(tables[t.Name], c.Name)
			}
		}
		return tables, nil
	}
	return cfg.CheckOnline(ctx, meta)
}
