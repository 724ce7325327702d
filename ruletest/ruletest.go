package ruletest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/actions"
	"github.com/seaflow/seaflow/loopguard"
	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/runner"
	"github.com/seaflow/seaflow/seatable"
	"github.com/seaflow/seaflow/triggers"
)

// testFile is a rule test file; see the package documentation.
type testFile struct {
	Config string            `yaml:"config"`
	Env    map[string]string `yaml:"env"`
	Cases  []testCase        `yaml:"cases"`
}

type testCase struct {
	Name    string            `yaml:"name"`
	Now     string            `yaml:"now"`
	Webhook *webhookInput     `yaml:"webhook"`
	NATS    *natsInput        `yaml:"nats"`
	Cron    *cronInput        `yaml:"cron"`
	Rows    []map[string]any  `yaml:"rows"`
	Expect  *[]map[string]any `yaml:"expect"`
	// Error, when set, expects a rule to fail for the event with an error
	// containing it; otherwise any rule error fails the case.
	Error string `yaml:"error"`
	// Calls, when set, is how many SeaTable calls the case's ops plan into
	// (actions.Plan, the daemon's planner).
	Calls *int `yaml:"calls"`
	line  int
}

type webhookInput struct {
	Name    string            `yaml:"name"`
	ID      string            `yaml:"id"`
	Headers map[string]string `yaml:"headers"`
	Body    yaml.Node         `yaml:"body"`
	Self    bool              `yaml:"self"`
	Depth   int               `yaml:"depth"`
}

type natsInput struct {
	Subject string    `yaml:"subject"`
	ID      string    `yaml:"id"`
	Data    yaml.Node `yaml:"data"`
}

type cronInput struct {
	Rule string `yaml:"rule"`
	At   string `yaml:"at"`
}

// Run runs the rule test files at paths and writes a report to w in the
// style of go test: "--- PASS: NAME" or "--- FAIL: NAME" with a diff per
// case, then "ok" or "FAIL" per file. It needs no network: for_each rows
// come from the cases, and nothing is sent. failed counts failed cases,
// plus one per file that could not run; err joins the reasons files could
// not run (already written to w).
func Run(paths []string, w io.Writer) (failed int, err error) {
	var errs []error
	for _, p := range paths {
		n, ferr := runTestFile(p, w)
		failed += n
		if ferr != nil {
			fmt.Fprintf(w, "FAIL\t%s\n    %s\n", p, indent(ferr.Error()))
			errs = append(errs, fmt.Errorf("%s: %w", p, ferr))
			failed++
		}
	}
	return failed, errors.Join(errs...)
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n    ") }

func runTestFile(path string, w io.Writer) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read test file: %w", err)
	}
	var tf testFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&tf); err != nil {
		return 0, fmt.Errorf("parse test file: %w", err)
	}
	caseLines(data, tf.Cases)
	if tf.Config == "" {
		return 0, errors.New("no config: in test file")
	}
	cfgPath := tf.Config
	if !filepath.IsAbs(cfgPath) {
		cfgPath = filepath.Join(filepath.Dir(path), cfgPath)
	}
	cfg, err := rules.Load(cfgPath, func(k string) (string, bool) {
		v, ok := tf.Env[k]
		return v, ok
	})
	if err != nil {
		return 0, err
	}
	failed := 0
	for i := range tf.Cases {
		c := &tf.Cases[i]
		name := c.Name
		if name == "" {
			name = fmt.Sprintf("case-%d", i+1)
		}
		problems := runCase(cfg, c)
		if len(problems) == 0 {
			fmt.Fprintf(w, "--- PASS: %s\n", name)
			continue
		}
		failed++
		fmt.Fprintf(w, "--- FAIL: %s (%s:%d)\n", name, path, c.line)
		for _, p := range problems {
			fmt.Fprintf(w, "    %s\n", indent(p))
		}
	}
	if failed > 0 {
		fmt.Fprintf(w, "FAIL\t%s\t%d of %d cases failed\n", path, failed, len(tf.Cases))
	} else {
		fmt.Fprintf(w, "ok  \t%s\t%d cases\n", path, len(tf.Cases))
	}
	return failed, nil
}

// caseLines records each case's line, for failure messages.
func caseLines(data []byte, cases []testCase) {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return
	}
	top := root.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "cases" {
			continue
		}
		for j, c := range top.Content[i+1].Content {
			if j < len(cases) {
				cases[j].line = c.Line
			}
		}
	}
}

// runCase runs one case through the daemon's own path and returns what is
// wrong with it, if anything: a webhook case goes through the webhook
// intake (auth, decoding), every event through the runner (rule matching,
// the loop guard and its depth limit, evaluation, for_each), and the ops
// through the planner when the case counts calls.
func runCase(cfg *rules.Config, c *testCase) []string {
	if c.Expect == nil {
		return []string{"no expect: (write expect: [] for no ops)"}
	}
	inputs := 0
	for _, set := range []bool{c.Webhook != nil, c.NATS != nil, c.Cron != nil} {
		if set {
			inputs++
		}
	}
	if inputs != 1 {
		return []string{"want exactly one of webhook:, nats: and cron:"}
	}
	var now time.Time
	if c.Now != "" {
		t, err := time.Parse(time.RFC3339, c.Now)
		if err != nil {
			return []string{fmt.Sprintf("now: %v", err)}
		}
		now = t
	} else if c.Cron == nil {
		return []string{"no now: (the clock, RFC 3339)"}
	}
	ev, err := caseEvent(cfg, c, &now)
	if err != nil {
		return []string{err.Error()}
	}
	if c.Cron == nil && len(c.Rows) > 0 {
		return []string{"rows: only cron cases with a for_each rule take rows"}
	}
	if c.Cron != nil && len(c.Rows) > 0 {
		for _, r := range cfg.RuleSet().Match(&ev) {
			if r.ForEach() == nil {
				return []string{fmt.Sprintf("rows: given, but rule %q has no for_each", r.Name)}
			}
		}
	}

	clock := func() time.Time { return now }
	guard := loopguard.New(loopguard.Options{Store: &loopguard.MemoryStore{}, Now: clock})
	if in := c.Webhook; in != nil && (in.Self || in.Depth > 0) && ev.RowID != "" {
		// The event reports a write seaflow made at that depth: the loop
		// guard has its echo pending, as the daemon's would.
		w := loopguard.Write{Base: ev.Base, Table: ev.Table, RowID: ev.RowID, Kind: seaflow.KindUpdate, Values: ev.Row, Depth: in.Depth, Op: "test/" + c.Name}
		if ev.OpType == "delete_row" {
			w.Kind = seaflow.KindDelete
		}
		if err := guard.Expect(context.Background(), []loopguard.Write{w}); err != nil {
			return []string{"loop guard: " + err.Error()}
		}
		if len(ev.Row) == 0 && ev.OpType != "delete_row" {
			// No cells to match by: the case says what the guard would.
			ev.Self, ev.Depth = true, in.Depth
		}
	}
	pub := &capture{}
	var traces []runner.Trace
	run := runner.New(runner.Config{
		Rules:     cfg.RuleSet(),
		Publisher: pub,
		Guard:     guard,
		Breaker:   loopguard.NewBreaker(&loopguard.MemoryStore{}, 0, clock),
		OnTrace:   func(t runner.Trace) { traces = append(traces, t) },
		Now:       clock,
		Logger:    zerolog.Nop(),
	})
	if err := run.Handle(context.Background(), ev); err != nil {
		return []string{"runner: " + err.Error()}
	}
	ops, err := readPages(run, pub, c.Rows)
	if err != nil {
		return []string{"runner: " + err.Error()}
	}
	var problems, ruleErrs, stopped []string
	for _, tr := range traces {
		if tr.Error != "" {
			ruleErrs = append(ruleErrs, tr.Error)
		}
		for _, rt := range tr.Rules {
			if rt.Error != "" {
				ruleErrs = append(ruleErrs, rt.Error)
			}
			if rt.Stopped != "" {
				stopped = append(stopped, fmt.Sprintf("rule %q did not run: %s", rt.Rule, rt.Stopped))
			}
		}
	}
	switch {
	case c.Error != "":
		found := false
		for _, e := range ruleErrs {
			found = found || strings.Contains(e, c.Error)
		}
		if !found {
			problems = append(problems, fmt.Sprintf("want a rule error containing %q, got %q", c.Error, ruleErrs))
		}
	case len(ruleErrs) > 0:
		for _, e := range ruleErrs {
			problems = append(problems, "rule error: "+e)
		}
	}
	diff := diffOps(ops, *c.Expect)
	if len(diff) > 0 {
		problems = append(problems, stopped...)
	}
	problems = append(problems, diff...)
	if c.Calls != nil {
		calls := 0
		for _, b := range actions.Plan(ops) {
			calls += b.Calls()
		}
		if calls != *c.Calls {
			problems = append(problems, fmt.Sprintf("calls: the ops plan into %d SeaTable calls, want %d", calls, *c.Calls))
		}
	}
	return problems
}

// readPages does what the dispatcher does with the query ops the runner
// queued: each reads the case's rows, a page of seatable.MaxSQLRows at a
// time, and the runner evaluates each page as the daemon's does. It
// returns the other ops, in the order they were queued.
func readPages(run *runner.Runner, pub *capture, rows []map[string]any) ([]seaflow.Op, error) {
	var ops []seaflow.Op
	for len(pub.ops) > 0 {
		op := pub.ops[0]
		pub.ops = pub.ops[1:]
		if op.Kind != seaflow.KindQuery {
			ops = append(ops, op)
			continue
		}
		page := rows[min(op.Offset, len(rows)):min(op.Offset+seatable.MaxSQLRows, len(rows))]
		if len(page) == seatable.MaxSQLRows {
			pub.ops = append(pub.ops, runner.NextPage(op))
		}
		for _, ev := range runner.PageEvents(op, page) {
			if err := run.Handle(context.Background(), ev); err != nil {
				return nil, err
			}
		}
	}
	return ops, nil
}

// capture is the runner's publisher in a test: it keeps the ops instead of
// queuing them.
type capture struct{ ops []seaflow.Op }

func (c *capture) PublishOps(_ context.Context, ops []seaflow.Op) error {
	c.ops = append(c.ops, ops...)
	return nil
}

// caseEvent builds the case's event; a cron case without now: gets the
// scheduled time as its clock.
func caseEvent(cfg *rules.Config, c *testCase, now *time.Time) (seaflow.Event, error) {
	switch {
	case c.Webhook != nil:
		return webhookEvent(cfg, c, *now)
	case c.NATS != nil:
		data, err := nodeBytes(&c.NATS.Data)
		if err != nil {
			return seaflow.Event{}, fmt.Errorf("nats.data: %w", err)
		}
		id := c.NATS.ID
		if id == "" {
			id = "test/" + c.Name
		}
		return triggers.NATSEvent(c.NATS.Subject, id, data, *now)
	default:
		at, err := time.Parse(time.RFC3339, c.Cron.At)
		if err != nil {
			return seaflow.Event{}, fmt.Errorf("cron.at: %v", err)
		}
		found := false
		for _, r := range cfg.RuleSet().CronRules() {
			found = found || r.Name == c.Cron.Rule
		}
		if !found {
			return seaflow.Event{}, fmt.Errorf("cron.rule: no cron rule %q in the config", c.Cron.Rule)
		}
		if now.IsZero() {
			*now = at
		}
		return triggers.CronEvent(c.Cron.Rule, at), nil
	}
}

// webhookEvent sends the case's request through the daemon's webhook
// intake and returns the event it stored. Credentials in the case's
// headers are checked as the daemon checks them; a case that gives none
// is signed with the configured secret, so it tests the rules, not auth.
func webhookEvent(cfg *rules.Config, c *testCase, now time.Time) (seaflow.Event, error) {
	in := c.Webhook
	hook := cfg.Webhook(in.Name)
	if hook == nil {
		return seaflow.Event{}, fmt.Errorf("webhook: no webhook %q in the config", in.Name)
	}
	body, err := nodeBytes(&in.Body)
	if err != nil {
		return seaflow.Event{}, fmt.Errorf("webhook.body: %w", err)
	}
	req := httptest.NewRequest(http.MethodPost, hook.Path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range in.Headers {
		req.Header.Set(k, v)
	}
	if !hasCredentials(hook, req.Header) {
		sign(hook, req.Header, body)
	}
	id := in.ID
	if id == "" {
		id = "test/" + c.Name
	}
	if req.Header.Get("Idempotency-Key") == "" {
		req.Header.Set("Idempotency-Key", id)
	}
	sink := &eventSink{}
	rec := httptest.NewRecorder()
	triggers.NewWebhooks(cfg.Webhooks, sink, fixedClock(now), zerolog.Nop()).ServeHTTP(rec, req)
	if rec.Code != http.StatusAccepted || len(sink.events) != 1 {
		var answer struct{ Error string }
		_ = json.Unmarshal(rec.Body.Bytes(), &answer)
		return seaflow.Event{}, fmt.Errorf("webhook: the intake answers HTTP %d: %s", rec.Code, answer.Error)
	}
	return sink.events[0], nil
}

// hasCredentials reports whether hdr carries the header the webhook is
// authenticated by.
func hasCredentials(hook *rules.WebhookConfig, hdr http.Header) bool {
	switch {
	case hook.SeaTable != nil:
		return hdr.Get(seatable.SignatureHeader) != ""
	case hook.Token != "":
		return hdr.Get("Authorization") != ""
	case hook.HMAC != nil:
		return hdr.Get(hook.HMAC.Header) != ""
	}
	return true
}

// sign adds the credentials the webhook's sender would send.
func sign(hook *rules.WebhookConfig, hdr http.Header, body []byte) {
	switch {
	case hook.SeaTable != nil:
		hdr.Set(seatable.SignatureHeader, seatable.SignWebhook(hook.SeaTable.Secret, body))
	case hook.Token != "":
		hdr.Set("Authorization", "Bearer "+hook.Token)
	case hook.HMAC != nil:
		mac := hmac.New(sha256.New, []byte(hook.HMAC.Secret))
		mac.Write(body)
		hdr.Set(hook.HMAC.Header, "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
}

// eventSink keeps what the intake stores.
// eventSink keeps the events the intake stores, each as the runner reads
// it from the EVENTS stream: a SeaTable body stored undecoded is decoded
// the same way.
type eventSink struct{ events []seaflow.Event }

func (s *eventSink) Accept(_ context.Context, ev seaflow.Event) (bool, error) {
	seatable.ExpandWebhookEvent(&ev)
	s.events = append(s.events, ev)
	return false, nil
}

// fixedClock is a clock stopped at the case's now.
type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

func (c fixedClock) After(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- time.Time(c)
	return ch
}

// nodeBytes turns a YAML body into the bytes sent: a string as is, anything
// else as JSON.
func nodeBytes(n *yaml.Node) ([]byte, error) {
	if n.Kind == 0 {
		return nil, errors.New("missing")
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		return []byte(n.Value), nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// opFields are the fields an expected op may give (Op's JSON names).
var opFields = func() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeOf(seaflow.Op{})
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		m[name] = true
	}
	return m
}()

// diffOps compares ops with the expected ones, on the fields each expected
// op gives, and describes every difference.
func diffOps(got []seaflow.Op, want []map[string]any) []string {
	var out []string
	for i := 0; i < len(got) || i < len(want); i++ {
		switch {
		case i >= len(want):
			out = append(out, fmt.Sprintf("op[%d]: unexpected %s", i, compactJSON(got[i])))
		case i >= len(got):
			out = append(out, fmt.Sprintf("op[%d]: missing, want %s", i, compactJSON(want[i])))
		default:
			out = append(out, diffOp(i, got[i], want[i])...)
		}
	}
	return out
}

func diffOp(i int, got seaflow.Op, want map[string]any) []string {
	g := normalize(got).(map[string]any)
	w, _ := normalize(want).(map[string]any)
	var out []string
	for _, k := range slices.Sorted(maps.Keys(w)) {
		if !opFields[k] {
			out = append(out, fmt.Sprintf("op[%d].%s: not an op field", i, k))
			continue
		}
		if sameValue(g[k], w[k]) {
			continue
		}
		gm, gok := g[k].(map[string]any)
		wm, wok := w[k].(map[string]any)
		if !gok || !wok {
			out = append(out, fmt.Sprintf("op[%d].%s:\n    got:  %s\n    want: %s", i, k, compactJSON(g[k]), compactJSON(w[k])))
			continue
		}
		// Values and the like: name each differing column.
		keys := map[string]any{}
		for c := range gm {
			keys[c] = nil
		}
		for c := range wm {
			keys[c] = nil
		}
		for _, c := range slices.Sorted(maps.Keys(keys)) {
			gv, inG := gm[c]
			wv, inW := wm[c]
			switch {
			case !inW:
				out = append(out, fmt.Sprintf("op[%d].%s[%q]: got %s, want no value", i, k, c, compactJSON(gv)))
			case !inG:
				out = append(out, fmt.Sprintf("op[%d].%s[%q]: missing, want %s", i, k, c, compactJSON(wv)))
			case !sameValue(gv, wv):
				out = append(out, fmt.Sprintf("op[%d].%s[%q]: got %s, want %s", i, k, c, compactJSON(gv), compactJSON(wv)))
			}
		}
	}
	return out
}

// normalize turns v into its JSON form (maps, []any, float64, string, bool).
func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// sameValue compares JSON forms; strings that are both times compare as
// instants, so "2026-01-01T10:00:00+01:00" equals "2026-01-01T09:00:00Z".
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		if !ok {
			return false
		}
		if x == y {
			return true
		}
		tx, errx := time.Parse(time.RFC3339Nano, x)
		ty, erry := time.Parse(time.RFC3339Nano, y)
		return errx == nil && erry == nil && tx.Equal(ty)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
