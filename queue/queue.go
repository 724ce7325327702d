// Package queue is seaflow's durable spine on NATS JetStream: the EVENTS
// stream triggers write to, the OPS work queue the runner fills and the
// dispatcher drains per base and lane, the DEAD stream of refused ops, and
// the KV buckets that hold the shared budget and small cursors.
//
// The same code serves two sizes. With Options.URL empty, Open starts an
// in-process nats-server with JetStream on Options.Dir and connects to it
// without opening a port. With Options.URL set, Open connects to an existing
// JetStream cluster and creates (or updates) the same streams there with
// Options.Replicas replicas.
//
// Durability: every publish returns only after the server stored the
// message. The embedded server does not fsync each write unless
// Options.SyncAlways is set (see there): seaflow's default survives a
// process crash, not a power cut within the last two minutes.
//
// Layout (subjects carry names encoded with Token):
//
//	SEAFLOW_EVENTS  seaflow.events.<source>      limits, 7 days, dedupe by Event.ID
//	SEAFLOW_OPS     seaflow.ops.<base>.<lane>    work queue, dedupe by Op.ID,
//	                                             one durable pull consumer per base and lane
//	SEAFLOW_DEAD    seaflow.dead.<base>          limits: kept until retried or dropped, or
//	                                             past Options.DeadMaxAge/Msgs/Bytes
//	KV seaflow_budget  <base>                    budget state, compare-and-set
//	KV seaflow_state   free-form cursors
package queue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Stream and bucket names. The streams are prefixed so seaflow can share an
// external cluster with other applications without a name clash.
const (
	// EventsStream holds every event a trigger accepted (limits retention).
	EventsStream = "SEAFLOW_EVENTS"
	// OpsStream is the work queue of row actions (work-queue retention).
	OpsStream = "SEAFLOW_OPS"
	// HistoryStream holds the event history: each event's trace and each
	// op's latest fate (one message per subject, for the retention).
	HistoryStream = "SEAFLOW_HISTORY"
	// DeadStream holds the ops SeaTable refused, with the reason.
	DeadStream = "SEAFLOW_DEAD"
	// BudgetBucket is the KV bucket of per-base budget state.
	BudgetBucket = "seaflow_budget"
	// StateBucket is the KV bucket of small cursors (cron ticks).
	StateBucket = "seaflow_state"
	// EchoesBucket is the KV bucket of the loop guard's pending echoes.
	EchoesBucket = "seaflow_echoes"
	// BreakerBucket is the KV bucket of the loop breaker's write counts.
	BreakerBucket = "seaflow_breaker"
)

// Subject prefixes of the streams.
const (
	eventsPrefix = "seaflow.events."
	opsPrefix    = "seaflow.ops."
	deadPrefix   = "seaflow.dead."
	// historyPrefix: .ev.<bucket>.r, .fates.<bucket>, .dead.<event>,
	// .again.<event> (history.go), and an earlier version's .ev.<event>,
	// .op.<event>.
	historyPrefix = "seaflow.history."
)

// Defaults for the zero values of Options.
const (
	// DefaultDuplicateWindow is how long EVENTS and OPS remember a
	// Nats-Msg-Id to drop a duplicate (JetStream's own default).
	DefaultDuplicateWindow = 2 * time.Minute
	// DefaultEventsMaxAge is how long the EVENTS stream keeps events, so
	// `seaflow replay` can reach back that far.
	DefaultEventsMaxAge = 7 * 24 * time.Hour
	// DefaultHistoryMaxAge is how long the event history is kept.
	DefaultHistoryMaxAge = 7 * 24 * time.Hour
	// DefaultEventsDedupeWindow is how long an event id is remembered: an
	// event sent again within it (a SeaTable redelivery, an
	// Idempotency-Key re-sent, a signed request replayed, a cron tick two
	// replicas fire) is stored once. The server keeps the ids of the
	// window's events (about 100 bytes each) and rebuilds them from the
	// stream on a restart.
	DefaultEventsDedupeWindow = 7 * 24 * time.Hour
	// DefaultExternalReplicas is the replica count on an external cluster.
	DefaultExternalReplicas = 3
)

// Options configures Open.
type Options struct {
	// Dir is the storage directory of the embedded server. Required when URL
	// is empty; ignored otherwise. It is created if missing.
	Dir string
	// URL is an external NATS server or cluster, as a comma-separated list of
	// URLs (credentials in the URL are never logged). Empty starts the
	// embedded server on Dir.
	URL string
	// Replicas is the replica count of every stream and KV bucket. Zero means
	// 1 for the embedded server (which cannot hold more) and for a single
	// external server (one without a cluster name), and 3 on an external
	// cluster.
	Replicas int
	// Listen is an optional host:port on which the embedded server accepts
	// NATS clients (for example to let `seaflow status` or other tools in).
	// Empty opens no port: the process talks to its server in memory.
	Listen string
	// SyncAlways makes the embedded server fsync every write before it acks.
	// Off (the default), JetStream syncs its files every two minutes: a
	// process crash loses nothing that was acked (the kernel has it), but a
	// power cut or kernel crash can lose writes acked in the last two
	// minutes. On, nothing acked is lost even then, at the cost of one fsync
	// per publish (throughput drops to what the disk can sync). On an
	// external cluster this is the server's own setting; with R3, a write is
	// acked only once a majority has it, which covers a single machine's
	// power cut.
	SyncAlways bool
	// DuplicateWindow is how long OPS drops an op whose Nats-Msg-Id
	// (Op.ID) was already stored. Zero means DefaultDuplicateWindow (2
	// minutes).
	DuplicateWindow time.Duration
	// EventsDedupeWindow is how long EVENTS drops an event whose id was
	// already stored (storage.dedupe_window). Zero means
	// DefaultEventsDedupeWindow (7 days); it is cut to EventsMaxAge when
	// that is shorter (the ids are those of the events kept).
	EventsDedupeWindow time.Duration
	// EventsMaxAge is how long events are kept. Zero means
	// DefaultEventsMaxAge (7 days).
	EventsMaxAge time.Duration
	// EchoTTL is how long the loop guard keeps a pending echo
	// (loop_guard.echo_ttl); it sizes the echoes bucket's TTL. Zero means
	// 6 hours.
	EchoTTL time.Duration
	// SetupTimeout bounds how long Open keeps retrying the creation of the
	// streams and buckets, which a cluster that is still electing its
	// leaders refuses (two replicas starting together on a fresh cluster
	// both see it). Zero means DefaultSetupTimeout.
	SetupTimeout time.Duration
	// DeadMaxAge, DeadMaxMsgs and DeadMaxBytes bound the dead letters
	// kept: past any of them the oldest are discarded (DeadStats counts
	// them). Zero means no limit of that kind (the daemon passes
	// storage.dead_max_*, which have defaults).
	DeadMaxAge   time.Duration
	DeadMaxMsgs  int64
	DeadMaxBytes int64
	// AcceptDataLoss lets Open go on with a store whose streams lost
	// messages since the last run (the damage is logged, not returned).
	// False, the default: Open returns a *DamageError saying which streams
	// and how many messages.
	AcceptDataLoss bool
	// CheckEvery is how often the running queue checks its streams for
	// lost or unreadable messages (CheckIntegrity). Zero means
	// DefaultCheckEvery (30 s); negative, never.
	CheckEvery time.Duration
	// HistoryMaxAge is how long the event history is kept (history.retention).
	// Zero means DefaultHistoryMaxAge.
	HistoryMaxAge time.Duration
	// Now is the queue's clock: it stamps dead letters and times how
	// long taken events have waited. Nil means time.Now.
	Now func() time.Time
	// Logger receives the queue's logs and the embedded server's.
	Logger zerolog.Logger

	// noAtomic leaves atomic batches off the OPS stream, as on a server
	// older than 2.12 (tests).
	noAtomic bool
	// idleConsumer replaces opsIdleConsumer when set (tests).
	idleConsumer time.Duration
}

// Queue is a connection to the durable spine. All methods are safe for
// concurrent use.
type Queue struct {
	o   Options
	log zerolog.Logger
	now func() time.Time
	// large is the store of events too large for one message.
	large bodies

	ns        *server.Server // nil with an external URL
	stopWatch chan struct{}  // stops watchStore
	// writeFailed gets the embedded server's first critical write error.
	writeFailed chan string
	// opened is when this process opened the queue: a message stored
	// before it may have been handed to an earlier process.
	opened time.Time
	// failed is closed, with failErr set, when the store cannot go on.
	failed  chan struct{}
	failErr error
	lock    *os.File // the storage dir lock of the embedded server
	nc      *nats.Conn
	js      jetstream.JetStream

	events, ops, dead jetstream.Stream
	// atomic says the OPS stream takes atomic batches: a large publish of
	// ops then stores one duplicate id per batch (see atomic.go).
	atomic bool
	// atomicSlots bounds this process's atomic batches in flight.
	atomicSlots         chan struct{}
	history             jetstream.Stream
	budgetKV, stateKV   jetstream.KeyValue
	echoesKV, breakerKV jetstream.KeyValue

	// retry is the redelivery delay after a failed event handler.
	retry backoff
	// integ holds the integrity checks' marks and the damage found.
	integ integrity

	mu        sync.Mutex
	consumers map[string]jetstream.Consumer // OPS pull consumers by durable name
	// wake are the idle lanes waiting for ops (Queued).
	wake wakers

	closeOnce sync.Once
	closeErr  error
	connDone  chan struct{}
}

// Open starts the embedded server (or connects to Options.URL), then creates
// or updates the streams and KV buckets. It is idempotent: opening again on
// the same directory or cluster keeps every queued message and applies the
// current options to the existing streams. An external server without
// JetStream is refused with an error that says so.
func Open(ctx context.Context, o Options) (*Queue, error) {
	if o.DuplicateWindow == 0 {
		o.DuplicateWindow = DefaultDuplicateWindow
	}
	if o.EventsMaxAge == 0 {
		o.EventsMaxAge = DefaultEventsMaxAge
	}
	if o.EventsDedupeWindow == 0 {
		o.EventsDedupeWindow = DefaultEventsDedupeWindow
	}
	o.EventsDedupeWindow = min(o.EventsDedupeWindow, o.EventsMaxAge)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DuplicateWindow < 0 || o.EventsMaxAge < 0 || o.DeadMaxAge < 0 || o.DeadMaxMsgs < 0 || o.DeadMaxBytes < 0 {
		return nil, errors.New("open queue: negative duplicate window, max age or dead-letter limit")
	}
	if o.EventsMaxAge < o.DuplicateWindow {
		return nil, fmt.Errorf("open queue: events max age %s is shorter than the duplicate window %s", o.EventsMaxAge, o.DuplicateWindow)
	}
	if o.URL == "" {
		if o.Dir == "" {
			return nil, errors.New("open queue: a storage directory is required for the embedded server")
		}
		if o.Replicas == 0 {
			o.Replicas = 1
		}
		if o.Replicas != 1 {
			return nil, fmt.Errorf("open queue: the embedded server holds one replica, not %d (use an external cluster)", o.Replicas)
		}
	}
	if o.Replicas < 0 || o.Replicas > 5 {
		return nil, fmt.Errorf("open queue: replicas must be between 1 and 5, not %d", o.Replicas)
	}

	q := &Queue{
		o:           o,
		log:         o.Logger,
		now:         o.Now,
		retry:       backoff{min: time.Second, max: time.Minute},
		consumers:   make(map[string]jetstream.Consumer),
		connDone:    make(chan struct{}),
		failed:      make(chan struct{}),
		opened:      time.Now(),
		integ:       integrity{corrupt: make(chan string, 16)},
		atomicSlots: make(chan struct{}, atomicSlots),
	}
	if err := q.connect(); err != nil {
		q.shutdown()
		return nil, err
	}
	if q.o.Replicas == 0 {
		// An external cluster gets R3; a single server (no cluster name)
		// can only hold one replica.
		q.o.Replicas = DefaultExternalReplicas
		if q.nc.ConnectedClusterName() == "" {
			q.o.Replicas = 1
		}
	}
	if err := q.checkAtOpen(ctx); err != nil {
		q.shutdown()
		return nil, err
	}
	if err := q.setupWithRetry(ctx); err != nil {
		q.shutdown()
		return nil, err
	}
	if err := q.startIntegrity(ctx); err != nil {
		q.shutdown()
		return nil, err
	}
	if q.ns != nil {
		q.stopWatch = make(chan struct{})
		go q.watchStore(q.stopWatch)
	}
	return q, nil
}

// connect starts the embedded server or dials the external one.
func (q *Queue) connect() error {
	copts := []nats.Option{
		nats.Name("seaflow"),
		nats.ClosedHandler(func(*nats.Conn) { close(q.connDone) }),
	}
	if q.o.URL == "" {
		lock, err := lockDir(q.o.Dir)
		if err != nil {
			return err
		}
		q.lock = lock
		q.writeFailed = make(chan string, 1)
		ns, err := startEmbedded(q.o, q.log, q.writeFailed, q.integ.corrupt)
		if err != nil {
			return err
		}
		q.ns = ns
		copts = append(copts, nats.InProcessServer(ns))
	} else {
		copts = append(copts,
			nats.MaxReconnects(-1),
			nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
				q.log.Warn().Err(err).Msg("nats disconnected")
			}),
			nats.ReconnectHandler(func(nc *nats.Conn) {
				q.log.Info().Str("server", nc.ConnectedUrlRedacted()).Msg("nats reconnected")
			}),
		)
	}
	nc, err := nats.Connect(q.o.URL, copts...)
	if err != nil {
		if q.o.URL == "" {
			return fmt.Errorf("connect to embedded nats: %w", err)
		}
		return fmt.Errorf("connect to nats at %s: %w", redactURLs(q.o.URL), err)
	}
	q.nc = nc
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(publishMaxPending),
		jetstream.WithPublishAsyncTimeout(publishAckTimeout),
	)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	q.js = js
	return nil
}

// setup checks JetStream is there, then creates or updates every stream and
// bucket.
func (q *Queue) setup(ctx context.Context) error {
	actx, cancel := context.WithTimeout(ctx, setupCallTimeout)
	_, err := q.js.AccountInfo(actx)
	cancel()
	if err != nil {
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return fmt.Errorf("nats at %s has no JetStream: enable it on the server (nats-server -js) or leave storage.nats_url empty to use the embedded server: %w", q.where(), err)
		}
		return fmt.Errorf("jetstream account info at %s: %w", q.where(), err)
	}
	deadBytes := q.deadMaxBytes()
	streams := []struct {
		cfg jetstream.StreamConfig
		dst *jetstream.Stream
	}{
		{jetstream.StreamConfig{
			Name:        EventsStream,
			Description: "seaflow events: everything a trigger accepted",
			Subjects:    []string{eventsPrefix + ">"},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      q.o.EventsMaxAge,
			Duplicates:  max(q.o.EventsDedupeWindow, q.o.DuplicateWindow),
			Storage:     jetstream.FileStorage,
			Replicas:    q.o.Replicas,
			Discard:     jetstream.DiscardOld,
		}, &q.events},
		{jetstream.StreamConfig{
			Name:        OpsStream,
			Description: "seaflow ops: row actions waiting for their base's budget, per base and lane",
			Subjects:    []string{opsPrefix + ">"},
			Retention:   jetstream.WorkQueuePolicy,
			Duplicates:  q.o.DuplicateWindow,
			// Large publishes of ops go as atomic batches (atomic.go).
			AllowAtomicPublish: !q.o.noAtomic,
			Storage:            jetstream.FileStorage,
			Replicas:           q.o.Replicas,
			// New work is refused rather than old work dropped, should a
			// limit ever be set on this stream by an operator.
			Discard: jetstream.DiscardNew,
		}, &q.ops},
		{jetstream.StreamConfig{
			Name:        DeadStream,
			Description: "seaflow dead letters: ops SeaTable refused as invalid, with the reason",
			Subjects:    []string{deadPrefix + ">"},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      q.o.DeadMaxAge,
			MaxMsgs:     cmp.Or(q.o.DeadMaxMsgs, -1),
			MaxBytes:    cmp.Or(deadBytes, -1),
			// Dead letters carry no Nats-Msg-Id; the window must only not
			// exceed the max age.
			Duplicates: deadDuplicates(q.o.DeadMaxAge),
			Discard:    jetstream.DiscardOld,
			Storage:    jetstream.FileStorage,
			Replicas:   q.o.Replicas,
		}, &q.dead},
		{jetstream.StreamConfig{
			Name:        HistoryStream,
			Description: "seaflow event history: each event's trace and each op's latest fate",
			Subjects:    []string{historyPrefix + ">"},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      cmp.Or(q.o.HistoryMaxAge, DefaultHistoryMaxAge),
			// Records and fates share a subject per bucket of events; an
			// event's dead or again marker replaces the last by a rollup
			// (history.go).
			MaxMsgsPerSubject: -1,
			AllowRollup:       true,
			Duplicates:        time.Minute,
			Discard:           jetstream.DiscardOld,
			Storage:           jetstream.FileStorage,
			Replicas:          q.o.Replicas,
		}, &q.history},
	}
	for _, s := range streams {
		if *s.dst != nil {
			continue // made by an earlier try of setupWithRetry
		}
		cctx, cancel := context.WithTimeout(ctx, setupCallTimeout)
		st, err := q.js.CreateOrUpdateStream(cctx, s.cfg)
		cancel()
		if err != nil && s.cfg.MaxBytes > 0 && storageExceeded(err) {
			return fmt.Errorf("create or update stream %s: JetStream cannot reserve its %d bytes (lower storage.dead_max_bytes): %w", s.cfg.Name, s.cfg.MaxBytes, err)
		}
		if err != nil {
			return fmt.Errorf("create or update stream %s: %w", s.cfg.Name, err)
		}
		*s.dst = st
	}
	q.atomic = q.ops.CachedInfo().Config.AllowAtomicPublish
	if !q.atomic {
		q.log.Warn().Str("nats", q.where()).Msg("the NATS server does not take atomic batches (it needs 2.12 or later): every queued op keeps its own duplicate id, which costs the server about 170 B of memory per op queued within the duplicate window")
	}
	buckets := []struct {
		cfg jetstream.KeyValueConfig
		dst *jetstream.KeyValue
	}{
		{jetstream.KeyValueConfig{
			Bucket:      BudgetBucket,
			Description: "seaflow budget state per base (compare-and-set)",
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    q.o.Replicas,
		}, &q.budgetKV},
		{jetstream.KeyValueConfig{
			Bucket:      StateBucket,
			Description: "seaflow cursors: cron ticks",
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    q.o.Replicas,
		}, &q.stateKV},
		{jetstream.KeyValueConfig{
			Bucket:      EchoesBucket,
			Description: "seaflow loop guard: the writes seaflow made whose webhooks have not come back",
			History:     1,
			// A record untouched for this long only holds expired echoes.
			TTL:      2 * q.echoTTL(),
			Storage:  jetstream.FileStorage,
			Replicas: q.o.Replicas,
		}, &q.echoesKV},
		{jetstream.KeyValueConfig{
			Bucket:      BreakerBucket,
			Description: "seaflow loop breaker: writes per rule and row in the last hour",
			History:     1,
			TTL:         2 * time.Hour,
			Storage:     jetstream.FileStorage,
			Replicas:    q.o.Replicas,
		}, &q.breakerKV},
	}
	for _, b := range buckets {
		if *b.dst != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, setupCallTimeout)
		kv, err := q.js.CreateOrUpdateKeyValue(cctx, b.cfg)
		cancel()
		if err != nil {
			return fmt.Errorf("create or update bucket %s: %w", b.cfg.Bucket, err)
		}
		*b.dst = kv
	}
	q.log.Info().Str("nats", q.where()).Int("replicas", q.o.Replicas).Bool("sync_always", q.o.SyncAlways && q.ns != nil).Msg("queue open")
	return nil
}

// storageExceeded reports JetStream's "insufficient storage resources
// available" (err_code 10047).
func storageExceeded(err error) bool {
	var je jetstream.JetStreamError
	return errors.As(err, &je) && je.APIError() != nil && je.APIError().ErrorCode == 10047
}

// deadMaxBytes is Options.DeadMaxBytes, at most a quarter of the embedded
// server's storage: JetStream reserves a stream's byte cap when it creates
// it, and refuses one larger than the store (a small volume).
func (q *Queue) deadMaxBytes() int64 {
	b := q.o.DeadMaxBytes
	if q.ns == nil || b <= 0 {
		return b
	}
	if c := q.ns.JetStreamConfig(); c != nil && c.MaxStore > 0 && b > c.MaxStore/4 {
		q.log.Info().Int64("dead_max_bytes", b).Int64("store_bytes", c.MaxStore).Int64("using", c.MaxStore/4).Msg("dead-letter byte cap lowered to a quarter of the store's space")
		return c.MaxStore / 4
	}
	return b
}

// deadDuplicates is the DEAD stream's duplicate window: JetStream's
// default, or the max age when that is shorter.
func deadDuplicates(maxAge time.Duration) time.Duration {
	if maxAge > 0 && maxAge < DefaultDuplicateWindow {
		return maxAge
	}
	return DefaultDuplicateWindow
}

// where names the server for logs and errors, never with credentials.
func (q *Queue) where() string {
	if q.o.URL == "" {
		return "embedded:" + q.o.Dir
	}
	return redactURLs(q.o.URL)
}

// Close drains the connection (in-flight publishes and acks complete) and
// shuts the embedded server down. Queued work stays on disk for the next
// Open. Close is idempotent.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() {
		q.stopIntegrity()
		if q.nc != nil && !q.nc.IsClosed() {
			if err := q.nc.Drain(); err != nil {
				q.closeErr = fmt.Errorf("drain nats connection: %w", err)
				q.nc.Close()
			}
			<-q.connDone
		}
		// Every client write is done: the ledger records the final state.
		q.closeLedger()
		q.stopServer()
		q.log.Info().Msg("queue closed")
	})
	return q.closeErr
}

// shutdown releases what a failed Open acquired.
func (q *Queue) shutdown() {
	q.stopIntegrity()
	if q.nc != nil {
		q.nc.Close()
	}
	q.stopServer()
}

// stopServer shuts the embedded server down, then unlocks its directory.
func (q *Queue) stopServer() {
	if q.stopWatch != nil {
		close(q.stopWatch)
		q.stopWatch = nil
	}
	if q.ns != nil {
		q.ns.Shutdown()
		q.ns.WaitForShutdown()
	}
	if q.lock != nil {
		q.lock.Close()
	}
}

// Conn returns the NATS connection (for the NATS trigger in embedded mode).
func (q *Queue) Conn() *nats.Conn { return q.nc }

// JetStream returns the JetStream context.
func (q *Queue) JetStream() jetstream.JetStream { return q.js }

// State returns the seaflow_state bucket for cursors such as cron last-fired
// times and recent self-writes. Keys must be valid KV keys: build them with
// Token.
func (q *Queue) State() jetstream.KeyValue { return q.stateKV }

// redactURLs drops the user info of every URL in a comma-separated list.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		parts[i] = p
		if !strings.Contains(p, "@") {
			continue
		}
		u, err := url.Parse(p)
		if err != nil || u.Host == "" {
			parts[i] = "<url with credentials>"
			continue
		}
		if u.User != nil {
			u.User = url.User("redacted")
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}

// echoTTL is Options.EchoTTL with its default.
func (q *Queue) echoTTL() time.Duration {
	if q.o.EchoTTL > 0 {
		return q.o.EchoTTL
	}
	return 6 * time.Hour
}
