package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/seaflow/seaflow/rules"
)

// usageError is a command line the command cannot run: a missing argument,
// an unknown flag. It exits 2.
type usageError struct {
	msg string
	try string
}

func (e *usageError) Error() string { return e.msg }

// usagef returns a usageError whose hint is try.
func usagef(try, format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), try: try}
}

// hintError is an error with a hint of what to do about it, printed as
// "Try: …" under the error.
type hintError struct {
	err error
	try string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

// withTry attaches a hint to err; nil stays nil.
func withTry(err error, try string) error {
	if err == nil {
		return nil
	}
	return &hintError{err: err, try: try}
}

// printError writes err as the CLI reports errors: "Error: " and one line
// (newlines folded, NATS API codes replaced by their description), then
// "Try: …" when err or something it wraps carries a hint.
func printError(w io.Writer, err error) {
	fmt.Fprintln(w, "Error: "+readable(err))
	if try := hint(err); try != "" {
		fmt.Fprintln(w, "Try: "+try)
	}
}

// hint returns the first hint in err's chain, or one derived from a
// well-known cause (a port in use, a refused connection).
func hint(err error) string {
	var u *usageError
	var h *hintError
	switch {
	case errors.As(err, &h):
		return h.try
	case errors.As(err, &u):
		return u.try
	case errors.Is(err, syscall.EADDRINUSE):
		return "another process listens on that address: stop it, or choose another one (--listen, server.listen, nats.listen)"
	}
	return ""
}

// readable is err's message on one line, with NATS API errors ("nats: API
// error: code=503 err_code=10039 description=…") reduced to their
// description.
func readable(err error) string {
	msg := err.Error()
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.Description != "" {
		msg = strings.Replace(msg, apiErr.Error(), "NATS: "+apiErr.Description, 1)
	}
	// nats.go's own errors read "nats: …".
	msg = strings.ReplaceAll(msg, ": nats: ", ": NATS: ")
	if rest, ok := strings.CutPrefix(msg, "nats: "); ok {
		msg = "NATS: " + rest
	}
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}

// daemonError is a non-200 answer of the daemon's HTTP API, with the
// reason from its {"error": "..."} body.
type daemonError struct {
	status int
	reason string
}

func (e *daemonError) Error() string {
	return fmt.Sprintf("the daemon answered %d: %s", e.status, e.reason)
}

// answerError turns a non-200 answer of the daemon into an error that reads
// as one line: the reason of a JSON {"error": …} body (never the raw JSON),
// with a hint for a missing or wrong token.
func answerError(status int, body []byte) error {
	reason := strings.TrimSpace(string(body))
	var answer struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &answer) == nil && answer.Error != "" {
		reason = answer.Error
	} else if strings.HasPrefix(reason, "{") || strings.HasPrefix(reason, "<") || reason == "" {
		reason = strings.ToLower(httpStatusText(status))
	}
	err := error(&daemonError{status: status, reason: reason})
	switch status {
	case 401, 403:
		return withTry(err, "pass --token TOKEN or set SEAFLOW_TOKEN to the daemon's server.token")
	case 404:
		if reason == "404 page not found" {
			return withTry(&daemonError{status: status, reason: "no such API route"}, "is --url the seaflow daemon, and is it as new as this CLI? (seaflow version)")
		}
	}
	return err
}

func httpStatusText(status int) string {
	if t := statusTexts[status]; t != "" {
		return t
	}
	return fmt.Sprintf("HTTP %d", status)
}

var statusTexts = map[int]string{400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 409: "Conflict", 500: "Internal server error", 502: "Bad gateway", 503: "Service unavailable"}

// unreachableError explains a request to the daemon that got no answer.
func unreachableError(base string, err error) error {
	why := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		why = ue.Err.Error()
	}
	var op *net.OpError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		why = "connection refused"
	case errors.As(err, &op) && op.Err != nil:
		why = op.Err.Error()
	}
	return withTry(fmt.Errorf("no seaflow daemon answers at %s (%s)", base, why),
		"start it with seaflow run --config FILE, or pass --url URL")
}

// loadConfig loads the config file at path as the daemon does. A file with
// problems prints every one as FILE:LINE:COL: message on m.Stderr and
// returns exitError{1} (the validate contract); a file that cannot be read
// is an error with a hint.
func (m *Main) loadConfig(path string) (*rules.Config, error) {
	cfg, err := rules.Load(path, m.LookupEnv)
	var list rules.ErrorList
	switch {
	case err == nil:
		return cfg, nil
	case errors.As(err, &list):
		fmt.Fprintln(m.Stderr, list)
		return nil, exitError{1}
	case errors.Is(err, fs.ErrNotExist):
		return nil, withTry(fmt.Errorf("no config file %s", path), "pass the path of your config file (rules.example.yaml is an example)")
	}
	return nil, err
}
