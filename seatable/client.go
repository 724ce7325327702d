// Package seatable is seaflow's client for the SeaTable REST API: token
// exchange and refresh, rows, links, SQL and metadata through the API
// gateway, error classification into kinds, rate-limit header feedback, and
// SeaTable's webhook format.
package seatable

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTimeout bounds one HTTP call when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// maxResponseBytes bounds how much of a response body the client reads. A
// full SQL page of 10,000 wide rows stays far below it.
const maxResponseBytes = 256 << 20

// defaultHTTPClient is shared by every Client whose Config has no
// HTTPClient. Per-call deadlines come from contexts, not Client.Timeout.
var defaultHTTPClient = &http.Client{}

// Config configures a Client.
type Config struct {
	// ServerURL is the SeaTable server, e.g. https://cloud.seatable.io. A
	// trailing slash is ignored; a path prefix is kept.
	ServerURL string
	// APIToken is the 40-character API token of one base. It is sent only
	// to the token exchange and never appears in errors.
	APIToken string
	// HTTPClient sends the requests; nil means a package-wide default
	// client. It may be shared by many Clients.
	HTTPClient *http.Client
	// Timeout bounds each HTTP call (including reading the response); zero
	// means DefaultTimeout (30 s). The caller's context still applies.
	Timeout time.Duration
	// Now returns the current time; nil means time.Now. It decides when the
	// base token is refreshed and measures Call.Duration.
	Now func() time.Time
	// Observe, when set, is called after every HTTP response or transport
	// failure, including the token exchange, from the calling goroutine. It
	// must be safe for concurrent use and should return quickly.
	Observe func(Call)
	// Gate, when set, admits every request before it is sent: the token
	// exchange always, API gateway calls unless their context carries a
	// Gate of its own (WithGate). Nil admits everything.
	Gate Gate
}

// Client talks to one SeaTable base through the API gateway
// ({server}/api-gateway/api/v2/dtables/{uuid}/...). A Client is safe for
// concurrent use.
//
// seaflow supports only servers that have the API gateway (SeaTable 4.4 and
// later; the dtable-server and dtable-db paths were removed in 6.0). The
// token exchange's use_api_gateway flag is therefore ignored: base
// operations always go to the gateway, even when an old server reports
// false or omits the flag.
type Client struct {
	server  string
	apiTok  string
	http    *http.Client
	timeout time.Duration
	now     func() time.Time
	observe func(Call)
	gate    Gate

	tok tokenCache
}

// New returns a Client for the base whose API token cfg carries. No call is
// made until the first method needs the base token.
func New(cfg Config) *Client {
	c := &Client{
		server:  strings.TrimRight(cfg.ServerURL, "/"),
		apiTok:  cfg.APIToken,
		http:    cfg.HTTPClient,
		timeout: cfg.Timeout,
		now:     cfg.Now,
		observe: cfg.Observe,
		gate:    cfg.Gate,
	}
	if c.http == nil {
		c.http = defaultHTTPClient
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// request is one base operation: a call to the API gateway relative to
// /api-gateway/api/v2/dtables/{uuid}.
type request struct {
	op       string     // client operation for errors and Call.Op
	method   string     // HTTP method
	endpoint string     // path relative to the base, e.g. "/rows/"
	query    url.Values // query parameters, may be nil
	body     any        // JSON request body, nil for none
	rows     int        // rows carried by the request
}

// rowCounter is implemented by response types that carry rows, so Call.Rows
// reports them for reads.
type rowCounter interface{ rowCount() int }

// do sends a base operation and decodes a 2xx response into out. On a 401
// or 403 it exchanges the API token again, once, and retries. A 403 that
// the fresh token gets too (and that does not say "Token expired.") is
// KindPermission, and the token is marked: its later 403s are permission
// errors at once, without another exchange, so a read-only token cannot
// make the client exchange in a loop.
func (c *Client) do(ctx context.Context, r request, out any) error {
	var payload []byte
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return &Error{Kind: KindInvalid, Op: r.op, Message: "encode request: " + err.Error(), Err: err}
		}
		payload = b
	}
	for attempt := 0; ; attempt++ {
		t, err := c.baseToken(ctx, r.op)
		if err != nil {
			return unsent(err) // the operation itself was not sent
		}
		u := c.server + "/api-gateway/api/v2/dtables/" + url.PathEscape(t.uuid) + r.endpoint
		if len(r.query) > 0 {
			u += "?" + r.query.Encode()
		}
		refund, err := c.admit(ctx, GateRequest{Op: r.op, Retry: attempt > 0})
		if err != nil {
			return err
		}
		resp, err := c.send(ctx, r.op, r.method, u, r.endpoint, "Bearer "+t.token, payload, r.rows)
		if err != nil {
			refundUnsent(refund, err)
			return err
		}
		refused := resp.status == http.StatusForbidden && errorMessage(resp.body) != tokenExpired
		if refused && attempt > 0 {
			c.tok.markRefused(t.token)
		}
		retry := resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden
		if retry && attempt == 0 && !(refused && c.tok.refused(t.token)) {
			c.report(resp.call)
			c.tok.invalidate(t.token)
			continue
		}
		err = c.classify(r.op, resp, out, t.token)
		if refused {
			if se, ok := err.(*Error); ok {
				se.Kind = KindPermission
			}
		}
		if rc, ok := out.(rowCounter); ok && err == nil && resp.call.Rows == 0 {
			resp.call.Rows = rc.rowCount()
		}
		c.report(resp.call)
		return err
	}
}

// response is what send read from the server.
type response struct {
	status int
	header http.Header
	body   []byte
	call   Call // reported by the caller once the body is classified
}

// send makes one HTTP call. A transport failure is reported to Observe and
// returned as a KindTransient *Error; an HTTP response is returned for
// classification, and the caller reports resp.call.
func (c *Client) send(ctx context.Context, op, method, rawURL, endpoint, auth string, payload []byte, rows int) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Op: op, Message: c.redact("build request: "+err.Error(), ""), Err: err}
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	// Whether the request was written whole tells a failure SeaTable never
	// saw (no cost, no change) from one whose outcome is unknown.
	var wrote atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) { wrote.Store(info.Err == nil) },
	}))
	start := c.now()
	res, err := c.http.Do(req)
	if err != nil {
		unsent := !wrote.Load()
		c.report(Call{Op: op, Method: method, Endpoint: endpoint, Rows: rows, Duration: c.now().Sub(start), Unsent: unsent, Exchange: op == opExchange, Shares: SharesFrom(ctx)})
		e := c.transportError(op, err, "")
		e.Unsent = unsent
		return nil, e
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes+1))
	res.Body.Close()
	call := Call{Op: op, Method: method, Endpoint: endpoint, Status: res.StatusCode, Rows: rows, Duration: c.now().Sub(start), Exchange: op == opExchange, Shares: SharesFrom(ctx)}
	if rl, ok := ParseRateLimit(res.Header); ok {
		call.Limit = rl
	}
	if err != nil {
		c.report(call)
		return nil, c.transportError(op, fmt.Errorf("read response: %w", err), "")
	}
	if len(b) > maxResponseBytes {
		c.report(call)
		return nil, &Error{Kind: KindTransient, Op: op, Status: res.StatusCode, Message: fmt.Sprintf("response larger than %d bytes", maxResponseBytes)}
	}
	return &response{status: res.StatusCode, header: res.Header, body: b, call: call}, nil
}

func (c *Client) report(call Call) {
	if c.observe != nil {
		c.observe(call)
	}
}

// transportError classifies a failure to get a response: timeouts,
// cancellations and connection errors are all KindTransient. The
// underlying error stays reachable through errors.Is/As (so
// errors.Is(err, context.Canceled) works).
func (c *Client) transportError(op string, err error, baseTok string) *Error {
	return &Error{Kind: KindTransient, Op: op, Message: c.redact(err.Error(), baseTok), Err: err}
}

// classify turns an HTTP response into nil (after decoding a 2xx body into
// out) or a *Error of the right kind.
func (c *Client) classify(op string, r *response, out any, baseTok string) error {
	switch {
	case r.status/100 == 2:
		if out == nil {
			return nil
		}
		if err := decodeResponse(r.body, out); err != nil {
			var refused refusedError
			if errors.As(err, &refused) {
				return &Error{Kind: KindInvalid, Op: op, Status: r.status, Message: c.redact(string(refused), baseTok)}
			}
			return &Error{Kind: KindTransient, Op: op, Status: r.status, Message: c.redact(err.Error(), baseTok)}
		}
		return nil
	case r.status == http.StatusTooManyRequests:
		e := &Error{Kind: KindRateLimited, Op: op, Status: r.status, Message: c.redact(errorMessage(r.body), baseTok)}
		e.ResetAt = resetAt(r.header, c.now())
		return e
	case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden:
		return &Error{Kind: KindAuth, Op: op, Status: r.status, Message: c.redact(errorMessage(r.body), baseTok)}
	case r.status/100 == 4:
		return &Error{Kind: KindInvalid, Op: op, Status: r.status, Message: c.redact(errorMessage(r.body), baseTok)}
	default:
		// 5xx, and anything unexpected (1xx, an unfollowed 3xx).
		return &Error{Kind: KindTransient, Op: op, Status: r.status, Message: c.redact(errorMessage(r.body), baseTok)}
	}
}

// redact removes the API token and the given base token from s, so no
// error text can leak a secret even when a server echoes one back.
func (c *Client) redact(s, baseTok string) string {
	if c.apiTok != "" {
		s = strings.ReplaceAll(s, c.apiTok, "[redacted]")
	}
	if baseTok != "" {
		s = strings.ReplaceAll(s, baseTok, "[redacted]")
	}
	if cur := c.tok.current(); cur != "" {
		s = strings.ReplaceAll(s, cur, "[redacted]")
	}
	return s
}

// invalidArg is the error for a call the client refuses to send.
func invalidArg(op, msg string) error {
	return &Error{Kind: KindInvalid, Op: op, Message: msg}
}

// tokenExpired is the message of a 403 for an expired base token (the
// pair the Python SDK keys on).
const tokenExpired = "Token expired."

// tokenCache holds the base token and runs at most one exchange at a time;
// callers that need a token while an exchange runs wait for its result.
type tokenCache struct {
	mu  sync.Mutex
	tok baseToken
	// refusedTok is a base token that got a 403 right after its exchange:
	// its 403s are permission errors, not staleness.
	refusedTok string
	inflight   *exchange
	// joined, when set (by tests), is called when a caller starts waiting
	// for an exchange another caller started.
	joined func()
}

// baseToken is an exchanged base token and where it is valid.
type baseToken struct {
	token     string
	uuid      string
	refreshAt time.Time
	info      BaseInfo
}

// exchange is one token exchange in flight.
type exchange struct {
	done chan struct{}
	tok  baseToken
	err  error
}

// markRefused notes that tok, fresh from an exchange, got a 403.
func (tc *tokenCache) markRefused(tok string) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	tc.refusedTok = tok
}

// refused reports whether tok got a 403 fresh from its exchange.
func (tc *tokenCache) refused(tok string) bool {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tok != "" && tc.refusedTok == tok
}

func (tc *tokenCache) current() string {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.tok.token
}

// invalidate forgets the cached token if it is still bad; a token another
// caller already replaced is kept.
func (tc *tokenCache) invalidate(bad string) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.tok.token == bad {
		tc.tok = baseToken{}
	}
}

var errNoAPIToken = errors.New("no API token configured")

// refundUnsent calls refund when err says the request never reached
// SeaTable.
func refundUnsent(refund func(), err error) {
	if refund != nil && Unsent(err) {
		refund()
	}
}

// unsent marks an error of an operation that never left the process.
func unsent(err error) error {
	var e *Error
	if errors.As(err, &e) {
		c := *e
		c.Unsent = true
		return &c
	}
	return err
}
