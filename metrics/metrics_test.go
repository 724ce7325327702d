package metrics

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches m's handler over loopback HTTP and returns the raw text
// and the parsed metric families.
func scrape(t *testing.T, m *Metrics) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("scrape: read: %v", err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("scrape: parse: %v\n%s", err, body)
	}
	return string(body), fams
}

// find returns the metric of family name whose labels are exactly labels.
func find(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	mf, ok := fams[name]
	if !ok {
		t.Fatalf("metric family %s missing", name)
	}
	for _, m := range mf.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		if len(got) != len(labels) {
			continue
		}
		match := true
		for k, v := range labels {
			if got[k] != v {
				match = false
				break
			}
		}
		if match {
			return m
		}
	}
	t.Fatalf("%s%v missing; have %v", name, labels, mf.GetMetric())
	return nil
}

func counter(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	return find(t, fams, name, labels).GetCounter().GetValue()
}

func TestCounters(t *testing.T) {
	t.Parallel()
	m := New()
	m.EventReceived("webhook")
	m.EventReceived("webhook")
	m.EventReceived("cron")
	m.EventRejected("webhook", "auth")
	m.EventRejected("webhook", "json")
	m.EventRejected("webhook", "json")
	m.RuleMatched("stamp-won-deals")
	m.RuleMatched("stamp-won-deals")
	m.RuleError("nightly-overdue")
	m.OpsQueued("crm", "urgent", 3)
	m.OpsQueued("crm", "urgent", 2)
	m.OpsQueued("crm", "bulk", 0) // nothing
	m.OpsQueued("crm", "bulk", -4)
	m.RateLimited("crm")
	m.DeadLettered("crm", 2)
	m.DeadLettered("crm", 0)

	_, fams := scrape(t, m)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"seaflow_events_received_total", map[string]string{"source": "webhook"}, 2},
		{"seaflow_events_received_total", map[string]string{"source": "cron"}, 1},
		{"seaflow_events_rejected_total", map[string]string{"source": "webhook", "reason": "auth"}, 1},
		{"seaflow_events_rejected_total", map[string]string{"source": "webhook", "reason": "json"}, 2},
		{"seaflow_rule_matches_total", map[string]string{"rule": "stamp-won-deals"}, 2},
		{"seaflow_rule_errors_total", map[string]string{"rule": "nightly-overdue"}, 1},
		{"seaflow_ops_queued_total", map[string]string{"base": "crm", "lane": "urgent"}, 5},
		{"seaflow_api_429_total", map[string]string{"base": "crm"}, 1},
		{"seaflow_dead_letters_total", map[string]string{"base": "crm"}, 2},
	} {
		if got := counter(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n := len(fams["seaflow_ops_queued_total"].GetMetric()); n != 1 {
		t.Errorf("seaflow_ops_queued_total has %d series, want 1 (n <= 0 records nothing)", n)
	}
}

func TestAPICall(t *testing.T) {
	t.Parallel()
	m := New()
	m.APICall("crm", "rows.append", 200, 1000, 250*time.Millisecond)
	m.APICall("crm", "rows.append", 200, 7, 50*time.Millisecond)
	m.APICall("crm", "rows.update", 429, 3, 10*time.Millisecond)
	m.APICall("crm", "sql", 0, 0, 2*time.Second) // no response, no rows
	m.APICall("crm", "rows.update", 200, 4, time.Millisecond, RulePart{"stamp", 0.75}, RulePart{"notify", 0.25})
	m.APICall("crm", "rows.update", 200, 1, time.Millisecond, RulePart{"stamp", 1})

	_, fams := scrape(t, m)
	for _, c := range []struct {
		endpoint, status, rule string
		want                   float64
	}{
		{"rows.append", "200", "", 2},
		{"rows.update", "429", "", 1},
		{"sql", "0", "", 1},
		{"rows.update", "200", "stamp", 1.75},
		{"rows.update", "200", "notify", 0.25},
	} {
		l := map[string]string{"base": "crm", "endpoint": c.endpoint, "status": c.status, "rule": c.rule}
		if got := counter(t, fams, "seaflow_api_calls_total", l); got != c.want {
			t.Errorf("seaflow_api_calls_total%v = %v, want %v", l, got, c.want)
		}
	}

	rows := find(t, fams, "seaflow_api_rows_per_call", map[string]string{"base": "crm"}).GetHistogram()
	if rows.GetSampleCount() != 5 || rows.GetSampleSum() != 1015 {
		t.Errorf("rows histogram count %d sum %v, want 5 and 1015", rows.GetSampleCount(), rows.GetSampleSum())
	}
	wantBuckets := map[float64]uint64{1: 1, 2: 1, 5: 3, 10: 4, 50: 4, 100: 4, 250: 4, 500: 4, 750: 4, 1000: 5}
	var bounds []float64
	for _, b := range rows.GetBucket() {
		if math.IsInf(b.GetUpperBound(), 1) {
			continue
		}
		bounds = append(bounds, b.GetUpperBound())
		if want := wantBuckets[b.GetUpperBound()]; b.GetCumulativeCount() != want {
			t.Errorf("rows bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}

	if fmt.Sprint(bounds) != fmt.Sprint(RowsPerCallBuckets) {
		t.Errorf("rows histogram bounds %v, want %v", bounds, RowsPerCallBuckets)
	}

	dur := find(t, fams, "seaflow_api_call_duration_seconds", map[string]string{"base": "crm"}).GetHistogram()
	if dur.GetSampleCount() != 6 || math.Abs(dur.GetSampleSum()-2.312) > 1e-9 {
		t.Errorf("duration histogram count %d sum %v, want 6 and 2.312", dur.GetSampleCount(), dur.GetSampleSum())
	}
}

func TestRuntimeCollectors(t *testing.T) {
	t.Parallel()
	_, fams := scrape(t, New())
	names := []string{"go_goroutines", "go_memstats_alloc_bytes"}
	if runtime.GOOS == "linux" {
		names = append(names, "process_start_time_seconds", "process_resident_memory_bytes")
	}
	for _, name := range names {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
}

func TestOwnRegistry(t *testing.T) {
	t.Parallel()
	// Two instances in one process must not collide, and neither touches
	// the global registry (New would panic on a duplicate registration).
	a, b := New(), New()
	a.EventReceived("nats")
	_, fams := scrape(t, b)
	if _, ok := fams["seaflow_events_received_total"]; ok {
		t.Error("an event recorded on one Metrics shows on another")
	}
}

func TestNilMetrics(t *testing.T) {
	t.Parallel()
	var m *Metrics
	m.EventReceived("webhook")
	m.EventRejected("webhook", "auth")
	m.RuleMatched("r")
	m.RuleError("r")
	m.OpsQueued("crm", "bulk", 1)
	m.APICall("crm", "sql", 200, 1, time.Second)
	m.RateLimited("crm")
	m.DeadLettered("crm", 1)
	m.SetSnapshot(nil)
}

func TestNoSecretLabels(t *testing.T) {
	t.Parallel()
	const (
		dtable = "6f1c4a2e-9b7d-4e3f-8a1b-2c3d4e5f6a7b"
		rowID  = "QtfxPmoRaiFyQPOaENTQzz"
		token  = "3f9a1c0b7e2d4f6a8b9c0d1e2f3a4b5c6d7e8f90"
	)
	m := New()
	m.APICall("crm", "https://cloud.example/api-gateway/api/v2/dtables/"+dtable+"/rows/"+rowID+"/?token="+token, 200, 1, time.Millisecond)
	m.APICall("crm", "/api/v2.1/dtable/app-access-token/#"+token, 200, 0, time.Millisecond)
	m.APICall("crm", token, 401, 0, time.Millisecond)
	text, fams := scrape(t, m)
	for _, secret := range []string{dtable, rowID, token, "cloud.example"} {
		if strings.Contains(text, secret) {
			t.Errorf("scrape contains %q", secret)
		}
	}
	var endpoints []string
	for _, mt := range fams["seaflow_api_calls_total"].GetMetric() {
		for _, lp := range mt.GetLabel() {
			if lp.GetName() == "endpoint" {
				endpoints = append(endpoints, lp.GetValue())
			}
		}
	}
	sort.Strings(endpoints)
	want := []string{"/api-gateway/api/v2/dtables/:id/rows/:id/", "/api/v2.1/dtable/app-access-token/", ":id"}
	if strings.Join(endpoints, " ") != strings.Join(want, " ") {
		t.Errorf("endpoint labels %q, want %q", endpoints, want)
	}
	// Only the documented label names appear on seaflow_ metrics.
	allowed := map[string]bool{"source": true, "reason": true, "rule": true, "base": true, "lane": true, "endpoint": true, "status": true, "window": true, "le": true}
	for name, mf := range fams {
		if !strings.HasPrefix(name, "seaflow_") {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if !allowed[lp.GetName()] {
					t.Errorf("%s has label %q", name, lp.GetName())
				}
			}
		}
	}
}

func TestEndpointLabel(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"rows.append", "rows.append"},
		{"update rows", "update rows"},
		{"batch-append-rows", "batch-append-rows"},
		{"/api/v2/dtables/6f1c4a2e9b7d4e3f8a1b2c3d4e5f6a7b/sql/", "/api/v2/dtables/:id/sql/"},
		{"/api/v2/rows/12345", "/api/v2/rows/:id"},
		{"http://127.0.0.1:8000/api/v2.1/dtable/app-access-token/?x=1", "/api/v2.1/dtable/app-access-token/"},
		{"http://127.0.0.1:8000", "/"},
		{"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3MDB9.sig", ":id"},
		{"", ""},
		{strings.Repeat("word/", 40), strings.Repeat("word/", 40)[:maxEndpointLen]},
	} {
		if got := EndpointLabel(c.in); got != c.want {
			t.Errorf("EndpointLabel(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
