package emulator

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seaflow/seaflow/clocktest"
)

func TestMinuteLimit(t *testing.T) {
	t.Parallel()
	e, bu := setup(t, Options{}) // defaults: 300/min, 5000/24h
	start := bu.clock.Now()
	for i := 0; i < 300; i++ {
		rec := gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil)
		wantStatus(t, rec, http.StatusOK)
		if i == 0 {
			h := rec.Header()
			if h.Get("X-Ratelimit-Limit") != "300" || h.Get("X-Ratelimit-Remaining") != "299" ||
				h.Get("X-Ratelimit-Reset") != strconv.FormatInt(start.Add(time.Minute).Unix(), 10) {
				t.Fatalf("first call headers: %v", h)
			}
		}
		if i < 299 {
			bu.clock.Advance(100 * time.Millisecond)
		}
	}
	rec := gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil)
	wantStatus(t, rec, http.StatusTooManyRequests)
	if rec.Body.Len() != 0 {
		t.Errorf("429 body = %q, want empty", rec.Body)
	}
	reset, _ := strconv.ParseInt(rec.Header().Get("X-Ratelimit-Reset"), 10, 64)
	if reset != start.Add(time.Minute).Unix() || rec.Header().Get("X-Ratelimit-Remaining") != "0" {
		t.Fatalf("429 headers: %v", rec.Header())
	}
	// Other bases are not affected.
	shopTok := exchange(t, e, bu.shop.APIToken, "Token")
	wantStatus(t, gw(t, e, bu.shop, shopTok, "GET", "/metadata/", nil), http.StatusOK)

	// Rejected calls consume nothing: at the reset second one slot frees.
	bu.clock.Advance(time.Unix(reset, 0).Sub(bu.clock.Now()))
	rec = gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil)
	wantStatus(t, rec, http.StatusOK)
	if got := rec.Header().Get("X-Ratelimit-Remaining"); got != "0" {
		t.Errorf("remaining after the freed slot = %s, want 0", got)
	}
	wantStatus(t, gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil), http.StatusTooManyRequests)

	st := e.Stats().Bases["crm"]
	if st.Sent429 != 2 || st.Calls != 303 {
		t.Errorf("stats: sent429 %d calls %d", st.Sent429, st.Calls)
	}
	if got := e.MaxInWindow("crm", time.Minute); got != 302 {
		t.Errorf("MaxInWindow = %d, want 302 (rejected calls count too)", got)
	}
	// The /_emulator endpoints and the token exchange never count.
	for range 5 {
		wantStatus(t, do(t, e, "GET", "/_emulator/stats", "", nil), http.StatusOK)
		exchange(t, e, bu.crm.APIToken, "Token")
	}
	wantStatus(t, gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil), http.StatusTooManyRequests)
}

func TestDailyLimit(t *testing.T) {
	t.Parallel()
	e, bu := setup(t, Options{TokenTTL: 48 * time.Hour})
	start := bu.clock.Now()
	// 5000 calls 17 s apart: 3.5 a minute, 23.6 hours in all.
	for i := 0; i < 5000; i++ {
		wantStatus(t, gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil), http.StatusOK)
		bu.clock.Advance(17 * time.Second)
	}
	rec := gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil)
	wantStatus(t, rec, http.StatusTooManyRequests)
	h := rec.Header()
	if h.Get("X-Ratelimit-Limit") != "5000" || h.Get("X-Ratelimit-Reset") != strconv.FormatInt(start.Add(24*time.Hour).Unix(), 10) {
		t.Fatalf("daily 429 headers: %v", h)
	}
	bu.clock.Advance(start.Add(24 * time.Hour).Sub(bu.clock.Now()))
	rec = gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil)
	wantStatus(t, rec, http.StatusOK)
	if rec.Header().Get("X-Ratelimit-Limit") != "300" {
		t.Errorf("ordinary answers describe the minute window: %v", rec.Header())
	}
}

func TestConfiguredLimits(t *testing.T) {
	t.Parallel()
	t.Run("custom", func(t *testing.T) {
		e, bu := setup(t, Options{Limits: []Limit{{Window: time.Second, Calls: 2}}})
		wantStatus(t, gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil), http.StatusOK)
		wantStatus(t, gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil), http.StatusOK)
		wantStatus(t, gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil), http.StatusTooManyRequests)
		bu.clock.Advance(time.Second)
		wantStatus(t, gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil), http.StatusOK)
	})
	t.Run("unlimited", func(t *testing.T) {
		e, bu := setup(t, Options{Limits: []Limit{}})
		for range 400 {
			rec := gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil)
			wantStatus(t, rec, http.StatusOK)
			if rec.Header().Get("X-Ratelimit-Limit") != "" {
				t.Fatalf("unlimited base sent rate headers")
			}
		}
	})
}

func TestMaxInWindow(t *testing.T) {
	t.Parallel()
	e, bu := setup(t, Options{Limits: []Limit{}})
	// 3 calls, a gap of a minute, then 5 calls within 10 s.
	for range 3 {
		gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil)
	}
	bu.clock.Advance(time.Minute)
	for range 5 {
		gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil)
		bu.clock.Advance(2 * time.Second)
	}
	for window, want := range map[time.Duration]int{time.Minute: 5, 65 * time.Second: 6, time.Hour: 8, time.Second: 3} {
		if got := e.MaxInWindow(bu.crm.UUID, window); got != want {
			t.Errorf("MaxInWindow(%v) = %d, want %d", window, got, want)
		}
	}
	if got := e.MaxInWindow("shop", time.Hour); got != 0 {
		t.Errorf("shop = %d", got)
	}
}

func TestPlans(t *testing.T) {
	t.Parallel()
	for plan, want := range map[Plan]string{"": "300", PlanLegacy: "300", PlanServer: "500", PlanCloud: "200"} {
		e, bu := setup(t, Options{Plan: plan})
		rec := gw(t, e, bu.crm, bu.token, "GET", "/metadata/", nil)
		if got := rec.Header().Get("X-Ratelimit-Limit"); got != want {
			t.Errorf("plan %q: limit %s, want %s", plan, got, want)
		}
	}
	if got := PlanLimits(PlanCloud); len(got) != 1 || got[0] != (Limit{Window: time.Minute, Calls: 200}) {
		t.Errorf("cloud limits %v: no daily window", got)
	}
	if _, err := ParsePlan("enterprise"); err == nil {
		t.Error("ParsePlan accepted enterprise")
	}
}

func TestMonthlyTeamQuota(t *testing.T) {
	t.Parallel()
	f, err := ParseFixture("team.yaml", []byte(`
plan: cloud
monthly: 3
bases:
  - { name: a, team: acme, tables: [ { name: T, columns: [ { name: N, type: text } ] } ] }
  - { name: b, team: acme, tables: [ { name: T, columns: [ { name: N, type: text } ] } ] }
  - { name: c, tables: [ { name: T, columns: [ { name: N, type: text } ] } ] }
`))
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{}
	f.Settings.Apply(&opts)
	if opts.Plan != PlanCloud || opts.MonthlyQuota != 3 {
		t.Fatalf("options %+v", opts)
	}
	clock := clocktest.New(time.Date(2026, 3, 31, 23, 59, 0, 0, time.UTC))
	opts.Now = clock.Now
	e := New(opts)
	infos, err := e.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	toks := make([]string, len(infos))
	for i, info := range infos {
		toks[i] = exchange(t, e, info.APIToken, "Token")
	}
	call := func(i int) *httptest.ResponseRecorder {
		return gw(t, e, infos[i], toks[i], "GET", "/metadata/", nil)
	}
	// a and b share acme's 3 calls a month; c has its own.
	for _, i := range []int{0, 1, 0} {
		wantStatus(t, call(i), http.StatusOK)
	}
	rec := call(1)
	wantStatus(t, rec, http.StatusTooManyRequests)
	if reset := rec.Header().Get("X-Ratelimit-Reset"); reset != strconv.FormatInt(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC).Unix(), 10) {
		t.Errorf("reset %s, want the start of April", reset)
	}
	wantStatus(t, call(2), http.StatusOK)
	// The month ends: the quota is back.
	clock.Advance(time.Minute)
	wantStatus(t, call(1), http.StatusOK)
}

func TestTokenExchangeLimit(t *testing.T) {
	t.Parallel()
	e, bu := setup(t, Options{})
	for range 59 { // setup exchanged one already
		exchange(t, e, bu.crm.APIToken, "Token")
	}
	rec := do(t, e, "GET", "/api/v2.1/dtable/app-access-token/", "Token "+bu.crm.APIToken, nil)
	wantStatus(t, rec, http.StatusTooManyRequests)
	if rec.Header().Get("Retry-After") != "60" || !strings.Contains(rec.Body.String(), "Request was throttled") {
		t.Errorf("429 %v %s", rec.Header(), rec.Body)
	}
	exchange(t, e, bu.shop.APIToken, "Token") // another base is not affected
	bu.clock.Advance(time.Minute)
	exchange(t, e, bu.crm.APIToken, "Token")
}
