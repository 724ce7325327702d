// Package emulator is an in-memory SeaTable: the token exchange and the
// api-gateway base operations as docs/seatable-api.md describes them, with
// SeaTable's limits per plan, fault injection, a call log, outgoing
// webhooks and a fixture loader. It behaves as a SeaTable 6.0 server
// does, not as seaflow would like it to: recorded_test.go holds it to the
// shapes recorded from a real 6.0.10 server. It serves tests, benchmarks
// and the `seaflow emulator` command, and it does not import the seaflow
// client: it is an independent implementation of the API.
package emulator

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
)

// Limit is one rolling window of a base: at most Calls gateway calls in
// any Window.
type Limit struct {
	Window time.Duration
	Calls  int
}

// DefaultLimits are SeaTable's older published api-gateway limits per
// base: 300 per minute and 5,000 per 24 hours (seaflow.LegacyWindows).
var DefaultLimits = limitsOf(seaflow.LegacyWindows())

// Options configures an Emulator. The zero value is usable.
type Options struct {
	// Limits are the rolling windows of every base. nil = the Plan's; an
	// empty non-nil slice = unlimited.
	Limits []Limit
	// Plan gives the windows when Limits is nil; "" = PlanLegacy
	// (DefaultLimits).
	Plan Plan
	// MonthlyQuota is how many gateway calls the bases of one team (the
	// fixture's team:, else each base alone) may make together in a
	// calendar month (UTC; reset when it ends), as SeaTable Cloud's
	// monthly quota per team; 0 = no quota. Beyond it a call gets an
	// empty 429 whose x-ratelimit-reset is the start of the next month
	// (the real headers are [?]).
	MonthlyQuota int
	// Now is the clock of the rolling windows, token expiry, _ctime and
	// _mtime, and the call log. nil = time.Now.
	Now func() time.Time
	// TokenTTL is the lifetime of an exchanged base token; 0 = 72h.
	TokenTTL time.Duration
	// ServerURL is what the token exchange reports as dtable_server etc.
	// (e.g. "http://127.0.0.1:8080"); "" = derived from the request's
	// Host. SetServerURL changes it later.
	ServerURL string
	// WebhookClient sends webhooks; nil = a client with a 30 s timeout.
	// Each delivery is also bounded by a 30 s context.
	WebhookClient *http.Client
	// Logger receives one debug line per call and webhook problems.
	Logger zerolog.Logger
	// WebhookEvents is the model of the events a multi-row API write
	// sends; "" = PerRow.
	WebhookEvents WebhookModel
	// WebhookSenders is the number of senders delivering webhooks. 0 or
	// 1: one per base, so each base's events arrive in order. 2 or more:
	// that many for the whole emulator sharing one queue, as SeaTable's
	// two sender threads do, so events may arrive out of order.
	WebhookSenders int
	// WebhookDelay delays every delivery by this much after its change,
	// like a lagging SeaTable event queue; 0 = none. It is waited for on
	// the emulator's clock: with a fake Now, give After too.
	WebhookDelay time.Duration
	// After returns a channel that receives once d has passed on the
	// clock of Now; nil = time.After. Only WebhookDelay waits on it.
	After func(d time.Duration) <-chan time.Time
	// AccountToken is the account token the account API (webhooks of a
	// base, see account.go) accepts, for every base; "" = 40 random hex
	// digits (AccountToken returns them).
	AccountToken string
	// TimeZone is the server's time zone: reads (list, get, SQL) render
	// dates with its offset at that date, as a real server does
	// ("2030-06-20T23:55:00+02:00" from a server in Europe/Berlin), and
	// written dates without an offset are its wall clock. nil = UTC.
	TimeZone *time.Location
}

// Emulator is an in-memory SeaTable server; it is an http.Handler and is
// safe for concurrent use.
type Emulator struct {
	now      func() time.Time
	after    func(time.Duration) <-chan time.Time
	zone     *time.Location
	limits   []Limit
	tokenTTL time.Duration
	client   *http.Client
	log      zerolog.Logger
	jwtKey   []byte
	// accountToken is Options.AccountToken, or a generated one.
	accountToken string
	// sleep waits for injected latency; tests replace it.
	sleep func(ctx context.Context, d time.Duration)

	mu        sync.Mutex
	serverURL string
	bases     []*base
	byUUID    map[string]*base
	byToken   map[string]*apiToken
	tokens    map[string]*issuedToken
	faults    Faults
	faultRand *rand.Rand
	callLog   []CallRecord
	// changed is closed (and dropped) at every call and edit, to wake
	// WaitFor; nil until someone waits.
	changed chan struct{}
	// hookModel, hookSenders and hookDelay are the webhook options;
	// hookLanes holds the queued deliveries by lane key (base uuid, or ""
	// for the shared lane of several senders).
	hookModel   WebhookModel
	hookSenders int
	hookDelay   time.Duration
	hookLanes   map[string]*hookLane
	// monthly is Options.MonthlyQuota; teams counts each team's calls in
	// the current month.
	monthly int
	teams   map[string]*teamCount
	// pendingHooks counts queued and in-flight webhook deliveries;
	// hooksIdle is closed (and replaced) whenever it drops to zero.
	pendingHooks int
	hooksIdle    chan struct{}
}

// New returns an empty emulator; add bases with Load.
func New(opts Options) *Emulator {
	e := &Emulator{
		now:         opts.Now,
		after:       opts.After,
		zone:        opts.TimeZone,
		limits:      opts.Limits,
		tokenTTL:    opts.TokenTTL,
		client:      opts.WebhookClient,
		log:         opts.Logger,
		serverURL:   strings.TrimRight(opts.ServerURL, "/"),
		byUUID:      map[string]*base{},
		byToken:     map[string]*apiToken{},
		tokens:      map[string]*issuedToken{},
		faultRand:   rand.New(rand.NewPCG(0, 0)),
		hooksIdle:   make(chan struct{}),
		hookModel:   opts.WebhookEvents,
		hookSenders: opts.WebhookSenders,
		hookDelay:   opts.WebhookDelay,
		hookLanes:   map[string]*hookLane{},
		monthly:     opts.MonthlyQuota,
		teams:       map[string]*teamCount{},
	}
	if e.hookModel == "" {
		e.hookModel = PerRow
	}
	if e.after == nil {
		e.after = time.After
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.zone == nil {
		e.zone = time.UTC
	}
	if e.limits == nil {
		e.limits = PlanLimits(opts.Plan)
	}
	e.limits = append([]Limit(nil), e.limits...)
	sort.Slice(e.limits, func(i, j int) bool { return e.limits[i].Window < e.limits[j].Window })
	if e.tokenTTL == 0 {
		e.tokenTTL = 72 * time.Hour
	}
	if e.client == nil {
		e.client = &http.Client{Timeout: webhookTimeout}
	}
	e.accountToken = opts.AccountToken
	if e.accountToken == "" {
		e.accountToken = newAPIToken()
	}
	e.jwtKey = make([]byte, 32)
	_, _ = crand.Read(e.jwtKey)
	e.sleep = func(ctx context.Context, d time.Duration) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return e
}

// SetServerURL sets what the token exchange reports as the server, e.g.
// once the listener's port is known.
func (e *Emulator) SetServerURL(u string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.serverURL = strings.TrimRight(u, "/")
}

// BaseInfo identifies a loaded base.
type BaseInfo struct {
	Name string
	// UUID has dashes (36 characters).
	UUID     string
	APIToken string
}

// Load adds the bases of f. It fails, adding nothing, when a base name,
// uuid or API token is already loaded.
func (e *Emulator) Load(f *Fixture) ([]BaseInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var built []*base
	names := map[string]bool{}
	for _, b := range e.bases {
		names[b.name] = true
	}
	for _, fb := range f.Bases {
		b, err := e.buildBase(fb)
		if err != nil {
			return nil, fmt.Errorf("load base %q: %w", fb.Name, err)
		}
		if names[b.name] {
			return nil, fmt.Errorf("load base %q: name already loaded", fb.Name)
		}
		if e.byUUID[b.uuid] != nil {
			return nil, fmt.Errorf("load base %q: uuid %s already loaded", fb.Name, b.uuid)
		}
		for _, at := range b.tokens {
			if e.byToken[at.token] != nil {
				return nil, fmt.Errorf("load base %q: api token already in use", fb.Name)
			}
		}
		for _, o := range built {
			if o.uuid == b.uuid {
				return nil, fmt.Errorf("load base %q: uuid repeated", fb.Name)
			}
			for _, at := range b.tokens {
				for _, ot := range o.tokens {
					if at.token == ot.token {
						return nil, fmt.Errorf("load base %q: api token repeated", fb.Name)
					}
				}
			}
		}
		names[b.name] = true
		built = append(built, b)
	}
	infos := make([]BaseInfo, 0, len(built))
	for _, b := range built {
		e.bases = append(e.bases, b)
		e.byUUID[b.uuid] = b
		for _, at := range b.tokens {
			e.byToken[at.token] = at
		}
		infos = append(infos, BaseInfo{Name: b.name, UUID: b.uuid, APIToken: b.apiToken})
	}
	return infos, nil
}

// buildBase turns a checked fixture base into a base.
func (e *Emulator) buildBase(fb FixtureBase) (*base, error) {
	b := &base{name: fb.Name, apiToken: fb.APIToken, appName: fb.AppName, links: map[string]*link{}}
	if b.appName == "" {
		b.appName = "seaflow"
	}
	b.team = fb.Team
	if b.team == "" {
		b.team = "base:" + fb.Name
	}
	if fb.UUID == "" {
		b.uuid = newUUID()
	} else {
		u, ok := normalizeUUID(fb.UUID)
		if !ok {
			return nil, fmt.Errorf("uuid %q is not a UUID", fb.UUID)
		}
		b.uuid = u
	}
	if b.apiToken == "" {
		b.apiToken = newAPIToken()
	}
	b.tokens = append(b.tokens, &apiToken{token: b.apiToken, base: b, appName: b.appName})
	for _, ft := range fb.APITokens {
		at := &apiToken{token: ft.Token, base: b, readOnly: ft.Permission == "r", appName: ft.AppName}
		if at.appName == "" {
			at.appName = b.appName
		}
		for _, o := range b.tokens {
			if o.token == at.token {
				return nil, fmt.Errorf("api token repeated")
			}
		}
		b.tokens = append(b.tokens, at)
	}
	for _, w := range fb.Webhooks {
		b.nextHookID++
		b.webhooks = append(b.webhooks, &webhook{id: b.nextHookID, url: w.URL, secret: w.Secret, creator: accountUser, created: e.now()})
	}
	for i, ft := range fb.Tables {
		t := &table{name: ft.Name, rows: map[string]*row{}, loc: e.zone}
		if i == 0 {
			t.id = "0000"
		} else {
			t.id = newShortID(func(s string) bool { return s == "0000" || b.tableByID(s) != nil })
		}
		b.tables = append(b.tables, t)
	}
	// Columns in declaration order; then each link column pairs with an
	// unpaired link column of the other table pointing back, or creates
	// one there named after this table (as SeaTable does).
	declared := map[*column]FixtureColumn{}
	for i, ft := range fb.Tables {
		t := b.tables[i]
		for _, fc := range ft.Columns {
			c := t.addColumn(fc.Name, fc.Type)
			c.dateFormat = fc.Format
			declared[c] = fc
			for _, o := range fc.Options {
				c.addOption(o)
			}
			if fc.Type == "formula" {
				p, err := compileFormula(fc.Formula)
				if err != nil {
					return nil, fmt.Errorf("column %q: %w", fc.Name, err)
				}
				c.formula, c.program = fc.Formula, p
			}
		}
	}
	for _, t := range b.tables {
		for _, c := range append([]*column(nil), t.columns...) {
			fc, ok := declared[c]
			if c.typ != "link" || c.linkID != "" || !ok {
				continue
			}
			other := b.table(fc.Table)
			if other == nil {
				return nil, fmt.Errorf("column %q: no table %q", fc.Name, fc.Table)
			}
			l := &link{table1ID: t.id, table2ID: other.id, ab: map[string][]string{}, ba: map[string][]string{}}
			l.id = newShortID(func(s string) bool { return b.links[s] != nil })
			b.links[l.id] = l
			c.linkID, c.otherTableID = l.id, other.id
			if other == t {
				continue
			}
			var back *column
			for _, oc := range other.columns {
				if ofc, ok := declared[oc]; ok && oc.typ == "link" && oc.linkID == "" && ofc.Table == t.name {
					back = oc
					break
				}
			}
			if back == nil {
				back = other.addColumn(uniqueColumnName(other, t.name), "link")
			}
			back.linkID, back.otherTableID = l.id, t.id
		}
	}
	now := e.now().In(e.zone)
	for i, ft := range fb.Tables {
		t := b.tables[i]
		for _, cells := range ft.Rows {
			cells = resolveDates(t, cells, now)
			prep, err := t.prepareCells(cells, strictWrite, false)
			if err != nil {
				return nil, err
			}
			r := &row{id: newRowID(), ctime: now, mtime: now, creator: EditUser, lastModifier: EditUser, cells: map[string]any{}}
			t.apply(r, prep)
			t.rows[r.id] = r
			t.order = append(t.order, r.id)
		}
	}
	return b, nil
}

// resolveDates returns cells with the relative dates of date columns
// ("today-3d") resolved on now's day; cells itself is not modified.
func resolveDates(t *table, cells map[string]any, now time.Time) map[string]any {
	out := make(map[string]any, len(cells))
	for k, v := range cells {
		if c := t.column(k); c != nil && c.typ == "date" {
			v = resolveRelativeDate(v, now)
		}
		out[k] = v
	}
	return out
}

func uniqueColumnName(t *table, name string) string {
	n := name
	for i := 2; t.column(n) != nil; i++ {
		n = fmt.Sprintf("%s %d", name, i)
	}
	return n
}

// Bases lists the loaded bases in load order.
func (e *Emulator) Bases() []BaseInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]BaseInfo, len(e.bases))
	for i, b := range e.bases {
		out[i] = BaseInfo{Name: b.name, UUID: b.uuid, APIToken: b.apiToken}
	}
	return out
}

// PrintBases writes one JSON line per base:
// {"base":…,"base_uuid":…,"api_token":…,"server_url":…,"account_token":…}
// (the account token of the account API, the same for every base).
func (e *Emulator) PrintBases(w io.Writer, serverURL string) error {
	for _, b := range e.Bases() {
		line, err := json.Marshal(struct {
			Base         string `json:"base"`
			BaseUUID     string `json:"base_uuid"`
			APIToken     string `json:"api_token"`
			ServerURL    string `json:"server_url"`
			AccountToken string `json:"account_token"`
		}{b.Name, b.UUID, b.APIToken, strings.TrimRight(serverURL, "/"), e.accountToken})
		if err != nil {
			return fmt.Errorf("print bases: %w", err)
		}
		if _, err := fmt.Fprintf(w, "%s\n", line); err != nil {
			return fmt.Errorf("print bases: %w", err)
		}
	}
	return nil
}

// baseByRef finds a base by name or uuid (with or without dashes).
// Callers hold e.mu.
func (e *Emulator) baseByRef(ref string) *base {
	if u, ok := normalizeUUID(ref); ok {
		if b := e.byUUID[u]; b != nil {
			return b
		}
	}
	for _, b := range e.bases {
		if b.name == ref {
			return b
		}
	}
	return nil
}

const gatewayPrefix = "/api-gateway/api/v2/dtables/"

// ServeHTTP serves the token exchange, the api-gateway base operations
// and the /_emulator/ endpoints.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, gatewayPrefix):
		e.serveGateway(w, r)
	case p == "/api/v2.1/dtable/app-access-token/" || p == "/api/v2.1/dtable/app-access-token":
		if r.Method != http.MethodGet {
			writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error_msg": "Method not allowed."})
			return
		}
		e.serveTokenExchange(w, r)
	case strings.HasPrefix(p, accountPrefix):
		e.serveAccount(w, r)
	case p == "/_emulator/stats":
		writeJSON(w, http.StatusOK, e.Stats())
	case p == "/_emulator/rows":
		e.serveRows(w, r)
	case p == "/_emulator/edit":
		e.serveEdit(w, r)
	case p == "/ping/" || p == "/api2/ping/":
		writeJSON(w, http.StatusOK, "pong")
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error_msg": "Not found."})
	}
}

// writeJSON writes v as the JSON body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error_msg":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
