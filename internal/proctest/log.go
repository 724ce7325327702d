package proctest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

// Log is the output of one daemon process, line by line, with a signal per
// line. It is safe for concurrent use.
type Log struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed Signal // notified on every line
}

func newLog() *Log { return &Log{} }

func (l *Log) add(line []byte) {
	l.mu.Lock()
	l.buf.Write(line)
	l.buf.WriteByte('\n')
	l.mu.Unlock()
	l.changed.Notify()
}

// String returns everything logged so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// WaitFor blocks until the log contains s, or ctx ends.
func (l *Log) WaitFor(ctx context.Context, s string) error {
	err := l.changed.Wait(ctx, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return bytes.Contains(l.buf.Bytes(), []byte(s))
	})
	if err != nil {
		return fmt.Errorf("log has no %q: %w", s, err)
	}
	return nil
}

// Warnings returns the lines of a daemon's JSON log at level warn or error
// whose message contains none of expected, the first max of them (all when
// max <= 0). A run that goes as planned logs none.
func Warnings(log string, expected []string, max int) []string {
	var bad []string
	for _, line := range strings.Split(log, "\n") {
		var l struct{ Level, Message string }
		if json.Unmarshal([]byte(line), &l) != nil || (l.Level != "warn" && l.Level != "error") {
			continue
		}
		known := false
		for _, w := range expected {
			known = known || strings.Contains(l.Message, w)
		}
		if known {
			continue
		}
		bad = append(bad, line)
		if len(bad) == max {
			break
		}
	}
	return bad
}

// LastLines returns the last n lines of s.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
