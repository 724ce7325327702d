package adminguard

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

const testToken = "7f3c9a1e5b2d8f40c6a1"

type bundle struct {
	g       *Guard
	h       http.Handler
	refused []Reason
	reached int
}

// setup guards a handler that counts the requests reaching it, for a
// server listening on listen with policy p.
func setup(t *testing.T, listen string, p Policy) *bundle {
	t.Helper()
	b := &bundle{}
	b.g = New(listen, func() Policy { return p }, func(r Reason) { b.refused = append(b.refused, r) })
	mux := http.NewServeMux()
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.reached++
		if r.Header.Get("Authorization") != "" {
			t.Error("the bearer token reached the handler")
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.Handle("/api/", b.g.Protect(b.g.RequireJSON(api)))
	mux.Handle("/emulator/", b.g.Protect(api))
	mux.Handle("/login", b.g.Login())
	mux.Handle("GET /{$}", b.g.Page(api))
	b.h = mux
	return b
}

func (b *bundle) do(t *testing.T, method, target string, hdr map[string]string, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range hdr {
		if k == "Host" {
			r.Host = v
			continue
		}
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	b.h.ServeHTTP(w, r)
	return w
}

// wantRefused checks a 4xx with a JSON reason containing want.
func wantRefused(t *testing.T, w *httptest.ResponseRecorder, status int, want string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("HTTP %d, want %d: %s", w.Code, status, w.Body)
	}
	var body struct{ Error string }
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || !strings.Contains(body.Error, want) {
		t.Errorf("reason %q (%v), want it to contain %q", body.Error, err, want)
	}
}

var jsonCT = map[string]string{"Host": "127.0.0.1:8080", "Content-Type": "application/json"}

func with(h map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestOpenPolicyOnLoopback(t *testing.T) {
	t.Parallel()
	open := Policy{Open: true}
	t.Run("a local client gets in", func(t *testing.T) {
		b := setup(t, "127.0.0.1:8080", open)
		for _, host := range []string{"127.0.0.1:8080", "localhost:8080", "[::1]:8080", "LOCALHOST:8080"} {
			if w := b.do(t, "POST", "/api/replay", with(jsonCT, "Host", host), `{}`); w.Code != http.StatusOK {
				t.Errorf("Host %s: HTTP %d %s", host, w.Code, w.Body)
			}
		}
		if w := b.do(t, "POST", "/api/replay", with(jsonCT, "Sec-Fetch-Site", "same-origin", "Origin", "http://127.0.0.1:8080"), `{}`); w.Code != http.StatusOK {
			t.Errorf("same-origin page POST: HTTP %d %s", w.Code, w.Body)
		}
	})
	t.Run("cross-origin text/plain POST", func(t *testing.T) {
		b := setup(t, "127.0.0.1:8080", open)
		// What a page on another site sends with fetch(…, {mode: "no-cors"}):
		// a simple request, no preflight.
		hdr := map[string]string{"Host": "127.0.0.1:8080", "Content-Type": "text/plain;charset=UTF-8", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
		wantRefused(t, b.do(t, "POST", "/api/replay", hdr, `{"since":"24h"}`), http.StatusForbidden, "cross-site POST refused")
		// An old browser without Sec-Fetch-Site still sends Origin.
		delete(hdr, "Sec-Fetch-Site")
		wantRefused(t, b.do(t, "POST", "/api/replay", hdr, `{"since":"24h"}`), http.StatusForbidden, "cross-site POST refused")
		wantRefused(t, b.do(t, "POST", "/api/replay", with(hdr, "Origin", "null"), `{}`), http.StatusForbidden, "cross-site")
		// A sandboxed or privacy-stripped request with neither header still
		// cannot send JSON without a preflight.
		wantRefused(t, b.do(t, "POST", "/api/replay", map[string]string{"Host": "127.0.0.1:8080", "Content-Type": "text/plain"}, `{}`), http.StatusUnsupportedMediaType, "needs a JSON body")
		wantRefused(t, b.do(t, "POST", "/api/replay", map[string]string{"Host": "127.0.0.1:8080", "Content-Type": "application/x-www-form-urlencoded"}, `since=24h`), http.StatusUnsupportedMediaType, "needs a JSON body")
		// Same-site but cross-origin (another port on the machine) is refused too.
		wantRefused(t, b.do(t, "POST", "/emulator/_emulator/edit", with(jsonCT, "Sec-Fetch-Site", "same-site"), `{}`), http.StatusForbidden, "cross-site")
		if b.reached != 0 {
			t.Errorf("%d refused requests reached the handler", b.reached)
		}
	})
	t.Run("DNS rebinding: a forged Host", func(t *testing.T) {
		b := setup(t, "127.0.0.1:8080", open)
		// evil.example now resolves to 127.0.0.1: the browser deems the
		// page and the API same-origin, and sends Host: evil.example:8080.
		hdr := with(jsonCT, "Host", "evil.example:8080", "Origin", "http://evil.example:8080", "Sec-Fetch-Site", "same-origin")
		wantRefused(t, b.do(t, "POST", "/api/replay", hdr, `{}`), http.StatusForbidden, `Host "evil.example:8080" is not an address of this server`)
		wantRefused(t, b.do(t, "GET", "/api/status", hdr, ""), http.StatusForbidden, "not an address of this server")
		wantRefused(t, b.do(t, "GET", "/emulator/_emulator/rows", hdr, ""), http.StatusForbidden, "not an address of this server")
		wantRefused(t, b.do(t, "GET", "/", hdr, ""), http.StatusForbidden, "not an address of this server")
		// The right name on another port is another origin.
		wantRefused(t, b.do(t, "GET", "/api/status", with(jsonCT, "Host", "127.0.0.1:9999"), ""), http.StatusForbidden, "not an address")
		wantRefused(t, b.do(t, "GET", "/api/status", with(jsonCT, "Host", ""), ""), http.StatusForbidden, "not an address")
		if b.reached != 0 {
			t.Errorf("%d refused requests reached the handler", b.reached)
		}
	})
	t.Run("a local reverse proxy passing a foreign Host", func(t *testing.T) {
		b := setup(t, "127.0.0.1:8080", open)
		hdr := with(jsonCT, "Host", "intranet.example.com", "X-Forwarded-For", "203.0.113.9")
		wantRefused(t, b.do(t, "GET", "/api/status", hdr, ""), http.StatusForbidden, "add the name to server.hosts")
	})
	t.Run("a configured name is allowed", func(t *testing.T) {
		b := setup(t, "127.0.0.1:8080", Policy{Open: true, Hosts: []string{"seaflow.internal", "admin.example:8443"}})
		for host, want := range map[string]int{"seaflow.internal": 200, "SEAFLOW.internal:80": 200, "admin.example:8443": 200, "admin.example:80": 403} {
			if w := b.do(t, "GET", "/api/status", with(jsonCT, "Host", host), ""); w.Code != want {
				t.Errorf("Host %s: HTTP %d, want %d", host, w.Code, want)
			}
		}
	})
}

func TestTokenPolicy(t *testing.T) {
	t.Parallel()
	p := Policy{Token: testToken}
	b := setup(t, "127.0.0.1:8080", p)
	wantRefused(t, b.do(t, "GET", "/api/status", jsonCT, ""), http.StatusUnauthorized, "needs Authorization: Bearer")
	wantRefused(t, b.do(t, "GET", "/api/status", with(jsonCT, "Authorization", "Bearer "+testToken[:len(testToken)-1]), ""), http.StatusUnauthorized, "wrong token")
	wantRefused(t, b.do(t, "GET", "/emulator/_emulator/rows", jsonCT, ""), http.StatusUnauthorized, "needs Authorization")
	wantRefused(t, b.do(t, "POST", "/emulator/_emulator/edit", jsonCT, "{}"), http.StatusUnauthorized, "needs Authorization")
	if w := b.do(t, "GET", "/api/status", with(jsonCT, "Authorization", "Bearer "+testToken), ""); w.Code != http.StatusOK {
		t.Errorf("right token: HTTP %d %s", w.Code, w.Body)
	}
	// The token does not open the door to a cross-site POST or a forged Host.
	wantRefused(t, b.do(t, "POST", "/api/replay", with(jsonCT, "Authorization", "Bearer "+testToken, "Sec-Fetch-Site", "cross-site"), "{}"), http.StatusForbidden, "cross-site")
	wantRefused(t, b.do(t, "GET", "/api/status", with(jsonCT, "Authorization", "Bearer "+testToken, "Host", "evil.example:8080"), ""), http.StatusForbidden, "not an address")

	t.Run("closed without a token", func(t *testing.T) {
		b := setup(t, "127.0.0.1:8080", Policy{})
		wantRefused(t, b.do(t, "GET", "/api/status", jsonCT, ""), http.StatusUnauthorized, "set server.token, or server.auth: none")
		wantRefused(t, b.do(t, "GET", "/emulator/_emulator/rows", jsonCT, ""), http.StatusUnauthorized, "the admin API is closed")
	})
	if len(b.refused) == 0 {
		t.Error("no refusal counted")
	}
}

func TestEveryInterfaceListener(t *testing.T) {
	t.Parallel()
	bearer := "Bearer " + testToken
	b := setup(t, "0.0.0.0:8080", Policy{Token: testToken})
	// Behind a token and with no names configured, any Host may carry it
	// (a port mapping, a load balancer's name).
	for _, host := range []string{"seaflow.example.com", "localhost:18080", "10.1.2.3:8080"} {
		if w := b.do(t, "GET", "/api/status", with(jsonCT, "Host", host, "Authorization", bearer), ""); w.Code != http.StatusOK {
			t.Errorf("Host %s: HTTP %d", host, w.Code)
		}
	}
	// With names configured, only those and the machine's IPs on the port.
	b = setup(t, "0.0.0.0:8080", Policy{Token: testToken, Hosts: []string{"seaflow.example.com"}})
	for host, want := range map[string]int{"seaflow.example.com": 200, "10.1.2.3:8080": 200, "localhost:8080": 200, "rebound.example:8080": 403} {
		if w := b.do(t, "GET", "/api/status", with(jsonCT, "Host", host, "Authorization", bearer), ""); w.Code != want {
			t.Errorf("Host %s: HTTP %d, want %d", host, w.Code, want)
		}
	}
}

func TestTokenCompareHidesLength(t *testing.T) {
	var lens [][2]int
	constantTimeCompare = func(a, b []byte) int {
		lens = append(lens, [2]int{len(a), len(b)})
		return subtleCompare(a, b)
	}
	t.Cleanup(func() { constantTimeCompare = subtleCompare })
	for _, got := range []string{"", "x", testToken[:15], testToken, testToken + "-and-a-much-longer-suffix-than-the-token"} {
		if TokenEqual(got, testToken) != (got == testToken) {
			t.Errorf("TokenEqual(%q) wrong", got)
		}
	}
	sessionValid(sessionValue(testToken), testToken)
	for _, l := range lens {
		if l != [2]int{32, 32} {
			t.Fatalf("compared %d bytes with %d: the compare sees the token's length", l[0], l[1])
		}
	}
	if len(lens) != 6 {
		t.Errorf("%d compares, want 6", len(lens))
	}
}

func TestPageSession(t *testing.T) {
	t.Parallel()
	b := setup(t, "127.0.0.1:8080", Policy{Token: testToken})
	host := map[string]string{"Host": "127.0.0.1:8080"}

	// Without a session the page sends the viewer to the login form.
	if w := b.do(t, "GET", "/", host, ""); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login" {
		t.Fatalf("GET / without a session: HTTP %d → %q", w.Code, w.Header().Get("Location"))
	}
	wantRefused(t, b.do(t, "GET", "/?token=nope&x=1", host, ""), http.StatusUnauthorized, "wrong token")

	// A first visit with ?token= sets the cookie and drops the token from the URL.
	w := b.do(t, "GET", "/?token="+testToken+"&x=1", host, "")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/?x=1" {
		t.Fatalf("GET /?token=: HTTP %d → %q", w.Code, w.Header().Get("Location"))
	}
	cookie := sessionCookie(t, w)
	withCookie := with(host, "Cookie", cookie.Name+"="+cookie.Value)
	if w := b.do(t, "GET", "/", withCookie, ""); w.Code != http.StatusOK {
		t.Errorf("page with the cookie: HTTP %d", w.Code)
	}
	if w := b.do(t, "GET", "/api/status", withCookie, ""); w.Code != http.StatusOK {
		t.Errorf("API with the cookie: HTTP %d", w.Code)
	}
	if w := b.do(t, "POST", "/api/dead/retry", with(withCookie, "Content-Type", "application/json", "Sec-Fetch-Site", "same-origin"), `{"seq":1}`); w.Code != http.StatusOK {
		t.Errorf("page POST with the cookie: HTTP %d", w.Code)
	}
	// A cookie of another token (the token was rotated) is refused.
	old := with(host, "Cookie", CookieName+"="+sessionValue("an-older-token-0123456789"))
	wantRefused(t, b.do(t, "GET", "/api/status", old, ""), http.StatusUnauthorized, "wrong token")
	wantRefused(t, b.do(t, "GET", "/api/status", with(host, "Cookie", CookieName+"=garbage"), ""), http.StatusUnauthorized, "wrong token")
}

func TestLoginForm(t *testing.T) {
	t.Parallel()
	b := setup(t, "127.0.0.1:8080", Policy{Token: testToken})
	host := map[string]string{"Host": "127.0.0.1:8080"}
	w := b.do(t, "GET", "/login", host, "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `<form method="post" action="/login">`) || w.Header().Get("Content-Security-Policy") == "" {
		t.Fatalf("GET /login: HTTP %d %s", w.Code, w.Body)
	}
	form := with(host, "Content-Type", "application/x-www-form-urlencoded", "Sec-Fetch-Site", "same-origin", "Origin", "http://127.0.0.1:8080")
	wantRefused(t, b.do(t, "POST", "/login", form, url.Values{"token": {"wrong-token-0123456789"}}.Encode()), http.StatusUnauthorized, "wrong token")
	wantRefused(t, b.do(t, "POST", "/login", with(form, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"), url.Values{"token": {testToken}}.Encode()), http.StatusForbidden, "cross-site")
	w = b.do(t, "POST", "/login", form, url.Values{"token": {testToken}}.Encode())
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
		t.Fatalf("POST /login: HTTP %d → %q %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	c := sessionCookie(t, w)
	if strings.Contains(c.Value, testToken) {
		t.Error("the cookie holds the token itself")
	}

	t.Run("open policy", func(t *testing.T) {
		b := setup(t, "127.0.0.1:8080", Policy{Open: true})
		if w := b.do(t, "GET", "/login", host, ""); w.Code != http.StatusSeeOther {
			t.Errorf("GET /login with auth none: HTTP %d", w.Code)
		}
		if w := b.do(t, "GET", "/", host, ""); w.Code != http.StatusOK {
			t.Errorf("GET / with auth none: HTTP %d", w.Code)
		}
		if w := b.do(t, "GET", "/?token=anything", host, ""); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" || w.Header().Get("Set-Cookie") != "" {
			t.Errorf("GET /?token= with auth none: HTTP %d → %q, cookie %q; want the token dropped", w.Code, w.Header().Get("Location"), w.Header().Get("Set-Cookie"))
		}
	})
}

// sessionCookie returns the session cookie w sets, checking its flags.
func sessionCookie(t *testing.T, w *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	resp := http.Response{Header: w.Header()}
	for _, c := range resp.Cookies() {
		if c.Name == CookieName {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.MaxAge <= 0 {
				t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/, a Max-Age", c)
			}
			return c
		}
	}
	b, _ := io.ReadAll(w.Body)
	t.Fatalf("no %s cookie set: %v %s", CookieName, w.Header(), b)
	return nil
}
