package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealth(t *testing.T) {
	_, b := startTestDaemon(t, daemonConfig)
	if out, errOut, code := runCLI(t, nil, "health", "--url", b.url); code != 0 || strings.TrimSpace(out) != "ready" {
		t.Errorf("health of a ready daemon: exit %d %q %q", code, out, errOut)
	}

	red := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"damaged","error":"stream SEAFLOW_OPS: 1000 messages lost"}`))
	}))
	defer red.Close()
	if _, errOut, code := runCLI(t, nil, "health", "--url", red.URL); code != 1 || !strings.Contains(errOut, "1000 messages lost") {
		t.Errorf("health of a red daemon: exit %d %q", code, errOut)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	if _, errOut, code := runCLI(t, nil, "health", "--url", "http://"+addr); code != 1 || !strings.Contains(errOut, "not reachable") {
		t.Errorf("health with no daemon: exit %d %q", code, errOut)
	}
}
