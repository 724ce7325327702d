package bench

import (
	"net/http"
	"net/http/httptest"
	"time"
)

// handlerTransport is an http.RoundTripper that serves every request with
// an http.Handler in the calling goroutine: the client talks to the
// emulator in process, with no network and no goroutine of its own. The
// handler answers at once, on the virtual clock; the response then takes
// latency of virtual time to come back, during which the calling actor
// waits on clock (nil clock or zero latency: no wait).
type handlerTransport struct {
	h       http.Handler
	clock   *Clock
	latency time.Duration
}

// RoundTrip serves req with the handler and returns its recorded response.
func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	if req.Body != nil {
		_ = req.Body.Close()
	}
	res := rec.Result()
	res.Request = req
	if t.clock != nil && t.latency > 0 {
		t.clock.Sleep(req.Context(), t.latency)
	}
	return res, nil
}
