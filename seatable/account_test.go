package seatable_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/seaflow/seaflow/seatable"
	"github.com/seaflow/seaflow/seatable/emulator"
)

func TestAccountWebhooksAgainstEmulator(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	account := strings.Repeat("c", 40)
	_, url, base := contractEmulator(t, emulator.Options{AccountToken: account})
	c := seatable.New(seatable.Config{ServerURL: url, APIToken: base.APIToken})
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.UUID != base.UUID || info.Name != base.Name || info.WorkspaceID != emulator.WorkspaceID || info.AppName == "" {
		t.Fatalf("info %+v, base %+v", info, base)
	}
	a := seatable.NewAccount(seatable.AccountConfig{ServerURL: url, Token: account})
	created, err := a.CreateWebhook(ctx, info.WorkspaceID, info.Name, "https://seaflow.example.com/hooks/x", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == "" || created.Secret != "s1" {
		t.Fatalf("created %+v", created)
	}
	if _, err := a.UpdateWebhook(ctx, info.WorkspaceID, info.Name, created.ID, "https://seaflow.example.com/hooks/y", "s2"); err != nil {
		t.Fatal(err)
	}
	hooks, err := a.Webhooks(ctx, info.WorkspaceID, info.Name)
	if err != nil || len(hooks) != 1 || hooks[0] != (seatable.Webhook{ID: created.ID, URL: "https://seaflow.example.com/hooks/y", Secret: "s2"}) {
		t.Fatalf("list %+v %v", hooks, err)
	}
	if err := a.DeleteWebhook(ctx, info.WorkspaceID, info.Name, created.ID); err != nil {
		t.Fatal(err)
	}
	if hooks, err := a.Webhooks(ctx, info.WorkspaceID, info.Name); err != nil || len(hooks) != 0 {
		t.Fatalf("after delete %+v %v", hooks, err)
	}

	// A wrong account token is an auth error that does not show the token.
	bad := strings.Repeat("d", 40)
	_, err = seatable.NewAccount(seatable.AccountConfig{ServerURL: url, Token: bad}).Webhooks(ctx, info.WorkspaceID, info.Name)
	var se *seatable.Error
	if !errors.As(err, &se) || se.Kind != seatable.KindAuth || strings.Contains(err.Error(), bad) {
		t.Errorf("wrong token: %v", err)
	}
	// An unknown base is invalid.
	_, err = a.Webhooks(ctx, info.WorkspaceID, "no-such-base")
	if !errors.As(err, &se) || se.Kind != seatable.KindInvalid || se.Status != 404 {
		t.Errorf("unknown base: %v", err)
	}
}
