package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/seaflow/seaflow/history"
	"github.com/seaflow/seaflow/queue"
	"github.com/seaflow/seaflow/statuspage"
)

func init() {
	commands["events"] = command{summary: "list the event history of a running daemon, or show one event with its ops' fates (events [--rule R] [--status failed] [--row ID] | events show ID)", run: runEvents}
}

// EventItem is one event of the history: its record, its status and the
// sequence of its record (the cursor of GET /api/events?before=).
type EventItem struct {
	Seq    uint64 `json:"seq"`
	Status string `json:"status"`
	history.Event
}

// EventsPage is the answer of GET /api/events: events newest first.
type EventsPage struct {
	Events []EventItem `json:"events"`
	// Next is the before of the next page; 0 (omitted) when there is none.
	Next uint64 `json:"next,omitempty"`
	// HiddenEchoes counts the echoes left out among the records read
	// (echoes=1 shows them).
	HiddenEchoes int `json:"hidden_echoes,omitempty"`
}

// EventDetail is the answer of GET /api/events/{id}: the event and the
// latest fate of each of its ops.
type EventDetail struct {
	EventItem
	// Ops are the fates of its ops, at most queue.MaxFates; OpsTotal counts
	// them all.
	Ops      []history.Fate `json:"ops"`
	OpsTotal int            `json:"ops_total"`
}

// serveEvents answers GET /api/events?rule=&status=&base=&table=&row=&echoes=1&limit=&before=.
func (d *daemon) serveEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := history.Filter{Rule: q.Get("rule"), Status: q.Get("status"), Base: q.Get("base"), Table: q.Get("table"), Row: q.Get("row"), Echoes: q.Get("echoes") == "1" || q.Get("echoes") == "true"}
	if f.Status != "" && !slices.Contains(history.Statuses, f.Status) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("status must be one of %s", strings.Join(history.Statuses, ", "))})
		return
	}
	limit, before := 50, uint64(0)
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 1000 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "limit must be from 1 to 1000"})
			return
		}
		limit = n
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "before must be a sequence number"})
			return
		}
		before = n
	}
	page, err := d.q.History(r.Context(), f, before, limit)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		return
	}
	out := EventsPage{Events: make([]EventItem, 0, len(page.Items)), Next: page.Next, HiddenEchoes: page.HiddenEchoes}
	for _, it := range page.Items {
		out.Events = append(out.Events, EventItem{Seq: it.Seq, Status: it.Status, Event: it.Event})
	}
	writeJSON(w, http.StatusOK, out)
}

// serveEvent answers GET /api/events/{id}.
func (d *daemon) serveEvent(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	it, fates, total, err := d.q.HistoryEvent(r.Context(), id)
	if errors.Is(err, queue.ErrNoHistory) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no event %q in the history (never handled, or older than history.retention)", id)})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		return
	}
	if fates == nil {
		fates = []history.Fate{}
	}
	writeJSON(w, http.StatusOK, EventDetail{EventItem: EventItem{Seq: it.Seq, Status: it.Status, Event: it.Event}, Ops: fates, OpsTotal: total})
}

func runEvents(ctx context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("events")
	api := addAPIFlags(fs)
	rule := fs.String("rule", "", "only events this rule matched, failed on or was stopped for")
	status := fs.String("status", "", "only events of this status: "+strings.Join(history.Statuses, ", "))
	base := fs.String("base", "", "only events of this base (the event's or one its ops target)")
	table := fs.String("table", "", "only events of this table")
	row := fs.String("row", "", "only events of this row id")
	echoes := fs.Bool("echoes", false, "show echoes too (the webhooks of seaflow's own writes)")
	limit := fs.Int("limit", 50, "how many events, newest first (at most 1000)")
	before := fs.Uint64("before", 0, "only events recorded before this sequence (the next page)")
	asJSON := fs.Bool("json", false, "print the daemon's JSON answer")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if len(rest) > 0 && rest[0] == "show" {
		if len(rest) != 2 {
			return usagef("seaflow events, for the event ids", "events show needs one event id: seaflow events show ID")
		}
		var ev EventDetail
		raw, err := api.getJSON(ctx, "/api/events/"+url.PathEscape(rest[1]), &ev)
		if err != nil {
			return fmt.Errorf("events show: %w", err)
		}
		if *asJSON {
			_, err := m.Stdout.Write(raw)
			return err
		}
		printEvent(m.Stdout, ev)
		return nil
	}
	if len(rest) > 0 {
		return usagef("seaflow events --help", "events: unknown argument %q (want flags, or show ID)", rest[0])
	}
	q := url.Values{"limit": {strconv.Itoa(*limit)}}
	for k, v := range map[string]string{"rule": *rule, "status": *status, "base": *base, "table": *table, "row": *row} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if *echoes {
		q.Set("echoes", "1")
	}
	if *before > 0 {
		q.Set("before", strconv.FormatUint(*before, 10))
	}
	var page EventsPage
	raw, err := api.getJSON(ctx, "/api/events?"+q.Encode(), &page)
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	if *asJSON {
		_, err := m.Stdout.Write(raw)
		return err
	}
	printEvents(m.Stdout, page)
	return nil
}

// printEvents renders a page of the history as a table.
func printEvents(w io.Writer, page EventsPage) {
	if len(page.Events) == 0 {
		fmt.Fprintln(w, "no events")
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tSTATUS\tSOURCE\tNAME\tMATCHED\tOPS\tERROR\tEVENT")
		for _, e := range page.Events {
			src := e.Source
			if e.Self {
				src += " (echo)"
			}
			matched, ops, errs := eventRules(e.Event)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.Time.Format(time.RFC3339), e.Status, src, e.Name, matched, ops, errs, e.EventID)
		}
		_ = tw.Flush()
	}
	if page.HiddenEchoes > 0 {
		fmt.Fprintf(w, "%d echoes hidden (seaflow's own writes reported back); --echoes shows them\n", page.HiddenEchoes)
	}
	if page.Next != 0 {
		fmt.Fprintf(w, "more with --before %d\n", page.Next)
	}
}

// eventRules sums up a stored event's rules as traceRules does.
func eventRules(e history.Event) (matched string, ops int, errs string) {
	rules := make([]statuspage.RuleStatus, len(e.Rules))
	for i, r := range e.Rules {
		rules[i] = statuspage.RuleStatus(r)
	}
	return summariseRules(e.Error, rules)
}

// printEvent renders one event: what it was, each rule's part and each
// op's fate.
func printEvent(w io.Writer, ev EventDetail) {
	e := ev.Event
	fmt.Fprintf(w, "event %s: %s\n", e.EventID, ev.Status)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	src := e.Source
	if e.Self {
		src += " (echo: seaflow's own write reported back)"
	}
	fmt.Fprintf(tw, "source\t%s %s\n", src, e.Name)
	fmt.Fprintf(tw, "handled\t%s (took %s)\n", e.Time.Format(time.RFC3339), e.Took)
	if e.Base != "" {
		fmt.Fprintf(tw, "row\t%s / %s / %s\n", e.Base, e.Table, e.RowID)
	}
	if e.Error != "" {
		fmt.Fprintf(tw, "error\t%s\n", e.Error)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "\nRULES")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tWHEN\tOPS\tNOTE")
	for _, r := range e.Rules {
		note := r.Error
		if r.Stopped != "" {
			note = "stopped: " + r.Stopped
		}
		fmt.Fprintf(tw, "%s\t%v\t%d\t%s\n", r.Rule, r.When, r.Ops, note)
	}
	_ = tw.Flush()
	if len(ev.Ops) == 0 {
		return
	}
	fmt.Fprintf(w, "\nOPS (%d of %d)\n", len(ev.Ops), ev.OpsTotal)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tKIND\tTARGET\tFATE\tCALL\tVALUES")
	for _, f := range ev.Ops {
		target := f.Base + "/" + f.Table
		if f.RowID != "" {
			target += "/" + f.RowID
		}
		fateText := f.Fate
		if f.Reason != "" {
			fateText += ": " + f.Reason
		}
		call := f.Call
		if call != "" {
			call = fmt.Sprintf("%s (%d rows)", f.Call, f.CallRows)
		}
		values := ""
		if len(f.Values) > 0 {
			values = compactJSON(f.Values)
		}
		if f.SQL != "" {
			values = f.SQL
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Rule, f.Kind, target, fateText, call, values)
	}
	_ = tw.Flush()
}
