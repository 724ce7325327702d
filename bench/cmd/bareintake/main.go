// Command bareintake is the baseline of the intake benchmark (issue 13
// item 6): a bare net/http handler that does only what seaflow's durable
// webhook intake does on the spine. It opens the same queue (queue.Open:
// the embedded server, the same EVENTS stream config) and, for every POST,
// reads the body and publishes it synchronously to the webhook events
// subject with a Nats-Msg-Id (the body's SHA-256, so a duplicate inside
// the window is dropped), then answers 202. No auth, no decoding, no rules.
//
//	go run ./bench/cmd/bareintake -listen 127.0.0.1:0 -data-dir DIR
//
// It prints "listening on ADDR" once it serves, and runs until SIGINT or
// SIGTERM.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow/queue"
)

// eventsSubject is the subject seaflow stores webhook events on.
const eventsSubject = "seaflow.events.webhook"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bareintake:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("bareintake", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "host:port to serve on")
	dir := fs.String("data-dir", "", "the embedded server's storage directory (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("-data-dir is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	q, err := queue.Open(ctx, queue.Options{Dir: *dir, Logger: zerolog.Nop()})
	if err != nil {
		return fmt.Errorf("open queue: %w", err)
	}
	defer q.Close()
	js, err := jetstream.New(q.Conn())
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: handler(js), ReadHeaderTimeout: 5 * time.Second}
	fmt.Printf("listening on %s\n", ln.Addr())
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// handler stores every POST body as one event message and answers 202
// once the stream acked it (503 when it did not).
func handler(js jetstream.JetStream) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		sum := sha256.Sum256(body)
		m := nats.NewMsg(eventsSubject)
		m.Data = body
		m.Header.Set(jetstream.MsgIDHeader, hex.EncodeToString(sum[:]))
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		if _, err := js.PublishMsg(ctx, m); err != nil {
			http.Error(w, "store", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
}
