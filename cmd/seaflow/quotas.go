package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/seaflow/seaflow/actions"
	"github.com/seaflow/seaflow/budget"
	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/statuspage"
)

// The dispatcher asks the quota-aware budget exactly as it asked the keeper.
var _ actions.Budget = (*budget.Group)(nil)

// newBudget returns the budget every call goes through: the base's keeper
// and, for a base in quota groups, each group too. Both read the config in
// force, so a reload applies new quotas at once.
func newBudget(keeper *budget.Keeper, store budget.Store, config func() *rules.Config, now func() time.Time) *budget.Group {
	return budget.NewGroup(keeper, store,
		func(name string) budget.Limits { return config().QuotaBudget(name) },
		func(base string) []string { return config().QuotasOf(base) },
		now)
}

// quotaStatus reads the spend of every quota group of cfg.
func (d *daemon) quotaStatus(ctx context.Context, cfg *rules.Config) []statuspage.QuotaStatus {
	var out []statuspage.QuotaStatus
	names := make([]string, 0, len(cfg.Quotas))
	for name := range cfg.Quotas {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		q := cfg.Quotas[name]
		qs := statuspage.QuotaStatus{Name: name, Bases: append([]string{}, q.Bases...)}
		usage, err := d.budget.QuotaUsage(ctx, name)
		if err != nil {
			d.log.Warn().Err(err).Str("quota", name).Msg("status: quota usage")
		}
		for _, u := range usage {
			qs.Windows = append(qs.Windows, statuspage.WindowStatus{Window: u.Window.Label(), Limit: u.Calls, Used: u.Used, Remaining: u.Remaining, NextFree: u.NextFree})
		}
		out = append(out, qs)
	}
	return out
}

// printQuotas adds a row per quota window to the budget table of
// `seaflow status`.
func printQuotas(w io.Writer, quotas []statuspage.QuotaStatus) {
	for _, q := range quotas {
		for _, u := range q.Windows {
			next := "now"
			if !u.NextFree.IsZero() && u.Remaining == 0 {
				next = u.NextFree.Format(time.RFC3339)
			}
			fmt.Fprintf(w, "quota %s (%s)\t%s\t%d\t%d\t%d\t%s\n", q.Name, strings.Join(q.Bases, ", "), u.Window, u.Used, u.Limit, u.Remaining, next)
		}
	}
}
