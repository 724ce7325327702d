package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/seatable"
)

// baseClients holds the SeaTable client of every configured base. A reload
// builds the clients of added or changed bases first (prepare), then swaps
// the whole set at once (commit).
type baseClients struct {
	mu      sync.RWMutex
	clients map[string]*seatable.Client
	configs map[string]rules.BaseConfig // what each client was built from
}

// get returns the client of base.
func (b *baseClients) get(base string) (*seatable.Client, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	c, ok := b.clients[base]
	return c, ok
}

// baseChange is what a new config does to the bases: clients built for
// the bases added or changed, and the names of those removed.
type baseChange struct {
	clients map[string]*seatable.Client
	configs map[string]rules.BaseConfig
	changed []string // added or with a new url, token or fixture
	removed []string
}

// prepare builds the clients cfg needs, reusing those whose base is
// unchanged; newClient builds one. Nothing running changes.
func (b *baseClients) prepare(cfg *rules.Config, newClient func(name string, base *rules.BaseConfig) (*seatable.Client, error)) (baseChange, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	ch := baseChange{clients: map[string]*seatable.Client{}, configs: map[string]rules.BaseConfig{}}
	for name, base := range cfg.Bases {
		old, ok := b.configs[name]
		if ok && old.URL == base.URL && old.APIToken == base.APIToken && old.Fixture == base.Fixture {
			ch.clients[name], ch.configs[name] = b.clients[name], old
			continue
		}
		c, err := newClient(name, base)
		if err != nil {
			return baseChange{}, fmt.Errorf("base %q: %w", name, err)
		}
		ch.clients[name], ch.configs[name] = c, *base
		ch.changed = append(ch.changed, name)
	}
	for name := range b.clients {
		if _, ok := cfg.Bases[name]; !ok {
			ch.removed = append(ch.removed, name)
		}
	}
	return ch, nil
}

// commit puts the prepared set in force.
func (b *baseClients) commit(ch baseChange) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clients, b.configs = ch.clients, ch.configs
}

// uuidLearnEvery is how often the intake may ask SeaTable for a base's
// uuid it does not know yet (the token exchange tells it).
const uuidLearnEvery = time.Minute

// uuidLearnWait bounds how long a webhook waits for that exchange.
const uuidLearnWait = 5 * time.Second

// knownBaseUUID gives the webhook intake the uuid of base. When no token
// exchange has told it yet, it makes one (the exchange the base's first
// call would make), waiting at most uuidLearnWait; only bodies that passed
// the signature check get here, and a failed exchange is not tried again
// for uuidLearnEvery, so the uuid is reported unknown and the body
// accepted.
func (d *daemon) knownBaseUUID(base string) (string, bool) {
	c, ok := d.clients.get(base)
	if !ok {
		return "", false
	}
	if uuid, ok := c.KnownBaseUUID(); ok {
		return uuid, true
	}
	now := d.opts.Clock.Now()
	d.uuidMu.Lock()
	if last, asked := d.uuidAsked[base]; asked && now.Sub(last) < uuidLearnEvery {
		d.uuidMu.Unlock()
		return "", false
	}
	if d.uuidAsked == nil {
		d.uuidAsked = map[string]time.Time{}
	}
	d.uuidAsked[base] = now
	d.uuidMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), uuidLearnWait)
	defer cancel()
	uuid, err := c.BaseUUID(ctx)
	if err != nil {
		d.log.Warn().Err(err).Str("base", base).Msg("webhook body accepted unchecked: the base's uuid is not known yet")
		return "", false
	}
	return uuid, true
}
