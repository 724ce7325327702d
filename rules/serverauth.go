package rules

import (
	"fmt"
	"net"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// minTokenDistinct is the fewest different characters a server.token may
// be made of: "aaaaaaaaaaaaaaaa" is 16 characters and no secret.
const minTokenDistinct = 5

// weakToken says why tok is too weak for server.token, or "". The reason
// never quotes the token.
func weakToken(tok string) string {
	if strings.IndexFunc(tok, unicode.IsSpace) >= 0 {
		return "must not contain whitespace"
	}
	if n := utf8.RuneCountInString(tok); n < MinTokenLength {
		return fmt.Sprintf("is %s long; use at least %d (for example: openssl rand -hex 16)", plural(n, "character"), MinTokenLength)
	}
	distinct := map[rune]bool{}
	for _, r := range tok {
		distinct[r] = true
	}
	if len(distinct) < minTokenDistinct {
		return fmt.Sprintf("is made of %s; use a random token (for example: openssl rand -hex 16)", plural(len(distinct), "different character"))
	}
	return ""
}

// LoopbackListen reports whether a listen address only accepts local
// clients: its host is localhost or a loopback IP. An empty host (":8080")
// listens on every interface.
func LoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkServerAuth refuses a server section that would leave the admin
// surface open beyond loopback: a listen address beyond loopback without
// a token, auth: none beyond loopback, auth: token without a token.
// explicit is whether the file says auth:.
func (d *decoder) checkServerAuth(n *yaml.Node, f map[string]entry, s *ServerConfig, explicit bool) {
	at := func(key string) *yaml.Node {
		if e, ok := f[key]; ok {
			return e.val
		}
		return resolve(n)
	}
	loopback := LoopbackListen(s.Listen)
	switch {
	case s.Auth == AuthNone && !loopback:
		d.errorf(at("auth"), "server.auth", "none is only allowed on a loopback listen address, not %q: set server.token (%d+ characters)", s.Listen, MinTokenLength)
	case s.Token == "" && explicit && s.Auth == AuthToken:
		d.errorf(at("auth"), "server.auth", "token needs server.token (%d+ characters)", MinTokenLength)
	case s.Token == "" && !loopback:
		d.errorf(at("listen"), "server.listen", "%q is reachable beyond loopback: set server.token (%d+ characters) to protect the admin API", s.Listen, MinTokenLength)
	}
}

// hosts decodes server.hosts: a list of host names, with an optional port.
func (d *decoder) hosts(n *yaml.Node, s *ServerConfig) {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "server.hosts", "got %s, want a list of host names", kindName(n))
		return
	}
	for i, item := range n.Content {
		field := fmt.Sprintf("server.hosts[%d]", i)
		v, ok := d.str(resolve(item), field)
		if !ok {
			continue
		}
		if !validHostName(v) {
			d.errorf(item, field, "%q is not a host name (want name or name:port, no scheme or path)", v)
			continue
		}
		s.Hosts = append(s.Hosts, strings.ToLower(v))
	}
}

// validHostName accepts "name", "name:port", an IP or "[v6]:port": what a
// Host header carries.
func validHostName(s string) bool {
	if s == "" || strings.ContainsAny(s, "/\\@?# \t") {
		return false
	}
	host := s
	if h, port, err := net.SplitHostPort(s); err == nil {
		if !validHostPort(":" + port) {
			return false
		}
		host = h
	}
	return host != "" && !strings.Contains(host, ":") || net.ParseIP(host) != nil
}
