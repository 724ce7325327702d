package seatable

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Account talks to SeaTable's account API (dtable-web, /api/v2.1/…) with
// an account token: the calls that manage a base rather than its rows,
// such as its webhooks. Those calls do not count against a base's
// api-gateway limits (they have their own, per user: 1,000 a minute on
// Cloud). An Account is safe for concurrent use.
type Account struct {
	c *Client // server, HTTP client, timeout, clock; apiTok is the account token, for redaction
}

// AccountConfig configures an Account.
type AccountConfig struct {
	// ServerURL is the SeaTable server, e.g. https://cloud.seatable.io.
	ServerURL string
	// Token is the 40-character account token (POST /api2/auth-token/).
	// It never appears in errors.
	Token string
	// HTTPClient, Timeout, Now and Observe are as in Config.
	HTTPClient *http.Client
	Timeout    time.Duration
	Now        func() time.Time
	Observe    func(Call)
}

// Webhook is one webhook of a base as the account API lists it.
type Webhook struct {
	// ID identifies the webhook in UpdateWebhook and DeleteWebhook.
	ID string
	// URL is where SeaTable sends the base's changes.
	URL string
	// Secret signs each delivery (X-SeaTable-Signature); "" for none.
	Secret string
}

// webhookJ is the JSON of a webhook: {id, dtable_uuid, url, creator,
// created_at, settings: {secret}}.
type webhookJ struct {
	ID       any    `json:"id"`
	URL      string `json:"url"`
	Settings struct {
		Secret any `json:"secret"`
	} `json:"settings"`
}

func (w webhookJ) webhook() Webhook {
	h := Webhook{ID: idString(w.ID), URL: w.URL}
	if s, ok := w.Settings.Secret.(string); ok {
		h.Secret = s
	}
	return h
}

// idString renders a JSON id (a number in SeaTable, a string elsewhere).
func idString(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		return x
	}
	return ""
}

type webhookListJ struct {
	List *[]webhookJ `json:"webhook_list"`
}

func (r *webhookListJ) validate() error {
	if r.List == nil {
		return errString("response has no webhook_list")
	}
	return nil
}

type webhookOneJ struct {
	Webhook *webhookJ `json:"webhook"`
}

func (r *webhookOneJ) validate() error {
	if r.Webhook == nil {
		return errString("response has no webhook")
	}
	return nil
}

// NewAccount returns an Account; no call is made until a method needs one.
func NewAccount(cfg AccountConfig) *Account {
	return &Account{c: New(Config{ServerURL: cfg.ServerURL, APIToken: cfg.Token, HTTPClient: cfg.HTTPClient, Timeout: cfg.Timeout, Now: cfg.Now, Observe: cfg.Observe})}
}

// webhooksPath is the webhooks endpoint of a base in the account API.
func webhooksPath(workspace int, base string) string {
	return "/api/v2.1/workspace/" + strconv.Itoa(workspace) + "/dtable/" + url.PathEscape(base) + "/webhooks/"
}

// Webhooks lists the webhooks of the base named base in workspace.
func (a *Account) Webhooks(ctx context.Context, workspace int, base string) ([]Webhook, error) {
	var out webhookListJ
	if err := a.call(ctx, "list webhooks", http.MethodGet, webhooksPath(workspace, base), nil, &out); err != nil {
		return nil, err
	}
	hooks := make([]Webhook, 0, len(*out.List))
	for _, w := range *out.List {
		hooks = append(hooks, w.webhook())
	}
	return hooks, nil
}

// CreateWebhook adds a webhook to hookURL signed with secret ("" = unsigned).
func (a *Account) CreateWebhook(ctx context.Context, workspace int, base, hookURL, secret string) (Webhook, error) {
	var out webhookOneJ
	form := map[string]string{"url": hookURL}
	if secret != "" {
		form["secret"] = secret
	}
	if err := a.call(ctx, "create webhook", http.MethodPost, webhooksPath(workspace, base), form, &out); err != nil {
		return Webhook{}, err
	}
	return out.Webhook.webhook(), nil
}

// UpdateWebhook sets the url and secret of webhook id.
func (a *Account) UpdateWebhook(ctx context.Context, workspace int, base, id, hookURL, secret string) (Webhook, error) {
	var out webhookOneJ
	form := map[string]string{"url": hookURL, "secret": secret}
	if err := a.call(ctx, "update webhook", http.MethodPut, webhooksPath(workspace, base)+url.PathEscape(id)+"/", form, &out); err != nil {
		return Webhook{}, err
	}
	return out.Webhook.webhook(), nil
}

// DeleteWebhook removes webhook id.
func (a *Account) DeleteWebhook(ctx context.Context, workspace int, base, id string) error {
	return a.call(ctx, "delete webhook", http.MethodDelete, webhooksPath(workspace, base)+url.PathEscape(id)+"/", nil, nil)
}

// call sends one account call, the form (if any) as multipart/form-data
// as the documentation sends it, and decodes a 2xx answer into out.
func (a *Account) call(ctx context.Context, op, method, path string, form map[string]string, out any) error {
	c := a.c
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	ctype := ""
	if form != nil {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, k := range []string{"url", "secret"} {
			if v, ok := form[k]; ok {
				if err := mw.WriteField(k, v); err != nil {
					return &Error{Kind: KindInvalid, Op: op, Message: "encode form: " + err.Error(), Err: err}
				}
			}
		}
		if err := mw.Close(); err != nil {
			return &Error{Kind: KindInvalid, Op: op, Message: "encode form: " + err.Error(), Err: err}
		}
		body, ctype = &buf, mw.FormDataContentType()
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, body)
	if err != nil {
		return &Error{Kind: KindInvalid, Op: op, Message: c.redact("build request: "+err.Error(), ""), Err: err}
	}
	req.Header.Set("Authorization", "Token "+c.apiTok)
	req.Header.Set("Accept", "application/json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	endpoint := "/api/v2.1/workspace/{wid}/dtable/{name}/webhooks/"
	start := c.now()
	res, err := c.http.Do(req)
	if err != nil {
		c.report(Call{Op: op, Method: method, Endpoint: endpoint, Duration: c.now().Sub(start)})
		return c.transportError(op, err, "")
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	call := Call{Op: op, Method: method, Endpoint: endpoint, Status: res.StatusCode, Duration: c.now().Sub(start)}
	c.report(call)
	if err != nil {
		return c.transportError(op, fmt.Errorf("read response: %w", err), "")
	}
	return c.classify(op, &response{status: res.StatusCode, header: res.Header, body: b, call: call}, out, "")
}
