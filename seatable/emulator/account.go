package emulator

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The account API's webhook endpoints (OA43 user_account_operations.yaml,
// docs/seatable-api.md §4), with an account token:
//
//	GET    /api/v2.1/workspace/{wid}/dtable/{name}/webhooks/       → 200 {"webhook_list": [...]}
//	POST   /api/v2.1/workspace/{wid}/dtable/{name}/webhooks/       form url, secret → 200 (not 201, OAT #14) {"webhook": {...}}
//	PUT    /api/v2.1/workspace/{wid}/dtable/{name}/webhooks/{id}/  form url and/or secret → 200 {"webhook": {...}}
//	DELETE /api/v2.1/workspace/{wid}/dtable/{name}/webhooks/{id}/  → 200 {"success": true}
//
// A webhook created or updated here is the one the base's changes are
// delivered to, like those of the fixture. Choices on [?] items: a PUT
// re-enables a disabled webhook and resets its failure count, as re-saving
// it in the UI does [I]; the listed dtable_uuid is 32 hex digits, as in
// webhook bodies [I]; is_valid is not listed (the documented object has no
// such field), so a client cannot see that a hook was disabled. Account
// calls do not count against a base's gateway limits and get no injected
// faults; the real 1,000 (Cloud) or 3,000 (Server) account calls a minute
// are not modelled.
const accountPrefix = "/api/v2.1/workspace/"

// WorkspaceID is the workspace every emulated base is in: what the token
// exchange reports as workspace_id.
const WorkspaceID = 1

// webhookJSON is a webhook as the account API lists it.
func (h *webhook) json(b *base) map[string]any {
	return map[string]any{
		"id":          h.id,
		"dtable_uuid": strings.ReplaceAll(b.uuid, "-", ""),
		"url":         h.url,
		"creator":     h.creator,
		"created_at":  h.created.UTC().Format("2006-01-02T15:04:05+00:00"),
		"settings":    map[string]any{"secret": h.secret},
	}
}

// AccountToken returns the account token the account API accepts
// (Options.AccountToken, or the one generated when it was empty).
func (e *Emulator) AccountToken() string { return e.accountToken }

// serveAccount answers the webhook endpoints of the account API.
func (e *Emulator) serveAccount(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, accountPrefix)
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	// {wid} dtable {name} webhooks [{id}]
	if len(parts) < 4 || len(parts) > 5 || parts[1] != "dtable" || parts[3] != "webhooks" {
		writeJSON(w, http.StatusNotFound, map[string]any{"error_msg": "Not found."})
		return
	}
	switch tok := authToken(r); {
	case r.Header.Get("Authorization") == "":
		writeJSON(w, http.StatusForbidden, map[string]any{"detail": "Authentication credentials were not provided."})
		return
	case tok == "" || tok != e.accountToken:
		writeJSON(w, http.StatusUnauthorized, map[string]any{"detail": "Invalid token"})
		return
	}
	name, err := url.PathUnescape(parts[2])
	if err != nil {
		name = parts[2]
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	var b *base
	if wid, err := strconv.Atoi(parts[0]); err == nil && wid == WorkspaceID {
		for _, cand := range e.bases {
			if cand.name == name {
				b = cand
			}
		}
	}
	if b == nil {
		e.logCall(now, nil, r.Method, "webhooks", http.StatusNotFound, 0, false)
		writeJSON(w, http.StatusNotFound, map[string]any{"error_msg": "dtable " + name + " not found."})
		return
	}
	endpoint := "/api/v2.1/workspace/{wid}/dtable/{name}/webhooks/"
	if len(parts) == 5 {
		endpoint += "{id}/"
	}
	status, body := e.accountCall(r, b, parts[4:], now)
	e.logCall(now, b, r.Method, endpoint, status, 0, false)
	writeJSON(w, status, body)
}

// accountCall runs one webhook call on b; ids holds the webhook id of a
// PUT or DELETE. Callers hold e.mu.
func (e *Emulator) accountCall(r *http.Request, b *base, ids []string, now time.Time) (int, any) {
	switch {
	case len(ids) == 0 && r.Method == http.MethodGet:
		list := make([]any, 0, len(b.webhooks))
		for _, h := range b.webhooks {
			list = append(list, h.json(b))
		}
		return http.StatusOK, map[string]any{"webhook_list": list}
	case len(ids) == 0 && r.Method == http.MethodPost:
		u, secret, hasURL, _, err := webhookForm(r)
		if err != nil || !hasURL {
			return http.StatusBadRequest, map[string]any{"error_msg": "url invalid."}
		}
		b.nextHookID++
		h := &webhook{id: b.nextHookID, url: u, secret: secret, creator: accountUser, created: now}
		b.webhooks = append(b.webhooks, h)
		return http.StatusOK, map[string]any{"webhook": h.json(b)}
	case len(ids) == 1 && (r.Method == http.MethodPut || r.Method == http.MethodDelete):
		id, _ := strconv.Atoi(ids[0])
		i := -1
		for j, h := range b.webhooks {
			if h.id == id {
				i = j
			}
		}
		if i < 0 {
			return http.StatusNotFound, map[string]any{"error_msg": "Webhook not found."}
		}
		if r.Method == http.MethodDelete {
			b.webhooks = append(b.webhooks[:i:i], b.webhooks[i+1:]...)
			return http.StatusOK, map[string]any{"success": true}
		}
		u, secret, hasURL, hasSecret, err := webhookForm(r)
		if err != nil {
			return http.StatusBadRequest, map[string]any{"error_msg": "url invalid."}
		}
		h := b.webhooks[i]
		if hasURL {
			h.url = u
		}
		if hasSecret {
			h.secret = secret
		}
		h.disabled, h.failures = false, 0
		return http.StatusOK, map[string]any{"webhook": h.json(b)}
	}
	return http.StatusMethodNotAllowed, map[string]any{"detail": "Method \"" + r.Method + "\" not allowed."}
}

// accountUser is the creator of webhooks made through the account API.
const accountUser = "account-user@auth.local"

// webhookForm reads url and secret from a multipart or url-encoded form,
// as the documentation sends them. A url that is present must be http(s).
func webhookForm(r *http.Request) (u, secret string, hasURL, hasSecret bool, err error) {
	var values url.Values
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			return "", "", false, false, err
		}
		values = r.MultipartForm.Value
	} else {
		if err := r.ParseForm(); err != nil {
			return "", "", false, false, err
		}
		values = r.PostForm
	}
	if vs, ok := values["url"]; ok && len(vs) > 0 {
		u, hasURL = strings.TrimSpace(vs[0]), true
		if pu, perr := url.Parse(u); perr != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return "", "", false, false, errors.New("url invalid")
		}
	}
	if vs, ok := values["secret"]; ok && len(vs) > 0 {
		secret, hasSecret = vs[0], true
	}
	return u, secret, hasURL, hasSecret, nil
}

// DisableWebhooks disables every webhook of a base, as SeaTable does after
// five failed deliveries: its changes are no longer delivered until a
// webhook is re-enabled (EnableWebhooks, or a PUT of the account API).
func (e *Emulator) DisableWebhooks(baseRef string) error {
	return e.eachWebhook("disable webhooks", baseRef, func(h *webhook) { h.disabled = true })
}
