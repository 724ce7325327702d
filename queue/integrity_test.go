package queue

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
)

// queuedDir returns a data dir holding n queued ops, closed cleanly.
func queuedDir(t *testing.T, n int) string {
	t.Helper()
	return queuedDirWith(t, n, Options{})
}

// queuedDirWith is queuedDir with the queue opened on o (Dir, Logger and
// CheckEvery are set here).
func queuedDirWith(t *testing.T, n int, o Options) string {
	t.Helper()
	dir := t.TempDir()
	o.Dir, o.Logger, o.CheckEvery = dir, testLogger(t), -1
	q, err := Open(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	publishOps(t, q, n, "op", "crm", seaflow.Urgent)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyLive copies the files of a running store from src to dst, as a kill
// -9 leaves them. A file that goes while the copy walks (a state file's
// temporary copy, renamed over the real one) is left out, as a crash at
// that instant would have; cp -a failed the test on it.
func copyLive(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatalf("copy the running store: %v", err)
	}
}

// opsBlock is the first message block of the OPS stream in dir.
func opsBlock(t *testing.T, dir string) string {
	t.Helper()
	blks, _ := filepath.Glob(filepath.Join(dir, "jetstream", "$G", "streams", OpsStream, "msgs", "*.blk"))
	if len(blks) != 1 {
		t.Fatalf("OPS blocks: %v", blks)
	}
	return blks[0]
}

func garbage(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

// TestDamagedStoreRefused reproduces the cases on a stopped store
// with 1,000 queued ops: each is now refused at start, saying which stream
// and how many messages.
func TestDamagedStoreRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, blk string)
		lost   uint64
	}{
		{"truncate the ops block", func(t *testing.T, blk string) {
			fi, _ := os.Stat(blk)
			if err := os.Truncate(blk, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		}, 500},
		{"delete the ops block", func(t *testing.T, blk string) {
			if err := os.Remove(blk); err != nil {
				t.Fatal(err)
			}
		}, 1000},
		{"4 KB of garbage over the ops block", func(t *testing.T, blk string) {
			f, err := os.OpenFile(blk, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(garbage(4096), 0); err != nil {
				t.Fatal(err)
			}
		}, 1000},
		{"4 KB of garbage in the middle of the ops block", func(t *testing.T, blk string) {
			fi, _ := os.Stat(blk)
			f, err := os.OpenFile(blk, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(garbage(4096), fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		}, 500},
		{"delete the whole OPS stream", func(t *testing.T, blk string) {
			if err := os.RemoveAll(filepath.Dir(filepath.Dir(blk))); err != nil {
				t.Fatal(err)
			}
		}, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := queuedDir(t, 1000)
			tc.damage(t, opsBlock(t, dir))
			_, err := Open(t.Context(), Options{Dir: dir, Logger: zerolog.Nop(), CheckEvery: -1})
			var de *DamageError
			if !errors.As(err, &de) || !errors.Is(err, ErrDamaged) {
				t.Fatalf("Open: %v, want a DamageError", err)
			}
			if len(de.Damage) != 1 || de.Damage[0].Stream != OpsStream || de.Damage[0].Messages < tc.lost*9/10 || de.Damage[0].Messages > 1000 {
				t.Fatalf("damage %+v, want %s with about %d messages", de.Damage, OpsStream, tc.lost)
			}
			if msg := err.Error(); !strings.Contains(msg, "stream SEAFLOW_OPS:") || !strings.Contains(msg, "messages lost or unreadable") || !strings.Contains(msg, dir) {
				t.Errorf("error %q does not say which stream, how many and where", msg)
			}
			t.Logf("%s: %v", tc.name, err)

			// Accepting the loss goes on, and the next start is clean.
			q, err := Open(t.Context(), Options{Dir: dir, Logger: zerolog.Nop(), CheckEvery: -1, AcceptDataLoss: true})
			if err != nil {
				t.Fatalf("Open with AcceptDataLoss: %v", err)
			}
			if d := q.Damage(); d != nil {
				t.Errorf("accepted damage still reported: %v", d)
			}
			publishOps(t, q, 10, "after", "crm", seaflow.Urgent)
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			q, err = Open(t.Context(), Options{Dir: dir, Logger: zerolog.Nop(), CheckEvery: -1})
			if err != nil {
				t.Fatalf("reopen after accepting: %v", err)
			}
			q.Close()
		})
	}
}

// TestSoundStoreOpens: clean stops and crashes (a copy of the files of a
// running store, which is what kill -9 leaves) open without alarm.
func TestSoundStoreOpens(t *testing.T) {
	t.Parallel()
	dir := queuedDir(t, 1000)
	q, err := Open(t.Context(), Options{Dir: dir, Logger: testLogger(t), CheckEvery: -1})
	if err != nil {
		t.Fatalf("reopen a clean store: %v", err)
	}
	// Ack some, queue more, and crash: copy the files while it runs.
	ds, err := q.Fetch(t.Context(), "crm", seaflow.Urgent, 400, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if err := d.Ack(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	publishOps(t, q, 100, "more", "crm", seaflow.Normal)
	if _, err := q.CheckIntegrity(t.Context()); err != nil {
		t.Fatal(err)
	}
	ds, _ = q.Fetch(t.Context(), "crm", seaflow.Urgent, 100, 0)
	for _, d := range ds {
		_ = d.Ack(t.Context())
	}
	crash := filepath.Join(t.TempDir(), "crashed")
	copyLive(t, dir, crash)
	if d, err := q.CheckIntegrity(t.Context()); err != nil || d != nil {
		t.Errorf("a running sound store: damage %v, %v", d, err)
	}
	q.Close()
	q, err = Open(t.Context(), Options{Dir: crash, Logger: testLogger(t), CheckEvery: -1})
	if err != nil {
		t.Fatalf("open after a crash: %v", err)
	}
	defer q.Close()
	if n := pending(t, q, "crm", seaflow.Urgent) + pending(t, q, "crm", seaflow.Normal); n != 600 {
		t.Errorf("%d ops after the crash, want 600", n)
	}
}

// TestDamageWhileRunning: a block overwritten under a running store turns
// up at the next check once the server reads it, and stays reported.
//
// The stream here takes no atomic batches: with them, the server reads the
// last block at start (to finish a batch a crash cut short), so damage
// written under it shows only once that cache ages out, 10 s after the last
// read, which a test should not wait for. The check is the same.
func TestDamageWhileRunning(t *testing.T) {
	t.Parallel()
	dir := queuedDirWith(t, 1000, Options{noAtomic: true})
	q, err := Open(t.Context(), Options{Dir: dir, Logger: zerolog.Nop(), CheckEvery: -1, noAtomic: true})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if d, err := q.CheckIntegrity(t.Context()); err != nil || d != nil {
		t.Fatalf("before: %v %v", d, err)
	}
	f, err := os.OpenFile(opsBlock(t, dir), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(garbage(4096), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// The dispatcher's next fetch makes the server read the block.
	if ds, err := q.Fetch(t.Context(), "crm", seaflow.Urgent, 100, 0); err != nil || len(ds) != 0 {
		t.Fatalf("fetch from the damaged block: %d ops, %v", len(ds), err)
	}
	d, err := q.CheckIntegrity(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 1 || d[0].Stream != OpsStream || d[0].Messages != 1000 {
		t.Fatalf("damage %+v, want %s with 1000 messages", d, OpsStream)
	}
	again, _ := q.CheckIntegrity(t.Context())
	if len(again) != 1 || again[0] != q.Damage()[0] || strings.Count(again[0].Seen, "last sequence went back") != 1 {
		t.Errorf("damage after another check: %+v", again)
	}
	t.Logf("%s", again[0])
}

// TestCorruptReportIsDamage: nats-server's warning about an unreadable
// record marks its stream damaged.
func TestCorruptReportIsDamage(t *testing.T) {
	t.Parallel()
	q := setup(t)
	noteCorrupt(q.integ.corrupt, "Filestore [SEAFLOW_EVENTS] indexCacheBuf corrupt record state in /x/1.blk: dlen 1")
	noteCorrupt(q.integ.corrupt, "Filestore [SEAFLOW_EVENTS] Stream state outdated, last block has additional entries, will rebuild")
	d, err := q.CheckIntegrity(t.Context())
	if err != nil || len(d) != 1 || d[0].Stream != EventsStream || !strings.Contains(d[0].String(), "an unknown number of messages") {
		t.Fatalf("damage %+v, %v", d, err)
	}
}

// TestRestoredCopyResumes: the backup procedure of the guide, a copy of a
// stopped data dir, restores every queued op, event and dead letter.
func TestRestoredCopyResumes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	q, err := Open(t.Context(), Options{Dir: dir, Logger: testLogger(t), CheckEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	publishOps(t, q, 1000, "op", "crm", seaflow.Bulk)
	for i := range 50 {
		if err := q.PublishEvents(t.Context(), []seaflow.Event{testEvent(fmt.Sprintf("ev-%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.DeadLetter(t.Context(), testOp("dead-1", "crm", seaflow.Urgent), "refused"); err != nil {
		t.Fatal(err)
	}
	events := streamMsgs(t, q.events)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "backup")
	if out, err := exec.Command("cp", "-a", dir, backup).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if err := os.RemoveAll(dir); err != nil { // the disk is gone
		t.Fatal(err)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	if out, err := exec.Command("cp", "-a", backup, restored).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	q, err = Open(t.Context(), Options{Dir: restored, Logger: testLogger(t), CheckEvery: -1})
	if err != nil {
		t.Fatalf("open the restored dir: %v", err)
	}
	defer q.Close()
	if n := streamMsgs(t, q.events); n != events {
		t.Errorf("%d events restored, want %d", n, events)
	}
	if dead, err := q.ListDead(t.Context()); err != nil || len(dead) != 1 {
		t.Errorf("dead letters restored: %v %v", dead, err)
	}
	got := 0
	for got < 1000 {
		ds, err := q.Fetch(t.Context(), "crm", seaflow.Bulk, 1000, 0)
		if err != nil || len(ds) == 0 {
			t.Fatalf("fetch after %d: %v", got, err)
		}
		for _, d := range ds {
			if err := d.Ack(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		got += len(ds)
	}
	if got != 1000 {
		t.Errorf("%d ops restored, want 1000", got)
	}
}
