package rules

import (
	"strings"
	"testing"
	"time"
)

func noEnv(string) (string, bool) { return "", false }

func TestServerAuth(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, server string
		want         ServerConfig
		err          string
	}{
		{name: "default", server: "", want: ServerConfig{Listen: DefaultListen, Auth: AuthToken}},
		{name: "loopback without token keeps the admin API closed", server: `server: { listen: "127.0.0.1:0" }`, want: ServerConfig{Listen: "127.0.0.1:0", Auth: AuthToken}},
		{name: "auth none on loopback", server: `server: { listen: "localhost:8080", auth: none }`, want: ServerConfig{Listen: "localhost:8080", Auth: AuthNone}},
		{name: "auth none on ipv6 loopback", server: `server: { listen: "[::1]:8080", auth: none }`, want: ServerConfig{Listen: "[::1]:8080", Auth: AuthNone}},
		{name: "token beyond loopback", server: `server: { listen: "0.0.0.0:8080", token: "0123456789abcdef", hosts: [Seaflow.Example.com, "10.0.0.5:8080", "[::1]:8080"] }`,
			want: ServerConfig{Listen: "0.0.0.0:8080", Token: "0123456789abcdef", Auth: AuthToken, Hosts: []string{"seaflow.example.com", "10.0.0.5:8080", "[::1]:8080"}}},
		{name: "empty host listens everywhere", server: `server: { listen: ":8080" }`, err: "s.yaml:1:19: server.listen: \":8080\" is reachable beyond loopback"},
		{name: "short token", server: `server: { token: "abc" }`, err: "s.yaml:1:18: server.token: is 3 characters long"},
		{name: "one repeated character", server: `server: { token: "aaaaaaaaaaaaaaaaaaaa" }`, err: "made of 1 different character;"},
		{name: "unknown auth", server: `server: { auth: basic }`, err: `server.auth: "basic" is not token or none`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("s.yaml", []byte(tc.server+"\nbases: {}\n"), noEnv)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "abc\"") || strings.Contains(err.Error(), "aaaa") {
					t.Errorf("the error quotes the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := cfg.Server
			if got.Listen != tc.want.Listen || got.Token != tc.want.Token || got.Auth != tc.want.Auth || strings.Join(got.Hosts, ",") != strings.Join(tc.want.Hosts, ",") {
				t.Errorf("server = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestServerOpen(t *testing.T) {
	t.Parallel()
	if !(ServerConfig{Auth: AuthNone}).Open() {
		t.Error("auth none without a token is not open")
	}
	if (ServerConfig{Auth: AuthNone, Token: "0123456789abcdef"}).Open() {
		t.Error("a token set is not required with auth none")
	}
	if (ServerConfig{Auth: AuthToken}).Open() {
		t.Error("auth token without a token is open")
	}
}

func TestDeadRetention(t *testing.T) {
	t.Parallel()
	cfg, err := Parse("s.yaml", []byte("storage: { dead_max_age: 7d, dead_max_messages: 1_000, dead_max_bytes: 64MiB }\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Storage; s.DeadMaxAge != 7*24*time.Hour || s.DeadMaxMessages != 1000 || s.DeadMaxBytes != 64<<20 {
		t.Errorf("storage = %+v", s)
	}
	def := DefaultConfig().Storage
	if def.DeadMaxAge != DefaultDeadMaxAge || def.DeadMaxMessages != DefaultDeadMaxMessages || def.DeadMaxBytes != DefaultDeadMaxBytes {
		t.Errorf("defaults = %+v", def)
	}
}

func TestParseBytes(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"4096": 4096, "1KiB": 1024, "2 MiB": 2 << 20, "1GB": 1e9, "10B": 10} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1MiB", "1TB", "MiB", "99999999999GiB"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) accepted", in)
		}
	}
}

func TestLoopbackListen(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{"127.0.0.1:8080": true, "127.1.2.3:0": true, "localhost:80": true, "[::1]:8080": true,
		"0.0.0.0:8080": false, ":8080": false, "[::]:8080": false, "10.0.0.1:8080": false, "seaflow.example.com:8080": false, "nonsense": false} {
		if got := LoopbackListen(addr); got != want {
			t.Errorf("LoopbackListen(%q) = %v, want %v", addr, got, want)
		}
	}
}
