package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seaflow/seaflow/seatable"
)

func TestEventIsASignedSeaTableWebhookWithUniqueID(t *testing.T) {
	rows := []string{"RowA", "RowB"}
	ids, values := map[string]bool{}, map[any]bool{}
	for i := int64(0); i < 4000; i++ {
		// Two runs, a second apart: an id or a value must not repeat
		// across runs either.
		start, n := time.Unix(1_780_000_000+i/2000, 0), 1+i%2000
		body := event("650d8a0d-7d4c-4c4e-9f2b-0123456789ab", "Deals", rows, start, n)
		if !seatable.VerifySignature("s3cret", body, sign("s3cret", body)) {
			t.Fatalf("event %d: signature does not verify", n)
		}
		w, err := seatable.ParseWebhook(body)
		if err != nil {
			t.Fatalf("event %d: %v", n, err)
		}
		if w.OpType != "modify_row" || w.TableName != "Deals" || w.RowID != rows[n%2] || w.BaseUUID != "650d8a0d7d4c4c4e9f2b0123456789ab" {
			t.Fatalf("event %d parsed as %+v", n, w)
		}
		if ids[w.ID()] {
			t.Fatalf("event %d: id %s repeats", n, w.ID())
		}
		ids[w.ID()] = true
		v := w.Cells[0].Value
		if values[v] {
			t.Fatalf("event %d: value %v repeats", n, v)
		}
		values[v] = true
	}
}

func TestPercentile(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := percentile(lat, tc.p); got != tc.want {
			t.Errorf("percentile(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile of none = %v", got)
	}
}

func TestRunCountsAnswers(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !seatable.VerifySignature("s", body, r.Header.Get("X-SeaTable-Signature")) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if n.Add(1)%10 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	rep, err := run(context.Background(), config{URL: srv.URL, Secret: "s", BaseUUID: "u", Table: "T", Rows: []string{"r"}, Conns: 4, Duration: 200 * time.Millisecond, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent == 0 || rep.Errors != 0 || int64(rep.Sent) != n.Load() {
		t.Fatalf("report %+v, server saw %d", rep, n.Load())
	}
	if rep.Accepted != rep.Statuses["202"] || rep.Refused != rep.Statuses["503"] || rep.Accepted+rep.Refused != rep.Sent {
		t.Fatalf("report %+v does not add up", rep)
	}
	if rep.P50Ms <= 0 || rep.P99Ms < rep.P50Ms || rep.MaxMs < rep.P99Ms {
		t.Fatalf("latencies %+v out of order", rep)
	}
}

func TestParseFlagsNeedsTarget(t *testing.T) {
	if _, err := parseFlags([]string{"-secret", "s", "-base-uuid", "u"}); err == nil {
		t.Fatal("no -rows accepted")
	}
	cfg, err := parseFlags([]string{"-secret", "s", "-base-uuid", "u", "-rows", "a, b", "-conns", "3", "-duration", "2s"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Rows) != 2 || cfg.Rows[1] != "b" || cfg.Conns != 3 || cfg.Duration != 2*time.Second {
		t.Fatalf("parsed %+v", cfg)
	}
}
