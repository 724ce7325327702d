package main

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/actions"
	"github.com/seaflow/seaflow/catchup"
	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/seatable"
	"github.com/seaflow/seaflow/statuspage"
)

// catchUps runs one catch-up poller per base whose SeaTable webhook has
// catch_up:, and restarts those a reload changes.
type catchUps struct {
	d *daemon

	mu      sync.Mutex
	running map[string]*runningCatchUp // by base
}

type runningCatchUp struct {
	cfg    catchup.Config
	poller *catchup.Poller
	stop   context.CancelFunc
	done   chan struct{}
}

// catchUpConfigs returns cfg's catch-ups by base.
func catchUpConfigs(cfg *rules.Config) map[string]catchup.Config {
	out := map[string]catchup.Config{}
	for _, w := range cfg.CatchUps() {
		cu := w.SeaTable.CatchUp
		out[w.SeaTable.Base] = catchup.Config{Base: w.SeaTable.Base, Webhook: w.Name, Tables: cu.Tables, Every: cu.Every, Lag: cu.Lag}
	}
	return out
}

// update makes the running pollers those of cfg: new ones start under
// ctx, changed ones restart, removed ones stop.
func (c *catchUps) update(ctx context.Context, cfg *rules.Config) {
	want := catchUpConfigs(cfg)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running == nil {
		c.running = map[string]*runningCatchUp{}
	}
	for base, r := range c.running {
		if w, ok := want[base]; !ok || !reflect.DeepEqual(w, r.cfg) {
			r.stop()
			<-r.done
			delete(c.running, base)
			if !ok {
				c.d.metrics.ForgetWebhook(base)
			}
		}
	}
	for base, w := range want {
		if _, ok := c.running[base]; ok {
			continue
		}
		c.running[base] = c.start(ctx, w)
	}
}

func (c *catchUps) start(ctx context.Context, cfg catchup.Config) *runningCatchUp {
	d := c.d
	log := d.log.With().Str("component", "catchup").Str("base", cfg.Base).Logger()
	p := catchup.New(cfg, catchup.Deps{
		Base: clientOf{d, cfg.Base, cfg.Every}, Store: d.q.CatchUpCursor(), Sink: d.sink, Clock: d.opts.Clock, Logger: log,
		Delivered: d.deliveredWebhooks,
		OnRound: func(st catchup.Status) {
			d.metrics.WebhookLikelyDisabled(st.Base, st.LikelyDisabled)
			if d.opts.onCatchUp != nil {
				d.opts.onCatchUp(st)
			}
		},
	})
	ctx, cancel := context.WithCancel(ctx)
	r := &runningCatchUp{cfg: cfg, poller: p, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		_ = p.Run(ctx)
	}()
	return r
}

// stopAll stops every poller and waits for it.
func (c *catchUps) stopAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for base, r := range c.running {
		r.stop()
		<-r.done
		delete(c.running, base)
	}
}

// statuses returns every poller's status, by base name.
func (c *catchUps) statuses() []statuspage.CatchUpStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]statuspage.CatchUpStatus, 0, len(c.running))
	for _, r := range c.running {
		st := r.poller.Status()
		out = append(out, statuspage.CatchUpStatus{
			Base: st.Base, Webhook: st.Webhook, Tables: st.Tables, Every: r.cfg.Every.String(),
			LastPoll: st.LastPoll, LikelyDisabled: st.LikelyDisabled, MissedAt: st.Missed, MissedRows: st.MissedRows,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Base < out[j].Base })
	return out
}

// clientOf is the SeaTable client of a base as the config in force has it
// (a reload may replace it), its calls admitted in the base's bulk lane,
// waiting at most wait for a slot (a catch-up's poll interval).
type clientOf struct {
	d    *daemon
	base string
	wait time.Duration
}

func (c clientOf) client() (*seatable.Client, error) {
	cl, ok := c.d.clients.get(c.base)
	if !ok {
		return nil, fmt.Errorf("unknown base %q", c.base)
	}
	return cl, nil
}

// SQL runs one statement on the base.
func (c clientOf) SQL(ctx context.Context, query string, params []any) (*seatable.SQLResult, error) {
	cl, err := c.client()
	if err != nil {
		return nil, err
	}
	gate := actions.LaneGate(c.d.budget, c.base, seaflow.Bulk, c.d.opts.Clock, c.wait)
	return cl.SQL(seatable.WithGate(ctx, gate), query, params)
}

// Info reports the base's token exchange answer.
func (c clientOf) Info(ctx context.Context) (seatable.BaseInfo, error) {
	cl, err := c.client()
	if err != nil {
		return seatable.BaseInfo{}, err
	}
	return cl.Info(ctx)
}

// deliveredWebhooks reads the webhook events the EVENTS stream received
// since since.
func (d *daemon) deliveredWebhooks(ctx context.Context, since time.Time) ([]seaflow.Event, error) {
	var out []seaflow.Event
	err := d.q.ReplayEvents(ctx, since, func(ev seaflow.Event) error {
		if ev.Source == seaflow.SourceWebhook && ev.Base != "" {
			out = append(out, ev)
		}
		return nil
	})
	return out, err
}

// printCatchUps writes a line per catch-up to `seaflow status`, the
// likely-disabled webhooks first and loud.
func printCatchUps(w io.Writer, cus []statuspage.CatchUpStatus) {
	for _, c := range cus {
		if c.LikelyDisabled {
			fmt.Fprintf(w, "WEBHOOK LIKELY DISABLED: %s (base %s): the catch-up found %d change(s) at %s that it never delivered; re-save the webhook in SeaTable (base → Advanced → Webhooks)\n",
				c.Webhook, c.Base, c.MissedRows, c.MissedAt.Format(time.RFC3339))
		}
	}
	for _, c := range cus {
		last := "not yet"
		if !c.LastPoll.IsZero() {
			last = c.LastPoll.Format(time.RFC3339)
		}
		state := "no missed changes"
		if c.LikelyDisabled {
			state = "webhook likely disabled"
		}
		fmt.Fprintf(w, "catch-up %s (base %s): every %s, tables %v, last poll %s, %s\n", c.Webhook, c.Base, c.Every, c.Tables, last, state)
	}
}
