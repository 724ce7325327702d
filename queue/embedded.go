package queue

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
)

// embeddedReadyTimeout bounds how long Open waits for the embedded server.
const embeddedReadyTimeout = 30 * time.Second

// startEmbedded starts an in-process nats-server with JetStream on o.Dir.
// It opens no port unless o.Listen is set.
func startEmbedded(o Options, log zerolog.Logger, writeFailed, corrupt chan string) (*server.Server, error) {
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("storage dir %s: %w", o.Dir, err)
	}
	opts := &server.Options{
		ServerName: "seaflow",
		JetStream:  true,
		StoreDir:   dir,
		SyncAlways: o.SyncAlways,
		NoSigs:     true,
		DontListen: true,
		// Room for nearly every event in one message; a larger one (an
		// 8 MiB SeaTable webhook with its envelope) goes to the bodies
		// store (see large.go).
		MaxPayload: embeddedMaxPayload,
	}
	if o.Listen != "" {
		host, port, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("embedded nats listen address %q: %w", o.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 0 || p > 65535 {
			return nil, fmt.Errorf("embedded nats listen address %q: bad port", o.Listen)
		}
		if p == 0 {
			p = server.RANDOM_PORT
		}
		opts.DontListen = false
		opts.Host = host
		opts.Port = p
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	sl := serverLogger{l: log.With().Str("component", "nats-server").Logger(), fatal: make(chan string, 1), writeFailed: writeFailed, corrupt: corrupt}
	ns.SetLoggerV2(sl, false, false, false)
	go ns.Start()
	for deadline := time.Now().Add(embeddedReadyTimeout); !ns.ReadyForConnections(100 * time.Millisecond); {
		var why string
		select {
		case why = <-sl.fatal:
		default:
			if time.Now().Before(deadline) {
				continue
			}
			why = fmt.Sprintf("not ready after %s", embeddedReadyTimeout)
		}
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("embedded nats on %s: %s", dir, why)
	}
	if !ns.JetStreamEnabled() {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("embedded nats on %s: jetstream did not start", dir)
	}
	return ns, nil
}

// ListenAddr returns the address the embedded server accepts clients on, or
// "" when it opened no port or the queue uses an external server.
func (q *Queue) ListenAddr() string {
	if q.ns == nil || q.o.Listen == "" {
		return ""
	}
	if a, ok := q.ns.Addr().(*net.TCPAddr); ok {
		return a.String()
	}
	return ""
}

// serverLogger sends the embedded server's logs to zerolog. Notices (the
// start-up banner, stream recovery) are debug-level chatter for seaflow.
// A fatal error (a port in use) is also sent on fatal, so Open fails at
// once instead of waiting for a server that will never be ready.
type serverLogger struct {
	l     zerolog.Logger
	fatal chan string
	// writeFailed receives the first critical store write error (a full
	// disk): the stream's store refuses writes from then on, until the
	// server is restarted.
	writeFailed chan string
	// corrupt receives the server's reports of unreadable block records,
	// for the integrity checks.
	corrupt chan string
}

func (s serverLogger) Noticef(format string, v ...any) { s.l.Debug().Msgf(format, v...) }
func (s serverLogger) Warnf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	s.l.Warn().Msg(msg)
	noteCorrupt(s.corrupt, msg)
}
func (s serverLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	s.l.Error().Msg(msg)
	select {
	case s.fatal <- msg:
	default:
	}
}
func (s serverLogger) Errorf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	s.l.Error().Msg(msg)
	if strings.Contains(strings.ToLower(msg), "critical write error") {
		select {
		case s.writeFailed <- msg:
		default:
		}
	}
}
func (s serverLogger) Debugf(format string, v ...any) { s.l.Debug().Msgf(format, v...) }
func (s serverLogger) Tracef(format string, v ...any) { s.l.Trace().Msgf(format, v...) }
