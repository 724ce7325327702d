package queue

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seaflow/seaflow"
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
// the disk and memory they cost, then how long a restart and a fetch take.
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
	for i := 0; i < total; i += batch {
		base := fmt.Sprintf("base%02d", (i/batch)%bases)
		if err := q.PublishOps(ctx, benchOps(batch, i, base, seaflow.Bulk)); err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	heap1, rss1 := memNow()
	disk1 := dirSize(t, dir)
	sample, _ := opMsg(benchOps(1, 0, "base00", seaflow.Bulk)[0])
	t.Logf("queued %d ops in %s (%.0f ops/s); payload %d B + subject %d B + id header per op",
		total, elapsed.Round(time.Millisecond), total/elapsed.Seconds(), len(sample.Data), len(sample.Subject))
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

	// The server rebuilds its dedupe table (ids stored within the window)
	// on recovery, from the stored config. Reopen once to shrink the window
	// to 100ms (the least it takes), then again: the second recovery holds only the backlog's
	// steady cost, as it is once the default two-minute window has passed.
	t0 = time.Now()
	q, err = Open(ctx, Options{Dir: dir, DuplicateWindow: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reopen with 1M queued (dedupe table rebuilt): %s", time.Since(t0))
	heap2, rss2 := memNow()
	t.Logf("memory after reopen, within the duplicate window: heap %+.1f B/op, RSS %+.1f B/op", float64(heap2-heap0)/total, float64(rss2-rss0)/total)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	q, err = Open(ctx, Options{Dir: dir, DuplicateWindow: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	t.Logf("reopen with 1M queued, past the duplicate window: %s", time.Since(t0))
	heap3, rss3 := memNow()
	t.Logf("memory past the duplicate window: heap %+.1f B/op (%+.1f MB), RSS %+.1f B/op (against the empty queue before publishing)",
		float64(heap3-heap0)/total, float64(heap3-heap0)/1e6, float64(rss3-rss0)/total)
	if p := os.Getenv("SEAFLOW_BENCH_HEAPPROF"); p != "" {
		if err := writeHeapProfile(p); err != nil {
			t.Fatal(err)
		}
	}
	t0 = time.Now()
	ds, err := q.Fetch(ctx, "base07", seaflow.Bulk, 1000, 0)
	if err != nil || len(ds) != 1000 {
		t.Fatalf("fetch = %d, %v", len(ds), err)
	}
	for _, d := range ds {
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("first fetch + ack of 1,000 after reopen: %s", time.Since(t0))
	t0 = time.Now()
	if _, ok, err := q.OldestOp(ctx, "base07", seaflow.Bulk); err != nil || !ok {
		t.Fatalf("oldest: %v %v", ok, err)
	}
	t.Logf("OldestOp with 1M queued: %s", time.Since(t0))
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
