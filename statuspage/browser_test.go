package statuspage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seaflow/seaflow/adminguard"
)

// chromiumPath is where the browser test looks for a browser.
const chromiumPath = "/usr/bin/chromium"

// browserTimeout only guards against a hung browser; nothing is timed.
const browserTimeout = 2 * time.Minute

// browserFixture serves the status page behind the daemon's admin guard
// (session cookie from ?token=, login form) and an /api/status answering
// with the given status and body, counting the requests the guard let
// through and those it refused.
type browserFixture struct {
	srv          *httptest.Server
	authorized   atomic.Int32
	unauthorized atomic.Int32

	mu      sync.Mutex
	actions []string // "3/retry" for each POST /api/dead/{action} the guard let through
}

func newBrowserFixture(t *testing.T, token string, status int, body []byte) *browserFixture {
	t.Helper()
	f := &browserFixture{}
	mux := http.NewServeMux()
	f.srv = httptest.NewUnstartedServer(mux) // listens on 127.0.0.1
	g := adminguard.New(f.srv.Listener.Addr().String(), func() adminguard.Policy { return adminguard.Policy{Token: token} },
		func(adminguard.Reason) { f.unauthorized.Add(1) })
	api := func(h http.HandlerFunc) http.Handler { return g.Protect(g.RequireJSON(h)) }
	mux.Handle("GET /{$}", g.Page(Handler()))
	mux.Handle("/login", g.Login())
	mux.Handle("GET /api/status", api(func(w http.ResponseWriter, r *http.Request) {
		f.authorized.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	mux.Handle("POST /api/dead/{action}", api(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Seq uint64 }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, `{"error":"bad body"}`, http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.actions = append(f.actions, fmt.Sprintf("%d/%s", req.Seq, r.PathValue("action")))
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	// The page without the guard in front: its API calls still need the
	// session, so it shows what a viewer whose session ended sees.
	mux.HandleFunc("GET /unguarded", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	// The page with a script appended that accepts the confirm dialog and
	// clicks Retry on the first dead letter and Drop on the second.
	clicker := bytes.Replace(page, []byte("</body>"), []byte(`<script>
(function () {
  window.confirm = function () { return true; };
  function go() {
    var b = document.querySelectorAll("#dead button");
    if (b.length < 4) { setTimeout(go, 20); return; }
    b[0].click();
    b[3].click();
  }
  go();
})();
</script>
</body>`), 1)
	mux.Handle("GET /clicker", g.Page(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", ContentSecurityPolicy)
		_, _ = w.Write(clicker)
	})))
	// The page with a script appended that clicks Show echoes once.
	echoes := bytes.Replace(page, []byte("</body>"), []byte(`<script>
(function () {
  function go() {
    var b = document.getElementById("echo-toggle");
    if (!b) { setTimeout(go, 20); return; }
    b.click();
  }
  go();
})();
</script>
</body>`), 1)
	mux.Handle("GET /echoes", g.Page(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(echoes)
	})))
	// The page with the viewer's clock set a year ahead, and one a year
	// behind: what it shows must not change (it judges by the daemon's now).
	for path, days := range map[string]int{"/ahead": 365, "/behind": -365} {
		skewed := bytes.Replace(page, []byte("<head>"), []byte(fmt.Sprintf(`<head><script>
(function () {
  var Real = Date, skew = %d * 86400000;
  function Skewed(a, b, c, d, e, f, g) {
    if (arguments.length === 0) return new Real(Real.now() + skew);
    return new (Function.prototype.bind.apply(Real, [null].concat(Array.prototype.slice.call(arguments))))();
  }
  Skewed.prototype = Real.prototype;
  Skewed.now = function () { return Real.now() + skew; };
  Skewed.parse = Real.parse; Skewed.UTC = Real.UTC;
  window.Date = Skewed;
})();
</script>`, days)), 1)
		mux.Handle("GET "+path, g.Page(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(skewed)
		})))
	}
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

// chromium runs headless chromium on url with extra flags and returns its
// standard output. Each run has a fresh profile unless flags name one.
func chromium(t *testing.T, url string, flags ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage",
		"--virtual-time-budget=5000", "--window-size=1280,1400",
	}
	if !slices.ContainsFunc(flags, func(f string) bool { return strings.HasPrefix(f, "--user-data-dir=") }) {
		args = append(args, "--user-data-dir="+t.TempDir())
	}
	args = append(append(args, flags...), url)
	cmd := exec.CommandContext(ctx, chromiumPath, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", flags, err, stderr.String())
	}
	return stdout.String()
}

var (
	scriptOrStyle = regexp.MustCompile(`(?s)<script>.*?</script>|<style>.*?</style>`)
	bannerDiv     = regexp.MustCompile(`<div id="banner"[^>]*>([^<]*)</div>`)
)

// rendered is a dumped DOM without the page's own script and style, so
// assertions see only what the page rendered, not the strings of its code.
func rendered(dom string) string {
	return scriptOrStyle.ReplaceAllString(dom, "")
}

// banner is the text of the error banner in a dumped DOM.
func banner(dom string) string {
	m := bannerDiv.FindStringSubmatch(dom)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SEAFLOW_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts dir: %v", err)
	}
	return dir
}

func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("browser test skipped: %s not found (install it with apt-get install -y chromium)", chromiumPath)
	}
	raw, st := loadSample(t)
	const token = "sf-status-7Hq2pLw9"

	t.Run("renders the sample", func(t *testing.T) {
		f := newBrowserFixture(t, token, http.StatusOK, raw)
		url := f.srv.URL + "/?token=" + token

		shot := filepath.Join(artifactsDir(t), "statuspage.png")
		_ = os.Remove(shot)
		chromium(t, url, "--screenshot="+shot)
		png, err := os.ReadFile(shot)
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("screenshot %s is not a PNG", shot)
		}
		t.Logf("screenshot: %s", shot)

		dom := rendered(chromium(t, url, "--dump-dom"))
		text := html.UnescapeString(dom)
		for _, want := range []string{
			st.Bases[0].Name, st.Bases[1].Name, "24h", "1m",
			st.Dead[0].Reason, st.Dead[1].Reason, "Retry", "Drop",
			"runs out at", "lasts the window", "calls/hour",
			"3m20s", "1,200", // the bulk lane's backlog and oldest age
			st.Traces[0].Name, st.Traces[0].Rules[0].Rule, st.Traces[6].Error,
			st.Traces[4].Rules[0].Rule + ": " + st.Traces[4].Rules[0].Error, // a rule's error shows too
			"version " + st.Version, "updated ", "<rect",
			"Rule budget shares", st.Bases[0].Rules[0].Rule, "2,500", // a rule's budget_share
			"Config reload refused at 23:41:10; the previous config keeps running", st.Reload.Error, // a refused reload
			"newest 2 of 1,234",                                              // the dead letters shown of all kept
			"Quota team-a (shared by crm, support)", "61,234 / 100,000 used", // a quota group
			"Webhook crm-changes of base crm is likely disabled: the catch-up found 3 change(s)", // the catch-up
			"Catch-up of webhook crm-changes every 5m0s (Deals, Tasks)",
			"Budget by rule", "Calls 24h", ">nightly-overdue<", ">1,480.3<", ">52%<", "(no rule)", // what each rule spent
			"1 echo hidden (seaflow's own writes reported back)", "Show echoes", // echoes collapsed
			"At this pace the bulk backlog (1,200 ops, 2 calls) finishes at 2026-11-27 00:34:00", // the backlog's forecast
			"nightly-overdue", "2,400", "1,180", "at this pace 2026-11-27 00:34:00", "finished", // runs' progress
			">1,234 dead letters<", ">2 failed events<", "among the 7 recent", // failures first
			"Deals/" + st.Dead[0].RowID, `Amount: "12,50"`, "key Order ID", // what a retry would write
		} {
			if !strings.Contains(text, want) {
				t.Errorf("rendered page lacks %q", want)
			}
		}
		if strings.Contains(dom, "88 µs") {
			t.Error("the echo's row is shown before Show echoes is clicked")
		}
		// Failures first: the count above everything, the dead letters
		// above the bases and the events.
		order := []string{`id="failures"`, `id="dead-letters"`, `id="bases"`, `id="runs-head"`, `id="recent-events"`}
		for i := 1; i < len(order); i++ {
			if a, b := strings.Index(dom, order[i-1]), strings.Index(dom, order[i]); a < 0 || b < 0 || a > b {
				t.Errorf("%s (at %d) should come before %s (at %d)", order[i-1], a, order[i], b)
			}
		}
		if b := banner(dom); b != "" {
			t.Errorf("error banner %q shown for a good status", b)
		}
		if strings.Contains(dom, token) {
			t.Error("the token appears in the page")
		}
		if f.authorized.Load() == 0 || f.unauthorized.Load() != 0 {
			t.Errorf("/api/status requests: %d with the session cookie, %d refused", f.authorized.Load(), f.unauthorized.Load())
		}
	})

	// The sample's times are relative to its own "now"; the page must judge
	// them by it, whatever the viewer's clock says, so no date in the sample
	// can expire as the calendar moves.
	t.Run("ignores the viewer's clock", func(t *testing.T) {
		f := newBrowserFixture(t, token, http.StatusOK, raw)
		for _, path := range []string{"/ahead", "/behind"} {
			text := html.UnescapeString(rendered(chromium(t, f.srv.URL+path+"?token="+token, "--dump-dom")))
			if !strings.Contains(text, "runs out at") || strings.Contains(text, "is used up") {
				t.Errorf("%s: the forecast is judged by the viewer's clock:\n%s", path, text)
			}
			if !strings.Contains(text, "up 3h 50m") {
				t.Errorf("%s: uptime not judged by the daemon's now", path)
			}
		}
	})

	t.Run("dead letter buttons", func(t *testing.T) {
		f := newBrowserFixture(t, token, http.StatusOK, raw)
		dom := rendered(chromium(t, f.srv.URL+"/clicker?token="+token, "--dump-dom"))
		f.mu.Lock()
		actions := slices.Sorted(slices.Values(f.actions)) // the two POSTs race
		f.mu.Unlock()
		got := strings.Join(actions, " ")
		want := fmt.Sprintf("%d/retry %d/drop", st.Dead[0].Seq, st.Dead[1].Seq)
		if got != want {
			t.Errorf("dead letter actions %q, want %q", got, want)
		}
		if f.unauthorized.Load() != 0 {
			t.Errorf("%d requests refused (no session cookie, not JSON, cross-site)", f.unauthorized.Load())
		}
		if n := f.authorized.Load(); n < 3 {
			t.Errorf("%d status fetches, want the first and one refresh after each action", n)
		}
		if b := banner(dom); b != "" {
			t.Errorf("error banner %q after the actions", b)
		}
	})

	t.Run("show echoes", func(t *testing.T) {
		f := newBrowserFixture(t, token, http.StatusOK, raw)
		text := html.UnescapeString(rendered(chromium(t, f.srv.URL+"/echoes?token="+token, "--dump-dom")))
		if !strings.Contains(text, "88 µs") || !strings.Contains(text, "1 echo shown") || !strings.Contains(text, "Hide echoes") || !strings.Contains(text, ">echo<") {
			t.Errorf("after Show echoes the echo is not listed and labelled:\n%s", text)
		}
	})

	t.Run("shows fetch errors", func(t *testing.T) {
		f := newBrowserFixture(t, token, http.StatusServiceUnavailable, []byte(`{"error":"queue unavailable"}`))
		dom := rendered(chromium(t, f.srv.URL+"/?token="+token, "--dump-dom"))
		if b := banner(dom); b != "Cannot load /api/status: HTTP 503: queue unavailable" {
			t.Errorf("error banner %q for a 503", b)
		}
		if !strings.Contains(dom, `<div id="banner" role="alert" class="show">`) {
			t.Error("error banner not visible")
		}
	})

	t.Run("no token", func(t *testing.T) {
		f := newBrowserFixture(t, token, http.StatusOK, raw)
		// Without a session the page sends the viewer to the login form.
		dom := chromium(t, f.srv.URL+"/", "--dump-dom")
		if !strings.Contains(dom, `<form method="post" action="/login">`) || !strings.Contains(dom, `type="password"`) {
			t.Errorf("GET / without a session does not show the login form:\n%s", dom)
		}
		// A page whose session ended says so and where to log in.
		dom = rendered(chromium(t, f.srv.URL+"/unguarded", "--dump-dom"))
		if b := banner(dom); !strings.Contains(b, "HTTP 401") || !strings.Contains(b, "log in at /login") {
			t.Errorf("error banner %q, want a 401 with a /login hint", b)
		}
		if f.authorized.Load() != 0 {
			t.Errorf("%d API requests got through without a session", f.authorized.Load())
		}
	})

	// The session lives in a cookie, so a reload keeps it (the old page
	// lost a ?token= on reload): the second visit carries no token.
	t.Run("reload keeps the session", func(t *testing.T) {
		f := newBrowserFixture(t, token, http.StatusOK, raw)
		profile := t.TempDir()
		chromium(t, f.srv.URL+"/?token="+token, "--dump-dom", "--user-data-dir="+profile)
		before := f.authorized.Load()
		dom := rendered(chromium(t, f.srv.URL+"/", "--dump-dom", "--user-data-dir="+profile))
		if b := banner(dom); b != "" || f.authorized.Load() == before {
			t.Errorf("reload without ?token=: banner %q, %d status fetches before, %d after", b, before, f.authorized.Load())
		}
	})
}
