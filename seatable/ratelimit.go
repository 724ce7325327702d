package seatable

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ParseRateLimit reads the x-ratelimit-limit, x-ratelimit-remaining and
// x-ratelimit-reset headers of a response. Reset is in Unix seconds
// (fractions allowed). ok is false when none of the three is present and
// well formed; a missing or malformed header leaves its field zero.
func ParseRateLimit(h http.Header) (rl *RateLimit, ok bool) {
	var r RateLimit
	if v, good := headerInt(h, "X-Ratelimit-Limit"); good {
		r.Limit = v
		ok = true
	}
	if v, good := headerInt(h, "X-Ratelimit-Remaining"); good {
		r.Remaining = v
		ok = true
	}
	if s := strings.TrimSpace(h.Get("X-Ratelimit-Reset")); s != "" {
		if t, good := unixTime(s); good {
			r.Reset = t
			ok = true
		}
	}
	if !ok {
		return nil, false
	}
	return &r, true
}

func headerInt(h http.Header, name string) (int, bool) {
	s := strings.TrimSpace(h.Get(name))
	if s == "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// unixTime parses Unix seconds, integral or fractional.
func unixTime(s string) (time.Time, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n <= 0 {
			return time.Time{}, false
		}
		return time.Unix(n, 0), true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || f > 1e12 {
		return time.Time{}, false
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Time, bool) {
	s := strings.TrimSpace(h.Get("Retry-After"))
	if s == "" {
		return time.Time{}, false
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 {
			return time.Time{}, false
		}
		return now.Add(time.Duration(n) * time.Second), true
	}
	if t, err := http.ParseTime(s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// resetAt is when a rate-limited base accepts calls again: the later of
// x-ratelimit-reset and Retry-After when both are present (a monthly
// limit may outlast the minute window the reset header describes), or
// zero when neither is.
func resetAt(h http.Header, now time.Time) time.Time {
	var at time.Time
	if rl, ok := ParseRateLimit(h); ok && !rl.Reset.IsZero() {
		at = rl.Reset
	}
	if t, ok := retryAfter(h, now); ok && t.After(at) {
		at = t
	}
	return at
}
