package adminguard

import (
	"net/http"
	"net/url"
)

// loginCSP allows the login form nothing but its own inline style and a
// form posting to its own origin.
const loginCSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// loginPage is the login form: one field, posted to /login.
const loginPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>seaflow: log in</title>
<style>body{font:15px system-ui,sans-serif;background:#f6f7f9;color:#1d2430;display:grid;place-items:center;min-height:90vh}
form{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:24px;display:grid;gap:12px;width:320px}
input{font:inherit;padding:8px;border:1px solid #c4cad2;border-radius:4px}button{font:inherit;padding:8px;border:0;border-radius:4px;background:#2557d6;color:#fff}</style>
</head><body>
<form method="post" action="/login">
<h1 style="font-size:18px;margin:0">seaflow status</h1>
<label for="token">Token (server.token)</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
</form>
</body></html>
`

// Login serves GET /login (the form) and POST /login (the form's token):
// a right token sets the session cookie and redirects to the page; a
// wrong one is a 401 with a JSON reason. With an open policy it redirects
// to the page at once.
func (g *Guard) Login() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := g.policy()
		if !g.checkHost(w, r, p) || !g.checkOrigin(w, r) {
			return
		}
		if p.Token == "" {
			if p.Open {
				http.Redirect(w, r, "/", http.StatusSeeOther)
				return
			}
			g.refuse(w, http.StatusUnauthorized, ReasonToken, "the admin API is closed: set server.token, or server.auth: none on a loopback listen address")
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			h := w.Header()
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Content-Security-Policy", loginCSP)
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Cache-Control", "no-store")
			if r.Method == http.MethodGet {
				_, _ = w.Write([]byte(loginPage))
			}
		case http.MethodPost:
			r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
			if err := r.ParseForm(); err != nil {
				writeError(w, http.StatusBadRequest, "bad login form")
				return
			}
			if !TokenEqual(r.PostForm.Get("token"), p.Token) {
				g.refuse(w, http.StatusUnauthorized, ReasonToken, "wrong token")
				return
			}
			setSession(w, r, p.Token)
			http.Redirect(w, r, "/", http.StatusSeeOther)
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		}
	})
}

// Page guards the status page, which carries no data itself: its Host
// must be allowed; a visit with ?token= sets the session cookie when the
// token is right and redirects to the same URL without it (a wrong one is
// a 401); a visit without a session, when a token is set, is redirected
// to the login form.
func (g *Guard) Page(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := g.policy()
		if !g.checkHost(w, r, p) {
			return
		}
		q := r.URL.Query()
		if q.Has("token") {
			switch {
			case p.Token == "" && p.Open:
				// No token to check: only take it out of the address.
			case p.Token == "" || !TokenEqual(q.Get("token"), p.Token):
				g.refuse(w, http.StatusUnauthorized, ReasonToken, "wrong token")
				return
			default:
				setSession(w, r, p.Token)
			}
			q.Del("token")
			u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
			w.Header().Set("Referrer-Policy", "no-referrer")
			http.Redirect(w, r, u.String(), http.StatusSeeOther)
			return
		}
		if p.Token != "" && !g.authorized(r, p) {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}
