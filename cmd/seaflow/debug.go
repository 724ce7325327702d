package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"
)

// debugListenEnv names the variable that, when set to a loopback
// host:port, serves Go's profiles (/debug/pprof/) there for as long as the
// process runs: how an operator finds where a daemon's CPU or memory goes.
// It is off by default, and refused on any address but loopback (the
// profiles are unauthenticated).
const debugListenEnv = "SEAFLOW_DEBUG_LISTEN"

// startDebug serves the profiles when debugListenEnv is set.
func startDebug() error {
	addr := os.Getenv(debugListenEnv)
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s=%q: %w", debugListenEnv, addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%s=%q: profiles are served on loopback only", debugListenEnv, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: %w", debugListenEnv, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(os.Stderr, "seaflow: profiles on http://%s/debug/pprof/\n", ln.Addr())
	go func() { _ = srv.Serve(ln) }()
	return nil
}
