package statuspage

import (
	_ "embed"
	"net/http"
	"strconv"
)

// page is the whole status page: HTML, inline CSS and inline JavaScript.
//
//go:embed index.html
var page []byte

// ContentSecurityPolicy is the policy the page is served with: everything
// from the page's own origin, inline style and script (the page carries
// both), nothing else: no external assets, frames, plugins or form targets.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self' 'unsafe-inline'; " +
	"style-src 'self' 'unsafe-inline'; img-src 'self'; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the status page at GET (and HEAD) / and /index.html; any
// other path is 404, any other method 405. The page reads GET /api/status
// of the same origin with the browser's cookies (the daemon's admin guard
// keeps the session in an HttpOnly cookie and turns a ?token= visit into
// it) and posts dead-letter actions as JSON. The Referrer-Policy keeps the
// URL out of Referer headers.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" && r.URL.Path != "/index.html" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(page)))
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(page)
		}
	})
}
