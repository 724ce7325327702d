package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/queue"
	"github.com/seaflow/seaflow/statuspage"
)

// TestDeadLettersBoundedReads: with 5,000 dead letters the status API and
// /metrics read them all (1 MB and 0.38 s per scrape). Now the status
// carries the newest 50 and the count from the stream's state, /api/dead
// pages, and storage.dead_max_messages caps what is kept, counting what it
// drops.
func TestDeadLettersBoundedReads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	q, err := queue.Open(t.Context(), queue.Options{Dir: dir, Logger: zerolog.Nop(), CheckEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		op := seaflow.Op{ID: fmt.Sprintf("op-%d", i), Kind: seaflow.KindUpdate, Base: "crm", Table: "Deals", RowID: "r", Lane: seaflow.Urgent, Rule: "note", Values: map[string]any{"Note": strings.Repeat("x", 100)}}
		if err := q.DeadLetter(t.Context(), op, "invalid column"); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "seaflow.yaml")
	cfgText := fmt.Sprintf("server: { listen: \"127.0.0.1:0\", auth: none }\nstorage: { dir: %q, dead_max_messages: 1000 }\n", dir)
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	d, u := startFromFile(t, path, "", daemonOptions{CheckEvery: -1})
	get := func(path string) []byte {
		t.Helper()
		resp, err := http.Get(u + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: HTTP %d %s", path, resp.StatusCode, b)
		}
		return b
	}
	body := get("/api/status")
	var st Status
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Dead) != statuspage.DeadInStatus || st.DeadTotal != 1000 || st.Dead[0].Seq != 5000 || len(body) > 64<<10 {
		t.Errorf("status: %d dead letters (newest seq %d) of %d, %d bytes; want the newest %d of the 1,000 kept, small", len(st.Dead), st.Dead[0].Seq, st.DeadTotal, len(body), statuspage.DeadInStatus)
	}
	t.Logf("GET /api/status with 1,000 dead letters kept (5,000 stored): %d bytes, %d letters", len(body), len(st.Dead))
	var page DeadPage
	if err := json.Unmarshal(get("/api/dead?limit=10&before=4500"), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Dead) != 10 || page.Dead[0].Seq != 4499 || page.Next != 4490 || page.Total != 1000 {
		t.Errorf("page = %d letters from %d, next %d, total %d", len(page.Dead), page.Dead[0].Seq, page.Next, page.Total)
	}
	m := scrape(t, d, "seaflow_dead_letters")
	if !strings.Contains(m, "seaflow_dead_letters 1000") || !strings.Contains(m, "seaflow_dead_letters_discarded_total 4000") {
		t.Errorf("metrics:\n%s", m)
	}
	if out, _, code := runCLI(t, nil, "dead", "list", "--url", u, "--limit", "3"); code != 0 || !strings.Contains(out, "3 of 1000 dead letters shown") || !strings.Contains(out, "--before 4998") {
		t.Errorf("dead list --limit 3: exit %d\n%s", code, out)
	}
}
