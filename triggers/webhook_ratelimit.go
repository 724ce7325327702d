package triggers

import (
	"math"
	"sync"
	"time"

	"github.com/seaflow/seaflow/rules"
)

// hookLimiter is the exact rolling log of one hook's accepted requests (a
// ring of the last Events times), so it never lets more than Events
// through in any window of Per, and knows exactly when the next slot frees.
type hookLimiter struct {
	mu    sync.Mutex
	limit rules.RateLimit
	times []time.Time // ring, oldest at head once full
	head  int
}

// take records a request at now if the limit allows it; otherwise it
// returns how long until it would.
func (l *hookLimiter) take(now time.Time) (ok bool, retry time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.times) < l.limit.Events {
		l.times = append(l.times, now)
		return true, 0
	}
	oldest := l.times[l.head]
	if free := oldest.Add(l.limit.Per); free.After(now) {
		return false, free.Sub(now)
	}
	l.times[l.head] = now
	l.head = (l.head + 1) % len(l.times)
	return true, 0
}

// limiters holds one hookLimiter per hook name. A reload keeps a hook's log
// when its limit is unchanged and starts a new one otherwise.
type limiters struct {
	mu sync.Mutex
	m  map[string]*hookLimiter
}

// update makes the limiters match hooks.
func (ls *limiters) update(hooks []*rules.WebhookConfig) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	next := map[string]*hookLimiter{}
	for _, h := range hooks {
		if h.RateLimit == nil || h.RateLimit.Events <= 0 || h.RateLimit.Per <= 0 {
			continue
		}
		if old := ls.m[h.Name]; old != nil && old.limit == *h.RateLimit {
			next[h.Name] = old
			continue
		}
		next[h.Name] = &hookLimiter{limit: *h.RateLimit}
	}
	ls.m = next
}

// take asks hook's limiter for a request at now; hooks without a limit
// always pass.
func (ls *limiters) take(hook string, now time.Time) (ok bool, retry time.Duration) {
	ls.mu.Lock()
	l := ls.m[hook]
	ls.mu.Unlock()
	if l == nil {
		return true, 0
	}
	return l.take(now)
}

// retryAfterSeconds is the Retry-After value for a wait of d: whole seconds,
// rounded up, at least 1.
func retryAfterSeconds(d time.Duration) int {
	return max(int(math.Ceil(d.Seconds())), 1)
}
