package seatable

import (
	"errors"
	"fmt"
	"time"
)

// ErrorKind classifies a failed SeaTable call so callers decide by kind,
// never by status code or message text.
type ErrorKind int

// The error kinds.
const (
	// KindTransient: 5xx, timeouts, connection errors. Retry later.
	KindTransient ErrorKind = iota + 1
	// KindRateLimited: 429. Error.ResetAt says when the base frees up.
	KindRateLimited
	// KindAuth: a 401, or a 403 "Token expired.", that survived a token
	// refresh; or an API token the exchange refuses.
	KindAuth
	// KindInvalid: any other 4xx. SeaTable refused this request as it is;
	// retrying it unchanged will fail again.
	KindInvalid
	// KindPermission: a 403 that a freshly exchanged base token gets too:
	// the API token may not do this (a write through a read-only token,
	// a plan or licence refusal). Retrying, or exchanging the token again,
	// will not help.
	KindPermission
)

// String returns the kind's name, e.g. "rate limited".
func (k ErrorKind) String() string {
	switch k {
	case KindTransient:
		return "transient"
	case KindRateLimited:
		return "rate limited"
	case KindAuth:
		return "auth"
	case KindInvalid:
		return "invalid"
	case KindPermission:
		return "permission"
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// Error is the error every client method returns for a failed call. It
// never contains a token.
type Error struct {
	Kind ErrorKind
	// Op is the client operation, e.g. "append rows".
	Op string
	// Status is the HTTP status, 0 when no response arrived.
	Status int
	// Message is SeaTable's own message (error_msg, error_message, detail),
	// or the transport error text.
	Message string
	// ResetAt is when a rate-limited base accepts calls again (from
	// x-ratelimit-reset or Retry-After); zero when unknown.
	ResetAt time.Time
	// Err is the underlying transport error, if any.
	Err error
	// Unsent is true when the request never left this process whole (no
	// connection, a refused dial, an exchange that failed first): it
	// cannot have reached SeaTable, so it changed nothing and cost no call
	// of the base's budget. False for any error after the request was
	// written: its outcome is unknown (a timeout, a reset, a 5xx).
	Unsent bool
}

// Unsent reports whether err is a *Error of a request that never reached
// SeaTable (Error.Unsent).
func Unsent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Unsent
}

// MayHaveLanded reports whether err may come from a call that SeaTable
// carried out: anything but a request that was never sent whole.
func MayHaveLanded(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return !e.Unsent && (e.Kind == KindTransient || e.Status/100 == 2)
	}
	return err != nil
}

// Error formats the error as "op: kind (HTTP status): message".
func (e *Error) Error() string {
	s := e.Op + ": " + e.Kind.String()
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap returns the transport error.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of err, or 0 when err is not a *Error.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// RateLimit is what SeaTable said about the budget in the x-ratelimit-*
// headers of one response.
type RateLimit struct {
	Limit     int       // x-ratelimit-limit
	Remaining int       // x-ratelimit-remaining
	Reset     time.Time // x-ratelimit-reset (Unix seconds)
}

// Call describes one HTTP call the client made, handed to Config.Observe
// after every response (or transport failure) so the budget scheduler can
// learn from it.
type Call struct {
	Op       string        // client operation, e.g. "update rows"
	Method   string        // HTTP method
	Endpoint string        // path relative to the base, e.g. "/rows/"
	Status   int           // HTTP status; 0 when no response arrived
	Rows     int           // rows carried by the call (request or response)
	Limit    *RateLimit    // nil when the response had no x-ratelimit headers
	Duration time.Duration // time from send to the end of the response
	// Unsent is true when the request was never written whole: SeaTable
	// did not see it, and it costs no call.
	Unsent bool
	// Exchange marks the token exchange, which SeaTable limits apart from
	// the base's API calls.
	Exchange bool
	// Shares attributes the call to the rules whose ops it carried
	// (WithShares); nil for a call of no rule.
	Shares []Share
}
