// Command loadgen posts signed SeaTable webhooks to a running seaflow
// daemon over K concurrent connections for D seconds and reports the
// accepted events per second and the latency percentiles of the answers.
//
//	loadgen -url http://127.0.0.1:8080/hooks/crm -secret S -base-uuid U \
//	        -table Deals -rows ROWID1,ROWID2 -conns 32 -duration 10s
//
// Every request is a distinct SeaTable row event (its op_time differs), so
// seaflow stores each as its own event. The report is one line of text,
// or one JSON object with -json.
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// config is what the flags set.
type config struct {
	URL      string
	Secret   string
	BaseUUID string
	Table    string
	Rows     []string
	Conns    int
	Duration time.Duration
	Timeout  time.Duration
	JSON     bool
}

// Report is the result of a run.
type Report struct {
	Conns    int     `json:"conns"`
	Seconds  float64 `json:"seconds"`
	Sent     int     `json:"sent"`
	Accepted int     `json:"accepted"`
	// Refused counts answers other than 202; Errors transport errors.
	Refused   int            `json:"refused"`
	Errors    int            `json:"errors"`
	Statuses  map[string]int `json:"statuses"`
	PerSecond float64        `json:"accepted_per_second"`
	// Latencies of every answered request, in milliseconds.
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	rep, err := run(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	if cfg.JSON {
		b, _ := json.Marshal(rep)
		fmt.Println(string(b))
		return
	}
	fmt.Println(rep.String())
}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:8080/hooks/crm", "the webhook URL of the daemon")
	fs.StringVar(&cfg.Secret, "secret", "", "the SeaTable webhook secret (X-SeaTable-Signature)")
	fs.StringVar(&cfg.BaseUUID, "base-uuid", "", "dtable_uuid of the events")
	fs.StringVar(&cfg.Table, "table", "Deals", "table_name of the events")
	rows := fs.String("rows", "", "comma-separated row ids the events name, in turn")
	fs.IntVar(&cfg.Conns, "conns", 32, "concurrent connections")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to send")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "timeout of one request")
	fs.BoolVar(&cfg.JSON, "json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	for _, r := range strings.Split(*rows, ",") {
		if r = strings.TrimSpace(r); r != "" {
			cfg.Rows = append(cfg.Rows, r)
		}
	}
	switch {
	case cfg.Secret == "":
		return cfg, errors.New("-secret is required")
	case cfg.BaseUUID == "":
		return cfg, errors.New("-base-uuid is required")
	case len(cfg.Rows) == 0:
		return cfg, errors.New("-rows is required")
	case cfg.Conns <= 0 || cfg.Duration <= 0:
		return cfg, errors.New("-conns and -duration must be positive")
	}
	return cfg, nil
}

// event returns the n-th webhook body: a modify_row event of one of rows
// whose op_time is unique to n, so its derived event id is unique. Its
// new cell value is unique to the run (start) and n: an event repeating a
// value seaflow wrote to the row, and whose echo is still awaited, would be
// taken for that echo, and its rules would rightly not run.
func event(baseUUID, table string, rows []string, start time.Time, n int64) []byte {
	body := map[string]any{
		"event": "update",
		"data": map[string]any{
			"dtable_uuid": strings.ReplaceAll(baseUUID, "-", ""),
			"row_id":      rows[int(n)%len(rows)],
			"op_user":     "loadgen@auth.local",
			"op_type":     "modify_row",
			"op_time":     float64(start.UnixMilli())/1000 + float64(n)/1e6,
			"table_id":    "0000",
			"table_name":  table,
			"row_name":    fmt.Sprintf("load %d", n),
			"row_data": []any{map[string]any{
				"column_key":  "0001",
				"column_name": "Note",
				"column_type": "text",
				"value":       fmt.Sprintf("n%d-%d", start.UnixMilli(), n),
				"old_value":   nil,
			}},
		},
	}
	b, _ := json.Marshal(body)
	return b
}

// sign is the X-SeaTable-Signature of body.
func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// run sends for cfg.Duration from cfg.Conns goroutines, one connection each.
func run(ctx context.Context, cfg config) (Report, error) {
	tr := &http.Transport{
		MaxConnsPerHost:     cfg.Conns,
		MaxIdleConns:        cfg.Conns,
		MaxIdleConnsPerHost: cfg.Conns,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: cfg.Timeout}

	start := time.Now()
	ctx, cancel := context.WithDeadline(ctx, start.Add(cfg.Duration))
	defer cancel()
	var (
		next    atomic.Int64
		mu      sync.Mutex
		lat     []time.Duration
		rep     = Report{Conns: cfg.Conns, Statuses: map[string]int{}}
		wg      sync.WaitGroup
		lastErr atomic.Value
	)
	for range cfg.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			statuses := map[string]int{}
			sent, errs := 0, 0
			for ctx.Err() == nil {
				body := event(cfg.BaseUUID, cfg.Table, cfg.Rows, start, next.Add(1))
				req, err := http.NewRequest(http.MethodPost, cfg.URL, bytes.NewReader(body))
				if err != nil {
					lastErr.Store(err)
					errs++
					continue
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-SeaTable-Signature", sign(cfg.Secret, body))
				t0 := time.Now()
				resp, err := client.Do(req)
				sent++
				if err != nil {
					lastErr.Store(err)
					errs++
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mine = append(mine, time.Since(t0))
				statuses[fmt.Sprint(resp.StatusCode)]++
			}
			mu.Lock()
			defer mu.Unlock()
			lat = append(lat, mine...)
			rep.Sent += sent
			rep.Errors += errs
			for k, v := range statuses {
				rep.Statuses[k] += v
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	rep.Seconds = elapsed.Seconds()
	rep.Accepted = rep.Statuses["202"]
	rep.Refused = rep.Sent - rep.Errors - rep.Accepted
	rep.PerSecond = float64(rep.Accepted) / elapsed.Seconds()
	slices.Sort(lat)
	rep.P50Ms = ms(percentile(lat, 0.50))
	rep.P99Ms = ms(percentile(lat, 0.99))
	if len(lat) > 0 {
		rep.MaxMs = ms(lat[len(lat)-1])
	}
	if rep.Sent == 0 {
		err, _ := lastErr.Load().(error)
		return rep, fmt.Errorf("no request was sent: %v", err)
	}
	return rep, nil
}

// percentile returns the p-quantile (0..1) of sorted latencies, by the
// nearest-rank method; 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// String is the one-line text report.
func (r Report) String() string {
	return fmt.Sprintf("conns=%d seconds=%.1f sent=%d accepted=%d refused=%d errors=%d accepted/s=%.0f p50=%.2fms p99=%.2fms max=%.2fms",
		r.Conns, r.Seconds, r.Sent, r.Accepted, r.Refused, r.Errors, r.PerSecond, r.P50Ms, r.P99Ms, r.MaxMs)
}
