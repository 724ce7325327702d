package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
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

// get sends a GET and returns the response when its status is 200;
// otherwise an error with the reason of the daemon's {"error": …} answer.
func (c *apiClient) get(ctx context.Context, path string) (*http.Response, error) {
	return c.do(ctx, http.MethodGet, path, nil)
}

// post sends body as JSON (the admin API takes state changes only as POSTs
// with a JSON body) and returns the response as get does.
func (c *apiClient) post(ctx context.Context, path string, body any) (*http.Response, error) {
	return c.do(ctx, http.MethodPost, path, body)
}

// do sends a request, with body as JSON when it is not nil, and returns the
// response when its status is 200; otherwise an error with the reason of
// the daemon's {"error": …} answer.
func (c *apiClient) do(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.url, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
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

// getJSON sends a GET, decodes the answer into v and returns it raw too
// (for --json).
func (c *apiClient) getJSON(ctx context.Context, path string, v any) ([]byte, error) {
	resp, err := c.get(ctx, path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, fmt.Errorf("decode answer: %w", err)
	}
	return raw, nil
}

// postJSON sends body as post does and decodes the answer into v.
func (c *apiClient) postJSON(ctx context.Context, path string, body, v any) error {
	resp, err := c.post(ctx, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(v); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}
