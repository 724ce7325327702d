package seatable

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
)

// gateLog is a Gate that admits everything and records what it admitted
// and refunded, in order.
type gateLog struct {
	mu     sync.Mutex
	events []string
	refuse error
}

func (g *gateLog) gate(_ context.Context, r GateRequest) (func(), error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	name := r.Op
	switch {
	case r.Exchange:
		name = "exchange"
	case r.Retry:
		name += " (retry)"
	}
	if g.refuse != nil {
		g.events = append(g.events, "refused "+name)
		return nil, g.refuse
	}
	g.events = append(g.events, "admit "+name)
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.events = append(g.events, "refund "+name)
	}, nil
}

func (g *gateLog) log() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.events)
}

// TestGateAdmitsEveryRequest: every request that can reach SeaTable is
// admitted before it is sent (seen before: 401/403 retries and token
// exchanges went out unadmitted, 20 sent for 10 recorded), and one that
// never reached it is refunded.
func TestGateAdmitsEveryRequest(t *testing.T) {
	t.Parallel()
	f := newFakeGateway(t)
	f.base = func(w http.ResponseWriter, r *http.Request, path string, body []byte) {
		writeJSON(w, http.StatusOK, map[string]any{"success": true})
	}
	var g gateLog
	c := f.client(func(cfg *Config) { cfg.Gate = g.gate })
	ctx := context.Background()
	if err := c.UpdateRows(ctx, "T", []RowUpdate{{RowID: "r1", Row: Row{"a": 1}}}); err != nil {
		t.Fatal(err)
	}
	f.revokeAll() // the next call gets 403 "Token expired." and retries
	if err := c.UpdateRows(ctx, "T", []RowUpdate{{RowID: "r1", Row: Row{"a": 2}}}); err != nil {
		t.Fatal(err)
	}
	// The retry needs a fresh token: the call, then an exchange, then the
	// retry, each admitted.
	want := []string{"admit exchange", "admit update rows", "admit update rows", "admit exchange", "admit update rows (retry)"}
	if got := g.log(); !slices.Equal(got, want) {
		t.Fatalf("gate saw %v, want %v", got, want)
	}
	if sent := len(f.baseCalls()) + f.exchangeCount(); sent != len(want) {
		t.Fatalf("%d requests sent, %d admitted", sent, len(want))
	}

	t.Run("a context's gate admits the gateway calls, the client's the exchange", func(t *testing.T) {
		var own gateLog
		f.revokeAll()
		if err := c.UpdateRows(WithGate(ctx, own.gate), "T", []RowUpdate{{RowID: "r1", Row: Row{"a": 3}}}); err != nil {
			t.Fatal(err)
		}
		if got := own.log(); !slices.Equal(got, []string{"admit update rows", "admit update rows (retry)"}) {
			t.Fatalf("the context's gate saw %v", got)
		}
		if got := g.log(); got[len(got)-1] != "admit exchange" {
			t.Fatalf("the client's gate saw %v; want the exchange last", got)
		}
	})

	t.Run("a refused gate sends nothing", func(t *testing.T) {
		before := len(f.baseCalls())
		boom := errors.New("no budget")
		refuse := &gateLog{refuse: boom}
		err := c.UpdateRows(WithGate(ctx, refuse.gate), "T", []RowUpdate{{RowID: "r1", Row: Row{"a": 4}}})
		if !errors.Is(err, boom) || len(f.baseCalls()) != before {
			t.Fatalf("err %v, %d calls sent; want the gate's error and none", err, len(f.baseCalls())-before)
		}
	})
}

// TestGateRefundsWhatNeverArrived: a request refused at the connection
// costs nothing, nor does a call whose token exchange could not connect.
func TestGateRefundsWhatNeverArrived(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var g gateLog
	c := New(Config{ServerURL: "http://" + addr, APIToken: testAPIToken, Gate: g.gate})
	var call gateLog
	err = c.UpdateRows(WithGate(context.Background(), call.gate), "T", []RowUpdate{{RowID: "r1", Row: Row{"a": 1}}})
	if !Unsent(err) {
		t.Fatalf("err %v; want unsent", err)
	}
	if got := g.log(); !slices.Equal(got, []string{"admit exchange", "refund exchange"}) {
		t.Fatalf("exchange gate saw %v", got)
	}
	if got := call.log(); len(got) != 0 {
		t.Fatalf("the call's gate saw %v: the call was never made", got)
	}
}
