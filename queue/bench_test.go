package queue

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/actions"
	"github.com/seaflow/seaflow/history"
)

// benchOps builds n distinct ops shaped like real updates.
func benchOps(n, offset int, base string, lane seaflow.Lane) []seaflow.Op {
	ops := make([]seaflow.Op, n)
	for i := range ops {
		id := fmt.Sprintf("webhook:%s:Tasks:row%08d:2026-11-26T09:00:00Z/stamp/0", base, offset+i)
		ops[i] = seaflow.Op{
			ID: id, Kind: seaflow.KindUpdate, Base: base, Table: "Tasks", Lane: lane, RowID: fmt.Sprintf("row%08d", offset+i),
			Values: map[string]any{"Status": "Overdue"}, Rule: "nightly-overdue", EventID: "cron:nightly-overdue:2026-11-26T02:00:00Z",
			CreatedAt: time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC),
		}
	}
	return ops
}

// BenchmarkPublishOps measures queuing ops in batches of 1,000 (one
// PublishOps call per batch, every ack awaited) on the embedded server.
func BenchmarkPublishOps(b *testing.B) {
	q, err := Open(b.Context(), Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	const batch = 1000
	ops := benchOps(batch, 0, "crm", seaflow.Bulk)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		for i := range ops {
			ops[i].ID = "op" + strconv.Itoa(n)
			n++
		}
		if err := q.PublishOps(b.Context(), ops); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/op-queued")
}

// BenchmarkFetchAck measures the dispatcher's side: fetch 1,000 ops and ack
// each (confirmed ack), one after the other or all at once.
func BenchmarkFetchAck(b *testing.B) {
	b.Run("sequential", func(b *testing.B) { benchFetchAck(b, false) })
	b.Run("concurrent", func(b *testing.B) { benchFetchAck(b, true) })
}

// BenchmarkFetchFew measures what a lane's usual fetch costs: it asks for
// a full batch of 1,000 and finds 2 ops queued (B/op is the figure to
// watch: it was 440 kB when every fetch made room for 1,000 deliveries).
func BenchmarkFetchFew(b *testing.B) {
	q, err := Open(b.Context(), Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	ctx := b.Context()
	if _, err := q.Fetch(ctx, "crm", seaflow.Bulk, 1, 0); err != nil { // makes the consumer
		b.Fatal(err)
	}
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		ops := benchOps(2, n, "crm", seaflow.Bulk)
		n += 2
		if err := q.PublishOps(ctx, ops); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		// A fetch without a wait just after a publish may find the
		// consumer not told yet: take again until both are in.
		var ds []actions.Delivery
		for len(ds) < 2 {
			got, err := q.Fetch(ctx, "crm", seaflow.Bulk, 1000, 0)
			if err != nil {
				b.Fatal(err)
			}
			ds = append(ds, got...)
		}
		b.StopTimer()
		for _, d := range ds {
			if err := d.Ack(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
	}
}

func benchFetchAck(b *testing.B, concurrent bool) {
	q, err := Open(b.Context(), Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	const batch = 1000
	ctx := b.Context()
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		ops := benchOps(batch, n, "crm", seaflow.Bulk)
		n += batch
		if err := q.PublishOps(ctx, ops); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		ds, err := q.Fetch(ctx, "crm", seaflow.Bulk, batch, 0)
		if err != nil || len(ds) != batch {
			b.Fatalf("fetch = %d, %v", len(ds), err)
		}
		if concurrent {
			var wg sync.WaitGroup
			for _, d := range ds {
				wg.Go(func() {
					if err := d.Ack(ctx); err != nil {
						b.Error(err)
					}
				})
			}
			wg.Wait()
			continue
		}
		for _, d := range ds {
			if err := d.Ack(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "ops/s")
}

// TestQueueCost1M queues 1,000,000 ops (10 bases, bulk lane) and reports
// the disk and memory they cost in the queuing process, then what a fresh
// process on the data dir costs and how long its start and first fetch take.
// It runs only with SEAFLOW_BENCH_1M=1 (about a minute and 1 GB of disk):
//
//	SEAFLOW_BENCH_1M=1 go test -run TestQueueCost1M -v ./queue/
func TestQueueCost1M(t *testing.T) {
	if os.Getenv("SEAFLOW_BENCH_1M") != "1" || testing.Short() {
		t.Skip("set SEAFLOW_BENCH_1M=1 to queue a million ops")
	}
	const total, bases, batch = 1_000_000, 10, 10_000
	dir := t.TempDir()
	ctx := t.Context()
	q, err := Open(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	heap0, rss0 := memNow()
	disk0 := dirSize(t, dir)
	start := time.Now()
	// With SEAFLOW_BENCH_HISTORY=1 each op's "queued" fate goes to the
	// history too, as the daemon records it.
	withHistory := os.Getenv("SEAFLOW_BENCH_HISTORY") == "1"
	for i := 0; i < total; i += batch {
		base := fmt.Sprintf("base%02d", (i/batch)%bases)
		ops := benchOps(batch, i, base, seaflow.Bulk)
		if withHistory {
			fates := make([]history.Fate, len(ops))
			for j, op := range ops {
				fates[j] = history.Fate{OpID: op.ID, EventID: op.EventID, Rule: op.Rule, Kind: string(op.Kind), Base: op.Base,
					Table: op.Table, RowID: op.RowID, Lane: string(op.Lane), Values: op.Values, Fate: history.FateQueued, At: op.CreatedAt}
			}
			if err := q.RecordFates(ctx, fates); err != nil {
				t.Fatal(err)
			}
		}
		if err := q.PublishOps(ctx, ops); err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	heap1, rss1 := memNow()
	disk1 := dirSize(t, dir)
	sample, _ := opMsg(benchOps(1, 0, "base00", seaflow.Bulk)[0])
	t.Logf("queued %d ops in %s (%.0f ops/s), history %v; payload %d B + subject %d B + batch headers per op",
		total, elapsed.Round(time.Millisecond), total/elapsed.Seconds(), withHistory, len(sample.Data), len(sample.Subject))
	t.Logf("disk: %.1f B/op (%.1f MB)", float64(disk1-disk0)/total, float64(disk1-disk0)/1e6)
	t.Logf("memory: heap %+.1f B/op (%+.1f MB), RSS %+.1f B/op (%+.1f MB)",
		float64(heap1-heap0)/total, float64(heap1-heap0)/1e6, float64(rss1-rss0)/total, float64(rss1-rss0)/1e6)

	t0 := time.Now()
	n, err := q.Pending(ctx, "base03", seaflow.Bulk)
	if err != nil || n != total/bases {
		t.Fatalf("pending = %d, %v", n, err)
	}
	t.Logf("Pending with 1M queued: %s", time.Since(t0))
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	// A fresh process on the data dir, against one on an empty dir: each
	// opens the queue, counts, and takes and acks a batch of 1,000.
	empty := freshProcess(t, t.TempDir(), 0)
	full := freshProcess(t, dir, total/bases)
	t.Logf("fresh process, empty data dir: heap %.1f MB, RSS %.1f MB", empty.heap/1e6, empty.rss/1e6)
	t.Logf("fresh process, 1M queued: heap %.1f MB, RSS %.1f MB (open %s, fetch+ack of 1,000 %s): %+.1f MB RSS for the backlog",
		full.heap/1e6, full.rss/1e6, full.open, full.fetch, (full.rss-empty.rss)/1e6)
	if p := os.Getenv("SEAFLOW_BENCH_HEAPPROF"); p != "" {
		q, err := Open(ctx, Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		if err := writeHeapProfile(p); err != nil {
			t.Fatal(err)
		}
	}
}

// freshCost is what a fresh process measured on a data dir.
type freshCost struct {
	heap, rss   float64
	open, fetch time.Duration
}

// freshProcess runs TestQueueCostFresh in a process of its own on dir, and
// returns what it measured; pending is how many ops it should find on
// base03's bulk lane.
func freshProcess(t *testing.T, dir string, pending int) freshCost {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestQueueCostFresh$", "-test.v")
	cmd.Env = append(os.Environ(), "SEAFLOW_BENCH_FRESH_DIR="+dir, "SEAFLOW_BENCH_FRESH_PENDING="+strconv.Itoa(pending))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("fresh process: %v\n%s", err, out)
	}
	var c freshCost
	for _, line := range strings.Split(string(out), "\n") {
		if _, rest, ok := strings.Cut(line, "fresh-cost "); ok {
			var openNS, fetchNS int64
			if _, err := fmt.Sscanf(rest, "heap=%g rss=%g open=%d fetch=%d", &c.heap, &c.rss, &openNS, &fetchNS); err != nil {
				t.Fatalf("fresh process said %q: %v", line, err)
			}
			c.open, c.fetch = time.Duration(openNS), time.Duration(fetchNS)
			return c
		}
	}
	t.Fatalf("fresh process measured nothing:\n%s", out)
	return c
}

// TestQueueCostFresh is TestQueueCost1M's fresh process: it opens the queue
// on SEAFLOW_BENCH_FRESH_DIR, checks the backlog is there, takes and acks a
// batch, and prints its heap and resident set.
func TestQueueCostFresh(t *testing.T) {
	dir := os.Getenv("SEAFLOW_BENCH_FRESH_DIR")
	if dir == "" {
		t.Skip("run by TestQueueCost1M")
	}
	want, _ := strconv.Atoi(os.Getenv("SEAFLOW_BENCH_FRESH_PENDING"))
	ctx := t.Context()
	t0 := time.Now()
	q, err := Open(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	open := time.Since(t0)
	if n, err := q.Pending(ctx, "base03", seaflow.Bulk); err != nil || n != want {
		t.Fatalf("pending = %d, %v; want %d", n, err, want)
	}
	t0 = time.Now()
	ds, err := q.Fetch(ctx, "base07", seaflow.Bulk, 1000, 0)
	if err != nil || len(ds) != min(want, 1000) {
		t.Fatalf("fetch = %d, %v", len(ds), err)
	}
	for _, d := range ds {
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	fetch := time.Since(t0)
	if _, ok, err := q.OldestOp(ctx, "base07", seaflow.Bulk); err != nil || ok != (want > 0) {
		t.Fatalf("oldest: %v %v", ok, err)
	}
	heap, rss := memNow()
	fmt.Printf("fresh-cost heap=%d rss=%d open=%d fetch=%d\n", heap, rss, open, fetch)
}

// writeHeapProfile writes the live heap to path, to see what a backlog holds.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// memNow returns the live heap after a GC and the process's resident set.
func memNow() (heap, rss int64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap = int64(ms.HeapAlloc)
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				rss = kb * 1024
			}
		}
	}
	return heap, rss
}

// dirSize returns the total size of the files under dir.
func dirSize(t *testing.T, dir string) (size int64) {
	t.Helper()
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return nil // a file removed while walking
		}
		size += fi.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return size
}

// BenchmarkConsumeEvents measures the runner's side: events handed to a
// no-op handler, each acked (confirmed) after it returns.
func BenchmarkConsumeEvents(b *testing.B) {
	q, err := Open(b.Context(), Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	ctx := b.Context()
	evs := make([]seaflow.Event, b.N)
	for i := range evs {
		evs[i] = seaflow.Event{ID: "ev" + strconv.Itoa(i), Source: seaflow.SourceWebhook, Name: "crm-changes", Base: "crm", Table: "Deals", RowID: "r" + strconv.Itoa(i), OpType: "modify_row"}
	}
	if err := q.PublishEvents(ctx, evs); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	n := 0
	b.ResetTimer()
	stop, err := q.ConsumeEvents(ctx, "bench", func(context.Context, seaflow.Event) error {
		if n++; n == b.N {
			close(done)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	<-done
	b.StopTimer()
	stop()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkHistory measures, in a history of 400,000 events (about 100
// records a bucket, as a week of 0.7 events/s leaves), recording an event
// first handled (RecordEvent) and redelivered (ReplaceEvent, which marks
// its latest record), and showing one (HistoryEvent: it reads its bucket's
// headers, unless a redelivery marked the record).
func BenchmarkHistory(b *testing.B) {
	q, err := Open(b.Context(), Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	at := time.Now().UTC()
	record := func(i int) history.Event {
		return history.Event{EventID: fmt.Sprintf("%032x", i), Source: "webhook", Name: "crm-changes", Time: at, Base: "crm", Table: "Deals", RowID: "r1"}
	}
	msgs := make([]*nats.Msg, 0, 1000)
	for i := range 400_000 {
		m, err := recordMsg(record(i))
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, m)
		if len(msgs) == cap(msgs) {
			if err := q.publishAll(b.Context(), msgs); err != nil {
				b.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
	// Each takes events of its own (show: events no redelivery marked).
	for k, bc := range []struct {
		name   string
		record func(context.Context, history.Event) error
	}{{"first", q.RecordEvent}, {"redelivered", q.ReplaceEvent}, {"show", func(ctx context.Context, e history.Event) error {
		_, _, _, err := q.HistoryEvent(ctx, e.EventID)
		return err
	}}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := k
			for b.Loop() {
				if err := bc.record(b.Context(), record(i%400_000)); err != nil {
					b.Fatal(err)
				}
				i += 7919
			}
		})
	}
}
