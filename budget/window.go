package budget

import (
	"errors"
	"fmt"
	"time"

	"github.com/seaflow/seaflow"
)

// DefaultBulkSegments is the number of steps of the bulk spend curve when
// Limits.BulkSegments is 0: one step per hour of a 24-hour window.
const DefaultBulkSegments = 24

// maxBulkSegments bounds Limits.BulkSegments so curve arithmetic cannot
// overflow and a bulk admission stays cheap.
const maxBulkSegments = 1000

// Limits is the budget of one base.
type Limits struct {
	// Windows are checked together: a call is admitted only if every window
	// allows it, and then it counts in every window at once. No windows
	// means no limit.
	Windows []seaflow.Window
	// UrgentReserve is the number of calls of the longest window (see
	// Longest) that only the Urgent lane may spend: Normal and Bulk see that
	// window's Calls minus UrgentReserve. 0 means no reserve. It must be
	// smaller than the longest window's Calls.
	UrgentReserve int
	// Adaptive makes the reserve follow urgent demand: Normal and Bulk see
	// the longest window's Calls minus the effective reserve, which is
	// twice the most urgent calls seen in any ReservePeakSpan of the
	// longest window's span (a day at most for a month window), never
	// below ReserveFloor and never above UrgentReserve. A reserve urgent
	// work has not needed goes to bulk; it comes back, call by call, as
	// urgent calls are made. See State.Reserve.
	Adaptive bool
	// ReserveFloor is the least effective reserve when Adaptive. 0 means
	// a tenth of UrgentReserve (at least 1 when there is a reserve).
	ReserveFloor int
	// ReservePeakSpan is the span urgent demand is measured over when
	// Adaptive. 0 means DefaultReservePeakSpan.
	ReservePeakSpan time.Duration
	// BulkSegments is the number of steps N of the bulk spend curve over
	// the longest window (see the package documentation). 0 means
	// DefaultBulkSegments (24); 1 means bulk is paced like Normal, that is
	// not at all. At most 1000.
	BulkSegments int
	// Slack lengthens every rolling window when counting (not when showing
	// it): a call is recorded just before it is sent, but SeaTable counts
	// it when it arrives, so a slot seaflow sees free at exactly t+Span may
	// still be taken on SeaTable's side for the call's transit time. 0 means
	// none; the daemon uses DefaultSlack.
	Slack time.Duration
}

// DefaultReservePeakSpan is Limits.ReservePeakSpan when it is 0: urgent
// demand is measured as the most urgent calls in any ten minutes.
const DefaultReservePeakSpan = 10 * time.Minute

// floor returns the least effective reserve.
func (l Limits) floor() int {
	f := l.ReserveFloor
	if f <= 0 {
		f = max(l.UrgentReserve/10, 1)
	}
	return min(f, l.UrgentReserve)
}

// peakSpan returns the span urgent demand is measured over.
func (l Limits) peakSpan() int64 {
	if l.ReservePeakSpan > 0 {
		return int64(l.ReservePeakSpan)
	}
	return int64(DefaultReservePeakSpan)
}

// memory returns how far back urgent calls are remembered for the
// adaptive reserve: the longest rolling window's span, or a day when the
// longest window is a month.
func (l Limits) memory() int64 {
	i := l.Longest()
	if i < 0 || l.Windows[i].Month {
		return int64(24 * time.Hour)
	}
	return l.span(l.Windows[i])
}

// DefaultSlack is the Slack the daemon gives every base: above the time a
// call takes to reach SeaTable, small against a minute.
const DefaultSlack = time.Second

// span is how long a rolling window counts a call, Slack included.
func (l Limits) span(w seaflow.Window) int64 { return int64(w.Span + l.Slack) }

// DefaultLimits returns the limits of the seed documents: 300 calls per
// rolling minute and 5,000 per rolling 24 hours, with 500 of the 24-hour
// calls reserved for urgent work and bulk paced in 24 hourly steps.
func DefaultLimits() Limits {
	return Limits{Windows: seaflow.LegacyWindows(), UrgentReserve: 500}
}

// Longest returns the index in Windows of the longest window, -1 when there
// are none. A month window counts as longer than any rolling span; among
// equals the first wins.
func (l Limits) Longest() int { return seaflow.Longest(l.Windows) }

// segments returns the effective number of bulk curve steps.
func (l Limits) segments() int {
	if l.BulkSegments <= 0 {
		return DefaultBulkSegments
	}
	if l.BulkSegments > maxBulkSegments {
		return maxBulkSegments
	}
	return l.BulkSegments
}

// Validate reports every problem with the limits at once.
func (l Limits) Validate() error {
	var errs []error
	for _, w := range l.Windows {
		if err := w.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if l.UrgentReserve < 0 {
		errs = append(errs, fmt.Errorf("urgent reserve %d: must not be negative", l.UrgentReserve))
	}
	if i := l.Longest(); i >= 0 && l.UrgentReserve > 0 && l.UrgentReserve >= l.Windows[i].Calls {
		errs = append(errs, fmt.Errorf("urgent reserve %d: must be smaller than the %s window", l.UrgentReserve, l.Windows[i]))
	} else if i < 0 && l.UrgentReserve > 0 {
		errs = append(errs, fmt.Errorf("urgent reserve %d: no window to reserve calls of", l.UrgentReserve))
	}
	if l.ReserveFloor < 0 {
		errs = append(errs, fmt.Errorf("reserve floor %d: must not be negative", l.ReserveFloor))
	}
	if l.BulkSegments < 0 || l.BulkSegments > maxBulkSegments {
		errs = append(errs, fmt.Errorf("bulk segments %d: want 0 to %d", l.BulkSegments, maxBulkSegments))
	}
	return errors.Join(errs...)
}
