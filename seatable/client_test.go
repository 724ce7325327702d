package seatable

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		status  int
		header  map[string]string
		body    string
		kind    ErrorKind
		msg     string // substring of Error.Message
		resetAt time.Time
	}{
		{name: "429 empty body with reset", status: 429, header: map[string]string{"X-Ratelimit-Reset": "1772366460"},
			kind: KindRateLimited, resetAt: time.Unix(1772366460, 0)},
		{name: "429 retry-after seconds", status: 429, header: map[string]string{"Retry-After": "17"},
			body: `{"detail":"Request was throttled. Expected available in 17 seconds."}`,
			kind: KindRateLimited, msg: "Request was throttled", resetAt: now.Add(17 * time.Second)},
		{name: "429 retry-after date", status: 429, header: map[string]string{"Retry-After": "Sun, 01 Mar 2026 12:05:00 GMT"},
			kind: KindRateLimited, resetAt: time.Date(2026, 3, 1, 12, 5, 0, 0, time.UTC)},
		{name: "429 later of both", status: 429, header: map[string]string{"X-Ratelimit-Reset": "1772366430", "Retry-After": "3600"},
			kind: KindRateLimited, resetAt: now.Add(time.Hour)},
		{name: "429 no hint", status: 429, kind: KindRateLimited},
		{name: "400 error_msg", status: 400, body: `{"error_msg":"table_name invalid"}`, kind: KindInvalid, msg: "table_name invalid"},
		{name: "400 error_message", status: 400, body: `{"error_type":"column_data_error","error_message":"Amount is not a number"}`,
			kind: KindInvalid, msg: "Amount is not a number"},
		{name: "404 detail", status: 404, body: `{"detail":"Not found."}`, kind: KindInvalid, msg: "Not found."},
		{name: "400 error_type only", status: 400, body: `{"error_type":"exceed_rows_limit"}`, kind: KindInvalid, msg: "exceed_rows_limit"},
		{name: "413 raw text", status: 413, body: "  request entity too large \n", kind: KindInvalid, msg: "request entity too large"},
		{name: "400 long raw body trimmed", status: 400, body: strings.Repeat("x", 5000), kind: KindInvalid, msg: strings.Repeat("x", 200) + "..."},
		{name: "500", status: 500, body: `{"error_msg":"Internal Server Error"}`, kind: KindTransient, msg: "Internal Server Error"},
		{name: "502 html", status: 502, body: "<html>Bad Gateway</html>", kind: KindTransient, msg: "Bad Gateway"},
		{name: "200 not JSON", status: 200, body: "<html>maintenance</html>", kind: KindTransient, msg: "not JSON"},
		{name: "200 empty", status: 200, body: "", kind: KindTransient, msg: "empty response body"},
		{name: "200 array", status: 200, body: `[1,2]`, kind: KindTransient, msg: "not a JSON object"},
		{name: "200 wrong shape", status: 200, body: `{"rows":"nope"}`, kind: KindTransient, msg: "unexpected response shape"},
		{name: "200 missing rows", status: 200, body: `{"success":true}`, kind: KindTransient, msg: "no rows"},
		{name: "200 trailing garbage", status: 200, body: `{"rows":[]} x`, kind: KindTransient, msg: "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeGateway(t)
			f.base = func(w http.ResponseWriter, r *http.Request, path string, body []byte) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}
			c := f.client(func(cfg *Config) { cfg.Now = func() time.Time { return now } })
			_, err := c.ListRows(context.Background(), ListOptions{Table: "T"})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if e.Kind != tt.kind || e.Status != tt.status || e.Op != "list rows" {
				t.Fatalf("got kind %v status %d op %q, want %v %d", e.Kind, e.Status, e.Op, tt.kind, tt.status)
			}
			if !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("message %q does not contain %q", e.Message, tt.msg)
			}
			if !e.ResetAt.Equal(tt.resetAt) {
				t.Fatalf("ResetAt = %v, want %v", e.ResetAt, tt.resetAt)
			}
			if n := f.exchangeCount(); n != 1 {
				t.Fatalf("exchanges = %d, want 1 (only 401/403 re-exchange)", n)
			}
		})
	}
}

func TestSQLSuccessFalseIsInvalid(t *testing.T) {
	t.Parallel()
	f := newFakeGateway(t)
	f.base = func(w http.ResponseWriter, r *http.Request, path string, body []byte) {
		writeJSON(w, 200, map[string]any{"success": false, "error_message": "no such table: Nope"})
	}
	_, err := f.client(nil).SQL(context.Background(), "SELECT * FROM Nope", nil)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindInvalid || e.Message != "no such table: Nope" {
		t.Fatalf("err = %#v", err)
	}
}

func TestTransportErrors(t *testing.T) {
	t.Parallel()
	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		rec := &callRecorder{}
		c := New(Config{ServerURL: url, APIToken: testAPIToken, Observe: rec.observe})
		_, err := c.BaseUUID(context.Background())
		var e *Error
		if !errors.As(err, &e) || e.Kind != KindTransient || e.Status != 0 || e.Err == nil {
			t.Fatalf("err = %#v", err)
		}
		if strings.Contains(err.Error(), testAPIToken) {
			t.Fatalf("error text contains the API token: %v", err)
		}
		calls := rec.all()
		if len(calls) != 1 || calls[0].Status != 0 || calls[0].Op != "token exchange" {
			t.Fatalf("observed %+v, want one failed exchange", calls)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		f := newFakeGateway(t)
		f.base = func(w http.ResponseWriter, r *http.Request, path string, body []byte) {
			<-r.Context().Done() // never answers; the client gives up
		}
		c := f.client(func(cfg *Config) { cfg.Timeout = time.Millisecond })
		// The exchange may time out too with so short a timeout; either
		// way the error is transient and wraps the deadline.
		_, err := c.Metadata(context.Background())
		if KindOf(err) != KindTransient || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want a transient deadline error", err)
		}
		if strings.Contains(err.Error(), testAPIToken) {
			t.Fatal("error text contains the API token")
		}
	})
	t.Run("caller cancels", func(t *testing.T) {
		t.Parallel()
		f := newFakeGateway(t)
		c := f.client(nil)
		if _, err := c.BaseUUID(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.GetRow(ctx, "T", "r1")
		if KindOf(err) != KindTransient || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestTokensNeverInErrors(t *testing.T) {
	t.Parallel()
	f := newFakeGateway(t)
	// A hostile server echoes the Authorization header into its errors.
	f.base = func(w http.ResponseWriter, r *http.Request, path string, body []byte) {
		writeJSON(w, 400, map[string]any{"error_msg": "bad request from " + r.Header.Get("Authorization")})
	}
	c := f.client(nil)
	_, err := c.ListRows(context.Background(), ListOptions{Table: "T"})
	if KindOf(err) != KindInvalid {
		t.Fatalf("err = %v", err)
	}
	if len(f.issued) == 0 {
		t.Fatal("no token issued")
	}
	for _, secret := range append([]string{testAPIToken}, f.issued...) {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error %q contains a token", err)
		}
	}
	if !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("error %q: want the echoed token redacted", err)
	}

	// The exchange echoing the API token back is redacted too.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 403, map[string]any{"detail": "invalid " + r.Header.Get("Authorization")})
	}))
	t.Cleanup(echo.Close)
	_, err = New(Config{ServerURL: echo.URL, APIToken: testAPIToken}).BaseUUID(context.Background())
	if KindOf(err) != KindAuth || strings.Contains(err.Error(), testAPIToken) {
		t.Fatalf("err = %v", err)
	}
}

func TestObserveReportsRateLimitsAndRows(t *testing.T) {
	t.Parallel()
	f := newFakeGateway(t)
	f.base = func(w http.ResponseWriter, r *http.Request, path string, body []byte) {
		w.Header().Set("X-Ratelimit-Limit", "500")
		w.Header().Set("X-Ratelimit-Remaining", "493")
		w.Header().Set("X-Ratelimit-Reset", "1720710405")
		switch {
		case r.Method == "GET" && path == "/rows/":
			writeJSON(w, 200, map[string]any{"rows": []any{map[string]any{"_id": "a"}, map[string]any{"_id": "b"}}})
		case r.Method == "POST" && path == "/rows/":
			writeJSON(w, 200, map[string]any{"inserted_row_count": 1, "row_ids": []any{map[string]any{"_id": "n1"}}})
		default:
			writeJSON(w, 200, map[string]any{"success": true})
		}
	}
	clock := newFakeClock()
	rec := &callRecorder{}
	c := f.client(func(cfg *Config) {
		cfg.Observe = rec.observe
		cfg.Now = func() time.Time { clock.Advance(time.Millisecond); return clock.Now() }
	})
	ctx := context.Background()
	if _, err := c.ListRows(ctx, ListOptions{Table: "T"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AppendRows(ctx, "T", []Row{{"Name": "x"}}); err != nil {
		t.Fatal(err)
	}
	calls := rec.all()
	if len(calls) != 3 {
		t.Fatalf("observed %d calls, want 3", len(calls))
	}
	list, app := calls[1], calls[2]
	if list.Op != "list rows" || list.Method != "GET" || list.Endpoint != "/rows/" || list.Status != 200 || list.Rows != 2 {
		t.Fatalf("list call %+v", list)
	}
	if app.Op != "append rows" || app.Method != "POST" || app.Endpoint != "/rows/" || app.Rows != 1 {
		t.Fatalf("append call %+v", app)
	}
	want := RateLimit{Limit: 500, Remaining: 493, Reset: time.Unix(1720710405, 0)}
	if list.Limit == nil || *list.Limit != want {
		t.Fatalf("limit %+v, want %+v", list.Limit, want)
	}
	if calls[0].Limit != nil {
		t.Fatalf("exchange without headers: limit %+v, want nil", calls[0].Limit)
	}
	if list.Duration <= 0 {
		t.Fatalf("duration %v, want > 0 (measured with the injected clock)", list.Duration)
	}
}

func TestParseRateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    map[string]string
		want *RateLimit
	}{
		{"none", nil, nil},
		{"all", map[string]string{"x-ratelimit-limit": "300", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1720710405"},
			&RateLimit{Limit: 300, Remaining: 0, Reset: time.Unix(1720710405, 0)}},
		{"fractional reset", map[string]string{"x-ratelimit-reset": "1720710405.5"},
			&RateLimit{Reset: time.Unix(1720710405, 500000000)}},
		{"remaining only", map[string]string{"X-RateLimit-Remaining": " 12 "}, &RateLimit{Remaining: 12}},
		{"garbage", map[string]string{"x-ratelimit-limit": "lots", "x-ratelimit-reset": "soon"}, nil},
		{"negative", map[string]string{"x-ratelimit-remaining": "-1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.h {
				h.Set(k, v)
			}
			got, ok := ParseRateLimit(h)
			if (tt.want == nil) != !ok {
				t.Fatalf("ok = %v, want %v", ok, tt.want != nil)
			}
			if tt.want != nil && *got != *tt.want {
				t.Fatalf("got %+v, want %+v", *got, *tt.want)
			}
		})
	}
}
