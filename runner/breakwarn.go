package runner

import (
	"sync"
	"time"
)

// breakWarnEvery is how often the loop breaker's warning repeats for one
// rule and row while the breaker keeps stopping it. Every stop is in the
// event's trace and counted (seaflow_loop_breaker_trips_total); the log says it
// once, so a flood on one row does not flood the log.
const breakWarnEvery = time.Hour

// breakWarnKeep bounds the rows remembered; past it, rows warned about
// more than breakWarnEvery ago are forgotten, and when all are recent, all
// are (a warning then repeats early, nothing worse).
const breakWarnKeep = 10_000

// breakWarnings remembers when the breaker's warning was last logged for a
// rule and row. It is safe for concurrent use.
type breakWarnings struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// due reports whether the warning for key should be logged at now, and
// if so notes that it was.
func (w *breakWarnings) due(key string, now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if at, ok := w.last[key]; ok && now.Sub(at) < breakWarnEvery {
		return false
	}
	if w.last == nil {
		w.last = map[string]time.Time{}
	}
	if len(w.last) >= breakWarnKeep {
		for k, at := range w.last {
			if now.Sub(at) >= breakWarnEvery {
				delete(w.last, k)
			}
		}
		if len(w.last) >= breakWarnKeep {
			clear(w.last)
		}
	}
	w.last[key] = now
	return true
}
