package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/queue"
	"github.com/seaflow/seaflow/rules"
)

// queueOps stores n ops of a base no config names (so no dispatcher takes
// them) in the data dir, and closes the store cleanly.
func queueOps(t *testing.T, dir string, n int) {
	t.Helper()
	q, err := queue.Open(t.Context(), queue.Options{Dir: dir, Logger: zerolog.Nop(), CheckEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	ops := make([]seaflow.Op, n)
	for i := range ops {
		ops[i] = seaflow.Op{ID: fmt.Sprintf("op-%d", i), Kind: seaflow.KindUpdate, Base: "archive", Table: "T", RowID: "r", Lane: seaflow.Bulk, Values: map[string]any{"A": i}}
	}
	if err := q.PublishOps(t.Context(), ops); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
}

// queueBlocks queues ops in dir until the OPS stream has n message blocks,
// and returns their files, oldest first.
func queueBlocks(t *testing.T, dir string, n int) []string {
	t.Helper()
	q, err := queue.Open(t.Context(), queue.Options{Dir: dir, Logger: zerolog.Nop(), CheckEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for i := 0; ; i++ {
		blks, _ := filepath.Glob(filepath.Join(dir, "jetstream", "$G", "streams", queue.OpsStream, "msgs", "*.blk"))
		if len(blks) >= n {
			slices.SortFunc(blks, func(a, b string) int { return blockIndex(a) - blockIndex(b) })
			return blks
		}
		ops := make([]seaflow.Op, 1000)
		for j := range ops {
			ops[j] = seaflow.Op{ID: fmt.Sprintf("op-%d-%d", i, j), Kind: seaflow.KindUpdate, Base: "archive", Table: "T", RowID: "r", Lane: seaflow.Bulk,
				Values: map[string]any{"A": strings.Repeat("x", 1000)}}
		}
		if err := q.PublishOps(t.Context(), ops); err != nil {
			t.Fatal(err)
		}
	}
}

// blockIndex is the number of a message block file (12.blk: 12).
func blockIndex(path string) int {
	n, _ := strconv.Atoi(strings.TrimSuffix(filepath.Base(path), ".blk"))
	return n
}

func opsBlockOf(t *testing.T, dir string) string {
	t.Helper()
	blks, _ := filepath.Glob(filepath.Join(dir, "jetstream", "$G", "streams", queue.OpsStream, "msgs", "*.blk"))
	if len(blks) != 1 {
		t.Fatalf("OPS blocks: %v", blks)
	}
	return blks[0]
}

func overwrite(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	junk := make([]byte, 4096)
	for i := range junk {
		junk[i] = byte(i*13 + 7)
	}
	if _, err := f.WriteAt(junk, at); err != nil {
		t.Fatal(err)
	}
}

// damageConfig writes a config file whose storage is dir.
func damageConfig(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "seaflow.yaml")
	cfg := fmt.Sprintf("server: { listen: \"127.0.0.1:0\", auth: none }\nstorage: { dir: %q }\n", dir)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDamagedDataDirRefused: truncating, deleting or overwriting the ops
// block of a stopped daemon used to lose the queued work silently. The
// start is now refused, saying which stream, how many and how to recover.
func TestDamagedDataDirRefused(t *testing.T) {
	for name, damage := range map[string]func(t *testing.T, blk string){
		"truncated": func(t *testing.T, blk string) {
			fi, _ := os.Stat(blk)
			if err := os.Truncate(blk, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		},
		"deleted": func(t *testing.T, blk string) {
			if err := os.Remove(blk); err != nil {
				t.Fatal(err)
			}
		},
		"garbage": func(t *testing.T, blk string) { overwrite(t, blk, 0) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			queueOps(t, dir, 1000)
			damage(t, opsBlockOf(t, dir))
			cfg := damageConfig(t, dir)
			_, errOut, code := runCLI(t, nil, "run", "--config", cfg)
			for _, want := range []string{"storage damaged", "stream SEAFLOW_OPS:", "messages lost or unreadable", dir, "To recover", "restore the data directory from a backup", "--accept-data-loss", "seaflow replay --since"} {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			t.Logf("%s", errOut)

			// --accept-data-loss starts, and the store is sound from then on.
			c, err := rules.Load(cfg, func(string) (string, bool) { return "", false })
			if err != nil {
				t.Fatal(err)
			}
			d, err := startDaemon(context.Background(), c, daemonOptions{AcceptDataLoss: true, Logger: zerolog.Nop(), LookupEnv: func(string) (string, bool) { return "", false }})
			if err != nil {
				t.Fatalf("start with --accept-data-loss: %v", err)
			}
			if dmg := d.q.Damage(); dmg != nil {
				t.Errorf("accepted damage still reported: %v", dmg)
			}
			d.stop(10 * time.Second)
		})
	}
}

// TestDamageWhileRunningTurnsReadyzRed: a block overwritten under a
// running daemon turns /readyz red (so `seaflow health` fails) and
// seaflow_storage_damaged on, saying which stream and how many.
//
// The backlog fills two blocks and the first is damaged: the server reads
// the last block at start (to finish an atomic batch a crash cut short), so
// damage under that one shows only once its cache ages out, 10 s later.
func TestDamageWhileRunningTurnsReadyzRed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	blocks := queueBlocks(t, dir, 2)
	d, u := startFromFile(t, damageConfig(t, dir), "", daemonOptions{CheckEvery: -1})
	if _, errOut, code := runCLI(t, nil, "health", "--url", u); code != 0 {
		t.Fatalf("health before the damage: exit %d %s", code, errOut)
	}
	overwrite(t, blocks[0], 0)
	if _, err := d.q.Fetch(t.Context(), "archive", seaflow.Bulk, 10, 0); err != nil {
		t.Fatal(err)
	}
	// What the periodic check does. The count of lost messages needs two
	// checks in a row that find the stream's counts disagree; the running
	// dispatcher may settle an op between two checks, so a few more may
	// be needed on a busy machine.
	var dmg []queue.Damage
	for range 20 {
		if _, err := d.q.CheckIntegrity(t.Context()); err != nil {
			t.Fatal(err)
		}
		if dmg = d.q.Damage(); len(dmg) == 1 && dmg[0].Messages > 0 {
			break
		}
	}
	if len(dmg) != 1 || dmg[0].Stream != queue.OpsStream || dmg[0].Messages <= 0 {
		t.Fatalf("damage %+v, want %s with messages lost", dmg, queue.OpsStream)
	}
	lost := dmg[0].Messages
	resp, err := http.Get(u + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), `"status": "damaged"`) ||
		!strings.Contains(string(body), fmt.Sprintf("stream SEAFLOW_OPS: %d messages lost or unreadable", lost)) || !strings.Contains(string(body), "To recover") {
		t.Errorf("/readyz: HTTP %d %s", resp.StatusCode, body)
	}
	if _, errOut, code := runCLI(t, nil, "health", "--url", u); code != 1 || !strings.Contains(errOut, "SEAFLOW_OPS") {
		t.Errorf("health after the damage: exit %d %s", code, errOut)
	}
	if out, _, _ := runCLI(t, nil, "status", "--url", u); !strings.Contains(out, "STORAGE DAMAGED: stream SEAFLOW_OPS") {
		t.Errorf("seaflow status does not say the store is damaged:\n%s", out)
	}
	m := scrape(t, d, "seaflow_storage_damaged")
	if !strings.Contains(m, "seaflow_storage_damaged 1") || !strings.Contains(m, fmt.Sprintf(`seaflow_storage_damaged_messages{stream="SEAFLOW_OPS"} %d`, lost)) {
		t.Errorf("metrics:\n%s", m)
	}
}
