package actions

import (
	"context"
	"sync"
	"time"

	"github.com/seaflow/seaflow"
)

// parkHold is the longest a lane waits for the budget with ops held. A
// longer wait hands them back to the queue first: keeping them would cost
// an extension every extendEvery for nothing a call could use soon. The
// lane still parks: a higher lane's call then fetches from its queue.
const parkHold = 2 * time.Minute

// shelf is where the lanes of one base that wait for the budget leave the
// ops they hold, so that a call of a higher lane can carry them (cross-lane
// fill). A call of 1 urgent row for a table and kind then carries up to 999
// queued bulk rows of the same table and kind, at no extra call: under a
// saturated budget every call is full, whichever lane makes it.
//
// A lane only offers its ops while parked (waiting for the budget, not
// dispatching or fetching), and the shelf's lock guards its held ops and
// its queue while it is: the parked lane extends them under the lock, a
// taker takes what it takes, and fetches from the lane's queue, under the
// lock.
type shelf struct {
	mu     sync.Mutex
	parked map[seaflow.Lane]*laneLoop
}

func newShelf() *shelf { return &shelf{parked: map[seaflow.Lane]*laneLoop{}} }

// fillGroup is what ops must share to travel in one batch call taken
// across lanes.
type fillGroup struct {
	table string
	kind  seaflow.Kind
}

// fillable reports whether ops of kind may be carried by another lane's
// call: the kinds whose batch is one call of rows grouped by table alone.
func fillable(kind seaflow.Kind) bool {
	switch kind {
	case seaflow.KindAppend, seaflow.KindUpdate, seaflow.KindDelete, seaflow.KindLock, seaflow.KindUnlock:
		return true
	}
	return false
}

// park waits until t with l's held ops offered to the base's higher lanes;
// what they took is gone from l.held when it returns. It returns false
// when ctx ended first.
func (l *laneLoop) park(ctx context.Context, t time.Time) bool {
	s := l.shelf
	s.mu.Lock()
	s.parked[l.lane] = l
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.parked, l.lane)
		s.mu.Unlock()
	}()
	for {
		d := t.Sub(l.now())
		if d <= 0 {
			return ctx.Err() == nil
		}
		select {
		case <-ctx.Done():
			return false
		case <-l.d.cfg.Clock.After(min(d, extendEvery)):
		}
		if t.After(l.now()) {
			s.mu.Lock()
			if len(l.held) > 0 {
				l.extendAll(ctx)
			}
			s.mu.Unlock()
		}
	}
}

// fill takes, from the base's parked lower lanes, queued ops that the
// calls of the ops at ready in l.held can carry without another call, adds
// them to l.held and returns ready with their indexes appended.
//
// For each table and kind of a fillable kind among the ready ops, the
// calls they need have room for the rest of MaxBatchRows rows per call; it
// is filled with the parked lanes' ops of that table and kind, most urgent
// lane first, each lane's in its queue order: first what the lane holds,
// then what it has queued (fetched without waiting: the parked lane cannot
// fetch meanwhile, so its order holds; what is fetched and not taken stays
// with the parked lane, or goes back to the queue when the lane held
// nothing). An op is not taken when an earlier op of its lane
// that stays may touch the same row (its lane's order holds), when a ready
// op of l may touch the same row (the newer write must not lose to an
// older one merged after it), or when its rule has a budget cap of its own
// (its call must be charged to the rule).
func (l *laneLoop) fill(ctx context.Context, ready []int) []int {
	room := map[fillGroup]int{}
	var touched waiting
	var tokens []token
	for _, i := range ready {
		op := &l.held[i].Op
		tokens = rowTokens(op, tokens[:0])
		touched.add(op, tokens)
		if fillable(op.Kind) {
			room[fillGroup{op.Table, op.Kind}]++
		}
	}
	free := 0
	for g, n := range room {
		if r := n % MaxBatchRows; r > 0 {
			room[g] = MaxBatchRows - r
			free += room[g]
		} else {
			delete(room, g)
		}
	}
	if free == 0 {
		return ready
	}
	s := l.shelf
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, lane := range seaflow.Lanes {
		donor := s.parked[lane]
		if free == 0 || !lane.Below(l.lane) || donor == nil {
			continue
		}
		held := donor.held
		donor.held = nil
		var stays waiting
		offer := func(dl Delivery) {
			op := &dl.Op
			tokens = rowTokens(op, tokens[:0])
			g := fillGroup{op.Table, op.Kind}
			if room[g] > 0 && op.Base == l.base && !stays.blocks(op, tokens) && !touched.blocks(op, tokens) && !l.capped(op.Rule) {
				room[g]--
				free--
				ready = append(ready, len(l.held))
				l.held = append(l.held, dl)
				return
			}
			stays.add(op, tokens)
			donor.held = append(donor.held, dl)
		}
		for _, dl := range held {
			offer(dl)
		}
		if free == 0 || len(donor.held) >= l.d.cfg.MaxHeld {
			continue
		}
		ds, err := l.d.cfg.Source.Fetch(ctx, l.base, lane, min(free, l.d.cfg.MaxHeld-len(donor.held)), 0)
		if err != nil && ctx.Err() == nil {
			l.log.Warn().Err(err).Str("from", string(lane)).Msg("fetch ops to fill a call")
		}
		kept := len(donor.held)
		for _, dl := range ds {
			offer(dl)
		}
		if len(held) == 0 {
			// The lane parked with nothing held (a long wait, see
			// waitForBudget): what was fetched and not taken goes back
			// to its queue, in order, rather than be extended for long.
			for _, dl := range donor.held[kept:] {
				if err := dl.Release(context.WithoutCancel(ctx)); err != nil {
					l.log.Warn().Err(err).Str("op", dl.Op.ID).Msg("release op")
				}
			}
			donor.held = donor.held[:kept]
		}
	}
	return ready
}

// capped reports whether rule has a budget cap of its own in l's base.
func (l *laneLoop) capped(rule string) bool {
	return l.d.rules != nil && l.d.rules.capped(l.base, rule)
}

// waitForBudget parks l until the budget admits a call of its lane, when
// it does not now. It reports whether it waited (or failed): the caller
// then looks again at what it holds, which a higher lane may have taken.
// A wait longer than parkHold hands the held ops back first.
func (l *laneLoop) waitForBudget(ctx context.Context) bool {
	if l.d.cfg.DryRun {
		return false
	}
	next, err := l.d.cfg.Budget.Next(ctx, l.base, l.lane)
	if err != nil {
		if ctx.Err() == nil {
			l.log.Error().Err(err).Msg("ask budget")
			l.backoff(ctx)
		}
		return true
	}
	if l.frozenUntil.After(next) {
		next = l.frozenUntil
	}
	if !next.After(l.now()) {
		return false
	}
	if next.Sub(l.now()) > parkHold {
		l.releaseAll(context.WithoutCancel(ctx))
	}
	l.park(ctx, next)
	return true
}
