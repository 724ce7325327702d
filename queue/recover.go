package queue

import (
	"errors"
	"fmt"
	"syscall"
	"time"
)

// recoverEvery is how often a failed store checks whether its disk has
// room again.
const recoverEvery = 2 * time.Second

// minFreeToRestart is the free space the data directory needs before a
// restart can reopen the store.
const minFreeToRestart = 1 << 20

// ErrStorageFailed reports that the embedded store hit a critical write
// error (a full disk). nats-server keeps refusing writes to that stream
// until it restarts, so seaflow must restart to resume.
var ErrStorageFailed = errors.New("storage write failed")

// Failed is closed when the embedded store cannot go on; Err then says why.
// Until then, a store that runs out of space keeps answering (publishes
// fail, webhooks get 503) and nothing accepted is lost.
func (q *Queue) Failed() <-chan struct{} { return q.failed }

// Err returns why the store failed, once Failed is closed.
func (q *Queue) Err() error {
	select {
	case <-q.failed:
		return q.failErr
	default:
		return nil
	}
}

// watchStore waits for a critical write error of the embedded server and,
// once the data directory has room again, reports the store failed so the
// daemon stops cleanly and its supervisor restarts it: the restart reopens
// the store with everything acknowledged before the error. While the disk
// stays full, the daemon keeps answering 503 instead of disappearing.
func (q *Queue) watchStore(stop <-chan struct{}) {
	var why string
	select {
	case <-stop:
		return
	case why = <-q.writeFailed:
	}
	q.log.Error().Str("dir", q.o.Dir).Str("error", why).Msg("storage write failed: events are refused (503) until space is free; seaflow then stops so it can be restarted")
	t := time.NewTicker(recoverEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		var st syscall.Statfs_t
		if err := syscall.Statfs(q.o.Dir, &st); err != nil {
			continue
		}
		if free := uint64(st.Bavail) * uint64(st.Bsize); free >= minFreeToRestart {
			q.failErr = fmt.Errorf("%w in %s (%s); space is free again: restart seaflow to reopen the store", ErrStorageFailed, q.o.Dir, why)
			close(q.failed)
			return
		}
	}
}
