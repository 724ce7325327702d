package rules

import (
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/budget"
	"github.com/seaflow/seaflow/seatable/emulator"
)

// EmulatorURL is the special base url that makes seaflow start an in-process
// SeaTable emulator for the base, seeded from the base's fixture file.
const EmulatorURL = "emulator"

// Defaults applied by DefaultConfig and by loading.
const (
	// DefaultListen is the status/webhook listen address.
	DefaultListen = "127.0.0.1:8080"
	// DefaultDataDir is where the embedded NATS server keeps its data.
	DefaultDataDir = "./seaflow-data"
)

// Config is a whole seaflow config file: server, storage, bases, webhooks,
// NATS and rules. Load and Parse return it fully validated, with every
// expression compiled; it must not be modified afterwards.
type Config struct {
	// Path is the file the config was loaded from (the name given to Parse).
	Path string
	// Server is the HTTP listener for webhooks and the status API.
	Server ServerConfig
	// Storage selects the durable spine: embedded (Dir) or a cluster (NATSURL).
	Storage StorageConfig
	// Bases are the SeaTable bases rules act on, by the name rules use.
	Bases map[string]*BaseConfig
	// Quotas are budgets shared by several bases, by name (nil when the
	// file has none).
	Quotas map[string]*QuotaConfig
	// Webhooks are the HTTP endpoints that produce webhook events.
	Webhooks []*WebhookConfig
	// NATS is where `on: {nats: SUBJECT}` rules subscribe.
	NATS NATSConfig
	// LoopGuard is the loop guard and breaker.
	LoopGuard LoopGuardConfig
	// History is the event history's retention.
	History HistoryConfig
	// Process is the daemon process itself: its memory limit.
	Process ProcessConfig
	// Rules in file order.
	Rules []*Rule

	ruleSet     *RuleSet
	rulesByName map[string]*Rule
}

// ServerConfig configures the HTTP listener.
type ServerConfig struct {
	// Listen is host:port; default DefaultListen (loopback only). An
	// address beyond loopback needs a Token.
	Listen string
	// Token, when set, is required by the admin surface (the status page
	// and API, /api/*, /metrics, /emulator/) as "Authorization: Bearer
	// TOKEN" or the page's login cookie. At least MinTokenLength
	// characters, no whitespace. Empty = no token: the admin surface is
	// closed, unless Auth is AuthNone on a loopback address.
	Token string
	// Auth is AuthToken (the default) or AuthNone: no token needed, only
	// allowed on a loopback Listen address. A Token, when set, is required
	// whatever Auth says.
	Auth string
	// Hosts are the names the admin surface answers to in the Host header
	// besides the listen address itself (and localhost on loopback), as
	// "name" (any port) or "name:port", lower case. Empty = only those.
	Hosts []string
	// PublicURL is the URL SeaTable reaches this daemon at (scheme, host,
	// optional path prefix, no trailing slash), e.g.
	// https://seaflow.example.com: `seaflow webhooks sync` points each
	// SeaTable webhook at PublicURL + the webhook's path. Empty = not
	// set (sync then refuses).
	PublicURL string
}

// Values of ServerConfig.Auth.
const (
	// AuthToken requires server.token on the admin surface.
	AuthToken = "token"
	// AuthNone lets local clients in without a token (loopback only).
	AuthNone = "none"
)

// MinTokenLength is the shortest server.token accepted.
const MinTokenLength = 16

// Open reports whether the admin surface takes requests without a token:
// auth: none and no token set.
func (s ServerConfig) Open() bool { return s.Auth == AuthNone && s.Token == "" }

// StorageConfig selects where events and ops are kept durably.
type StorageConfig struct {
	// Dir is the data directory of the embedded NATS server; default
	// DefaultDataDir, relative to the working directory.
	Dir string
	// NATSURL, when set, connects to an existing JetStream cluster instead
	// of embedding a server (comma-separated URLs). Empty = embedded.
	NATSURL string
	// SyncAlways makes the embedded server fsync every write before it
	// acknowledges it (default false: files are synced every 2 minutes, so
	// a process crash loses nothing acknowledged, a power cut can lose the
	// last 2 minutes). Ignored with NATSURL (the cluster's own setting).
	SyncAlways bool
	// DedupeWindow is how long an event id is remembered: an event that
	// comes again within it (a SeaTable redelivery, a re-sent
	// Idempotency-Key, a replayed signed request, a cron tick fired by two
	// replicas) is stored once, across restarts and replicas. Default
	// DefaultDedupeWindow (7 days); a duration or days; at most the 7 days
	// events are kept.
	DedupeWindow time.Duration
	// DeadMaxAge is how long a dead letter is kept; older ones are
	// dropped. Default DefaultDeadMaxAge; written as a duration or days
	// ("720h", "30d"); must be positive.
	DeadMaxAge time.Duration
	// DeadMaxMessages caps the dead letters kept; past it the oldest are
	// dropped. Default DefaultDeadMaxMessages; must be positive.
	DeadMaxMessages int
	// DeadMaxBytes caps the bytes of the dead letters kept; past it the
	// oldest are dropped. Default DefaultDeadMaxBytes; written as bytes or
	// with a unit (KiB, MiB, GiB, KB, MB, GB); must be positive.
	DeadMaxBytes int64
}

// DefaultDedupeWindow is storage.dedupe_window when it is absent.
const DefaultDedupeWindow = 7 * 24 * time.Hour

// Defaults of the dead-letter retention (storage.dead_max_*).
const (
	// DefaultDeadMaxAge keeps dead letters 30 days.
	DefaultDeadMaxAge = 30 * 24 * time.Hour
	// DefaultDeadMaxMessages keeps at most 100,000 dead letters.
	DefaultDeadMaxMessages = 100_000
	// DefaultDeadMaxBytes keeps at most 256 MiB of dead letters.
	DefaultDeadMaxBytes = 256 << 20
)

// DefaultUrgentReserveShare is the part of the longest window reserved for
// urgent rules when a base does not set urgent_reserve: 1/10.
const DefaultUrgentReserveShare = 10

// BaseConfig is one SeaTable base.
type BaseConfig struct {
	// Name is the key under `bases:`; rules refer to the base by it.
	Name string
	// URL is the SeaTable server (http or https), or EmulatorURL.
	URL string
	// APIToken is the base's API token. Required unless URL is EmulatorURL
	// (the emulator takes it from the fixture, or generates one).
	APIToken string
	// Fixture is the emulator fixture file, resolved relative to the config
	// file. Only for emulator bases, where it is required.
	Fixture string
	// fixture is the parsed Fixture, checked at load.
	fixture *emulator.Fixture
	// Limits are the base's API limits: calls per rolling window (or per
	// calendar month). Empty in the file = the Plan's windows, and without
	// a plan seaflow.LegacyWindows (300 per minute, 5,000 per 24 hours).
	Limits []seaflow.Window
	// Plan is the SeaTable plan whose published limits the base has
	// (`plan: cloud | server | legacy`); "" when the file names none. A
	// base takes a plan or explicit limits, not both.
	Plan seaflow.Plan
	// UrgentReserve is how many calls of the longest window only urgent
	// rules may use. Absent in the file = a tenth of the longest window
	// (500 of 5,000 at the default limits); 0 = no reserve.
	UrgentReserve int
	// FixedReserve keeps the whole UrgentReserve for urgent rules
	// (`adaptive_reserve: false`); by default the reserve adapts to the
	// urgent demand seen (budget.Limits.Adaptive).
	FixedReserve bool
	// ExchangeLimits are the limits of the base's API-token exchange,
	// which SeaTable counts apart from its API calls. Empty in the file =
	// DefaultExchangeLimits.
	ExchangeLimits []seaflow.Window
	// AccountToken is an account token of a user who may manage the base
	// (POST /api2/auth-token/), for the account API: `seaflow webhooks
	// sync` manages the base's webhooks with it. Only sync uses it; the
	// daemon never does. Empty = none (an emulator base takes the
	// fixture's account_token:).
	AccountToken string
	// WorkspaceID and BaseName address the base in the account API. 0 and
	// "" = what the API token's exchange reports (workspace_id,
	// dtable_name).
	WorkspaceID int
	BaseName    string
	Pos
}

// DefaultExchangeLimits are the token exchange's limits when a base sets
// none: 60 a minute, SeaTable Cloud's limit on app-access-token.
func DefaultExchangeLimits() []seaflow.Window {
	return []seaflow.Window{{Span: time.Minute, Calls: 60}}
}

// ExchangeBudget returns the limits of the named base's token exchange as
// the budget enforces them (no reserve: every exchange is urgent).
func (c *Config) ExchangeBudget(name string) budget.Limits {
	w := DefaultExchangeLimits()
	if b, ok := c.Bases[name]; ok && len(b.ExchangeLimits) > 0 {
		w = b.ExchangeLimits
	}
	return budget.Limits{Windows: w, Slack: budget.DefaultSlack}
}

// ParsedFixture returns the emulator base's fixture as the load parsed and
// checked it (nil for other bases).
func (b *BaseConfig) ParsedFixture() *emulator.Fixture { return b.fixture }

// Emulator reports whether the base is served by an in-process emulator.
func (b *BaseConfig) Emulator() bool { return b.URL == EmulatorURL }

// BaseBudget returns the limits of the named base as the budget enforces
// them; a base the config does not have gets budget.DefaultLimits.
func (c *Config) BaseBudget(name string) budget.Limits {
	if b, ok := c.Bases[name]; ok {
		return b.Budget()
	}
	return budget.DefaultLimits()
}

// Budget returns the base's limits as the budget enforces them: its
// windows, its urgent reserve (adaptive unless adaptive_reserve: false)
// and budget.DefaultSlack.
func (b *BaseConfig) Budget() budget.Limits {
	return budget.Limits{Windows: b.Limits, UrgentReserve: b.UrgentReserve, Slack: budget.DefaultSlack, Adaptive: !b.FixedReserve}
}

// WebhookConfig is one HTTP endpoint that turns requests into events.
// Exactly one of SeaTable, Token and HMAC is set, or Auth is "none".
type WebhookConfig struct {
	// Name is what rules refer to with `on: {webhook: NAME}`; unique.
	Name string
	// Path is the URL path, starting with "/"; unique.
	Path string
	// SeaTable marks a SeaTable base webhook: the body is SeaTable's
	// webhook payload, signed with Secret in X-SeaTable-Signature.
	SeaTable *SeaTableHook
	// Token requires "Authorization: Bearer TOKEN".
	Token string
	// HMAC requires a hex HMAC-SHA256 of the raw body in a header.
	HMAC *HMACAuth
	// Auth is "none" to accept unauthenticated requests; empty otherwise.
	Auth string
	// RateLimit, when set, caps the events the hook accepts: past it a
	// request is answered 429 with Retry-After and nothing is stored. Only
	// generic hooks (token, hmac, auth: none) take one. Nil = no limit.
	RateLimit *RateLimit
	Pos
}

// RateLimit is a webhook's intake limit: at most Events accepted requests
// in any rolling window of Per.
type RateLimit struct {
	// Events is the number of requests allowed per window; >= 1.
	Events int
	// Per is the window, from 1ms to 24h (written as a Go duration: 1s, 1m).
	Per time.Duration
}

// SeaTableHook is the SeaTable side of a webhook.
type SeaTableHook struct {
	// Base is the config name of the base whose webhook this is.
	Base string
	// Secret is the webhook secret set in SeaTable; required.
	Secret string
	// CatchUp, when set (catch_up:), polls the base for changes the
	// webhook never delivered; nil = no poll.
	CatchUp *CatchUp
}

// HMACAuth authenticates a webhook by a signature of its raw body.
type HMACAuth struct {
	// Header carries the hex HMAC-SHA256 of the raw body, optionally
	// prefixed "sha256="; default DefaultHMACHeader.
	Header string
	// Secret is the HMAC key; required.
	Secret string
}

// DefaultHMACHeader is the signature header of an hmac webhook that names none.
const DefaultHMACHeader = "X-Signature-256"

// HistoryConfig is `history:`.
type HistoryConfig struct {
	// Retention is how long an event's history (its trace and its ops'
	// fates) is kept; default DefaultHistoryRetention. Applied at start.
	Retention time.Duration
}

// DefaultHistoryRetention keeps the event history 7 days.
const DefaultHistoryRetention = 7 * 24 * time.Hour

// ProcessConfig is `process:`.
type ProcessConfig struct {
	// MemoryLimit is the soft memory limit of the daemon in bytes (Go's
	// runtime/debug.SetMemoryLimit): the garbage collector works harder
	// as the process nears it, instead of letting the heap grow to twice
	// what is live. 0 = not set in the file (the daemon picks a default);
	// MemoryLimitOff = none. Applied at start.
	MemoryLimit int64
}

// MemoryLimitOff is ProcessConfig.MemoryLimit for `memory_limit: off`.
const MemoryLimitOff = -1

// MinMemoryLimit is the smallest process.memory_limit accepted: below it
// the collector would run without pause on an idle daemon's heap.
const MinMemoryLimit = 64 << 20

// LoopGuardConfig is `loop_guard:`.
type LoopGuardConfig struct {
	// Echoes matches webhook events with seaflow's writes and marks them
	// event.self (default true). Off, only the depth limit of chains that
	// do get marked and the breaker stop loops.
	Echoes bool
	// EchoTTL is how long an echo is awaited; default DefaultEchoTTL.
	EchoTTL time.Duration
	// MaxWritesPerRowHour caps one rule's writes to one row in any hour,
	// from webhook events; default DefaultMaxWritesPerRowHour.
	MaxWritesPerRowHour int
}

// Defaults of loop_guard:.
const (
	DefaultEchoTTL             = 6 * time.Hour
	DefaultMaxWritesPerRowHour = 20
)

// NATSConfig is where NATS-triggered rules subscribe.
type NATSConfig struct {
	// URL of the NATS server (comma-separated for a cluster). Empty = the
	// server of the durable spine (embedded, or storage.nats_url).
	URL string
	// Listen, when set, is a host:port on which the embedded NATS server
	// accepts clients (`seaflow publish`, nats CLI, other services), so
	// NATS rules can be fed from outside the process. Empty (the default)
	// opens no port. The host must be written out: a loopback address
	// (127.0.0.1, localhost) keeps it to this machine; any other address
	// opens it to the network without authentication or TLS, so put it
	// behind a firewall. Port 0 picks a free port (logged at start). Only
	// for the embedded server: it is an error with storage.nats_url.
	Listen string
}

// DefaultConfig returns a config with every default set and nothing else:
// no bases, webhooks or rules.
func DefaultConfig() *Config {
	return &Config{
		Server:    ServerConfig{Listen: DefaultListen, Auth: AuthToken},
		LoopGuard: LoopGuardConfig{Echoes: true, EchoTTL: DefaultEchoTTL, MaxWritesPerRowHour: DefaultMaxWritesPerRowHour},
		History:   HistoryConfig{Retention: DefaultHistoryRetention},
		Storage:   StorageConfig{Dir: DefaultDataDir, DedupeWindow: DefaultDedupeWindow, DeadMaxAge: DefaultDeadMaxAge, DeadMaxMessages: DefaultDeadMaxMessages, DeadMaxBytes: DefaultDeadMaxBytes},
		Bases:     map[string]*BaseConfig{},
	}
}

// RuleSet returns the compiled, indexed rules of the config.
func (c *Config) RuleSet() *RuleSet {
	if c.ruleSet == nil {
		c.ruleSet = newRuleSet(c.Rules)
	}
	return c.ruleSet
}

// Webhook returns the webhook with the given name, or nil.
func (c *Config) Webhook(name string) *WebhookConfig {
	for _, w := range c.Webhooks {
		if w.Name == name {
			return w
		}
	}
	return nil
}
