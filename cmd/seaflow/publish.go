package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/seaflow/seaflow/rules"
)

func init() {
	commands["publish"] = command{summary: "publish a JSON message to the NATS server the daemon's NATS rules listen on (publish SUBJECT JSON)", run: runPublish}
}

// defaultNATS is where publish connects without --nats or --config: the
// address the README's nats.listen opens.
const defaultNATS = "nats://127.0.0.1:4222"

func runPublish(ctx context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("publish")
	configPath := fs.String("config", "", "config file: publish to its nats.url, storage.nats_url or nats.listen")
	server := fs.String("nats", "", "NATS server `URL` (default "+defaultNATS+", or the one --config names)")
	id := fs.String("id", "", "Nats-Msg-Id of the message: the event id, so a second publish with the same id is dropped")
	noWait := fs.Bool("no-wait", false, "publish without waiting for seaflow's answer (for subjects no rule listens on)")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the server and seaflow's answer")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 2 {
		return usagef(`seaflow publish shop.orders.created '{"id":"A-1","total":9.5}'`, "publish needs a subject and a JSON message: seaflow publish SUBJECT JSON")
	}
	subject, body := rest[0], rest[1]
	if *configPath != "" && *server != "" {
		return usagef("seaflow publish SUBJECT JSON --config FILE, or --nats URL", "publish takes --config or --nats, not both")
	}
	if strings.ContainsAny(subject, " \t\r\n*>") || subject == "" || strings.Contains(subject, "..") || strings.HasPrefix(subject, ".") || strings.HasSuffix(subject, ".") {
		return usagef("seaflow publish shop.orders.created JSON", "%q is not a subject to publish to (dot-separated tokens, no spaces or wildcards)", subject)
	}
	data := []byte(body)
	if body == "-" {
		if data, err = io.ReadAll(io.LimitReader(os.Stdin, 8<<20)); err != nil {
			return fmt.Errorf("publish: read stdin: %w", err)
		}
	}
	if !json.Valid(data) {
		return usagef(`put the JSON in single quotes: '{"id":"A-1"}'`, "publish: the message is not JSON: %.60q", data)
	}
	addr := *server
	if addr == "" {
		addr = defaultNATS
		if *configPath != "" {
			cfg, err := m.loadConfig(*configPath)
			if err != nil {
				return err
			}
			if addr, err = natsAddress(cfg.NATS.URL, cfg.Storage.NATSURL, cfg.NATS.Listen, *configPath); err != nil {
				return err
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	nc, err := nats.Connect(addr, nats.Name("seaflow-publish"), nats.Timeout(*timeout), nats.MaxReconnects(0))
	if err != nil {
		return fmt.Errorf("publish: %w", natsError(addr, err))
	}
	defer nc.Close()
	msg := nats.NewMsg(subject)
	msg.Data = data
	if *id != "" {
		msg.Header.Set(nats.MsgIdHdr, *id)
	}
	if *noWait {
		if err := nc.PublishMsg(msg); err != nil {
			return fmt.Errorf("publish: %w", natsError(addr, err))
		}
		if err := nc.FlushWithContext(ctx); err != nil {
			return fmt.Errorf("publish: %w", natsError(addr, err))
		}
		fmt.Fprintf(m.Stdout, "published to %s on %s\n", subject, redactURL(addr))
		return nil
	}
	reply, err := nc.RequestMsgWithContext(ctx, msg)
	if errors.Is(err, nats.ErrNoResponders) {
		return withTry(fmt.Errorf("publish: nothing listens on %s at %s: no NATS rule of a running daemon subscribes to it", subject, redactURL(addr)),
			"check the rule's on: {nats: SUBJECT} and that the daemon runs with this config, or pass --no-wait")
	}
	if err != nil {
		return fmt.Errorf("publish: no answer from seaflow on %s: %w", subject, natsError(addr, err))
	}
	var answer struct{ ID, Error string }
	if err := json.Unmarshal(reply.Data, &answer); err != nil || (answer.ID == "" && answer.Error == "") {
		// Something else answers on that subject.
		fmt.Fprintf(m.Stdout, "published to %s; answer: %.200s\n", subject, reply.Data)
		return nil
	}
	if answer.Error != "" {
		return fmt.Errorf("publish: seaflow refused the message: %s", answer.Error)
	}
	fmt.Fprintf(m.Stdout, "published to %s: stored as event %s\n", subject, answer.ID)
	return nil
}

// natsAddress is where a config's NATS rules listen, for a client outside
// the daemon: nats.url, else storage.nats_url, else the embedded server's
// nats.listen (its wildcard host read as loopback).
func natsAddress(natsURL, storageURL, listen, file string) (string, error) {
	switch {
	case natsURL != "":
		return natsURL, nil
	case storageURL != "":
		return storageURL, nil
	case listen == "":
		return "", withTry(fmt.Errorf("publish: the embedded NATS server of %s opens no port", file),
			`add nats: { listen: "127.0.0.1:4222" } to `+file+` and restart the daemon, or pass --nats URL`)
	}
	host, port, _ := net.SplitHostPort(listen)
	if port == "0" {
		return "", withTry(fmt.Errorf("publish: nats.listen of %s picks a free port at start", file),
			"pass --nats nats://ADDR with the nats_listen address the daemon logged")
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "nats://" + net.JoinHostPort(host, port), nil
}

// natsError explains a failed NATS connect or request in a line.
func natsError(server string, err error) error {
	switch {
	case errors.Is(err, nats.ErrNoServers), errors.Is(err, syscall.ECONNREFUSED):
		return withTry(fmt.Errorf("no NATS server answers at %s", redactURL(server)),
			`run the daemon with nats: { listen: "127.0.0.1:4222" } in its config, or pass --nats URL`)
	case errors.Is(err, nats.ErrAuthorization):
		return withTry(fmt.Errorf("the NATS server at %s refused the credentials", redactURL(server)), "put user:password@ or a token in the URL")
	case errors.Is(err, nats.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return withTry(fmt.Errorf("timed out talking to %s", redactURL(server)), "is the daemon busy or stopped? raise --timeout, or look at its logs")
	}
	return err
}

// redactURL drops credentials from a comma-separated list of NATS URLs.
func redactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			u.User = nil
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}

// logNATSListen logs the address of the embedded server's client port
// when nats.listen opened one, with a warning when it is not loopback.
func (d *daemon) logNATSListen() {
	addr := d.q.ListenAddr()
	if addr == "" {
		return
	}
	if rules.LoopbackListen(addr) {
		d.log.Info().Str("nats_listen", addr).Msg("embedded NATS accepts clients")
		return
	}
	d.log.Warn().Str("nats_listen", addr).Msg("embedded NATS accepts clients from the network without authentication or TLS: firewall it, or use loopback")
}
