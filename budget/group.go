package budget

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/seaflow/seaflow"
)

// QuotaKeyPrefix starts the Store key of a quota group's state: "quota/"
// and the group's name. Base names cannot hold a "/", so a quota never
// shares a key with a base.
const QuotaKeyPrefix = "quota/"

// QuotaKey returns the Store key of quota group name.
func QuotaKey(name string) string { return QuotaKeyPrefix + name }

// Group admits a base's calls only when the base and every quota group it
// belongs to admit them: a budget shared by several bases, such as
// SeaTable Cloud's monthly quota per team. It wraps the base Keeper, so the
// dispatcher asks it exactly as it asks a Keeper (Reserve, Next, Freeze),
// and keeps each group's State in a Keeper of its own on the same Store,
// under QuotaKey. It is safe for concurrent use.
//
// # Recording a call in several states
//
// A Store has no transaction over several keys, so Reserve records the
// call in one state after the other, each by compare-and-set, and undoes
// what it recorded when a later one refuses or fails:
//
//  1. It asks every group first (Next, nothing recorded): a spent quota
//     refuses the call before any state changes. This is the common
//     refusal, and it costs no write.
//  2. It records the call in the base. The base is per base and the
//     busiest refuser (its minute window); a refusal here has recorded
//     nothing.
//  3. It records the call in each group, sorted by name. A group that
//     refuses now (another base or replica took its last call between 1
//     and 3) or whose save fails makes Reserve release the call from the
//     groups recorded so far and from the base, and refuse.
//
// So a call is recorded in all of them or, once Reserve returns, in none.
// The one exception is a release that fails too (the Store is gone, or
// the process dies between two saves): then a state keeps a call that was
// never sent. That is conservative: the budget admits one call fewer in
// that window than it could, and never one more than it should. Reserve
// reports such a failure in its error, naming the states that keep the
// call.
type Group struct {
	bases  *Keeper
	quotas *Keeper
	of     func(base string) []string
	now    func() time.Time
}

// NewGroup returns a Group over bases. quotaLimits gives each quota
// group's limits by name (called on every admission, so a reload applies
// at once); groupsOf names the groups a base belongs to (none: the Group
// is the base Keeper alone). store keeps the groups' states (nil: memory
// only, one process); now nil uses time.Now.
func NewGroup(bases *Keeper, store Store, quotaLimits func(name string) Limits, groupsOf func(base string) []string, now func() time.Time) *Group {
	if now == nil {
		now = time.Now
	}
	limits := func(key string) Limits {
		name, ok := strings.CutPrefix(key, QuotaKeyPrefix)
		if !ok {
			return Limits{}
		}
		return quotaLimits(name)
	}
	if groupsOf == nil {
		groupsOf = func(string) []string { return nil }
	}
	return &Group{bases: bases, quotas: NewKeeper(store, limits, now), of: groupsOf, now: now}
}

// groups returns the quota groups of base, sorted, each once.
func (g *Group) groups(base string) []string {
	names := append([]string(nil), g.of(base)...)
	sort.Strings(names)
	out := names[:0]
	for i, n := range names {
		if i == 0 || n != names[i-1] {
			out = append(out, n)
		}
	}
	return out
}

// Reserve records a call of lane for base in the base's budget and in
// every quota group of the base, or in none of them (see Group), all at
// the same time, Grant.At, which Refund takes back. OK means it is
// recorded everywhere and may be sent; Next is then the latest of the
// states' next times for the lane. !OK means the call must wait until
// Next: the latest time known to be needed.
func (g *Group) Reserve(ctx context.Context, base string, lane seaflow.Lane) (Grant, error) {
	groups := g.groups(base)
	if len(groups) == 0 {
		return g.bases.Reserve(ctx, base, lane)
	}
	quotaNext, err := g.quotasNext(ctx, groups, lane)
	if err != nil {
		return Grant{}, err
	}
	if quotaNext.After(g.now()) {
		baseNext, err := g.bases.Next(ctx, base, lane)
		if err != nil {
			return Grant{}, err
		}
		return Grant{Next: latest(quotaNext, baseNext)}, nil
	}
	at := g.now()
	gr, err := g.bases.reserveAt(ctx, base, lane, at)
	if err != nil || !gr.OK {
		return Grant{Next: latest(gr.Next, quotaNext)}, err
	}
	type mark struct {
		k         *Keeper
		key, what string
	}
	recorded := []mark{{g.bases, base, "base " + base}}
	for _, name := range groups {
		q, qerr := g.quotas.reserveAt(ctx, QuotaKey(name), lane, at)
		if qerr == nil && q.OK {
			recorded = append(recorded, mark{g.quotas, QuotaKey(name), "quota " + name})
			gr.Next = latest(gr.Next, q.Next)
			continue
		}
		var undo []error
		if qerr != nil {
			undo = append(undo, fmt.Errorf("quota %s: %w", name, qerr))
		}
		for i := len(recorded) - 1; i >= 0; i-- {
			m := recorded[i]
			undo = append(undo, g.release(m.k, m.key, at, m.what))
		}
		if err := errors.Join(undo...); err != nil {
			return Grant{}, err
		}
		return Grant{Next: q.Next}, nil
	}
	return gr, nil
}

// Refund takes back, from the base and every quota group of it, the call
// Reserve recorded at at, for a call that never reached SeaTable.
func (g *Group) Refund(ctx context.Context, base string, at time.Time) error {
	errs := []error{g.bases.Refund(ctx, base, at)}
	for _, name := range g.groups(base) {
		errs = append(errs, g.quotas.Refund(ctx, QuotaKey(name), at))
	}
	return errors.Join(errs...)
}

// release takes back a call recorded at at, for a Reserve that refuses.
// It runs even when ctx has ended (a bounded context of its own), so a
// cancelled caller does not leave the call recorded.
func (g *Group) release(k *Keeper, key string, at time.Time, what string) error {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	if err := k.Refund(ctx, key, at); err != nil {
		return fmt.Errorf("%s keeps a call that was not sent (the budget admits one fewer until it leaves its windows): %w", what, err)
	}
	return nil
}

// releaseTimeout bounds the undo of one recorded call.
const releaseTimeout = 10 * time.Second

// quotasNext is the latest Next of the groups for lane.
func (g *Group) quotasNext(ctx context.Context, groups []string, lane seaflow.Lane) (time.Time, error) {
	var next time.Time
	for _, name := range groups {
		n, err := g.quotas.Next(ctx, QuotaKey(name), lane)
		if err != nil {
			return time.Time{}, fmt.Errorf("quota %s: %w", name, err)
		}
		next = latest(next, n)
	}
	return next, nil
}

// Next returns the earliest time the base and every quota group of it
// admit a call of lane: the latest of their Next.
func (g *Group) Next(ctx context.Context, base string, lane seaflow.Lane) (time.Time, error) {
	next, err := g.bases.Next(ctx, base, lane)
	if err != nil {
		return time.Time{}, err
	}
	q, err := g.quotasNext(ctx, g.groups(base), lane)
	if err != nil {
		return time.Time{}, err
	}
	return latest(next, q), nil
}

// Freeze blocks every lane of base, in every replica, until until. It
// applies to that base alone: the other bases of its quota groups go on
// (SeaTable counts a 429 of one base against that base).
func (g *Group) Freeze(ctx context.Context, base string, until time.Time) error {
	return g.bases.Freeze(ctx, base, until)
}

// QuotaUsage reports every window of quota group name now.
func (g *Group) QuotaUsage(ctx context.Context, name string) ([]WindowUsage, error) {
	return g.quotas.Usage(ctx, QuotaKey(name))
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
