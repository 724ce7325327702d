package statuspage

import "time"

// History counts callTimes into a number of buckets of equal width bucket
// (truncated to whole seconds), the last ending at now: bucket i (0 = oldest) holds the calls in
// (now-(buckets-i)*bucket, now-(buckets-1-i)*bucket]. Calls after now or
// at or before the start of the oldest bucket are not counted; callTimes
// need not be sorted. buckets <= 0 or a bucket under one second gives an
// empty history.
func History(callTimes []time.Time, now time.Time, buckets int, bucket time.Duration) HistoryStatus {
	h := HistoryStatus{Calls: []int{}, End: now}
	bucket = bucket.Truncate(time.Second)
	if buckets <= 0 || bucket < time.Second {
		return h
	}
	h.BucketSeconds = int(bucket / time.Second)
	h.Calls = make([]int, buckets)
	for _, t := range callTimes {
		age := now.Sub(t) // 0 = now, in the last bucket
		if age < 0 {
			continue
		}
		back := int(age / bucket) // buckets before the last one; a boundary ends the older bucket
		if back >= buckets {
			continue
		}
		h.Calls[buckets-1-back]++
	}
	return h
}

// PacePerHour is the average pace of the last n buckets in calls per hour;
// n is clamped to the buckets there are. An empty history has pace 0.
func (h HistoryStatus) PacePerHour(n int) float64 {
	if n > len(h.Calls) {
		n = len(h.Calls)
	}
	if n <= 0 || h.BucketSeconds <= 0 {
		return 0
	}
	sum := 0
	for _, c := range h.Calls[len(h.Calls)-n:] {
		sum += c
	}
	return float64(sum) / (float64(n*h.BucketSeconds) / 3600)
}
