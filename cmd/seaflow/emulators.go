package main

import (
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/seatable/emulator"
)

// emulators runs one in-process SeaTable emulator per fixture file named by
// `url: emulator` bases, each on its own loopback port.
type emulators struct {
	now func() time.Time
	log zerolog.Logger

	mu        sync.Mutex
	byFixture map[string]*runningEmulator
	byBase    map[string]*runningEmulator
}

type runningEmulator struct {
	emu    *emulator.Emulator
	url    string
	srv    *http.Server
	tokens map[string]string // fixture base name → API token
}

func newEmulators(now func() time.Time, log zerolog.Logger) *emulators {
	return &emulators{now: now, log: log, byFixture: map[string]*runningEmulator{}, byBase: map[string]*runningEmulator{}}
}

// ensure makes base name, an emulator base of cfg, served: by the emulator
// of its fixture file, started on first use. It returns that emulator's
// URL and the base's API token.
func (es *emulators) ensure(cfg *rules.Config, name string) (url, token string, err error) {
	base := cfg.Bases[name]
	es.mu.Lock()
	defer es.mu.Unlock()
	re, ok := es.byFixture[base.Fixture]
	if !ok {
		fx := base.ParsedFixture()
		// The emulated SeaTable enforces its own limits (the fixture's
		// plan:, limits: and monthly:, else the seed's 300/min and
		// 5,000/24h), never the base's configured limits: a config that
		// plans for more than the server allows shows up as 429s.
		opts := emulator.Options{Now: es.now, Logger: es.log.With().Str("component", "emulator").Logger()}
		fx.Settings.Apply(&opts)
		emu := emulator.New(opts)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", "", fmt.Errorf("emulator: listen: %w", err)
		}
		re = &runningEmulator{emu: emu, url: "http://" + ln.Addr().String(), tokens: map[string]string{}}
		emu.SetServerURL(re.url)
		infos, err := emu.Load(fx)
		if err != nil {
			ln.Close()
			return "", "", fmt.Errorf("load fixture: %w", err)
		}
		for _, info := range infos {
			re.tokens[info.Name] = info.APIToken
		}
		re.srv = &http.Server{Handler: emu, ReadHeaderTimeout: 5 * time.Second}
		go re.srv.Serve(ln)
		es.byFixture[base.Fixture] = re
		es.log.Info().Str("url", re.url).Str("fixture", base.Fixture).Msg("in-process SeaTable emulator running")
	}
	tok, ok := re.tokens[name]
	if !ok {
		return "", "", fmt.Errorf("fixture %s has no base named %q", base.Fixture, name)
	}
	es.byBase[name] = re
	return re.url, tok, nil
}

// first returns the first emulator by fixture path (served at /emulator/ on the
// daemon's own server), or nil.
func (es *emulators) first() *runningEmulator {
	es.mu.Lock()
	defer es.mu.Unlock()
	keys := make([]string, 0, len(es.byFixture))
	for k := range es.byFixture {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return nil
	}
	return es.byFixture[keys[0]]
}

func (es *emulators) close() {
	es.mu.Lock()
	defer es.mu.Unlock()
	for _, re := range es.byFixture {
		if re.srv != nil {
			re.srv.Close()
		}
	}
}
