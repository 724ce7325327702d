package adminguard

import (
	"mime"
	"net/http"
)

// MaxBody is the largest request body the admin API reads.
const MaxBody = 64 << 10

// RequireJSON refuses a state-changing request (any method but GET, HEAD
// and OPTIONS) whose body is not JSON: a cross-site form or text/plain POST
// cannot carry application/json without a CORS preflight, which the daemon
// never grants. The body is capped at MaxBody.
func (g *Guard) RequireJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "application/json" {
				g.refuse(w, http.StatusUnsupportedMediaType, ReasonMediaType, r.Method+" needs a JSON body (Content-Type: application/json)")
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		}
		next.ServeHTTP(w, r)
	})
}
