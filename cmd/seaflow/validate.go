package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
	files, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(files) > 1 || (len(files) == 1 && *configPath != "" && files[0] != *configPath):
		return usagef("seaflow validate FILE", "validate checks one file, got %s", strings.Join(append(files, *configPath), ", "))
	case len(files) == 1:
		*configPath = files[0]
	case *configPath == "":
		return usagef("seaflow validate rules.yaml", "validate needs the config file: seaflow validate FILE")
	}
	cfg, err := m.loadConfig(*configPath)
	if err != nil {
		return err
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
	files, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("seaflow test rules.example.test.yaml", "test needs one or more rule test files: seaflow test FILE...")
	}
	failed, err := ruletest.Run(files, m.Stdout)
	if err != nil {
		var list rules.ErrorList
		if errors.As(err, &list) {
			fmt.Fprintln(m.Stderr, list)
		} else {
			printError(m.Stderr, fmt.Errorf("test: %w", err))
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
