package statuspage

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(Handler())
	t.Cleanup(srv.Close)

	t.Run("page", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self' 'unsafe-inline'", "style-src 'self' 'unsafe-inline'", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		// Only 'self' and inline: no host, scheme or wildcard source anywhere.
		for _, bad := range []string{"http:", "https:", "*", "data:", "'unsafe-eval'"} {
			if strings.Contains(csp, bad) {
				t.Errorf("CSP %q allows %q", csp, bad)
			}
		}
		if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
			t.Errorf("Referrer-Policy %q, want no-referrer (the URL may carry a token)", got)
		}
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("X-Content-Type-Options %q", got)
		}
		html := string(body)
		for _, external := range []string{"http://", "https://", "//cdn", "src=\"//", "href=\"//", "@import"} {
			if strings.Contains(html, external) {
				t.Errorf("page refers to an external resource: contains %q", external)
			}
		}
		for _, want := range []string{"<style>", "<script>", "/api/status", "/api/dead/", `"Content-Type"`, "application/json", "JSON.stringify", `credentials: "same-origin"`} {
			if !strings.Contains(html, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		if strings.Contains(html, "localStorage") || strings.Contains(html, "sessionStorage") || strings.Contains(html, "document.cookie") || strings.Contains(html, "Authorization") {
			t.Error("page handles a credential itself; the session must stay in the HttpOnly cookie")
		}
	})

	t.Run("head", func(t *testing.T) {
		resp, err := http.Head(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("HEAD: status %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
		}
	})

	t.Run("other path", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/nope")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("status %d, want 404", resp.StatusCode)
		}
	})

	t.Run("post", func(t *testing.T) {
		resp, err := http.Post(srv.URL+"/", "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("status %d Allow %q, want 405 and GET, HEAD", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})
}
