package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/seaflow/seaflow/seatable/emulator/query"
)

// issuedToken is a base token handed out by the exchange; it carries the
// API token's permission and app name.
type issuedToken struct {
	base     *base
	exp      time.Time
	readOnly bool
	appName  string
}

// authToken returns the token of an "Authorization: Token …" or
// "Authorization: Bearer …" header; SeaTable accepts both since 4.0.
func authToken(r *http.Request) string {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok {
		return ""
	}
	if !strings.EqualFold(scheme, "Token") && !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// tokenPath is the token exchange's path.
const tokenPath = "/api/v2.1/dtable/app-access-token/"

// serveTokenExchange answers GET /api/v2.1/dtable/app-access-token/: an
// API token becomes a base token (an HS256 JWT, opaque to clients). A bad
// token gets 403 {"error_msg": "Permission denied."}; more than 60
// exchanges of a base in a minute get a 429. The exchange does not count
// against the base's gateway limits and gets no injected faults.
func (e *Emulator) serveTokenExchange(w http.ResponseWriter, r *http.Request) {
	tok := authToken(r)
	e.mu.Lock()
	now := e.now()
	at := e.byToken[tok]
	if tok == "" || at == nil {
		e.mu.Unlock()
		writeJSON(w, http.StatusForbidden, map[string]any{"error_msg": "Permission denied."})
		return
	}
	if wait, over := e.overExchangeLimit(at.base, now); over {
		// dtable-web throttles with Django REST framework, whose 429 has
		// a Retry-After and a detail [I].
		secs := int64(math.Ceil(wait.Seconds()))
		e.logCall(now, at.base, r.Method, tokenPath, http.StatusTooManyRequests, 0, false)
		e.mu.Unlock()
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"detail": fmt.Sprintf("Request was throttled. Expected available in %d seconds.", secs)})
		return
	}
	ttl := e.tokenTTL
	if e.faults.TokenTTL > 0 {
		ttl = e.faults.TokenTTL
	}
	exp := now.Add(ttl)
	b := at.base
	access := e.mintJWT(at, now, exp)
	if len(e.tokens)%256 == 255 {
		// Forget tokens expired a day ago; a client presenting one gets
		// "Permission denied." instead of "Token expired.".
		for k, it := range e.tokens {
			if it.exp.Before(now.Add(-24 * time.Hour)) {
				delete(e.tokens, k)
			}
		}
	}
	e.tokens[access] = &issuedToken{base: b, exp: exp, readOnly: at.readOnly, appName: at.appName}
	b.stats.tokenExchanges++
	e.logCall(now, b, r.Method, tokenPath, http.StatusOK, 0, false)
	server := e.serverURL
	e.mu.Unlock()
	if server == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		server = scheme + "://" + r.Host
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"app_name":        at.appName,
		"access_token":    access,
		"dtable_uuid":     b.uuid,
		"dtable_name":     b.name,
		"workspace_id":    WorkspaceID,
		"dtable_server":   server + "/dtable-server/",
		"use_api_gateway": true,
	})
}

// mintJWT builds a base token like SeaTable's: HS256 over
// {"exp","dtable_uuid","username","permission","app_name"} plus a nonce so
// two exchanges in the same second differ.
func (e *Emulator) mintJWT(at *apiToken, now, exp time.Time) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	perm := "rw"
	if at.readOnly {
		perm = "r"
	}
	payload, _ := json.Marshal(map[string]any{
		"exp": exp.Unix(), "iat": now.Unix(), "dtable_uuid": at.base.uuid, "username": "",
		"permission": perm, "app_name": at.appName, "jti": newRowID(),
	})
	msg := header + "." + enc.EncodeToString(payload)
	mac := hmac.New(sha256.New, e.jwtKey)
	mac.Write([]byte(msg))
	return msg + "." + enc.EncodeToString(mac.Sum(nil))
}

// checkToken validates a base token for base b at now and returns it.
// Callers hold e.mu. msg is "" when valid, else the 403 message: "Token
// expired." for an expired token (the old dtable-server's pair, which the
// SDKs key on; the api-gateway's body is [?]), "Permission denied."
// otherwise.
func (e *Emulator) checkToken(tok string, b *base, now time.Time) (it *issuedToken, msg string) {
	it = e.tokens[tok]
	if tok == "" || it == nil || b == nil || it.base != b {
		return nil, "Permission denied."
	}
	if !now.Before(it.exp) {
		return nil, "Token expired."
	}
	return it, ""
}

// writes reports whether a gateway call changes the base: a POST, PUT or
// DELETE other than /query-links/, and of /sql only a statement that is
// not a SELECT. A read-only (r) API token's base token may make every
// other call.
func writes(method, suffix string, body []byte) bool {
	switch {
	case method == http.MethodGet || suffix == "/query-links/":
		return false
	case suffix == "/sql" || suffix == "/sql/":
		var req struct {
			SQL string `json:"sql"`
		}
		if json.Unmarshal(body, &req) != nil {
			return false
		}
		st, err := query.Parse(req.SQL)
		return err == nil && st.Kind() != "SELECT"
	}
	return true
}

// ExpireTokens makes every base token issued so far expired: the next
// gateway call with one gets 403 {"error_msg": "Token expired."}.
func (e *Emulator) ExpireTokens() {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	for _, it := range e.tokens {
		if it.exp.After(now) {
			it.exp = now
		}
	}
}
