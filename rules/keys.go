package rules

import (
	"strings"

	"github.com/seaflow/seaflow"
)

// KeyType is what a config key's value is.
type KeyType string

// The value types of config keys.
const (
	// KeyString is text; ${VAR} expands.
	KeyString KeyType = "string"
	// KeyInt is a whole number (or text that expands to one).
	KeyInt KeyType = "integer"
	// KeyNumber is a number (or text that expands to one).
	KeyNumber KeyType = "number"
	// KeyBool is true or false (also yes/no, on/off).
	KeyBool KeyType = "boolean"
	// KeyObject is a mapping with the keys in Key.Keys.
	KeyObject KeyType = "object"
	// KeyList is a list of Key.Elem.
	KeyList KeyType = "list"
	// KeyMap is a mapping of names to Key.Elem.
	KeyMap KeyType = "map"
	// KeyValue is an action value: a literal, an =expression, or a list or
	// mapping of values.
	KeyValue KeyType = "value"
	// KeyAction is one row action: a mapping with one key, the action kind,
	// whose fields are actionFields' (see ActionKeys).
	KeyAction KeyType = "action"
)

// Key is one key of the config file. ConfigKeys holds them all: the decoder
// accepts exactly the keys listed there (any other is an error naming the
// allowed ones), and `seaflow schema` prints the table as a JSON Schema, so
// a key is added in one place.
type Key struct {
	// Name is the key as written in the file.
	Name string
	// Type is what its value is.
	Type KeyType
	// Doc says what it means, its default and unit.
	Doc string
	// Required is set when the key must be given.
	Required bool
	// Enum lists the values allowed, when they are few.
	Enum []string
	// Keys are an object's keys.
	Keys []*Key
	// Elem is each item of a list, or each value of a map.
	Elem *Key
}

// Names returns the names of an object's keys, in table order.
func (k *Key) Names() []string {
	out := make([]string, len(k.Keys))
	for i, c := range k.Keys {
		out[i] = c.Name
	}
	return out
}

// At returns the key at a dotted path below k, stepping through lists and
// maps into their items ("webhooks.hmac", "bases.limits"), or nil.
func (k *Key) At(path string) *Key {
	cur := k
	for _, name := range strings.Split(path, ".") {
		for cur != nil && cur.Elem != nil && cur.Type != KeyObject {
			cur = cur.Elem
		}
		if cur == nil {
			return nil
		}
		var next *Key
		for _, c := range cur.Keys {
			if c.Name == name {
				next = c
			}
		}
		cur = next
	}
	for cur != nil && cur.Elem != nil && cur.Type != KeyObject {
		cur = cur.Elem
	}
	return cur
}

// keyNames returns the allowed keys of the object at path in ConfigKeys
// ("" is the top level). It panics on a path the table lacks: that is a
// bug of the decoder, found by any test that loads a config.
func keyNames(path string) []string {
	k := ConfigKeys
	if path != "" {
		k = ConfigKeys.At(path)
	}
	if k == nil || k.Type != KeyObject {
		panic("rules: no object " + path + " in ConfigKeys")
	}
	return k.Names()
}

func str(name, doc string) *Key     { return &Key{Name: name, Type: KeyString, Doc: doc} }
func integer(name, doc string) *Key { return &Key{Name: name, Type: KeyInt, Doc: doc} }
func boolean(name, doc string) *Key { return &Key{Name: name, Type: KeyBool, Doc: doc} }
func object(name, doc string, keys ...*Key) *Key {
	return &Key{Name: name, Type: KeyObject, Doc: doc, Keys: keys}
}
func required(k *Key) *Key { k.Required = true; return k }

// ConfigKeys is the config file's table of keys; see Key.
var ConfigKeys = object("", "A seaflow config file: server, storage, bases, webhooks, NATS and rules.",
	object("server", "The HTTP listener for webhooks, the status API and /metrics.",
		str("listen", "host:port to listen on; default "+DefaultListen+" (loopback only). `seaflow run --listen` overrides it."),
		str("token", "The admin token (at least 16 characters): the status API, the admin routes, /metrics and the page require it as Authorization: Bearer TOKEN or the page's session cookie."),
		str("auth", `"token" (the default: the admin surface needs server.token) or "none" (only on a loopback listener; Host and cross-site checks still apply).`),
		&Key{Name: "hosts", Type: KeyList, Doc: "Host names (name or name:port) the admin surface answers to besides the listen address; requests with another Host header are refused.", Elem: &Key{Type: KeyString, Doc: "A host name, or name:port."}},
		str("public_url", "The URL SeaTable reaches this daemon at, like https://seaflow.example.com: seaflow webhooks sync points each SeaTable webhook at it plus the webhook's path."),
	),
	object("storage", "Where events and ops are kept durably: the embedded NATS JetStream (dir) or a cluster (nats_url).",
		str("dir", "Data directory of the embedded NATS server; default "+DefaultDataDir+"."),
		str("nats_url", "Comma-separated URLs of an existing JetStream cluster; empty = embedded server."),
		boolean("sync_always", "fsync every write before acknowledging it (default false: files sync every 2 minutes)."),
		str("dedupe_window", "How long an event id is remembered, so an event sent again is stored once (a duration or days, at most 7d); default 7d."),
		str("dead_max_age", "How long dead letters are kept (a duration or days like 30d); default 30d."),
		integer("dead_max_messages", "At most this many dead letters are kept, the oldest dropped first; default 100000."),
		str("dead_max_bytes", "At most this much dead-letter data is kept (like 256MiB); default 256MiB."),
	),
	&Key{Name: "bases", Type: KeyMap, Doc: "The SeaTable bases rules act on, by the name rules use (letters, digits, - and _).",
		Elem: object("", "One SeaTable base.",
			required(str("url", `SeaTable server (http or https), or "emulator" for an in-process emulator seeded from fixture.`)),
			str("api_token", "The base's API token, usually ${VAR}; required unless url is emulator."),
			str("fixture", "Emulator fixture file, relative to the config file; only for url: emulator."),
			str("account_token", "An account token (of a user who may manage the base), usually ${VAR}: seaflow webhooks sync manages the base's webhooks with it; the daemon never uses it."),
			integer("workspace_id", "The base's workspace in the account API; default what the API token's exchange reports."),
			str("base_name", "The base's name in the account API; default what the API token's exchange reports."),
			&Key{Name: "plan", Type: KeyString, Enum: planNames(),
				Doc: "The SeaTable plan whose published limits the base has: legacy (300 per 1m and 5000 per 24h, the default), server (500 per 1m) or cloud (200 per 1m; a Cloud team's monthly quota goes under quotas:). Not with limits."},
			&Key{Name: "limits", Type: KeyList, Doc: "API limits: calls per rolling window or per calendar month; default the plan's (legacy: 300 per 1m and 5000 per 24h). Not with plan.",
				Elem: object("", "One limit window.",
					required(str("window", "A Go duration (1m, 24h) or month.")),
					required(integer("calls", "Calls allowed in the window; at least 1.")),
				)},
			integer("urgent_reserve", "Calls of the longest window that only urgent rules may use; default a tenth of it, 0 = none."),
			boolean("adaptive_reserve", "Release the part of urgent_reserve urgent rules have not needed to normal and bulk work, keeping twice urgent's peak 10 minutes (at least a tenth of the reserve) plus the urgent calls expected at the rate seen; default true. false keeps the whole reserve for urgent rules."),
			&Key{Name: "exchange_limits", Type: KeyList, Doc: "Limits of the API-token exchange (SeaTable Cloud: 60 a minute), apart from limits; default 60 per 1m.",
				Elem: object("", "One limit window.",
					required(str("window", "A Go duration (1m, 24h) or month.")),
					required(integer("calls", "Calls allowed in the window; at least 1.")),
				)},
		)},
	&Key{Name: "quotas", Type: KeyMap, Doc: "Budgets shared by several bases, by name, such as SeaTable Cloud's monthly API quota per team: a call is admitted only when its base and every quota of the base admit it.",
		Elem: object("", "One shared budget.",
			required(&Key{Name: "bases", Type: KeyList, Doc: "The bases that share the quota.", Elem: &Key{Type: KeyString, Doc: "A base name under bases:."}}),
			required(&Key{Name: "limits", Type: KeyList, Doc: "The quota's windows: window: month is the calendar month in UTC, reset when it ends.",
				Elem: object("", "One limit window.",
					required(str("window", "month, or a Go duration (1m, 24h).")),
					required(integer("calls", "Calls allowed in the window; at least 1.")),
				)}),
			integer("urgent_reserve", "Calls of the longest window that only urgent rules may use; default a tenth of it, 0 = none."),
		)},
	&Key{Name: "webhooks", Type: KeyList, Doc: "HTTP endpoints that turn requests into events.",
		Elem: object("", "One webhook: exactly one of seatable, token, hmac or auth: none.",
			required(str("name", "What rules refer to with on: {webhook: NAME}; unique.")),
			required(str("path", "URL path, starting with /; unique.")),
			object("seatable", "A SeaTable base webhook, signed in X-SeaTable-Signature.",
				required(str("base", "Config name of the base the webhook belongs to.")),
				required(str("secret", "The secret set on the webhook in SeaTable.")),
				object("catch_up", "Poll the base for changes the webhook never delivered (SeaTable does not retry, and disables a hook after 5 failures): one SQL call per watched table on _mtime, in the base's bulk budget.",
					str("every", "Poll interval, a Go duration of at least 10s; default 5m."),
					str("lag", "How old a change must be before the poll looks at it, so the webhook had time to deliver it; default 1m."),
					&Key{Name: "tables", Type: KeyList, Doc: "Tables to watch; default the tables the webhook's rules name in when: (event.table == \"T\").", Elem: &Key{Type: KeyString, Doc: "A table name."}},
				),
			),
			str("token", "Require Authorization: Bearer TOKEN."),
			object("hmac", "Require a hex HMAC-SHA256 of the raw body in a header.",
				str("header", "Header carrying the signature; default "+DefaultHMACHeader+"."),
				required(str("secret", "The HMAC key.")),
			),
			&Key{Name: "auth", Type: KeyString, Enum: []string{"none"}, Doc: "none: accept unauthenticated requests."},
			object("rate_limit", "Cap the requests a generic webhook accepts; past it 429 with Retry-After.",
				required(integer("events", "Requests allowed per window; at least 1.")),
				required(str("per", "The window, a Go duration from 1ms to 24h.")),
			),
		)},
	object("nats", "Where on: {nats: SUBJECT} rules subscribe.",
		str("url", "NATS server URLs (comma-separated); empty = the server of the durable spine."),
		str("listen", "host:port on which the embedded NATS server accepts clients (seaflow publish); empty (default) opens no port. "+
			"Loopback keeps it local; any other address is open to the network without authentication or TLS. Not with storage.nats_url."),
	),
	object("loop_guard", "How seaflow tells its own writes from people's when SeaTable's webhooks report them back, and stops rule loops.",
		boolean("echoes", "Match webhook events with the writes seaflow made, by content, and mark them event.self (default true)."),
		str("echo_ttl", "How long a write's echo is awaited, a duration (default 6h); a memory bound, not a correctness window."),
		integer("max_writes_per_row_hour", "The loop breaker: at most this many writes of one rule to one row in any hour, from webhook events (default 20)."),
	),
	object("history", "The event history: what happened to each event, its rules, ops and their fates, kept in the durable store (seaflow events).",
		str("retention", "How long an event's history is kept (a duration or days, from 1h to 365d); default 7d. Applied at start."),
	),
	object("process", "The daemon process itself.",
		str("memory_limit", "A soft limit on the daemon's memory, like 256MiB (at least 64MiB), or off: the garbage collector works harder near it instead of letting the heap grow to twice what is live. Default: the GOMEMLIMIT environment variable when set, otherwise 90% of the container's memory limit (cgroup v2) when there is one, otherwise 160MiB; the daemon warns when what is live nears it. Applied at start."),
	),
	&Key{Name: "rules", Type: KeyList, Doc: "The rules, in file order.",
		Elem: object("", "One rule: a trigger, an optional condition and the row actions to run.",
			required(str("name", "Unique rule name (letters, digits, - and _).")),
			required(object("on", "The trigger: exactly one of webhook, nats and cron.",
				str("webhook", "Name of a webhook under webhooks:."),
				str("nats", "NATS subject, with * and > wildcards as whole tokens."),
				str("cron", "Cron spec: 5 fields, or @hourly, @daily, @every 10m, ..."),
				str("tz", "IANA time zone the cron spec is read in; default UTC. Cron only."),
				boolean("catch_up", "Fire the ticks missed while seaflow was down (at most 100). Cron only."),
			)),
			str("when", "An expr expression that must be true for the rule to run; sees the trigger's environment."),
			&Key{Name: "priority", Type: KeyString, Enum: []string{"urgent", "normal", "bulk"},
				Doc: "The lane: webhook rules default to urgent, NATS to normal, cron to bulk."},
			object("for_each", "Run the actions once per row of a SELECT. Cron only.",
				required(str("base", "Base to query.")),
				required(str("sql", "A literal SELECT statement; event data goes in through ? and params.")),
				&Key{Name: "params", Type: KeyList, Doc: "Values of the ? placeholders.", Elem: &Key{Type: KeyValue}},
			),
			required(&Key{Name: "do", Type: KeyList, Doc: "The row actions, at least one.", Elem: &Key{Type: KeyAction}}),
			boolean("on_self", "Also fire on changes seaflow made itself (the loop guard skips them by default)."),
			integer("max_depth", "Longest rule chain this rule may continue; default the daemon's."),
			&Key{Name: "budget_share", Type: KeyNumber, Doc: "Fraction 0 < x <= 1 of each base's longest window this rule may spend; default 1 (webhook rules 0.5)."},
		)},
)

// actionKeyDocs documents the fields of row actions.
var actionKeyDocs = map[string]*Key{
	"base":          str("base", "Config name of the base."),
	"table":         {Name: "table", Type: KeyValue, Doc: "Table name (a literal or an =expression)."},
	"row":           {Name: "row", Type: KeyValue, Doc: "Row id, usually =event.row_id or =item._id."},
	"values":        {Name: "values", Type: KeyValue, Doc: "Cells by column name; values are literals or =expressions."},
	"key":           {Name: "key", Type: KeyValue, Doc: "The key column an upsert matches rows on."},
	"column":        {Name: "column", Type: KeyValue, Doc: "The link column."},
	"other_rows":    {Name: "other_rows", Type: KeyValue, Doc: "Row ids to link to (a list or an =expression)."},
	"dedupe_column": str("dedupe_column", "A column the op id is written to, so a redelivered append finds its row."),
	"sql":           str("sql", "A literal UPDATE or DELETE statement; event data goes in through ? and params."),
	"params":        {Name: "params", Type: KeyList, Doc: "Values of the ? placeholders.", Elem: &Key{Type: KeyValue}},
}

// ActionKeys returns each action kind as an object Key of its fields (in
// the order of actionFields, the decoder's table), the required ones marked.
func ActionKeys() []*Key {
	out := make([]*Key, 0, len(seaflow.Kinds))
	for _, kind := range seaflow.Kinds {
		fields := actionFields[kind]
		k := object(string(kind), "A "+string(kind)+" row action.")
		for i, f := range fields {
			doc := actionKeyDocs[f]
			c := *doc
			c.Required = i < actionRequired[kind]
			k.Keys = append(k.Keys, &c)
		}
		out = append(out, k)
	}
	return out
}
