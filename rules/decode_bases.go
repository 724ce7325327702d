package rules

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/seatable/emulator"
)

func (d *decoder) bases(n *yaml.Node, cfg *Config) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "bases", "got %s, want a mapping of base name to base", kindName(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		name := k.Value
		field := "bases." + name
		if k.Kind != yaml.ScalarNode || !nameRe.MatchString(name) {
			d.errorf(k, field, "base name must be letters, digits, - and _")
			continue
		}
		if _, dup := cfg.Bases[name]; dup {
			d.errorf(k, field, "duplicate base")
			continue
		}
		if b := d.base(v, name, field); b != nil {
			cfg.Bases[name] = b
		}
	}
}

func (d *decoder) base(n *yaml.Node, name, field string) *BaseConfig {
	b := &BaseConfig{Name: name, Pos: d.pos(n)}
	f := d.fields(n, field, keyNames("bases")...)
	if f == nil {
		return nil
	}
	if e, ok := f["url"]; ok {
		b.URL, _ = d.str(e.val, field+".url")
		if b.URL != EmulatorURL && b.URL != "" {
			u, err := url.Parse(b.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				d.errorf(e.val, field+".url", "%q is not an http(s) URL or %q", b.URL, EmulatorURL)
			}
		}
	}
	if b.URL == "" {
		if e, ok := f["url"]; ok {
			d.errorf(e.val, field+".url", "is empty")
		} else {
			d.errorf(n, field, "missing url (a SeaTable server, or %q)", EmulatorURL)
		}
	}
	if e, ok := f["api_token"]; ok {
		if tok, ok := d.str(e.val, field+".api_token"); ok {
			b.APIToken = tok
			if tok == "" && !b.Emulator() {
				d.errorf(e.val, field+".api_token", "is empty")
			}
		}
	}
	if e, ok := f["fixture"]; ok {
		if s, ok := d.str(e.val, field+".fixture"); ok && s != "" {
			if !b.Emulator() {
				d.errorf(e.val, field+".fixture", "only emulator bases (url: %s) take a fixture", EmulatorURL)
			} else {
				if !filepath.IsAbs(s) {
					s = filepath.Join(filepath.Dir(d.file), s)
				}
				b.Fixture = s
				if _, err := os.Stat(s); err != nil {
					d.errorf(e.val, field+".fixture", "fixture file %s does not exist", s)
				} else if fx, err := d.fixture(s); err != nil {
					d.errorf(e.val, field+".fixture", "%v", err)
				} else if !fixtureHas(fx, b.Name) {
					d.errorf(e.val, field+".fixture", "fixture file %s has no base named %q", s, b.Name)
				} else {
					b.fixture = fx
				}
			}
		}
	}
	switch {
	case b.Emulator() && b.Fixture == "":
		d.errorf(n, field, "an emulator base needs a fixture file")
	case !b.Emulator() && b.URL != "" && f["api_token"].val == nil:
		d.errorf(n, field, "missing api_token")
	}
	d.accountKeys(f, b, field)
	if e, ok := f["limits"]; ok {
		b.Limits = d.limits(e.val, field+".limits")
	}
	if e, ok := f["plan"]; ok {
		d.plan(e, f, b, field)
	}
	if len(b.Limits) == 0 {
		b.Limits = seaflow.LegacyWindows()
	}
	if e, ok := f["exchange_limits"]; ok {
		b.ExchangeLimits = d.limits(e.val, field+".exchange_limits")
	}
	if len(b.ExchangeLimits) == 0 {
		b.ExchangeLimits = DefaultExchangeLimits()
	}
	b.UrgentReserve = d.urgentReserve(f, field, b.Limits)
	if e, ok := f["adaptive_reserve"]; ok {
		adaptive, _ := d.boolean(e.val, field+".adaptive_reserve")
		b.FixedReserve = !adaptive
	}
	return b
}

func (d *decoder) limits(n *yaml.Node, field string) []seaflow.Window {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, field, "got %s, want a list of {window, calls}", kindName(n))
		return nil
	}
	var out []seaflow.Window
	seen := map[string]bool{}
	for i, item := range n.Content {
		item = resolve(item)
		ifield := field + "[" + strconv.Itoa(i) + "]"
		f := d.fields(item, ifield, keyNames("bases.limits")...)
		if f == nil {
			continue
		}
		var l seaflow.Window
		ok := true
		if e, has := f["window"]; has {
			if s, good := d.str(e.val, ifield+".window"); good {
				w, err := seaflow.ParseWindow(s)
				if err != nil {
					d.errorf(e.val, ifield+".window", "%v", err)
					ok = false
				}
				l = w
				key := w.Label()
				if seen[key] {
					d.errorf(e.val, ifield+".window", "duplicate window %s", s)
					ok = false
				}
				seen[key] = true
			} else {
				ok = false
			}
		} else {
			d.errorf(item, ifield, "missing window")
			ok = false
		}
		if e, has := f["calls"]; has {
			if c, good := d.integer(e.val, ifield+".calls"); good && c > 0 {
				l.Calls = c
			} else {
				if good {
					d.errorf(e.val, ifield+".calls", "must be positive")
				}
				ok = false
			}
		} else {
			d.errorf(item, ifield, "missing calls")
			ok = false
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

func (d *decoder) webhooks(n *yaml.Node, cfg *Config) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "webhooks", "got %s, want a list", kindName(n))
		return
	}
	names := map[string]bool{}
	paths := map[string]bool{}
	for i, item := range n.Content {
		item = resolve(item)
		field := "webhooks[" + strconv.Itoa(i) + "]"
		f := d.fields(item, field, keyNames("webhooks")...)
		if f == nil {
			continue
		}
		w := &WebhookConfig{Pos: d.pos(item)}
		if e, ok := f["name"]; ok {
			w.Name, _ = d.str(e.val, field+".name")
			switch {
			case !nameRe.MatchString(w.Name):
				d.errorf(e.val, field+".name", "webhook name must be letters, digits, - and _")
			case names[w.Name]:
				d.errorf(e.val, field+".name", "duplicate webhook name %q", w.Name)
			}
			names[w.Name] = true
		} else {
			d.errorf(item, field, "missing name")
		}
		if e, ok := f["path"]; ok {
			w.Path, _ = d.str(e.val, field+".path")
			switch {
			case !strings.HasPrefix(w.Path, "/"):
				d.errorf(e.val, field+".path", "must start with /")
			case paths[w.Path]:
				d.errorf(e.val, field+".path", "duplicate webhook path %s", w.Path)
			}
			paths[w.Path] = true
		} else {
			d.errorf(item, field, "missing path")
		}
		auths := 0
		if e, ok := f["seatable"]; ok {
			auths++
			sf := d.fields(e.val, field+".seatable", keyNames("webhooks.seatable")...)
			w.SeaTable = &SeaTableHook{}
			if b, ok := sf["base"]; ok {
				w.SeaTable.Base, _ = d.str(b.val, field+".seatable.base")
				if cfg.Bases[w.SeaTable.Base] == nil {
					d.errorf(b.val, field+".seatable.base", "unknown base %q", w.SeaTable.Base)
				}
			} else if sf != nil {
				d.errorf(e.val, field+".seatable", "missing base")
			}
			if s, ok := sf["secret"]; ok {
				w.SeaTable.Secret, _ = d.str(s.val, field+".seatable.secret")
			}
			if w.SeaTable.Secret == "" && sf != nil {
				d.errorf(e.val, field+".seatable", "missing secret (set one on the SeaTable webhook; unsigned SeaTable webhooks are refused)")
			}
			if c, ok := sf["catch_up"]; ok {
				w.SeaTable.CatchUp = d.catchUp(c.val, field+".seatable.catch_up")
			}
		}
		if e, ok := f["token"]; ok {
			auths++
			if w.Token, ok = d.str(e.val, field+".token"); ok && w.Token == "" {
				d.errorf(e.val, field+".token", "is empty")
			}
		}
		if e, ok := f["hmac"]; ok {
			auths++
			hf := d.fields(e.val, field+".hmac", keyNames("webhooks.hmac")...)
			w.HMAC = &HMACAuth{Header: DefaultHMACHeader}
			if h, ok := hf["header"]; ok {
				if s, ok := d.str(h.val, field+".hmac.header"); ok && s != "" {
					w.HMAC.Header = s
					switch {
					case !headerNameRe.MatchString(s):
						d.errorf(h.val, field+".hmac.header", "%q is not an HTTP header name", s)
					case http.CanonicalHeaderKey(s) == "Authorization":
						d.errorf(h.val, field+".hmac.header", "cannot be Authorization (it carries bearer tokens; use a header of its own, like X-Signature-256)")
					}
				}
			}
			if s, ok := hf["secret"]; ok {
				w.HMAC.Secret, _ = d.str(s.val, field+".hmac.secret")
			}
			if w.HMAC.Secret == "" && hf != nil {
				d.errorf(e.val, field+".hmac", "missing secret")
			}
		}
		if e, ok := f["auth"]; ok {
			w.Auth, _ = d.str(e.val, field+".auth")
			if w.Auth != "none" {
				d.errorf(e.val, field+".auth", `the only auth value is "none" (use seatable:, token: or hmac: to authenticate)`)
			} else {
				auths++
			}
		}
		if e, ok := f["rate_limit"]; ok {
			w.RateLimit = d.rateLimit(e.val, field+".rate_limit")
			if w.SeaTable != nil {
				d.errorf(e.key, field+".rate_limit", "only generic webhooks take a rate limit: SeaTable never retries a refused webhook and disables it after 5 failures, so its events would be lost")
			}
		}
		_, hasAuth := f["auth"]
		switch {
		case auths == 0 && !hasAuth:
			d.errorf(item, field, "no authentication: set one of seatable:, token: or hmac:, or auth: none")
		case auths > 1:
			d.errorf(item, field, "set only one of seatable:, token:, hmac: and auth: none")
		}
		cfg.Webhooks = append(cfg.Webhooks, w)
	}
}

// fixtureHas reports whether fx has a base called name.
func fixtureHas(fx *emulator.Fixture, name string) bool {
	for _, b := range fx.Bases {
		if b.Name == name {
			return true
		}
	}
	return false
}

// headerNameRe matches an HTTP header name (RFC 9110 token characters).
var headerNameRe = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")

// rateLimit decodes a webhook's rate_limit: {events: N, per: DURATION}.
func (d *decoder) rateLimit(n *yaml.Node, field string) *RateLimit {
	f := d.fields(n, field, keyNames("webhooks.rate_limit")...)
	if f == nil {
		return nil
	}
	rl := &RateLimit{}
	good := true
	if e, ok := f["events"]; ok {
		if v, ok := d.integer(e.val, field+".events"); !ok {
			good = false
		} else if v <= 0 {
			d.errorf(e.val, field+".events", "must be at least 1")
			good = false
		} else {
			rl.Events = v
		}
	} else {
		d.errorf(n, field, "missing events (how many requests per the window per:)")
		good = false
	}
	if e, ok := f["per"]; ok {
		if s, ok := d.str(e.val, field+".per"); !ok {
			good = false
		} else if span, err := time.ParseDuration(strings.TrimSpace(s)); err != nil || span < time.Millisecond || span > 24*time.Hour {
			d.errorf(e.val, field+".per", "%q is not a window from 1ms to 24h (want a duration like 1s or 1m)", s)
			good = false
		} else {
			rl.Per = span
		}
	} else {
		d.errorf(n, field, "missing per (the window, like 1s)")
		good = false
	}
	if !good {
		return nil
	}
	return rl
}
