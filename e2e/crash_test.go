package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/seaflow/seaflow/internal/proctest"
)

// TestKillWithEventsInFlight: 10,000 webhook events are accepted (every one
// answered 202), the daemon is killed with SIGKILL at once, and a restart
// on the same data directory applies every one of them: 5,000 updates of
// existing rows and 5,000 upserts by key, none lost, no key twice.
func TestKillWithEventsInFlight(t *testing.T) {
	t.Parallel()
	const half = 5000
	var fx strings.Builder
	fx.WriteString(`
bases:
  - name: crm
    tables:
      - name: Keys
        columns:
          - { name: Key, type: text }
          - { name: N, type: number }
      - name: Items
        columns:
          - { name: Name, type: text }
          - { name: N, type: number }
        rows:
`)
	for i := range half {
		fmt.Fprintf(&fx, "          - { Name: item-%d, N: 0 }\n", i)
	}
	e := setup(t, fx.String(), configHead+`
webhooks:
  - { name: upd, path: /hooks/upd, token: "${E2E_HOOK_TOKEN}" }
  - { name: ups, path: /hooks/ups, token: "${E2E_HOOK_TOKEN}" }
rules:
  - name: set-n
    on: { webhook: upd }
    do:
      - update: { base: crm, table: Items, row: "=body.row", values: { N: "=body.n" } }
  - name: keyed
    on: { webhook: ups }
    do:
      - upsert: { base: crm, table: Keys, key: Key, values: { Key: "=body.key", N: "=body.n" } }
`, nil)
	items := e.rows("Items")
	rowID := make([]string, half) // item index → row id
	for _, r := range items {
		i, err := strconv.Atoi(strings.TrimPrefix(r["Name"].(string), "item-"))
		if err != nil {
			t.Fatal(err)
		}
		rowID[i] = r["_id"].(string)
	}

	d := e.start()
	codes := postMany(t, e, 2*half, 32, func(i int) (string, []byte) {
		if i < half {
			return "/hooks/upd", fmt.Appendf(nil, `{"row":%q,"n":%d}`, rowID[i], i+1)
		}
		return "/hooks/ups", fmt.Appendf(nil, `{"key":"k-%d","n":%d}`, i-half, i-half+1)
	})
	d.Kill()
	if codes[http.StatusAccepted] != 2*half {
		t.Fatalf("answers %v, want %d × 202", codes, 2*half)
	}
	before := e.emu.Stats().Bases[e.base.Name]
	t.Logf("killed with SIGKILL after 10,000 × 202; %d calls had reached SeaTable: %v", before.Calls, before.ByEndpoint)

	e.start()
	restarted := time.Now()
	applied := func() (updated, keys int) {
		for _, r := range e.rows("Items") {
			i, _ := strconv.Atoi(strings.TrimPrefix(r["Name"].(string), "item-"))
			if r["N"] == float64(i+1) {
				updated++
			}
		}
		return updated, len(e.rows("Keys"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), recoveryWait(t))
	defer cancel()
	if err := e.emu.WaitFor(ctx, func() bool { u, k := applied(); return u == half && k >= half }); err != nil {
		u, k := applied()
		t.Fatalf("after %s, %d of %d updates and %d of %d upserts applied: %v; ops still queued: %s",
			time.Since(restarted).Round(time.Second), u, half, k, half, err, e.pendingOps())
	}
	t.Logf("restart applied the rest in %s", time.Since(restarted).Round(100*time.Millisecond))

	seen := map[string]int{}
	dups := 0
	for _, r := range e.rows("Keys") {
		k := r["Key"].(string)
		seen[k]++
		if seen[k] == 2 {
			dups++
		}
		i, _ := strconv.Atoi(strings.TrimPrefix(k, "k-"))
		if r["N"] != float64(i+1) {
			t.Errorf("key %s has N = %v, want %d", k, r["N"], i+1)
		}
	}
	missing := 0
	for i := range half {
		if seen[fmt.Sprintf("k-%d", i)] == 0 {
			missing++
		}
	}
	if missing != 0 || dups != 0 || len(seen) != half {
		t.Errorf("upserts: %d keys missing, %d keys duplicated, %d distinct keys; want 0, 0, %d", missing, dups, len(seen), half)
	}
	if u, _ := applied(); u != half {
		t.Errorf("%d of %d updates applied", u, half)
	}
	st := e.stats()
	t.Logf("all 10,000 applied; %d gateway calls in all: %v; rows per call %v", st.Calls, st.ByEndpoint, st.RowsPerCall)
	if st.Sent429 != 0 {
		t.Errorf("SeaTable answered 429 %d times", st.Sent429)
	}
}

// crashFixture: webhook events append to Appended (with a dedupe column,
// so a replay after a crash cannot double a row), NATS messages upsert into
// Upserted; each event carries a unique key.
const crashFixture = `
bases:
  - name: crm
    tables:
      - name: Appended
        columns:
          - { name: Key, type: text }
          - { name: Seaflow ID, type: text }
      - name: Upserted
        columns:
          - { name: Key, type: text }
          - { name: N, type: number }
`

const crashConfig = configHead + `
nats: { url: "${E2E_NATS_URL}" }
webhooks:
  - { name: load, path: /hooks/load, token: "${E2E_HOOK_TOKEN}" }
rules:
  - name: append-key
    on: { webhook: load }
    do:
      - append: { base: crm, table: Appended, values: { Key: "=body.key" }, dedupe_column: Seaflow ID }
  - name: upsert-key
    on: { nats: load.keys }
    do:
      - upsert: { base: crm, table: Upserted, key: Key, values: { Key: "=msg.key", N: "=msg.n" } }
`

// TestCrashRounds (issue 7 §1): rounds of steady load (webhooks and NATS
// messages), SIGKILL at a seeded random moment, restart. At the end every
// accepted event (202, or a NATS reply with its id) must have its effect
// in SeaTable; lost must be 0, duplicates are counted. Rounds:
// SEAFLOW_CRASH_ROUNDS (default 5); seed: SEAFLOW_CRASH_SEED (default 1);
// the restarted daemon gets SEAFLOW_RECOVERY_WAIT seconds (default 90).
func TestCrashRounds(t *testing.T) {
	t.Parallel()
	rounds := envInt(t, "SEAFLOW_CRASH_ROUNDS", 5)
	seed := envInt(t, "SEAFLOW_CRASH_SEED", 1)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eaf10))
	ns := proctest.StartNATS(t)
	e := setup(t, crashFixture, crashConfig, map[string]string{"E2E_NATS_URL": ns.URL()})
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	var (
		mu         sync.Mutex
		acceptedWH = map[string]bool{}
		acceptedNS = map[string]bool{}
		next       atomic.Int64
		roundEnd   []int64 // the key counter at the end of each round
	)
	for round := range rounds {
		d := e.start()
		waitSubscribed(t, ns, "load.keys", 30*time.Second)
		// Kill once this round has had target events accepted: a seeded
		// random moment in the load.
		target := 200 + rng.IntN(1800)
		var roundAccepted atomic.Int64
		reached := make(chan struct{})
		var reachedOnce sync.Once
		accept := func(m map[string]bool, key string) {
			mu.Lock()
			m[key] = true
			mu.Unlock()
			if roundAccepted.Add(1) >= int64(target) {
				reachedOnce.Do(func() { close(reached) })
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					n := next.Add(1)
					if w%3 == 0 {
						key := fmt.Sprintf("n-%d", n)
						reply, err := nc.Request("load.keys", fmt.Appendf(nil, `{"key":%q,"n":%d}`, key, n), 2*time.Second)
						if err == nil && strings.Contains(string(reply.Data), `"id"`) {
							accept(acceptedNS, key)
						}
						continue
					}
					key := fmt.Sprintf("w-%d", n)
					code, err := e.postJSON("/hooks/load", hookToken, fmt.Appendf(nil, `{"key":%q}`, key), nil)
					if err == nil && code == http.StatusAccepted {
						accept(acceptedWH, key)
					}
				}
			}()
		}
		select {
		case <-reached:
		case <-d.Done():
			cancel()
			wg.Wait()
			t.Fatalf("round %d: daemon exited under load: %v", round, d.Err())
		case <-time.After(60 * time.Second):
			cancel()
			wg.Wait()
			t.Fatalf("round %d: only %d of %d events accepted within 60s", round, roundAccepted.Load(), target)
		}
		d.Kill()
		cancel()
		wg.Wait()
		t.Logf("round %d: SIGKILL after %d accepted events (target %d)", round, roundAccepted.Load(), target)
		roundEnd = append(roundEnd, next.Load())
	}

	d := e.start()
	want := len(acceptedWH) + len(acceptedNS)
	count := func() (appended, upserted map[string]int) {
		appended, upserted = map[string]int{}, map[string]int{}
		for _, r := range e.rows("Appended") {
			appended[r["Key"].(string)]++
		}
		for _, r := range e.rows("Upserted") {
			upserted[r["Key"].(string)]++
		}
		return
	}
	lost := func() (int, int) {
		a, u := count()
		mu.Lock()
		defer mu.Unlock()
		lw, ln := 0, 0
		for k := range acceptedWH {
			if a[k] == 0 {
				lw++
			}
		}
		for k := range acceptedNS {
			if u[k] == 0 {
				ln++
			}
		}
		return lw, ln
	}
	restarted := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), recoveryWait(t))
	defer cancel()
	waitErr := e.emu.WaitFor(ctx, func() bool { lw, ln := lost(); return lw+ln == 0 })
	recovered := time.Since(restarted)
	pending := ""
	if waitErr != nil {
		pending = e.pendingOps()
		if st, err := e.status(); err == nil {
			t.Logf("dead letters: %d %+v", len(st.Dead), st.Dead[:min(len(st.Dead), 5)])
			for _, tr := range st.Traces {
				if tr.Error != "" {
					t.Logf("trace error: %s %s", tr.EventID, tr.Error)
				}
			}
		}
		logCalls(t, e.emu.Stats().CallLog)
	}
	e.stop(d)

	lw, ln := lost()
	a, u := count()
	dupA, dupU, extra := 0, 0, 0
	for k, n := range a {
		dupA += n - 1
		if !acceptedWH[k] {
			extra++
		}
	}
	for k, n := range u {
		dupU += n - 1
		if !acceptedNS[k] {
			extra++
		}
	}
	st := e.stats()
	t.Logf("crash test: seed %d, %d rounds, %d events accepted (%d webhook appends, %d NATS upserts); lost %d (webhook %d, NATS %d); duplicated %d appends, %d upserts; %d applied without an acknowledgement (the answer was cut by the kill); %d gateway calls, %d 429s",
		seed, rounds, want, len(acceptedWH), len(acceptedNS), lw+ln, lw, ln, dupA, dupU, extra, st.Calls, st.Sent429)
	if waitErr != nil || lw+ln != 0 {
		t.Errorf("%d accepted events (webhook %d, NATS %d) not applied %s after the last restart: %v; ops still queued: %s",
			lw+ln, lw, ln, recovered.Round(time.Second), waitErr, pending)
		logLost(t, roundEnd, acceptedWH, a)
		logLost(t, roundEnd, acceptedNS, u)
	} else {
		t.Logf("crash test: every accepted event applied %s after the last restart", recovered.Round(100*time.Millisecond))
	}
	if dupA+dupU > 0 {
		logDuplicates(t, roundEnd, e.rows("Appended"))
		logDuplicates(t, roundEnd, e.rows("Upserted"))
	}
	if dupU != 0 {
		t.Errorf("%d duplicated upsert rows: an upsert by key must not duplicate", dupU)
	}
	if dupA != 0 {
		t.Errorf("%d duplicated append rows: an append with a dedupe_column must not duplicate", dupA)
	}
}

// envInt reads a positive integer from the environment, or def.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// logLost logs, per round, how many accepted keys have no row, and a few
// of them.
func logLost(t *testing.T, roundEnd []int64, accepted map[string]bool, rows map[string]int) {
	t.Helper()
	perRound := make([]int, len(roundEnd))
	var sample []string
	for k := range accepted {
		if rows[k] > 0 {
			continue
		}
		n, _ := strconv.ParseInt(k[2:], 10, 64)
		for r, end := range roundEnd {
			if n <= end {
				perRound[r]++
				break
			}
		}
		if len(sample) < 10 {
			sample = append(sample, k)
		}
	}
	t.Logf("lost per round %v (round ends at key %v), e.g. %v", perRound, roundEnd, sample)
}

// logDuplicates logs, per round, how many keys have more than one row, and
// the creation times of a few of them.
func logDuplicates(t *testing.T, roundEnd []int64, rows []map[string]any) {
	t.Helper()
	ctimes := map[string][]any{}
	for _, r := range rows {
		k := r["Key"].(string)
		ctimes[k] = append(ctimes[k], r["_ctime"])
	}
	perRound := make([]int, len(roundEnd))
	var sample []string
	for k, cs := range ctimes {
		if len(cs) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(k[2:], 10, 64)
		for r, end := range roundEnd {
			if n <= end {
				perRound[r]++
				break
			}
		}
		if len(sample) < 5 {
			sample = append(sample, fmt.Sprintf("%s created %v", k, cs))
		}
	}
	t.Logf("duplicated keys per round %v (round ends at key %v), e.g. %v", perRound, roundEnd, sample)
}
