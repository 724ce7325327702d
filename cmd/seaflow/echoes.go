package main

import (
	"context"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/loopguard"
)

// echoRecorder hands the dispatcher's writes to the loop guard, for the
// bases whose changes come back as SeaTable webhooks: a base without one
// sends no echo to wait for. It reads the config in force, so a reload
// that adds a webhook applies at once; loop_guard.echoes: false records
// nothing.
type echoRecorder struct{ d *daemon }

func (r echoRecorder) watched(base string) bool {
	cfg := r.d.config()
	if !cfg.LoopGuard.Echoes {
		return false
	}
	for _, w := range cfg.Webhooks {
		if w.SeaTable != nil && w.SeaTable.Base == base {
			return true
		}
	}
	return false
}

// Expect records the echoes of writes to watched bases.
func (r echoRecorder) Expect(ctx context.Context, writes []loopguard.Write) error {
	if len(writes) == 0 || !r.watched(writes[0].Base) {
		return nil
	}
	return r.d.echoes.Expect(ctx, writes)
}

// Appended records the row an append to a watched base created.
func (r echoRecorder) Appended(ctx context.Context, w loopguard.Write, rowID string) error {
	if !r.watched(w.Base) {
		return nil
	}
	return r.d.echoes.Appended(ctx, w, rowID)
}

// matchEcho applies the loop guard to an event, unless it is switched off.
func (d *daemon) matchEcho(ctx context.Context, ev *seaflow.Event) error {
	if !d.config().LoopGuard.Echoes {
		return nil
	}
	return d.echoes.Match(ctx, ev)
}

// guardFunc adapts a function to runner.Guard.
type guardFunc func(ctx context.Context, ev *seaflow.Event) error

// Match calls f.
func (f guardFunc) Match(ctx context.Context, ev *seaflow.Event) error { return f(ctx, ev) }
