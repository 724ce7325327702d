package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

func init() {
	commands["health"] = command{summary: "exit 0 if a running daemon is ready (GET /readyz), 1 otherwise: a container healthcheck", run: runHealth}
}

// runHealth asks a running daemon's /readyz. It needs no token (readiness
// carries no data) and no tool in the image but seaflow itself.
func runHealth(ctx context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("health")
	base := fs.String("url", "http://127.0.0.1:8080", "base URL of the running daemon")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(*base, "/")+"/readyz", nil)
	if err != nil {
		fmt.Fprintf(m.Stderr, "seaflow health: %v\n", err)
		return exitError{2}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(m.Stderr, "seaflow health: not reachable at %s: %v\n", *base, err)
		return exitError{1}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var st struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	_ = json.Unmarshal(body, &st)
	if resp.StatusCode != http.StatusOK {
		why := st.Error
		if why == "" {
			why = strings.TrimSpace(string(body))
		}
		fmt.Fprintf(m.Stderr, "seaflow health: not ready (HTTP %d): %s\n", resp.StatusCode, why)
		return exitError{1}
	}
	fmt.Fprintln(m.Stdout, st.Status)
	return nil
}
