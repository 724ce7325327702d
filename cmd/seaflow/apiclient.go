package main

import (
	"context"
	"flag"
	"io"
	"net/http"
	"os"
	"strings"
)

// apiClient talks to a running daemon's HTTP API for the CLI commands
// status, dead and replay.
type apiClient struct {
	url   string
	token string
}

// addAPIFlags registers --url and --token on fs.
func addAPIFlags(fs *flag.FlagSet) *apiClient {
	c := &apiClient{}
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080", "base URL of the running daemon")
	fs.StringVar(&c.token, "token", os.Getenv("SEAFLOW_TOKEN"), "API token (server.token), when the daemon needs one; default $SEAFLOW_TOKEN")
	return c
}

// do sends a request and returns the response when its status is 200;
// otherwise an error with the reason of the daemon's {"error": …} answer.
func (c *apiClient) do(ctx context.Context, method, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.url, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, unreachableError(c.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, answerError(resp.StatusCode, body)
	}
	return resp, nil
}
