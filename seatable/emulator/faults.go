package emulator

import (
	"math/rand/v2"
	"time"
)

// Faults are injected into gateway calls (never into the token exchange
// or /_emulator/*), for tests and benchmarks.
type Faults struct {
	// Rate429 is the share of gateway calls answered 429 (empty body,
	// x-ratelimit headers) although the base is within its limits; 0..1.
	Rate429 float64
	// Rate5xx is the share answered 503 {"error_msg": …}; 0..1.
	Rate5xx float64
	// Latency is added before every gateway call is answered.
	Latency time.Duration
	// TokenTTL, when positive, replaces the base token lifetime of
	// tokens exchanged from now on (tokens that expire early).
	TokenTTL time.Duration
	// Seed seeds the draws, so a run is reproducible.
	Seed int64
}

// SetFaults replaces the injected faults and reseeds their draws.
func (e *Emulator) SetFaults(f Faults) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = f
	e.faultRand = rand.New(rand.NewPCG(uint64(f.Seed), uint64(f.Seed)^0x9e3779b97f4a7c15))
}

// drawFault decides the injected answer of one call: 0 (none), 429 or
// 503. Callers hold e.mu.
func (e *Emulator) drawFault() int {
	if e.faults.Rate429 <= 0 && e.faults.Rate5xx <= 0 {
		return 0
	}
	x := e.faultRand.Float64()
	switch {
	case x < e.faults.Rate429:
		return 429
	case x < e.faults.Rate429+e.faults.Rate5xx:
		return 503
	}
	return 0
}
