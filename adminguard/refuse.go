package adminguard

import (
	"encoding/json"
	"net/http"
)

// refuse answers a refused request with status and a JSON reason, and
// counts it.
func (g *Guard) refuse(w http.ResponseWriter, status int, reason Reason, msg string) {
	g.refused(reason)
	writeError(w, status, msg)
}

// writeError writes {"error": msg} with status.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
