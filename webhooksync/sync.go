// Package webhooksync makes the webhooks SeaTable has for a base match the
// ones a seaflow config declares (webhooks[].seatable), through SeaTable's
// account API: `seaflow webhooks sync`. It plans first, from the list the
// API returns, so a run changes only what differs, says what it changes,
// and a dry run is the plan without the calls.
package webhooksync

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/seaflow/seaflow/seatable"
)

// API is the account API of one server, as *seatable.Account serves it.
type API interface {
	Webhooks(ctx context.Context, workspace int, base string) ([]seatable.Webhook, error)
	CreateWebhook(ctx context.Context, workspace int, base, hookURL, secret string) (seatable.Webhook, error)
	UpdateWebhook(ctx context.Context, workspace int, base, id, hookURL, secret string) (seatable.Webhook, error)
	DeleteWebhook(ctx context.Context, workspace int, base, id string) error
}

var _ API = (*seatable.Account)(nil)

// Want is one webhook the config declares for a base.
type Want struct {
	// Name is the config's webhook name (for messages).
	Name string
	// URL is where SeaTable must send the base's changes: the daemon's
	// public URL plus the webhook's path.
	URL string
	// Secret is the webhook's secret.
	Secret string
	// Path is the webhook's path in the config (the end of URL): a
	// webhook whose URL ends in it is this one behind another public URL.
	Path string
}

// Action is what a Change does.
type Action string

// The actions of a plan.
const (
	// Unchanged: SeaTable has the webhook with this URL and secret.
	Unchanged Action = "unchanged"
	// Create: SeaTable has no webhook at this URL or its path.
	Create Action = "create"
	// Update: SeaTable has the webhook at another URL ending in the same
	// path (the public URL changed), or with another secret.
	Update Action = "update"
	// Delete (only when pruning): a webhook at the public URL that no
	// configured webhook of the base has.
	Delete Action = "delete"
)

// Change is one step of a plan.
type Change struct {
	Action Action
	// Name is the config's webhook name; empty for a Delete.
	Name string
	// ID is SeaTable's webhook id (Update, Delete, Unchanged).
	ID string
	// URL is the webhook's URL after the change (for a Delete, the URL it
	// had); OldURL is its URL before an Update that moves it.
	URL, OldURL string
	// Secret is what the webhook is to be signed with; never printed.
	Secret string
	// SecretChanged is set for an Update that changes the secret.
	SecretChanged bool
}

// String describes the change, never its secret: "create
// https://…/hooks/crm (crm-changes)", "update … (url, secret)".
func (c Change) String() string {
	what := string(c.Action) + " " + c.URL
	if c.Name != "" {
		what += " (" + c.Name + ")"
	}
	if c.Action == Update {
		var parts []string
		if c.OldURL != "" && c.OldURL != c.URL {
			parts = append(parts, "url, was "+c.OldURL)
		}
		if c.SecretChanged {
			parts = append(parts, "secret")
		}
		what += ": " + strings.Join(parts, "; ")
	}
	return what
}

// Plan compares the webhooks a base has with those wanted. Each wanted
// webhook claims the existing one with its exact URL, else one whose URL
// ends in the webhook's path (the same webhook behind a changed public
// URL), else it is created; a claimed one is updated when its URL or
// secret differs.
// With prune, unclaimed webhooks under publicURL are deleted; webhooks
// elsewhere (other tools' hooks) are never touched.
func Plan(wants []Want, have []seatable.Webhook, publicURL string, prune bool) []Change {
	claimed := make([]bool, len(have))
	claim := func(match func(seatable.Webhook) bool) int {
		for i, h := range have {
			if !claimed[i] && match(h) {
				claimed[i] = true
				return i
			}
		}
		return -1
	}
	var out []Change
	for _, w := range wants {
		i := claim(func(h seatable.Webhook) bool { return h.URL == w.URL })
		if i < 0 && w.Path != "" {
			i = claim(func(h seatable.Webhook) bool { return strings.HasSuffix(urlPath(h.URL), w.Path) })
		}
		c := Change{Name: w.Name, URL: w.URL, Secret: w.Secret, Action: Create}
		if i >= 0 {
			h := have[i]
			c.ID, c.OldURL, c.SecretChanged = h.ID, h.URL, h.Secret != w.Secret
			c.Action = Unchanged
			if h.URL != w.URL || c.SecretChanged {
				c.Action = Update
			}
		}
		out = append(out, c)
	}
	if prune {
		for i, h := range have {
			if !claimed[i] && under(h.URL, publicURL) {
				out = append(out, Change{Action: Delete, ID: h.ID, URL: h.URL})
			}
		}
	}
	return out
}

// urlPath is the path of a URL ("" when it does not parse).
func urlPath(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return u.EscapedPath()
}

// under reports whether hook is at or below the public URL prefix.
func under(hook, prefix string) bool {
	if prefix == "" {
		return false
	}
	p := strings.TrimRight(prefix, "/")
	return hook == p || strings.HasPrefix(hook, p+"/")
}

// Apply makes the changes, in order, and stops at the first that fails;
// it returns how many it made.
func Apply(ctx context.Context, api API, workspace int, base string, changes []Change) (int, error) {
	done := 0
	for _, c := range changes {
		var err error
		switch c.Action {
		case Create:
			_, err = api.CreateWebhook(ctx, workspace, base, c.URL, c.Secret)
		case Update:
			_, err = api.UpdateWebhook(ctx, workspace, base, c.ID, c.URL, c.Secret)
		case Delete:
			err = api.DeleteWebhook(ctx, workspace, base, c.ID)
		default:
			continue
		}
		if err != nil {
			return done, fmt.Errorf("%s %s: %w", c.Action, c.URL, err)
		}
		done++
	}
	return done, nil
}
