package adminguard

import (
	"net"
	"net/http"
	"strings"
)

// Policy says who may use the admin surface. It is read on every request,
// so a reload that changes it applies at once.
type Policy struct {
	// Token is the shared secret (server.token); "" when none is set.
	Token string
	// Open lets requests in without a token while Token is "" (auth: none,
	// which the config allows on loopback only).
	Open bool
	// Hosts are the extra names the surface answers to in the Host header,
	// lower case, as "name" (any port) or "name:port".
	Hosts []string
}

// Reason classifies a refusal, for metrics.
type Reason string

// The reasons a request is refused.
const (
	// ReasonHost: the Host header is not one the daemon answers to.
	ReasonHost Reason = "host"
	// ReasonCrossOrigin: a state-changing request from another site.
	ReasonCrossOrigin Reason = "cross_origin"
	// ReasonToken: no token, or a wrong one.
	ReasonToken Reason = "token"
	// ReasonMediaType: a state-changing API request without a JSON body.
	ReasonMediaType Reason = "media_type"
)

// Guard checks admin requests against a Policy. It is safe for concurrent
// use.
type Guard struct {
	listenHost, listenPort string
	policy                 func() Policy
	refused                func(Reason)
	cop                    *http.CrossOriginProtection
}

// New returns a guard for a server listening on listen (the bound address,
// host:port), reading its policy from policy. refused, if not nil, is
// called once per refused request.
func New(listen string, policy func() Policy, refused func(Reason)) *Guard {
	host, port, _ := net.SplitHostPort(listen)
	if refused == nil {
		refused = func(Reason) {}
	}
	return &Guard{listenHost: strings.ToLower(host), listenPort: port, policy: policy, refused: refused, cop: http.NewCrossOriginProtection()}
}

// Protect lets a request through to next only if its Host is allowed, it
// is not a cross-site state change, and it carries the token (unless the
// policy is open). A bearer token is removed from the request next sees;
// with an open policy the Authorization header is passed on as sent (the
// emulator's SeaTable API has tokens of its own).
func (g *Guard) Protect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := g.policy()
		if !g.checkHost(w, r, p) || !g.checkOrigin(w, r) || !g.checkToken(w, r, p) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkHost refuses a request whose Host the daemon does not answer to.
func (g *Guard) checkHost(w http.ResponseWriter, r *http.Request, p Policy) bool {
	if g.hostAllowed(r, p) {
		return true
	}
	g.refuse(w, http.StatusForbidden, ReasonHost, "Host "+quoteHost(r.Host)+" is not an address of this server: use its listen address, or add the name to server.hosts")
	return false
}

// checkOrigin refuses a state-changing request made by another site.
func (g *Guard) checkOrigin(w http.ResponseWriter, r *http.Request) bool {
	if err := g.cop.Check(r); err != nil {
		g.refuse(w, http.StatusForbidden, ReasonCrossOrigin, "cross-site "+r.Method+" refused (Origin or Sec-Fetch-Site names another site)")
		return false
	}
	return true
}

// checkToken refuses a request without the token, unless the policy is open.
func (g *Guard) checkToken(w http.ResponseWriter, r *http.Request, p Policy) bool {
	if g.authorized(r, p) {
		if p.Token != "" {
			// The handler behind needs no token; it must not see one.
			r.Header.Del("Authorization")
		}
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="seaflow"`)
	switch {
	case p.Token == "":
		g.refuse(w, http.StatusUnauthorized, ReasonToken, "the admin API is closed: set server.token, or server.auth: none on a loopback listen address")
	case hasCredential(r):
		g.refuse(w, http.StatusUnauthorized, ReasonToken, "wrong token")
	default:
		g.refuse(w, http.StatusUnauthorized, ReasonToken, "needs Authorization: Bearer <server.token> (or log in at /login)")
	}
	return false
}

// authorized reports whether r carries the token, or needs none.
func (g *Guard) authorized(r *http.Request, p Policy) bool {
	if p.Token == "" {
		return p.Open
	}
	if got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return TokenEqual(got, p.Token)
	}
	if c, err := r.Cookie(CookieName); err == nil {
		return sessionValid(c.Value, p.Token)
	}
	return false
}

func hasCredential(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return true
	}
	_, err := r.Cookie(CookieName)
	return err == nil
}

// hostAllowed reports whether the request's Host is one the daemon
// answers to: the listen address; a configured name; localhost or a
// loopback IP on the listen port when the listener takes local clients;
// any IP on the listen port when it listens on every interface; and any
// name behind a token when it listens on every interface and no names are
// configured (the names the machine is reached by are unknown, and a
// rebinding page has no token).
func (g *Guard) hostAllowed(r *http.Request, p Policy) bool {
	name, port := splitHost(r.Host, r.TLS != nil)
	if name == "" {
		return false
	}
	for _, h := range p.Hosts {
		if h == name || h == joinHost(name, port) {
			return true
		}
	}
	unspecified := g.listenHost == "" || isUnspecified(g.listenHost)
	if port == g.listenPort {
		if name == g.listenHost {
			return true
		}
		local := name == "localhost" || isLoopbackIP(name)
		if local && (unspecified || g.listenHost == "localhost" || isLoopbackIP(g.listenHost)) {
			return true
		}
		if unspecified && net.ParseIP(name) != nil {
			return true
		}
	}
	return unspecified && p.Token != "" && len(p.Hosts) == 0
}

// splitHost splits a Host header into a lower-case name (IPv6 without
// brackets) and a port, the scheme's default when absent.
func splitHost(h string, tls bool) (name, port string) {
	h = strings.ToLower(strings.TrimSpace(h))
	if n, p, err := net.SplitHostPort(h); err == nil {
		return n, p
	}
	port = "80"
	if tls {
		port = "443"
	}
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), port
}

func joinHost(name, port string) string { return net.JoinHostPort(name, port) }

func isLoopbackIP(s string) bool {
	ip := net.ParseIP(s)
	return ip != nil && ip.IsLoopback()
}

func isUnspecified(s string) bool {
	ip := net.ParseIP(s)
	return ip != nil && ip.IsUnspecified()
}

// quoteHost quotes a Host header for a refusal, cut short: it is
// attacker-controlled text.
func quoteHost(h string) string {
	if len(h) > 100 {
		h = h[:100] + "…"
	}
	return `"` + strings.Map(func(r rune) rune {
		if r < 0x20 || r == '"' || r == '\\' || r == 0x7f {
			return '?'
		}
		return r
	}, h) + `"`
}
