package rules

import (
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/seatable/emulator"
)

// Load reads and parses the config file at path. env looks up ${VAR}
// references; nil means os.LookupEnv. The error is an ErrorList holding
// every problem of the file, or a plain error when the file cannot be read.
func Load(path string, env func(string) (string, bool)) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return Parse(path, data, env)
}

// Parse parses and validates a config file's content. name is the file
// name used in errors and to resolve relative paths (fixtures); env looks
// up ${VAR} references (nil = os.LookupEnv). On any problem it returns nil
// and an ErrorList with every problem found, in file order: a config is
// used whole or not at all.
func Parse(name string, data []byte, env func(string) (string, bool)) (*Config, error) {
	if env == nil {
		env = os.LookupEnv
	}
	d := &decoder{file: name, lookup: env}
	cfg := d.config(data)
	if len(d.errs) > 0 {
		d.errs.sort()
		return nil, d.errs
	}
	cfg.ruleSet = newRuleSet(cfg.Rules)
	cfg.rulesByName = make(map[string]*Rule, len(cfg.Rules))
	for _, r := range cfg.Rules {
		cfg.rulesByName[r.Name] = r
	}
	return cfg, nil
}

// decoder walks the YAML node tree, building the config and collecting
// every problem with its position.
type decoder struct {
	file     string
	lookup   LookupFunc
	errs     ErrorList
	ruleName string // name of the rule being decoded, for errors
	values   int    // action values decoded so far (alias bomb guard)
	// fixtures are the emulator fixture files read so far, by path: bases
	// sharing one file share one parse (1,000 bases in one fixture would
	// otherwise parse it 1,000 times and keep every copy).
	fixtures map[string]fixtureRead
}

// fixtureRead is one fixture file as read: parsed, or why not.
type fixtureRead struct {
	fx  *emulator.Fixture
	err error
}

// fixture returns the parsed fixture file at path, reading it once.
func (d *decoder) fixture(path string) (*emulator.Fixture, error) {
	if r, ok := d.fixtures[path]; ok {
		return r.fx, r.err
	}
	fx, err := emulator.LoadFixtureFile(path)
	if d.fixtures == nil {
		d.fixtures = map[string]fixtureRead{}
	}
	d.fixtures[path] = fixtureRead{fx, err}
	return fx, err
}

func (d *decoder) errAt(line, col int, field, format string, args ...any) {
	d.errs = append(d.errs, &PosError{File: d.file, Line: line, Col: col, Rule: d.ruleName, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) errorf(n *yaml.Node, field, format string, args ...any) {
	d.errAt(n.Line, n.Column, field, format, args...)
}

func (d *decoder) pos(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line, Col: n.Column} }

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (d *decoder) yamlError(err error) {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, e := range te.Errors {
			d.errAt(0, 0, "", "%s", e)
		}
		return
	}
	msg := err.Error()
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.errAt(line, 1, "", "%s", m[2])
		return
	}
	d.errAt(1, 1, "", "%s", strings.TrimPrefix(msg, "yaml: "))
}

// entry is one key: value pair of a mapping.
type entry struct{ key, val *yaml.Node }

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "null"
		}
		return "a scalar"
	}
	return "nothing"
}

// fields checks that n is a mapping with only the allowed keys, each at
// most once, and returns its entries by key. It reports a problem and
// returns nil when n is not a mapping.
func (d *decoder) fields(n *yaml.Node, field string, allowed ...string) map[string]entry {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, field, "got %s, want a mapping", kindName(n))
		return nil
	}
	out := make(map[string]entry, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, field, "got %s as a key, want a name", kindName(k))
			continue
		}
		if !contains(allowed, k.Value) {
			d.errorf(k, join(field, k.Value), "unknown key (want %s)", strings.Join(allowed, ", "))
			continue
		}
		if _, dup := out[k.Value]; dup {
			d.errorf(k, join(field, k.Value), "duplicate key")
			continue
		}
		out[k.Value] = entry{k, v}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" && (n.Value == "" || n.Value == "~" || n.Value == "null" || n.Value == "Null" || n.Value == "NULL")
}

// scalar returns the text of a scalar node, "" for null.
func (d *decoder) scalar(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, field, "got %s, want a single value", kindName(n))
		return "", false
	}
	if isNull(n) {
		return "", true
	}
	return n.Value, true
}

// str returns a scalar's text with ${VAR} references expanded.
func (d *decoder) str(n *yaml.Node, field string) (string, bool) {
	s, ok := d.scalar(n, field)
	if !ok {
		return "", false
	}
	s, err := expandEnv(s, d.lookup)
	if err != nil {
		d.errorf(n, field, "%v", err)
		return "", false
	}
	return s, true
}

func (d *decoder) integer(n *yaml.Node, field string) (int, bool) {
	s, ok := d.str(n, field)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
	if err != nil {
		d.errorf(n, field, "%q is not a whole number", s)
		return 0, false
	}
	return i, true
}

func (d *decoder) boolean(n *yaml.Node, field string) (bool, bool) {
	s, ok := d.str(n, field)
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off", "":
		return false, true
	}
	d.errorf(n, field, "%q is not true or false", s)
	return false, false
}

func (d *decoder) config(data []byte) *Config {
	cfg := DefaultConfig()
	cfg.Path = d.file
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		d.yamlError(err)
		return cfg
	}
	if root.Kind == 0 || len(root.Content) == 0 || isNull(root.Content[0]) {
		d.errAt(1, 1, "", "empty config file")
		return cfg
	}
	top := d.fields(root.Content[0], "", keyNames("")...)
	if e, ok := top["server"]; ok {
		d.server(e.val, &cfg.Server)
	}
	if e, ok := top["storage"]; ok {
		d.storage(e.val, &cfg.Storage)
	}
	if e, ok := top["bases"]; ok {
		d.bases(e.val, cfg)
	}
	if e, ok := top["quotas"]; ok {
		d.quotas(e.val, cfg)
	}
	if e, ok := top["webhooks"]; ok {
		d.webhooks(e.val, cfg)
	}
	if e, ok := top["nats"]; ok {
		if f := d.fields(e.val, "nats", keyNames("nats")...); f != nil {
			if e, ok := f["url"]; ok {
				cfg.NATS.URL, _ = d.str(e.val, "nats.url")
			}
			if e, ok := f["listen"]; ok {
				d.natsListen(e.val, cfg)
			}
		}
	}
	if e, ok := top["loop_guard"]; ok {
		d.loopGuard(e.val, &cfg.LoopGuard)
	}
	if e, ok := top["history"]; ok {
		if f := d.fields(e.val, "history", keyNames("history")...); f != nil {
			if e, ok := f["retention"]; ok {
				if v, ok := d.str(e.val, "history.retention"); ok {
					if w, err := seaflow.ParseWindow(v); err != nil || w.Month || w.Span < time.Hour || w.Span > 365*24*time.Hour {
						d.errorf(e.val, "history.retention", "%q is not a duration from 1h to 365d (want e.g. 72h or 7d)", v)
					} else {
						cfg.History.Retention = w.Span
					}
				}
			}
		}
	}
	if e, ok := top["process"]; ok {
		if f := d.fields(e.val, "process", keyNames("process")...); f != nil {
			if e, ok := f["memory_limit"]; ok {
				d.memoryLimit(e.val, &cfg.Process)
			}
		}
	}
	if e, ok := top["rules"]; ok {
		d.rules(e.val, cfg)
	}
	d.catchUpTables(cfg)
	return cfg
}

// loopGuard decodes loop_guard:.
func (d *decoder) loopGuard(n *yaml.Node, lg *LoopGuardConfig) {
	f := d.fields(n, "loop_guard", keyNames("loop_guard")...)
	if e, ok := f["echoes"]; ok {
		lg.Echoes, _ = d.boolean(e.val, "loop_guard.echoes")
	}
	if e, ok := f["echo_ttl"]; ok {
		if v, ok := d.str(e.val, "loop_guard.echo_ttl"); ok {
			if w, err := seaflow.ParseWindow(v); err != nil || w.Month || w.Span < time.Minute || w.Span > 7*24*time.Hour {
				d.errorf(e.val, "loop_guard.echo_ttl", "%q is not a duration from 1m to 7d", v)
			} else {
				lg.EchoTTL = w.Span
			}
		}
	}
	if e, ok := f["max_writes_per_row_hour"]; ok {
		if v, ok := d.integer(e.val, "loop_guard.max_writes_per_row_hour"); ok {
			if v < 1 {
				d.errorf(e.val, "loop_guard.max_writes_per_row_hour", "must be at least 1")
			} else {
				lg.MaxWritesPerRowHour = v
			}
		}
	}
}

func (d *decoder) server(n *yaml.Node, s *ServerConfig) {
	f := d.fields(n, "server", keyNames("server")...)
	if e, ok := f["listen"]; ok {
		if v, ok := d.str(e.val, "server.listen"); ok {
			if !validHostPort(v) {
				d.errorf(e.val, "server.listen", "%q is not host:port", v)
			} else {
				s.Listen = v
			}
		}
	}
	if e, ok := f["token"]; ok {
		if v, ok := d.str(e.val, "server.token"); ok && v != "" {
			if why := weakToken(v); why != "" {
				d.errorf(e.val, "server.token", "%s", why)
			}
			s.Token = v
		}
	}
	explicit := false
	if e, ok := f["auth"]; ok {
		if v, ok := d.str(e.val, "server.auth"); ok && v != "" {
			switch v {
			case AuthToken, AuthNone:
				s.Auth, explicit = v, true
			default:
				d.errorf(e.val, "server.auth", "%q is not token or none", v)
			}
		}
	}
	if e, ok := f["hosts"]; ok {
		d.hosts(e.val, s)
	}
	if e, ok := f["public_url"]; ok {
		d.publicURL(e.val, s)
	}
	d.checkServerAuth(n, f, s, explicit)
}

// natsListen decodes nats.listen: host:port with the host written out, for
// the embedded server only.
func (d *decoder) natsListen(n *yaml.Node, cfg *Config) {
	v, ok := d.str(n, "nats.listen")
	if !ok || v == "" {
		return
	}
	host, port, err := net.SplitHostPort(v)
	p, perr := strconv.Atoi(port)
	switch {
	case err != nil || perr != nil || p < 0 || p > 65535:
		d.errorf(n, "nats.listen", "%q is not host:port (want 127.0.0.1:4222)", v)
	case host == "":
		d.errorf(n, "nats.listen", "%q has no host: write 127.0.0.1%s for this machine only, or 0.0.0.0%s to open it to the network (no authentication or TLS)", v, v, v)
	case cfg.Storage.NATSURL != "":
		d.errorf(n, "nats.listen", "opens a port on the embedded NATS server, and with storage.nats_url there is none (clients connect to that cluster)")
	default:
		cfg.NATS.Listen = v
	}
}

func validHostPort(s string) bool {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return false
	}
	p, err := strconv.Atoi(s[i+1:])
	return err == nil && p >= 0 && p <= 65535
}

// memoryLimit decodes process.memory_limit: a size of at least
// MinMemoryLimit, or off.
func (d *decoder) memoryLimit(n *yaml.Node, p *ProcessConfig) {
	v, ok := d.str(n, "process.memory_limit")
	if !ok {
		return
	}
	if v == "off" {
		p.MemoryLimit = MemoryLimitOff
		return
	}
	b, err := parseBytes(v)
	switch {
	case err != nil:
		d.errorf(n, "process.memory_limit", "%v, or off", err)
	case b < MinMemoryLimit:
		d.errorf(n, "process.memory_limit", "%q is below %d MiB, less than an idle daemon uses", v, MinMemoryLimit>>20)
	default:
		p.MemoryLimit = b
	}
}

func (d *decoder) storage(n *yaml.Node, s *StorageConfig) {
	f := d.fields(n, "storage", keyNames("storage")...)
	if e, ok := f["dir"]; ok {
		if v, ok := d.str(e.val, "storage.dir"); ok && v != "" {
			s.Dir = v
		}
	}
	if e, ok := f["nats_url"]; ok {
		s.NATSURL, _ = d.str(e.val, "storage.nats_url")
	}
	if e, ok := f["sync_always"]; ok {
		s.SyncAlways, _ = d.boolean(e.val, "storage.sync_always")
	}
	if e, ok := f["dedupe_window"]; ok {
		if v, ok := d.str(e.val, "storage.dedupe_window"); ok {
			if w, err := seaflow.ParseWindow(v); err != nil || w.Month || w.Span > DefaultDedupeWindow {
				d.errorf(e.val, "storage.dedupe_window", "%q is not a duration from 1s to 7d (events are kept 7 days)", v)
			} else {
				s.DedupeWindow = w.Span
			}
		}
	}
	if e, ok := f["dead_max_age"]; ok {
		if v, ok := d.str(e.val, "storage.dead_max_age"); ok {
			if w, err := seaflow.ParseWindow(v); err != nil || w.Month {
				d.errorf(e.val, "storage.dead_max_age", "%q is not a positive duration (want e.g. 720h or 30d)", v)
			} else {
				s.DeadMaxAge = w.Span
			}
		}
	}
	if e, ok := f["dead_max_messages"]; ok {
		if v, ok := d.integer(e.val, "storage.dead_max_messages"); ok {
			if v <= 0 {
				d.errorf(e.val, "storage.dead_max_messages", "must be positive, not %d", v)
			} else {
				s.DeadMaxMessages = v
			}
		}
	}
	if e, ok := f["dead_max_bytes"]; ok {
		if v, ok := d.str(e.val, "storage.dead_max_bytes"); ok {
			if b, err := parseBytes(v); err != nil {
				d.errorf(e.val, "storage.dead_max_bytes", "%v", err)
			} else {
				s.DeadMaxBytes = b
			}
		}
	}
}

// nameRe is what base, webhook and rule names may be made of: they appear
// in NATS subjects, op ids and URLs.
var nameRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
