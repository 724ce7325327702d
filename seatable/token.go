package seatable

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// Base tokens live three days. The client treats the JWT as opaque and
// refreshes it tokenRefreshMargin before obtained-at + tokenLifetime.
const (
	tokenLifetime      = 72 * time.Hour
	tokenRefreshMargin = time.Hour
)

// tokenEndpoint is the API-token → base-token exchange on dtable-web. It is
// also the Call.Endpoint reported for the exchange.
const tokenEndpoint = "/api/v2.1/dtable/app-access-token/"

// opExchange is the Op of errors and Calls of the token exchange.
const opExchange = "token exchange"

// KnownBaseUUID returns the uuid of the client's base as the last token
// exchange reported it, without calling SeaTable; ok is false before the
// first exchange succeeded.
func (c *Client) KnownBaseUUID() (uuid string, ok bool) {
	c.tok.mu.Lock()
	defer c.tok.mu.Unlock()
	return c.tok.tok.uuid, c.tok.tok.uuid != ""
}

// BaseUUID returns the uuid of the client's base as the token exchange
// reports it (36 characters with dashes), exchanging the API token first if
// no valid base token is cached.
func (c *Client) BaseUUID(ctx context.Context) (string, error) {
	t, err := c.baseToken(ctx, opExchange)
	if err != nil {
		return "", err
	}
	return t.uuid, nil
}

// BaseInfo is what the token exchange says about the client's base.
type BaseInfo struct {
	// UUID is the base's uuid, 36 characters with dashes.
	UUID string
	// Name is the base's name (dtable_name); "" when the server omits it.
	Name string
	// WorkspaceID is the workspace the base is in; 0 when the server
	// omits it. With Name it addresses the base in the account API.
	WorkspaceID int
	// AppName is the API token's app name.
	AppName string
}

// Info returns what the token exchange reports about the base, exchanging
// the API token first if no valid base token is cached.
func (c *Client) Info(ctx context.Context) (BaseInfo, error) {
	t, err := c.baseToken(ctx, opExchange)
	if err != nil {
		return BaseInfo{}, err
	}
	return t.info, nil
}

// baseToken returns a valid base token. While one exchange runs, every
// other caller waits for its result instead of starting another. The
// exchange itself runs detached from the caller's cancellation (bounded by
// the client timeout), so one caller giving up does not fail the others.
func (c *Client) baseToken(ctx context.Context, op string) (baseToken, error) {
	tc := &c.tok
	tc.mu.Lock()
	if tc.tok.token != "" && c.now().Before(tc.tok.refreshAt) {
		t := tc.tok
		tc.mu.Unlock()
		return t, nil
	}
	ex := tc.inflight
	if ex == nil {
		ex = &exchange{done: make(chan struct{})}
		tc.inflight = ex
		go c.runExchange(context.WithoutCancel(ctx), ex)
	} else if tc.joined != nil {
		tc.joined()
	}
	tc.mu.Unlock()

	select {
	case <-ex.done:
	case <-ctx.Done():
		return baseToken{}, &Error{Kind: KindTransient, Op: op, Message: "waiting for token exchange: " + ctx.Err().Error(), Err: ctx.Err()}
	}
	if ex.err != nil {
		return baseToken{}, ex.err
	}
	return ex.tok, nil
}

// runExchange performs ex, stores its result in the cache and wakes the
// waiters.
func (c *Client) runExchange(ctx context.Context, ex *exchange) {
	ex.tok, ex.err = c.exchangeToken(ctx)
	tc := &c.tok
	tc.mu.Lock()
	if ex.err == nil {
		tc.tok = ex.tok
	}
	tc.inflight = nil
	tc.mu.Unlock()
	close(ex.done)
}

// tokenResponse is the part of the exchange response the client uses.
// Every other field (dtable_server, use_api_gateway, ...) is optional and
// ignored.
type tokenResponse struct {
	AccessToken *string `json:"access_token"`
	DTableUUID  *string `json:"dtable_uuid"`
	// Optional: what Client.Info reports (workspace_id is an int in 6.0).
	DTableName  string `json:"dtable_name"`
	AppName     string `json:"app_name"`
	WorkspaceID any    `json:"workspace_id"`
}

func (r *tokenResponse) validate() error {
	if r.AccessToken == nil || *r.AccessToken == "" {
		return errString("response has no access_token")
	}
	if r.DTableUUID == nil || *r.DTableUUID == "" {
		return errString("response has no dtable_uuid")
	}
	return nil
}

// exchangeToken trades the API token for a base token.
func (c *Client) exchangeToken(ctx context.Context) (baseToken, error) {
	if c.apiTok == "" {
		return baseToken{}, &Error{Kind: KindAuth, Op: opExchange, Message: errNoAPIToken.Error(), Err: errNoAPIToken}
	}
	refund, err := c.admit(ctx, GateRequest{Op: opExchange, Exchange: true})
	if err != nil {
		return baseToken{}, err
	}
	obtained := c.now()
	resp, err := c.send(ctx, opExchange, "GET", c.server+tokenEndpoint, tokenEndpoint, "Token "+c.apiTok, nil, 0)
	if err != nil {
		refundUnsent(refund, err)
		return baseToken{}, err
	}
	var tr tokenResponse
	err = c.classify(opExchange, resp, &tr, "")
	c.report(resp.call)
	if err != nil {
		return baseToken{}, err
	}
	uuid := strings.TrimSpace(*tr.DTableUUID)
	wid := 0
	switch v := tr.WorkspaceID.(type) {
	case float64:
		wid = int(v)
	case string:
		wid, _ = strconv.Atoi(v)
	}
	return baseToken{
		token:     *tr.AccessToken,
		uuid:      uuid,
		refreshAt: obtained.Add(tokenLifetime - tokenRefreshMargin),
		info:      BaseInfo{UUID: uuid, Name: tr.DTableName, WorkspaceID: wid, AppName: tr.AppName},
	}, nil
}

// errString is a constant error message.
type errString string

func (e errString) Error() string { return string(e) }
