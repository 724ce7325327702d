package seatable

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestUnsentTellsWhatSeaTableSaw: a call that never reached the server (a
// refused connection) is Unsent and changed nothing; a call the server
// received and did not answer in time may have landed.
func TestUnsentTellsWhatSeaTableSaw(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := New(Config{ServerURL: "http://" + addr, APIToken: "0123456789abcdef0123456789abcdef01234567"})
	_, err = c.AppendRows(context.Background(), "T", []Row{{"a": 1}})
	if err == nil || MayHaveLanded(err) {
		t.Fatalf("refused connection: %v, MayHaveLanded %v; want unsent", err, MayHaveLanded(err))
	}

	// A gateway that takes the append and never answers; the token
	// exchange works.
	got := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v2.1/dtable/app-access-token/" {
			_, _ = w.Write([]byte(`{"access_token":"bt","dtable_uuid":"fae0a3a4-2ba9-4df8-8e83-03fd385e37de","use_api_gateway":true}`))
			return
		}
		select {
		case got <- struct{}{}:
		default:
		}
		<-release
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: the handler returns, then the server closes
	c = New(Config{ServerURL: srv.URL, APIToken: "0123456789abcdef0123456789abcdef01234567", Timeout: 200 * time.Millisecond})
	_, err = c.AppendRows(context.Background(), "T", []Row{{"a": 1}})
	<-got
	if err == nil || !MayHaveLanded(err) {
		t.Fatalf("timed out after the server got it: %v, MayHaveLanded %v; want true", err, MayHaveLanded(err))
	}
}
