package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/seatable"
	"github.com/seaflow/seaflow/webhooksync"
)

func init() {
	commands["webhooks"] = command{summary: "create or update each base's SeaTable webhooks from the config (webhooks sync)", run: runWebhooks}
	helps["webhooks"] = helpText{
		usage: []string{"seaflow webhooks sync --config FILE [--dry-run] [--prune]"},
		about: "Make the webhooks SeaTable has for each base match the config's webhooks[].seatable: each points at\n" +
			"server.public_url plus the webhook's path, signed with its secret, through SeaTable's account API with the\n" +
			"base's account_token. A second run changes nothing and says so; --dry-run prints the plan and changes nothing;\n" +
			"--prune also deletes webhooks under server.public_url that the config no longer has (others are never touched).\n" +
			"For url: emulator bases it talks to the running daemon's in-process emulator (server.auth: none).",
		examples: []string{
			"seaflow webhooks sync --config rules.yaml --dry-run",
			"seaflow webhooks sync --config rules.yaml",
		},
	}
}

func runWebhooks(ctx context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("webhooks")
	configPath := fs.String("config", "", "config/rules file (YAML)")
	dryRun := fs.Bool("dry-run", false, "print what would change, change nothing")
	prune := fs.Bool("prune", false, "also delete webhooks under server.public_url that no configured webhook has")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 || rest[0] != "sync" {
		return usagef("seaflow webhooks sync --config rules.yaml", "webhooks has one subcommand: seaflow webhooks sync --config FILE [--dry-run]")
	}
	if *configPath == "" {
		return usagef("seaflow webhooks sync --config rules.yaml", "webhooks sync needs --config FILE")
	}
	cfg, err := m.loadConfig(*configPath)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return syncWebhooks(ctx, m.Stdout, cfg, *dryRun, *prune)
}

// syncWebhooks syncs every base that has a SeaTable webhook in cfg and
// prints each change and a summary.
func syncWebhooks(ctx context.Context, w io.Writer, cfg *rules.Config, dryRun, prune bool) error {
	wants := map[string][]webhooksync.Want{}
	for _, h := range cfg.Webhooks {
		if h.SeaTable == nil {
			continue
		}
		wants[h.SeaTable.Base] = append(wants[h.SeaTable.Base], webhooksync.Want{Name: h.Name, URL: cfg.Server.PublicURL + h.Path, Secret: h.SeaTable.Secret, Path: h.Path})
	}
	if len(wants) == 0 {
		fmt.Fprintln(w, "webhooks sync: the config has no SeaTable webhooks (webhooks[].seatable); nothing to do")
		return nil
	}
	if cfg.Server.PublicURL == "" {
		return withTry(errors.New("webhooks sync: server.public_url is not set, so there is no URL to point SeaTable's webhooks at"),
			`set server.public_url to the URL SeaTable reaches seaflow at, e.g. public_url: "https://seaflow.example.com"`)
	}
	bases := make([]string, 0, len(wants))
	for b := range wants {
		bases = append(bases, b)
	}
	sort.Strings(bases)
	counts := map[webhooksync.Action]int{}
	for _, name := range bases {
		api, wid, dtable, err := accountOf(ctx, cfg, name)
		if err != nil {
			return fmt.Errorf("webhooks sync: base %s: %w", name, err)
		}
		have, err := api.Webhooks(ctx, wid, dtable)
		if err != nil {
			return fmt.Errorf("webhooks sync: base %s: %w", name, err)
		}
		plan := webhooksync.Plan(wants[name], have, cfg.Server.PublicURL, prune)
		for _, c := range plan {
			counts[c.Action]++
			prefix := ""
			if dryRun && c.Action != webhooksync.Unchanged {
				prefix = "would "
			}
			fmt.Fprintf(w, "%s: %s%s\n", name, prefix, c)
		}
		if dryRun {
			continue
		}
		if _, err := webhooksync.Apply(ctx, api, wid, dtable, plan); err != nil {
			return fmt.Errorf("webhooks sync: base %s: %w", name, err)
		}
	}
	changes := counts[webhooksync.Create] + counts[webhooksync.Update] + counts[webhooksync.Delete]
	summary := fmt.Sprintf("%d created, %d updated, %d deleted, %d unchanged", counts[webhooksync.Create], counts[webhooksync.Update], counts[webhooksync.Delete], counts[webhooksync.Unchanged])
	switch {
	case changes == 0:
		fmt.Fprintf(w, "webhooks sync: nothing to change (%d up to date)\n", counts[webhooksync.Unchanged])
	case dryRun:
		fmt.Fprintf(w, "webhooks sync (dry run): would create %d, update %d, delete %d, leave %d unchanged; nothing changed\n",
			counts[webhooksync.Create], counts[webhooksync.Update], counts[webhooksync.Delete], counts[webhooksync.Unchanged])
	default:
		fmt.Fprintf(w, "webhooks sync: %s\n", summary)
	}
	return nil
}

// accountOf returns the account API of base name and where it has the base
// (workspace id and name: the config's workspace_id and base_name, else
// what the API token's exchange reports). An emulator base is reached
// through the running daemon's /emulator/ mount.
func accountOf(ctx context.Context, cfg *rules.Config, name string) (*seatable.Account, int, string, error) {
	b := cfg.Bases[name]
	server, apiToken, account := b.URL, b.APIToken, b.AccountToken
	if b.Emulator() {
		if strings.HasSuffix(cfg.Server.Listen, ":0") {
			return nil, 0, "", errors.New("an emulator base is synced through the running daemon, and server.listen has no fixed port")
		}
		server = "http://" + cfg.Server.Listen + "/emulator"
		fx := b.ParsedFixture()
		for _, fb := range fx.Bases {
			if fb.Name == name && apiToken == "" {
				apiToken = fb.APIToken
			}
		}
		if account == "" {
			account = fx.Settings.AccountToken
		}
		if apiToken == "" {
			return nil, 0, "", fmt.Errorf("fixture %s gives the base no api_token (a generated one is only known to the daemon): set one", b.Fixture)
		}
	}
	if account == "" {
		return nil, 0, "", withTry(errors.New("no account token to manage its webhooks with"),
			"set bases."+name+".account_token (an account token of a user who may manage the base: POST /api2/auth-token/), usually ${VAR}")
	}
	wid, dtable := b.WorkspaceID, b.BaseName
	if wid == 0 || dtable == "" {
		info, err := seatable.New(seatable.Config{ServerURL: server, APIToken: apiToken}).Info(ctx)
		if err != nil {
			return nil, 0, "", fmt.Errorf("find the base's workspace and name: %w", err)
		}
		if wid == 0 {
			wid = info.WorkspaceID
		}
		if dtable == "" {
			dtable = info.Name
		}
		if wid == 0 || dtable == "" {
			return nil, 0, "", withTry(errors.New("the token exchange reports no workspace_id or dtable_name"), "set bases."+name+".workspace_id and base_name")
		}
	}
	return seatable.NewAccount(seatable.AccountConfig{ServerURL: server, Token: account}), wid, dtable, nil
}
