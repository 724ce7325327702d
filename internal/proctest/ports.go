package proctest

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"
)

// FreePort returns a loopback port that was free a moment ago (another
// process may take it before the caller binds it).
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// FreeAddr returns 127.0.0.1:PORT with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", FreePort(t))
}

// Poll checks cond at once and then at every tick of every until it holds
// or ctx ends. It is for the state of another process, which has no signal
// the test could wait on; what the test process owns is waited on instead.
func Poll(ctx context.Context, every time.Duration, cond func() bool) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}
