package proctest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ErrNotStopped is the error of a Stop after which the process did not
// exit in time (it is killed then).
var ErrNotStopped = errors.New("did not stop after SIGTERM")

// Options say how to run one daemon process.
type Options struct {
	// Name names the process in errors and logs ("seaflow", "replica-a").
	Name string
	// Bin is the binary; Args its arguments ("run", "--config", …).
	Bin  string
	Args []string
	// Env is added to the test process's environment ("KEY=value").
	Env []string
	// Dir is the working directory; "" = the test process's.
	Dir string
	// LogFile, when set, is a file the output is appended to as well,
	// after a "=== start TIME" line (a log that spans restarts).
	LogFile string
}

// Daemon is one running (or exited) process. Its stdout and stderr go to
// Log, line by line.
type Daemon struct {
	// Name is Options.Name.
	Name string
	// Log is the process's output.
	Log *Log

	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	err     error         // Wait's result, set before done is closed
	running chan struct{} // closed at the "seaflow running" line
	mu      sync.Mutex
	addr    string // the listen address of that line
}

// Start runs the process and returns at once; a t.Cleanup kills it if it
// still runs when the test ends. On an error the Daemon is still returned
// (with what it logged), not running.
func Start(t testing.TB, opts Options) (*Daemon, error) {
	t.Helper()
	d := &Daemon{Name: opts.Name, Log: newLog(), done: make(chan struct{}), running: make(chan struct{})}
	if d.Name == "" {
		d.Name = "seaflow"
	}
	var file *os.File
	if opts.LogFile != "" {
		f, err := os.OpenFile(opts.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			close(d.done)
			return d, fmt.Errorf("%s: log file: %w", d.Name, err)
		}
		fmt.Fprintf(f, "=== start %s\n", time.Now().UTC().Format(time.RFC3339Nano))
		file = f
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		closeFile(file)
		close(d.done)
		return d, fmt.Errorf("%s: output pipe: %w", d.Name, err)
	}
	d.cmd = exec.Command(opts.Bin, opts.Args...)
	d.cmd.Dir = opts.Dir
	d.cmd.Env = append(os.Environ(), opts.Env...)
	d.cmd.Stdout, d.cmd.Stderr = pw, pw
	err = d.cmd.Start()
	pw.Close() // the child holds its own copy: EOF comes when it exits
	if err != nil {
		pr.Close()
		closeFile(file)
		close(d.done)
		return d, fmt.Errorf("%s: start: %w", d.Name, err)
	}
	go func() {
		d.read(pr, file)
		pr.Close()
		closeFile(file)
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(d.Kill)
	return d, nil
}

func closeFile(f *os.File) {
	if f != nil {
		f.Close()
	}
}

// read copies the output into the log (and file) line by line, and spots
// the "seaflow running" line with the listen address.
func (d *Daemon) read(r io.Reader, file *os.File) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		d.Log.add(line)
		if file != nil {
			file.Write(line)
			file.Write([]byte{'\n'})
		}
		if bytes.Contains(line, []byte(`"seaflow running"`)) {
			var m struct {
				Listen string `json:"listen"`
			}
			if json.Unmarshal(line, &m) == nil && m.Listen != "" {
				d.mu.Lock()
				if d.addr == "" {
					d.addr = m.Listen
					close(d.running)
				}
				d.mu.Unlock()
			}
		}
	}
	_, _ = io.Copy(io.Discard, r) // past an overlong line: keep the child from blocking
}

// WaitRunning waits for the daemon's "seaflow running" line (logged at
// level info), which carries its listen address; it fails when the process
// exits first or ctx ends.
func (d *Daemon) WaitRunning(ctx context.Context) error {
	select {
	case <-d.running:
		return nil
	case <-d.done:
		return fmt.Errorf("%s exited before it was ready: %v", d.Name, d.err)
	case <-ctx.Done():
		return fmt.Errorf("%s not ready: %w", d.Name, ctx.Err())
	}
}

// URL is http://ADDR of the listen address the daemon logged; "" before
// its "seaflow running" line.
func (d *Daemon) URL() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.addr == "" {
		return ""
	}
	return "http://" + d.addr
}

// WaitReady polls GET url/readyz (the daemon is another process: its
// readiness has no signal to wait on) every 20 ms until it answers 200;
// it fails when the process exits first or ctx ends.
func (d *Daemon) WaitReady(ctx context.Context, url string) error {
	probe := &http.Client{Timeout: time.Second}
	var last error
	err := Poll(ctx, 20*time.Millisecond, func() bool {
		select {
		case <-d.done:
			return true
		default:
		}
		resp, err := probe.Get(url + "/readyz")
		if err != nil {
			last = err
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		last = fmt.Errorf("GET /readyz: HTTP %d", resp.StatusCode)
		return resp.StatusCode == http.StatusOK
	})
	select {
	case <-d.done:
		return fmt.Errorf("%s exited before it was ready: %v", d.Name, d.err)
	default:
	}
	if err != nil {
		return fmt.Errorf("%s not ready (last: %v): %w", d.Name, last, err)
	}
	return nil
}

// Running reports whether the process still runs.
func (d *Daemon) Running() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// Pid is the process id (for /proc/PID readings).
func (d *Daemon) Pid() int { return d.cmd.Process.Pid }

// Done is closed when the process has exited.
func (d *Daemon) Done() <-chan struct{} { return d.done }

// Err is the exit status once Done is closed (nil for exit 0).
func (d *Daemon) Err() error {
	select {
	case <-d.done:
		return d.err
	default:
		return nil
	}
}

// Stop sends SIGTERM and waits up to within for the process to exit; it
// returns the exit status, or ErrNotStopped (after killing it) when it did
// not exit in time.
func (d *Daemon) Stop(within time.Duration) error {
	if !d.Running() {
		return d.err
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case <-d.done:
		return d.err
	case <-timer.C:
		d.Kill()
		return fmt.Errorf("%s %w within %s", d.Name, ErrNotStopped, within)
	}
}

// Kill sends SIGKILL and waits for the process to be gone; it does nothing
// when the process has exited.
func (d *Daemon) Kill() {
	if !d.Running() {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}
