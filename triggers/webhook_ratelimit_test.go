package triggers

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow/rules"
)

// setupLimited serves one bearer hook limited to 3 requests per second.
func setupLimited(t *testing.T) (*Webhooks, hookBundle) {
	t.Helper()
	b := hookBundle{sink: newMemSink(), clock: newFakeClock(utc(received0)), logs: &syncBuffer{}}
	hooks := []*rules.WebhookConfig{
		{Name: "shop", Path: "/hooks/shop", Token: shopToken, RateLimit: &rules.RateLimit{Events: 3, Per: time.Second}},
		{Name: "open", Path: "/hooks/open", Auth: "none"},
	}
	return NewWebhooks(hooks, b.sink, b.clock, zerolog.New(b.logs).Level(zerolog.DebugLevel)), b
}

func shopRequest(id, token string) request {
	return request{path: "/hooks/shop", header: map[string]string{
		"Content-Type": "application/json", "Authorization": "Bearer " + token, "Idempotency-Key": id,
	}, body: []byte(`{"order": 1}`)}
}

func TestWebhookRateLimit(t *testing.T) {
	t.Parallel()
	w, b := setupLimited(t)
	send := func(id string) int { return shopRequest(id, shopToken).do(w).Code }

	// Three per second pass, the fourth in the same second is refused.
	for i := range 3 {
		if code := send(fmt.Sprintf("a%d", i)); code != http.StatusAccepted {
			t.Fatalf("request %d: status %d, want 202", i, code)
		}
	}
	b.clock.Advance(400 * time.Millisecond)
	rec := shopRequest("a3", shopToken).do(w)
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("4th request: status %d (%s), want 429", rec.Code, rec.Body.String())
	}
	if got := rec.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1 (the first slot frees 600 ms later, rounded up)", got)
	}
	if reason := jsonBody(t, rec)["error"]; !strings.Contains(reason, "rate limit: at most 3 requests per 1s") {
		t.Errorf("reason %q", reason)
	}
	if n := len(b.sink.all()); n != 3 {
		t.Fatalf("stored %d events, want 3 (a refused request stores nothing)", n)
	}

	// Unauthenticated requests are refused 401 and spend no slot: once the
	// window rolls, the real sender gets its full quota back.
	for i := range 50 {
		if code := shopRequest(fmt.Sprintf("flood%d", i), "wrong-token").do(w).Code; code != http.StatusUnauthorized {
			t.Fatalf("unauthenticated flood request: status %d, want 401", code)
		}
	}
	if n := len(b.sink.all()); n != 3 {
		t.Fatalf("stored %d events after the flood, want 3", n)
	}
	b.clock.Advance(600 * time.Millisecond)
	for i := range 3 {
		if code := send(fmt.Sprintf("b%d", i)); code != http.StatusAccepted {
			t.Fatalf("after the window: request %d status %d, want 202", i, code)
		}
	}
	if code := send("b3"); code != http.StatusTooManyRequests {
		t.Fatalf("4th request of the new window: status %d, want 429", code)
	}

	// Other hooks are not limited.
	for i := range 20 {
		rec := request{path: "/hooks/open", header: map[string]string{"Content-Type": "application/json", "Idempotency-Key": fmt.Sprintf("o%d", i)}, body: []byte(`{}`)}.do(w)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("open hook request %d: %d", i, rec.Code)
		}
	}
	if strings.Contains(b.logs.String(), shopToken) {
		t.Error("logs show the bearer token")
	}
}

func TestWebhookRateLimitRollsExactly(t *testing.T) {
	t.Parallel()
	w, b := setupLimited(t)
	// One request every 200 ms for 4 s: 0, 0.2 and 0.4 pass, then 1.0 (the
	// slot of 0 frees exactly at 1.0), 1.2, 1.4, and so on; never more than
	// 3 in any second.
	var accepted []time.Duration
	for i := range 20 {
		at := time.Duration(i) * 200 * time.Millisecond
		if shopRequest(fmt.Sprintf("r%d", i), shopToken).do(w).Code == http.StatusAccepted {
			accepted = append(accepted, at)
		}
		b.clock.Advance(200 * time.Millisecond)
	}
	for i := range accepted {
		n := 0
		for _, a := range accepted[i:] {
			if a-accepted[i] < time.Second {
				n++
			}
		}
		if n > 3 {
			t.Fatalf("%d requests accepted within 1s of %v: %v", n, accepted[i], accepted)
		}
	}
	// 4 s of requests at 5 per second, 3 per second allowed: 3 per window.
	if len(accepted) != 12 {
		t.Errorf("accepted %d of 20 requests (%v), want 12", len(accepted), accepted)
	}
}
