package emulator

import (
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// Settings are a fixture's server-wide settings: the top-level keys beside
// bases:. Each is optional; Apply copies the ones a fixture sets into an
// emulator's Options, and `seaflow emulator` flags given on the command
// line win over them.
type Settings struct {
	// TimeZone is `timezone: Europe/Berlin`: Options.TimeZone.
	TimeZone *time.Location
	// Plan is `plan: legacy|server|cloud`: Options.Plan.
	Plan Plan
	// Limits is `limits: [{window: 1m, calls: 200}, …]`, the windows of
	// every base: Options.Limits (an empty list = unlimited). nil when
	// the fixture has no limits key.
	Limits []Limit
	// MonthlyQuota is `monthly: N`: Options.MonthlyQuota.
	MonthlyQuota int
	// WebhookEvents is `webhook_events: per-row|batch`:
	// Options.WebhookEvents.
	WebhookEvents WebhookModel
	// AccountToken is `account_token: <40 characters>`, the token of the
	// account API: Options.AccountToken.
	AccountToken string
}

// Apply sets the fields of opts that s names.
func (s Settings) Apply(opts *Options) {
	if s.TimeZone != nil {
		opts.TimeZone = s.TimeZone
	}
	if s.Plan != "" {
		opts.Plan, opts.Limits = s.Plan, nil
	}
	if s.Limits != nil {
		opts.Limits = append([]Limit{}, s.Limits...)
	}
	if s.MonthlyQuota > 0 {
		opts.MonthlyQuota = s.MonthlyQuota
	}
	if s.WebhookEvents != "" {
		opts.WebhookEvents = s.WebhookEvents
	}
	if s.AccountToken != "" {
		opts.AccountToken = s.AccountToken
	}
}

// settingKeys returns the handlers of the top-level setting keys, filling
// s.
func (p *fixtureParser) settingKeys(s *Settings) map[string]func(*yaml.Node) {
	return map[string]func(*yaml.Node){
		"timezone": func(n *yaml.Node) {
			var name string
			p.str(n, &name)
			if name == "" {
				return
			}
			loc, err := time.LoadLocation(name)
			if err != nil {
				p.errf(n, "timezone %q: not a known time zone", name)
				return
			}
			s.TimeZone = loc
		},
		"plan": func(n *yaml.Node) {
			var name string
			p.str(n, &name)
			plan, err := ParsePlan(name)
			if err != nil {
				p.errf(n, "%v", err)
				return
			}
			s.Plan = plan
		},
		"monthly": func(n *yaml.Node) {
			if v, ok := p.positive(n, "monthly"); ok {
				s.MonthlyQuota = v
			}
		},
		"limits": func(n *yaml.Node) {
			s.Limits = []Limit{}
			for _, ln := range p.seq(n) {
				var l Limit
				var windowNode, callsNode *yaml.Node
				p.mapping(ln, map[string]func(*yaml.Node){
					"window": func(v *yaml.Node) { windowNode = v },
					"calls":  func(v *yaml.Node) { callsNode = v },
				})
				if ln.Kind != yaml.MappingNode {
					continue
				}
				if windowNode == nil || callsNode == nil {
					p.errf(ln, "a limit needs window and calls")
					continue
				}
				var w string
				p.str(windowNode, &w)
				d, err := time.ParseDuration(w)
				if err != nil || d <= 0 {
					p.errf(windowNode, "window %q is not a positive duration such as 1m or 24h", w)
					continue
				}
				calls, ok := p.positive(callsNode, "calls")
				if !ok {
					continue
				}
				l.Window, l.Calls = d, calls
				s.Limits = append(s.Limits, l)
			}
		},
		"account_token": func(n *yaml.Node) {
			p.str(n, &s.AccountToken)
			if s.AccountToken != "" && len(s.AccountToken) != 40 {
				p.errf(n, "account_token %q is not 40 characters", s.AccountToken)
			}
		},
		"webhook_events": func(n *yaml.Node) {
			var name string
			p.str(n, &name)
			m, err := ParseWebhookModel(name)
			if err != nil {
				p.errf(n, "%v", err)
				return
			}
			s.WebhookEvents = m
		},
	}
}

// positive reads a positive integer.
func (p *fixtureParser) positive(n *yaml.Node, what string) (int, bool) {
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v <= 0 {
		p.errf(n, "%s: want a positive whole number, got %s", what, kindName(n))
		return 0, false
	}
	return v, true
}
