package statuspage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/metrics"
)

// sampleSources are sources whose stores hold what testdata/status.json
// shows: Build from them must give the sample back.
func sampleSources(t *testing.T, st Status) *Sources {
	t.Helper()
	window := func(w WindowStatus) Usage {
		span, err := time.ParseDuration(w.Window)
		if err != nil {
			t.Fatalf("sample window %q: %v", w.Window, err)
		}
		return Usage{Window: seaflow.Window{Span: span, Calls: w.Limit}, Used: w.Used, Remaining: w.Remaining, NextFree: w.NextFree}
	}
	bases := map[string]BaseStatus{}
	cfg := Config{Shares: map[string][]string{}}
	for i := len(st.Bases) - 1; i >= 0; i-- { // any order: Build sorts
		b := st.Bases[i]
		bases[b.Name] = b
		cfg.Bases = append(cfg.Bases, b.Name)
		for _, r := range b.Rules {
			cfg.Shares[b.Name] = append(cfg.Shares[b.Name], r.Rule)
		}
		cfg.Shares[b.Name] = append(cfg.Shares[b.Name], "uncapped")
	}
	spent := map[string][]Spend{}
	for _, x := range st.RuleSpend {
		if _, ok := spent[x.Rule]; !ok && x.Rule != "" {
			cfg.Rules = append(cfg.Rules, x.Rule)
		}
		spent[x.Rule] = append(spent[x.Rule], Spend{Base: x.Base, Calls1h: x.Calls1h, Rows1h: x.Rows1h, Calls24h: x.Calls24h, Rows24h: x.Rows24h})
	}
	cfg.Rules = append(cfg.Rules, "idle") // a rule that spent nothing shows nothing
	lane := func(base string, l seaflow.Lane) LaneStatus {
		for _, ls := range bases[base].Lanes {
			if ls.Lane == string(l) {
				return ls
			}
		}
		t.Fatalf("sample base %s has no lane %s", base, l)
		return LaneStatus{}
	}
	return &Sources{
		Version:    st.Version,
		Started:    st.Started,
		DryRun:     st.DryRun,
		NowFunc:    func() time.Time { return st.Now },
		ConfigFunc: func() Config { return cfg },
		ReloadFunc: func() *ReloadStatus { return st.Reload },
		UsageFunc: func(_ context.Context, base string) ([]Usage, error) {
			var out []Usage
			for _, w := range bases[base].Windows {
				out = append(out, window(w))
			}
			return out, nil
		},
		CallsFunc: func(_ context.Context, base string, since time.Time) ([]time.Time, error) {
			h := bases[base].History
			var out []time.Time
			for i, n := range h.Calls {
				end := st.Now.Add(-time.Duration(len(h.Calls)-1-i) * time.Hour)
				for range n {
					if at := end.Add(-time.Minute); !at.Before(since) {
						out = append(out, at)
					}
				}
			}
			return out, nil
		},
		ShareUsageFunc: func(_ context.Context, base, rule string) ([]Usage, error) {
			for _, r := range bases[base].Rules {
				if r.Rule == rule {
					return []Usage{window(WindowStatus{Window: r.Window, Limit: r.Limit, Used: r.Used, Remaining: r.Remaining})}, nil
				}
			}
			return nil, nil
		},
		PendingFunc: func(_ context.Context, base string, l seaflow.Lane) (int, error) {
			return lane(base, l).Pending, nil
		},
		OldestFunc: func(_ context.Context, base string, l seaflow.Lane) (time.Time, bool, error) {
			ls := lane(base, l)
			if ls.OldestAge == "" {
				return time.Time{}, false, nil
			}
			age, err := time.ParseDuration(ls.OldestAge)
			return st.Now.Add(-age), err == nil, err
		},
		TracesFunc: func(n int) []TraceStatus { return st.Traces[:min(n, len(st.Traces))] },
		DeadFunc: func(_ context.Context, n int) ([]DeadStatus, error) {
			return st.Dead[:min(n, len(st.Dead))], nil
		},
		DeadCountFunc: func(context.Context) (uint64, uint64, error) { return st.DeadTotal, 7, nil },
		SpendFunc: func(_ context.Context, rule string) ([]Spend, error) {
			return append(slices.Clone(spent[rule]), Spend{Base: "support"}), nil // nothing spent: left out
		},
		FinishFunc: func(_ context.Context, base string, l seaflow.Lane, n int, horizon time.Time) (time.Time, int, error) {
			for _, b := range bases[base].Backlog {
				if b.Lane == string(l) && b.Calls == n && b.Horizon.Equal(horizon) {
					if b.FinishAt == nil {
						return time.Time{}, (b.CarriesOver + 999) / 1000, nil
					}
					return *b.FinishAt, 0, nil
				}
			}
			return time.Time{}, 0, errors.New("no such backlog in the sample")
		},
		RunsFunc: func(context.Context) []RunStatus {
			out := slices.Clone(st.Runs)
			for i := range out {
				out[i].FinishAt, out[i].CarriesOver = nil, 0 // Build forecasts them
			}
			return out
		},
		QuotasFunc:   func(context.Context) []QuotaStatus { return st.Quotas },
		CatchUpsFunc: func() []CatchUpStatus { return st.CatchUps },
		DamageFunc: func() []Damage {
			var out []Damage
			for i, s := range st.StorageDamage {
				out = append(out, Damage{Stream: "S" + string(rune('A'+i)), Messages: uint64(i + 1), Text: s})
			}
			return out
		},
	}
}

func TestBuildGivesTheSample(t *testing.T) {
	t.Parallel()
	raw, st := loadSample(t)
	got := Build(context.Background(), sampleSources(t, st), 50, DeadInStatus)
	if out, ok := sameJSON(t, raw, got); !ok {
		t.Errorf("Build from the sample's sources:\nwant %s\ngot  %s", raw, out)
	}

	t.Run("bounded", func(t *testing.T) {
		t.Parallel()
		got := Build(context.Background(), sampleSources(t, st), 2, 1)
		if len(got.Traces) != 2 || len(got.Dead) != 1 || got.DeadTotal != st.DeadTotal {
			t.Errorf("traces %d, dead %d of %d; want 2, 1 of %d", len(got.Traces), len(got.Dead), got.DeadTotal, st.DeadTotal)
		}
	})
}

func TestBuildReadFailures(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	boom := errors.New("boom")
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	src := &Sources{
		NowFunc:    func() time.Time { return now },
		Log:        zerolog.New(&logs),
		ConfigFunc: func() Config { return Config{Bases: []string{"crm"}} },
		UsageFunc:  func(context.Context, string) ([]Usage, error) { return nil, boom },
		CallsFunc: func(context.Context, string, time.Time) ([]time.Time, error) {
			return nil, boom
		},
		PendingFunc: func(context.Context, string, seaflow.Lane) (int, error) { return 0, boom },
		DeadFunc:    func(context.Context, int) ([]DeadStatus, error) { return nil, boom },
	}
	st := Build(context.Background(), src, 10, 10)
	if len(st.Bases) != 1 || st.Bases[0].Windows != nil || st.Bases[0].Forecast != nil || len(st.Bases[0].Lanes) != 3 {
		t.Errorf("base with failed reads: %+v", st.Bases)
	}
	if st.Dead != nil {
		t.Errorf("dead = %v, want none (null) when the read failed", st.Dead)
	}
	for _, msg := range []string{"status: budget usage", "status: call history"} {
		if !strings.Contains(logs.String(), msg) {
			t.Errorf("log has no %q: %s", msg, logs.String())
		}
	}

	// Nothing dead-lettered is an empty list, not null.
	src.DeadFunc = func(context.Context, int) ([]DeadStatus, error) { return nil, nil }
	if st := Build(context.Background(), src, 0, 0); st.Dead == nil || len(st.Dead) != 0 {
		t.Errorf("dead = %#v, want []", st.Dead)
	}
}

func TestSnapshot(t *testing.T) {
	t.Parallel()
	_, st := loadSample(t)
	st.StorageDamage = []string{"stream SEAFLOW_OPS lost 1 message"}
	snap := Snapshot(context.Background(), sampleSources(t, st))
	want := metrics.Snapshot{
		Budgets: []metrics.BudgetWindow{
			{Base: "crm", Window: "1m", Limit: 300, Used: 14, Remaining: 286},
			{Base: "crm", Window: "24h", Limit: 5000, Used: 4019, Remaining: 981},
			{Base: "support", Window: "1m", Limit: 300, Used: 0, Remaining: 300},
			{Base: "support", Window: "24h", Limit: 5000, Used: 118, Remaining: 4882},
		},
		Queues: []metrics.QueueDepth{
			{Base: "crm", Lane: "urgent"},
			{Base: "crm", Lane: "normal", Pending: 37, OldestAge: 12 * time.Second},
			{Base: "crm", Lane: "bulk", Pending: 1200, OldestAge: 200 * time.Second},
			{Base: "support", Lane: "urgent"},
			{Base: "support", Lane: "normal"},
			{Base: "support", Lane: "bulk"},
		},
		DeadLetters:   int(st.DeadTotal),
		DeadDiscarded: 7,
		RuleShares:    []metrics.RuleShare{{Base: "crm", Rule: "web-lead", Limit: 2500, Used: 40}},
		StorageDamage: []metrics.StreamDamage{{Stream: "SA", Messages: 1}},
	}
	if !reflect.DeepEqual(snap, want) {
		t.Errorf("Snapshot:\n got %+v\nwant %+v", snap, want)
	}
}

// TestBacklogCarriesOver: a backlog the plan cannot finish before its
// longest window ends says how many ops carry over, and so do its runs.
func TestBacklogCarriesOver(t *testing.T) {
	t.Parallel()
	_, st := loadSample(t)
	src := sampleSources(t, st)
	var asked []string
	src.FinishFunc = func(_ context.Context, base string, l seaflow.Lane, n int, horizon time.Time) (time.Time, int, error) {
		asked = append(asked, fmt.Sprintf("%s/%s:%d until %s", base, l, n, horizon.Format(time.RFC3339)))
		if l == seaflow.Bulk {
			return time.Time{}, 1, nil // one call of two left at the horizon
		}
		return st.Now.Add(time.Minute), 0, nil
	}
	got := Build(context.Background(), src, 50, DeadInStatus)
	if want := "crm/normal:1 until 2026-11-27T23:50:00Z crm/bulk:2 until 2026-11-27T23:50:00Z"; strings.Join(asked, " ") != want {
		t.Errorf("forecasts asked: %q, want %q", strings.Join(asked, " "), want)
	}
	bulk := got.Bases[0].Backlog[1]
	if bulk.Lane != "bulk" || bulk.FinishAt != nil || bulk.CarriesOver != 1000 || bulk.Ops != 1200 {
		t.Errorf("bulk backlog = %+v, want 1,000 of 1,200 ops carried over", bulk)
	}
	if r := got.Runs[0]; r.FinishAt != nil || r.CarriesOver != 1000 {
		t.Errorf("running run = %+v, want 1,000 ops carried over", r)
	}
	if r := got.Runs[1]; r.FinishAt != nil || r.CarriesOver != 0 {
		t.Errorf("finished run = %+v, want no forecast", r)
	}
}
