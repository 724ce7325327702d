package bench

import (
	"context"
	"fmt"
	"testing"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/actions"
	"github.com/seaflow/seaflow/seatable/emulator"
)

// BenchmarkRowsPerCall sends a 100,000-op bulk job (updates of 20,000
// rows, five per row) through actions.Plan, the Executor, the real client
// and the emulator served in process, and reports rows and ops per call.
// The emulator runs without limits here: the figure is what one call
// carries, not how the budget paces them (see BenchmarkVirtualDay).
//
//   - per-fetch plans 1,000 ops at a time, as the dispatcher does (one
//     fetch); interleaved ops (row i%20000) give distinct rows per fetch,
//     row-major ops (five in a row per row) merge within a fetch.
//   - whole-job plans all 100,000 ops at once. Plan merges an op only into
//     its group's latest batch, so row-major ops merge (five ops, one
//     item) and interleaved ones, a batch or more apart, do not.
func BenchmarkRowsPerCall(b *testing.B) {
	const ops, rows = 100000, 20000
	for _, bc := range []struct {
		name      string
		rowMajor  bool
		planChunk int
	}{
		{"per-fetch/interleaved", false, actions.MaxBatchRows},
		{"per-fetch/row-major", true, actions.MaxBatchRows},
		{"whole-job/interleaved", false, ops},
		{"whole-job/row-major", true, ops},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := DefaultWorkload()
			w.Rows = rows
			w.CallLatency = 0 // no actor waits here: the benchmark drives the calls
			s, err := newSim(w, []emulator.Limit{})
			if err != nil {
				b.Fatal(err)
			}
			client := s.client(nil)
			exec := actions.NewExecutor(client, nil)
			job := make([]seaflow.Op, ops)
			for i := range job {
				row := i % rows
				if bc.rowMajor {
					row = i / (ops / rows)
				}
				job[i] = seaflow.Op{ID: fmt.Sprintf("op-%d", i+1), Kind: seaflow.KindUpdate, Base: BaseName, Table: TableName,
					Lane: seaflow.Bulk, RowID: s.rowIDs[row], Values: map[string]any{NightlyColumn: i + 1}}
			}
			send := func(ctx context.Context, name string, rows int, send func(context.Context) error) error {
				return send(ctx)
			}
			ctx := context.Background()
			before := s.emu.Stats().Bases[BaseName]
			b.ResetTimer()
			for b.Loop() {
				for from := 0; from < len(job); from += bc.planChunk {
					chunk := job[from:min(from+bc.planChunk, len(job))]
					for _, batch := range actions.Plan(chunk) {
						if out := exec.Execute(ctx, chunk, batch, send); out.Err != nil || len(out.Dead) > 0 {
							b.Fatalf("batch: %v, %d dead", out.Err, len(out.Dead))
						}
					}
				}
			}
			b.StopTimer()
			after := s.emu.Stats().Bases[BaseName]
			calls := after.Calls - before.Calls
			b.ReportMetric(float64(after.Rows-before.Rows)/float64(calls), "rows/call")
			b.ReportMetric(float64(ops*b.N)/float64(calls), "ops/call")
			b.ReportMetric(float64(ops*b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}
