package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// issuedToken is a base token handed out by the exchange.
type issuedToken struct {
	base *base
	exp  time.Time
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

// serveTokenExchange answers GET /api/v2.1/dtable/app-access-token/: an
// API token becomes a base token (an HS256 JWT, opaque to clients). A bad
// token gets 403 {"error_msg": "Permission denied."}. The exchange does
// not count against the base's limits and gets no injected faults.
func (e *Emulator) serveTokenExchange(w http.ResponseWriter, r *http.Request) {
	tok := authToken(r)
	e.mu.Lock()
	now := e.now()
	b := e.byToken[tok]
	if tok == "" || b == nil {
		e.mu.Unlock()
		writeJSON(w, http.StatusForbidden, map[string]any{"error_msg": "Permission denied."})
		return
	}
	ttl := e.tokenTTL
	if e.faults.TokenTTL > 0 {
		ttl = e.faults.TokenTTL
	}
	exp := now.Add(ttl)
	access := e.mintJWT(b, now, exp)
	if len(e.tokens)%256 == 255 {
		// Forget tokens expired a day ago; a client presenting one gets
		// "Permission denied." instead of "Token expired.".
		for k, it := range e.tokens {
			if it.exp.Before(now.Add(-24 * time.Hour)) {
				delete(e.tokens, k)
			}
		}
	}
	e.tokens[access] = &issuedToken{base: b, exp: exp}
	b.stats.tokenExchanges++
	e.logCall(now, b, r.Method, "/api/v2.1/dtable/app-access-token/", http.StatusOK, 0, false)
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
		"app_name":        b.appName,
		"access_token":    access,
		"dtable_uuid":     b.uuid,
		"dtable_name":     b.name,
		"workspace_id":    1,
		"dtable_server":   server + "/dtable-server/",
		"dtable_socket":   server + "/",
		"dtable_db":       server + "/dtable-db/",
		"use_api_gateway": true,
	})
}

// mintJWT builds a base token like SeaTable's: HS256 over
// {"exp","dtable_uuid","username","permission","app_name"} plus a nonce so
// two exchanges in the same second differ.
func (e *Emulator) mintJWT(b *base, now, exp time.Time) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	payload, _ := json.Marshal(map[string]any{
		"exp": exp.Unix(), "iat": now.Unix(), "dtable_uuid": b.uuid, "username": "",
		"permission": "rw", "app_name": b.appName, "jti": newRowID(),
	})
	msg := header + "." + enc.EncodeToString(payload)
	mac := hmac.New(sha256.New, e.jwtKey)
	mac.Write([]byte(msg))
	return msg + "." + enc.EncodeToString(mac.Sum(nil))
}

// checkToken validates a base token for base b at now. Callers hold e.mu.
// It returns "" when valid, else the 403 message: "Token expired." for an
// expired token (the old dtable-server's pair, which the SDKs key on; the
// api-gateway's body is [?]), "Permission denied." otherwise.
func (e *Emulator) checkToken(tok string, b *base, now time.Time) string {
	it := e.tokens[tok]
	if tok == "" || it == nil || b == nil || it.base != b {
		return "Permission denied."
	}
	if !now.Before(it.exp) {
		return "Token expired."
	}
	return ""
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
