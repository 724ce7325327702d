package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow/adminguard"
	"github.com/seaflow/seaflow/budget"
	"github.com/seaflow/seaflow/queue"
	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/seatable/emulator"
	"github.com/seaflow/seaflow/triggers"
)

// webhookHooks maps the config's webhooks onto the webhook trigger's.
func webhookHooks(cfg *rules.Config) []triggers.Hook {
	hooks := make([]triggers.Hook, 0, len(cfg.Webhooks))
	for _, w := range cfg.Webhooks {
		h := triggers.Hook{Name: w.Name, Path: w.Path, BearerToken: w.Token, NoAuth: w.Auth == "none"}
		if w.SeaTable != nil {
			h.SeaTable = true
			h.SeaTableSecret = w.SeaTable.Secret
		}
		if w.HMAC != nil {
			h.HMACHeader, h.HMACSecret = w.HMAC.Header, w.HMAC.Secret
		}
		if w.RateLimit != nil {
			h.RateLimit = triggers.RateLimit{Events: w.RateLimit.Events, Per: w.RateLimit.Per}
		}
		hooks = append(hooks, h)
	}
	return hooks
}

// cronJobs lists the cron rules.
func cronJobs(cfg *rules.Config) []triggers.CronJob {
	var jobs []triggers.CronJob
	for _, r := range cfg.Rules {
		if r.On.Cron == "" {
			continue
		}
		jobs = append(jobs, triggers.CronJob{Rule: r.Name, Spec: r.On.Cron, TZ: r.Location(), CatchUp: r.On.CatchUp})
	}
	return jobs
}

// cronCursor keeps each cron rule's last fired tick in the queue's state
// bucket, so a restart (or another replica) knows what already fired.
type cronCursor struct{ kv jetstream.KeyValue }

func newCronCursor(q *queue.Queue) cronCursor { return cronCursor{kv: q.State()} }

func cronKey(rule string) string { return "cron." + queue.Token(rule) }

func (c cronCursor) Last(ctx context.Context, rule string) (time.Time, bool, error) {
	e, err := c.kv.Get(ctx, cronKey(rule))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("cron cursor %s: %w", rule, err)
	}
	var t time.Time
	if err := t.UnmarshalText(e.Value()); err != nil {
		return time.Time{}, false, fmt.Errorf("cron cursor %s: %w", rule, err)
	}
	return t, true, nil
}

func (c cronCursor) Save(ctx context.Context, rule string, t time.Time) error {
	b, _ := t.UTC().MarshalText()
	if _, err := c.kv.Put(ctx, cronKey(rule), b); err != nil {
		return fmt.Errorf("cron cursor %s: %w", rule, err)
	}
	return nil
}

// emulators runs one in-process SeaTable emulator per fixture file named by
// `url: emulator` bases, each on its own loopback port.
type emulators struct {
	byFixture map[string]*runningEmulator
	byBase    map[string]*runningEmulator
}

type runningEmulator struct {
	emu    *emulator.Emulator
	url    string
	srv    *http.Server
	tokens map[string]string // fixture base name → API token
}

func startEmulators(cfg *rules.Config, now func() time.Time, log zerolog.Logger) (*emulators, error) {
	es := &emulators{byFixture: map[string]*runningEmulator{}, byBase: map[string]*runningEmulator{}}
	for name, base := range cfg.Bases {
		if base.URL != "emulator" {
			continue
		}
		re, ok := es.byFixture[base.Fixture]
		if !ok {
			fx, err := emulator.LoadFixtureFile(base.Fixture)
			if err != nil {
				es.close()
				return nil, fmt.Errorf("base %q: %w", name, err)
			}
			emu := emulator.New(emulator.Options{Limits: emulatorLimits(cfg, name), Now: now, Logger: log.With().Str("component", "emulator").Logger()})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				es.close()
				return nil, fmt.Errorf("emulator: listen: %w", err)
			}
			re = &runningEmulator{emu: emu, url: "http://" + ln.Addr().String(), tokens: map[string]string{}}
			emu.SetServerURL(re.url)
			infos, err := emu.Load(fx)
			if err != nil {
				ln.Close()
				es.close()
				return nil, fmt.Errorf("base %q: load fixture: %w", name, err)
			}
			for _, info := range infos {
				re.tokens[info.Name] = info.APIToken
			}
			// Its own port takes only requests for its address (no DNS
			// rebinding) and no cross-site writes: its _emulator/ endpoints
			// have no auth of their own.
			local := adminguard.New(ln.Addr().String(), func() adminguard.Policy { return adminguard.Policy{Open: true} }, nil)
			re.srv = &http.Server{Handler: local.Protect(emu), ReadHeaderTimeout: 5 * time.Second}
			go re.srv.Serve(ln)
			es.byFixture[base.Fixture] = re
			log.Info().Str("url", re.url).Str("fixture", base.Fixture).Msg("in-process SeaTable emulator running")
		}
		if _, ok := re.tokens[name]; !ok {
			es.close()
			return nil, fmt.Errorf("base %q: fixture %s has no base named %q", name, base.Fixture, name)
		}
		es.byBase[name] = re
	}
	return es, nil
}

// emulatorLimits gives the emulator the limits configured for the base, so
// the emulated SeaTable enforces exactly what seaflow plans for.
func emulatorLimits(cfg *rules.Config, base string) []emulator.Limit {
	var out []emulator.Limit
	for _, w := range baseLimits(cfg, base).Windows {
		if w.Month {
			out = append(out, emulator.Limit{Window: 30 * 24 * time.Hour, Calls: w.Calls})
			continue
		}
		out = append(out, emulator.Limit{Window: w.Span, Calls: w.Calls})
	}
	return out
}

// endpoint returns the server URL and API token of an emulated base.
func (es *emulators) endpoint(base string) (string, string) {
	re := es.byBase[base]
	return re.url, re.tokens[base]
}

// handler returns the emulator serving base names (for /emulator/ on the
// daemon's own server), or nil.
func (es *emulators) first() *runningEmulator {
	keys := make([]string, 0, len(es.byFixture))
	for k := range es.byFixture {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return nil
	}
	return es.byFixture[keys[0]]
}

func (es *emulators) close() {
	for _, re := range es.byFixture {
		if re.srv != nil {
			re.srv.Close()
		}
	}
}

// baseLimits turns a base's configured limits into the budget's.
func baseLimits(cfg *rules.Config, base string) budget.Limits {
	b, ok := cfg.Bases[base]
	if !ok {
		return budget.DefaultLimits()
	}
	limits := budget.Limits{UrgentReserve: b.UrgentReserve, Slack: budget.DefaultSlack}
	for _, l := range b.Limits {
		limits.Windows = append(limits.Windows, budget.Window{Span: l.Span, Month: l.Month, Calls: l.Calls})
	}
	return limits
}
