package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/seaflow/seaflow/rules"
)

// composeFile is the part of deploy/docker-compose.yaml the test reads.
type composeFile struct {
	Services map[string]struct {
		Build       any               `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Healthcheck *struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
		DependsOn map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
	} `yaml:"services"`
}

var envRefRe = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:[-?][^}]*)?\}`)

// TestComposeFile checks the cluster example works as shipped: compose
// passes every secret the config names, with no default; the config
// refuses a missing or weak token; seaflow replicas have a healthcheck and
// start only once what they need is healthy.
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile(repoFile("deploy/docker-compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(b, &cf); err != nil {
		t.Fatalf("parse the compose file: %v", err)
	}
	cfgText, err := os.ReadFile(repoFile("deploy/seaflow.cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var named []string // every variable the config names
	for _, m := range envRefRe.FindAllStringSubmatch(string(cfgText), -1) {
		if !slices.Contains(named, m[1]) {
			named = append(named, m[1])
		}
		if strings.HasPrefix(m[2], ":-") {
			t.Errorf("seaflow.cluster.yaml gives ${%s} a default (%s): a secret must have none", m[1], m[0])
		}
	}
	if !slices.Contains(named, "SEAFLOW_STATUS_TOKEN") {
		t.Fatalf("the cluster config names %v, not its status token", named)
	}
	seaflows := 0
	for name, s := range cf.Services {
		if len(s.Command) == 0 || s.Command[0] != "run" {
			// A NATS node: seaflow waits on its health.
			if s.Healthcheck == nil || !strings.Contains(strings.Join(s.Healthcheck.Test, " "), "/healthz") {
				t.Errorf("service %s has no healthcheck on nats-server's /healthz", name)
			}
			if !slices.Contains(s.Command, "-m") {
				t.Errorf("service %s opens no monitoring port for its healthcheck", name)
			}
			continue
		}
		seaflows++
		if !slices.ContainsFunc(s.Volumes, func(v string) bool { return strings.HasPrefix(v, "./seaflow.cluster.yaml:") }) {
			t.Errorf("service %s does not mount seaflow.cluster.yaml", name)
		}
		for _, v := range named {
			val, ok := s.Environment[v]
			if !ok {
				t.Errorf("service %s does not pass %s, which the config names", name, v)
				continue
			}
			if !regexp.MustCompile(`^\$\{` + v + `:\?[^}]+\}$`).MatchString(val) {
				t.Errorf("service %s passes %s as %q: want ${%s:?message} (required, no default)", name, v, val, v)
			}
		}
		if s.Healthcheck == nil || strings.Join(s.Healthcheck.Test[:3], " ") != "CMD /usr/local/bin/seaflow health" {
			t.Errorf("service %s: healthcheck %+v, want seaflow health", name, s.Healthcheck)
		}
		nats := 0
		for dep, c := range s.DependsOn {
			if c.Condition != "service_healthy" {
				t.Errorf("service %s depends on %s with condition %q, want service_healthy", name, dep, c.Condition)
			}
			if strings.HasPrefix(dep, "nats-") {
				nats++
			}
		}
		if nats != 3 {
			t.Errorf("service %s waits on %d NATS nodes, want all 3", name, nats)
		}
	}
	if seaflows != 2 {
		t.Errorf("%d seaflow replicas, want 2", seaflows)
	}
	if _, ok := cf.Services["seaflow-b"].DependsOn["seaflow-a"]; !ok {
		t.Error("seaflow-b does not wait for seaflow-a: two first starts race to create the streams")
	}

	// The config as compose hands it over: without the token, with a weak
	// one, with a good one.
	env := func(token string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			if k == "SEAFLOW_STATUS_TOKEN" {
				return token, token != ""
			}
			return "x", true
		}
	}
	path := repoFile("deploy/seaflow.cluster.yaml")
	if _, err := rules.Load(path, env("")); err == nil || !strings.Contains(err.Error(), "SEAFLOW_STATUS_TOKEN is not set") {
		t.Errorf("no token: %v", err)
	}
	if _, err := rules.Load(path, env("change-me")); err == nil || !strings.Contains(err.Error(), "server.token: is 9 characters long") {
		t.Errorf("weak token: %v", err)
	}
	if _, err := rules.Load(path, env("9f86d081884c7d65")); err != nil {
		t.Errorf("good token: %v", err)
	}
}
