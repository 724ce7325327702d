package seaflow

import (
	"fmt"
	"time"
)

// Plan names a set of SeaTable's published api-gateway limits per base. The
// table below is the one place they are written: the config's `plan:` and
// the emulator's plans both read it.
//
// Sources (docs/seatable-api.md, Limits): the current limits page gives
// 200 calls a minute on SeaTable Cloud and 500 on a self-hosted server, no
// daily window, and a monthly quota per Cloud team whose size per
// subscription is not public; the older pages gave 300 a minute and 5,000
// per rolling 24 hours, the figures seaflow was specified against.
type Plan string

// The plans.
const (
	// PlanLegacy is 300 calls per rolling minute and 5,000 per rolling 24
	// hours per base (LegacyWindows): the default.
	PlanLegacy Plan = "legacy"
	// PlanServer is a self-hosted server's 500 calls per rolling minute
	// (API_GATEWAY_BASE_API_LIMIT_PER_MINUTE's default).
	PlanServer Plan = "server"
	// PlanCloud is SeaTable Cloud's 200 calls per rolling minute. Its
	// monthly team quota is not per base: it is a quota group shared by the
	// team's bases (the config's quotas:).
	PlanCloud Plan = "cloud"
)

// Plans lists the plans by name, the default first.
var Plans = []Plan{PlanLegacy, PlanServer, PlanCloud}

// ParsePlan checks a plan name; "" is not one.
func ParsePlan(s string) (Plan, error) {
	for _, p := range Plans {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("plan %q is not legacy, server or cloud", s)
}

// Windows returns the plan's rolling windows per base, shortest first; an
// unknown or empty plan gets PlanLegacy's.
func (p Plan) Windows() []Window {
	switch p {
	case PlanServer:
		return []Window{{Span: time.Minute, Calls: 500}}
	case PlanCloud:
		return []Window{{Span: time.Minute, Calls: 200}}
	}
	return LegacyWindows()
}
