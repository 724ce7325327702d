package seatable

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBaseUUIDExchangesOnce(t *testing.T) {
	t.Parallel()
	f := newFakeGateway(t)
	rec := &callRecorder{}
	c := f.client(func(cfg *Config) { cfg.Observe = rec.observe })
	ctx := context.Background()
	for range 3 {
		uuid, err := c.BaseUUID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if uuid != testUUID {
			t.Fatalf("uuid = %q, want %q", uuid, testUUID)
		}
	}
	if n := f.exchangeCount(); n != 1 {
		t.Fatalf("exchanges = %d, want 1", n)
	}
	calls := rec.all()
	if len(calls) != 1 {
		t.Fatalf("observed %d calls, want 1: %+v", len(calls), calls)
	}
	if got := calls[0]; got.Op != "token exchange" || got.Method != "GET" || got.Endpoint != "/api/v2.1/dtable/app-access-token/" || got.Status != 200 {
		t.Fatalf("observed %+v", got)
	}
}

func TestTokenRefreshedBeforeThreeDays(t *testing.T) {
	t.Parallel()
	f := newFakeGateway(t)
	clock := newFakeClock()
	c := f.client(func(cfg *Config) { cfg.Now = clock.Now })
	ctx := context.Background()

	if _, err := c.Metadata(ctx); err == nil {
		// the fake's default handler answers {"success":true}: not metadata
		t.Fatal("metadata from a success-only body: want an error")
	}
	if n := f.exchangeCount(); n != 1 {
		t.Fatalf("exchanges = %d, want 1", n)
	}
	clock.Advance(70 * time.Hour)
	if err := c.LockRows(ctx, "T", []string{"r1"}); err != nil {
		t.Fatal(err)
	}
	if n := f.exchangeCount(); n != 1 {
		t.Fatalf("after 70h: exchanges = %d, want 1 (token still fresh)", n)
	}
	clock.Advance(time.Hour + time.Minute) // 71h01m: inside the refresh margin
	if err := c.LockRows(ctx, "T", []string{"r1"}); err != nil {
		t.Fatal(err)
	}
	if n := f.exchangeCount(); n != 2 {
		t.Fatalf("after 71h: exchanges = %d, want 2 (proactive refresh)", n)
	}
	calls := f.baseCalls()
	last := calls[len(calls)-1]
	if last.Token != f.issued[1] {
		t.Fatalf("last call used token %q, want the refreshed %q", last.Token, f.issued[1])
	}
}

func TestForbiddenReExchangesOnceAndRetries(t *testing.T) {
	t.Parallel()
	f := newFakeGateway(t)
	rec := &callRecorder{}
	c := f.client(func(cfg *Config) { cfg.Observe = rec.observe })
	ctx := context.Background()
	if err := c.UnlockRows(ctx, "T", []string{"r1"}); err != nil {
		t.Fatal(err)
	}
	f.revokeAll() // the server now rejects the cached token
	if err := c.UnlockRows(ctx, "T", []string{"r1"}); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if n := f.exchangeCount(); n != 2 {
		t.Fatalf("exchanges = %d, want 2", n)
	}
	calls := f.baseCalls()
	if len(calls) != 3 {
		t.Fatalf("base calls = %d, want 3 (ok, 403, retry)", len(calls))
	}
	if calls[1].Token != f.issued[0] || calls[2].Token != f.issued[1] {
		t.Fatalf("tokens used: %q then %q", calls[1].Token, calls[2].Token)
	}
	var statuses []int
	for _, call := range rec.all() {
		statuses = append(statuses, call.Status)
	}
	want := []int{200, 200, 403, 200, 200} // exchange, op, op 403, exchange, retry
	if len(statuses) != len(want) {
		t.Fatalf("observed statuses %v, want %v", statuses, want)
	}
	for i := range want {
		if statuses[i] != want[i] {
			t.Fatalf("observed statuses %v, want %v", statuses, want)
		}
	}
}

func TestForbiddenTwiceIsPermission(t *testing.T) {
	t.Parallel()
	f := newFakeGateway(t)
	f.base = func(w http.ResponseWriter, r *http.Request, path string, body []byte) {
		writeJSON(w, http.StatusForbidden, map[string]any{"error_msg": "Permission denied."})
	}
	c := f.client(nil)
	err := c.DeleteRows(context.Background(), "T", []string{"r1"})
	if KindOf(err) != KindPermission {
		t.Fatalf("err = %v, want kind permission", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Status != 403 || e.Message != "Permission denied." || e.Op != "delete rows" {
		t.Fatalf("err = %#v", err)
	}
	if n := f.exchangeCount(); n != 2 {
		t.Fatalf("exchanges = %d, want 2 (initial + one re-exchange)", n)
	}
	if n := len(f.baseCalls()); n != 2 {
		t.Fatalf("base calls = %d, want 2 (no retry loop)", n)
	}
	if strings.Contains(err.Error(), testAPIToken) {
		t.Fatal("error text contains the API token")
	}
	for _, tok := range f.issued {
		if strings.Contains(err.Error(), tok) {
			t.Fatal("error text contains a base token")
		}
	}
	// The refused token is known: the next 403s exchange no more.
	for range 3 {
		if err := c.DeleteRows(context.Background(), "T", []string{"r1"}); KindOf(err) != KindPermission {
			t.Fatalf("again: err = %v, want kind permission", err)
		}
	}
	if n := f.exchangeCount(); n != 2 {
		t.Fatalf("exchanges = %d after three more refusals, want still 2", n)
	}
}

func TestAuthFailuresThatSurviveARefresh(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		body   map[string]any
	}{
		{"401", http.StatusUnauthorized, map[string]any{"detail": "Invalid token"}},
		{"403 token expired", http.StatusForbidden, map[string]any{"error_msg": "Token expired."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeGateway(t)
			f.base = func(w http.ResponseWriter, r *http.Request, path string, body []byte) {
				writeJSON(w, tc.status, tc.body)
			}
			c := f.client(nil)
			for range 2 {
				if err := c.DeleteRows(context.Background(), "T", []string{"r1"}); KindOf(err) != KindAuth {
					t.Fatalf("err = %v, want kind auth", err)
				}
			}
			// Each call may exchange once more: the token may really be stale.
			if n := f.exchangeCount(); n != 3 {
				t.Fatalf("exchanges = %d, want 3", n)
			}
		})
	}
}

func TestBadAPITokenIsAuth(t *testing.T) {
	t.Parallel()
	f := newFakeGateway(t)
	c := f.client(func(cfg *Config) { cfg.APIToken = "ffffffffffffffffffffffffffffffffffffffff" })
	_, err := c.BaseUUID(context.Background())
	if KindOf(err) != KindAuth {
		t.Fatalf("err = %v, want kind auth", err)
	}
	if strings.Contains(err.Error(), "ffffffffffffffffffffffffffffffffffffffff") {
		t.Fatal("error text contains the API token")
	}
	if n := len(f.baseCalls()); n != 0 {
		t.Fatalf("base calls = %d, want 0", n)
	}

	_, err = New(Config{ServerURL: f.srv.URL}).BaseUUID(context.Background())
	if KindOf(err) != KindAuth || !errors.Is(err, errNoAPIToken) {
		t.Fatalf("no token: err = %v", err)
	}
}

func TestConcurrentCallersShareOneExchange(t *testing.T) {
	t.Parallel()
	f := newFakeGateway(t)
	f.exchangeStarted = make(chan struct{}, 1)
	f.exchangeGate = make(chan struct{})
	c := f.client(nil)
	const callers = 8
	joined := make(chan struct{}, callers)
	c.tok.joined = func() { joined <- struct{}{} }

	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.ListRows(context.Background(), ListOptions{Table: "T"})
			errs <- err
		}()
	}
	<-f.exchangeStarted // one caller started the exchange ...
	for range callers - 1 {
		<-joined // ... and every other caller is waiting for it
	}
	close(f.exchangeGate)
	wg.Wait()
	close(errs)
	for err := range errs {
		// the default handler answers {"success":true}: no rows key
		if KindOf(err) != KindTransient || !strings.Contains(err.Error(), "no rows") {
			t.Fatalf("err = %v", err)
		}
	}
	if n := f.exchangeCount(); n != 1 {
		t.Fatalf("exchanges = %d, want exactly 1", n)
	}
	if n := len(f.baseCalls()); n != callers {
		t.Fatalf("base calls = %d, want %d", n, callers)
	}
}

func TestCancelledWaiterDoesNotFailOthers(t *testing.T) {
	t.Parallel()
	f := newFakeGateway(t)
	f.exchangeStarted = make(chan struct{}, 1)
	f.exchangeGate = make(chan struct{})
	c := f.client(nil)

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := c.BaseUUID(ctx)
		first <- err
	}()
	<-f.exchangeStarted
	cancel()
	err := <-first
	if KindOf(err) != KindTransient || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: err = %v", err)
	}
	close(f.exchangeGate)
	uuid, err := c.BaseUUID(context.Background())
	if err != nil || uuid != testUUID {
		t.Fatalf("second caller: %q, %v", uuid, err)
	}
	if n := f.exchangeCount(); n != 1 {
		t.Fatalf("exchanges = %d, want 1 (the first exchange completed for the second caller)", n)
	}
}
