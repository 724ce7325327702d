package main

import (
	"bufio"
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seaflow/seaflow/rules"
)

// dockerfile is what the tests read from the Dockerfile.
type dockerfile struct {
	env         map[string]string
	cmd         []string
	healthcheck string
	expose      []string
	user        string
	copies      map[string]string // file in the image → file in the context
}

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	f, err := os.Open(repoFile("Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	df := dockerfile{env: map[string]string{}, copies: map[string]string{}}
	final := false // only the last stage is the image
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		word, rest, _ := strings.Cut(line, " ")
		switch word {
		case "FROM":
			final = !strings.Contains(rest, " AS ")
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				if k, v, ok := strings.Cut(kv, "="); ok && final {
					df.env[k] = v
				}
			}
		case "CMD":
			if err := json.Unmarshal([]byte(rest), &df.cmd); err != nil {
				t.Fatalf("CMD is not an exec-form list: %v", err)
			}
		case "HEALTHCHECK":
			df.healthcheck = rest
		case "EXPOSE":
			df.expose = strings.Fields(rest)
		case "USER":
			df.user = rest
		case "COPY":
			args := strings.Fields(rest)
			if !final || strings.HasPrefix(args[0], "--") || len(args) < 2 {
				continue
			}
			dst := args[len(args)-1]
			for _, src := range args[:len(args)-1] {
				df.copies[path.Join(dst, src)] = src
			}
		}
	}
	return df
}

// TestImage checks what `docker run -p 8080:8080 seaflow` relies on. With
// a Docker engine it builds and runs the image; without one (CI here) it
// checks each property in the files.
func TestImage(t *testing.T) {
	df := readDockerfile(t)
	t.Run("listens on 0.0.0.0:8080 with a token required", func(t *testing.T) {
		if df.env["SEAFLOW_LISTEN"] != "0.0.0.0:8080" || df.env["SEAFLOW_AUTH"] != "token" {
			t.Fatalf("image ENV %v: want SEAFLOW_LISTEN=0.0.0.0:8080 SEAFLOW_AUTH=token", df.env)
		}
		if len(df.expose) != 1 || df.expose[0] != "8080" {
			t.Errorf("EXPOSE %v, want 8080", df.expose)
		}
		i := slices.Index(df.cmd, "--config")
		if len(df.cmd) < 3 || df.cmd[0] != "run" || i < 0 || i+1 >= len(df.cmd) {
			t.Fatalf("CMD %v: want run --config FILE", df.cmd)
		}
		src, ok := df.copies[df.cmd[i+1]]
		if !ok {
			t.Fatalf("CMD's config %s is not copied into the image (%v)", df.cmd[i+1], df.copies)
		}
		imageEnv := func(extra map[string]string) func(string) (string, bool) {
			return func(k string) (string, bool) {
				if v, ok := extra[k]; ok {
					return v, true
				}
				v, ok := df.env[k]
				return v, ok
			}
		}
		if _, err := rules.Load(repoFile(src), imageEnv(nil)); err == nil || !strings.Contains(err.Error(), "server.auth: token needs server.token") {
			t.Errorf("the image's config without SEAFLOW_TOKEN: %v, want a refusal", err)
		}
		if _, err := rules.Load(repoFile(src), imageEnv(map[string]string{"SEAFLOW_TOKEN": "change-me"})); err == nil || !strings.Contains(err.Error(), "server.token: is 9 characters long") {
			t.Errorf("the image's config with a weak token: %v, want a refusal", err)
		}
		cfg, err := rules.Load(repoFile(src), imageEnv(map[string]string{"SEAFLOW_TOKEN": "a1b2c3d4e5f60718293a"}))
		if err != nil {
			t.Fatalf("the image's config with a token: %v", err)
		}
		if cfg.Server.Listen != "0.0.0.0:8080" || cfg.Server.Open() || cfg.Server.Token == "" {
			t.Errorf("server = %+v", cfg.Server)
		}
	})
	t.Run("healthcheck", func(t *testing.T) {
		if !regexp.MustCompile(`CMD \["/usr/local/bin/seaflow", "health"`).MatchString(df.healthcheck) {
			t.Errorf("HEALTHCHECK %q: want the binary's own health command (distroless has no curl)", df.healthcheck)
		}
		if _, ok := commands["health"]; !ok {
			t.Error("no health subcommand")
		}
	})
	t.Run("non-root", func(t *testing.T) {
		if df.user == "" || strings.HasPrefix(df.user, "0") || strings.HasPrefix(df.user, "root") {
			t.Errorf("USER %q, want an unprivileged user", df.user)
		}
	})
	t.Run(".dockerignore", func(t *testing.T) {
		b, err := os.ReadFile(repoFile(".dockerignore"))
		if err != nil {
			t.Fatal(err)
		}
		var patterns []string
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				patterns = append(patterns, strings.TrimPrefix(l, "/"))
			}
		}
		ignored := func(p string) bool {
			for _, pat := range patterns {
				for _, cand := range []string{p, path.Base(p)} {
					if ok, _ := filepath.Match(strings.TrimPrefix(pat, "**/"), cand); ok {
						return true
					}
				}
				if strings.HasPrefix(p, pat+"/") {
					return true
				}
			}
			return false
		}
		for _, p := range []string{".git", ".git/HEAD", "seaflow-data", "seaflow-data/jetstream/x.blk", "e2e/seaflow-data", "seaflow"} {
			if !ignored(p) {
				t.Errorf("%s goes into the build context", p)
			}
		}
		for _, p := range append([]string{"go.mod", "go.sum", "cmd/seaflow/main.go", "statuspage/index.html"}, slices.Collect(maps.Values(df.copies))...) {
			if ignored(p) {
				t.Errorf("%s is needed by the build but ignored", p)
			}
		}
	})
	t.Run("docker build and run", func(t *testing.T) {
		if testing.Short() {
			t.Skip("builds the image; skipped with -short")
		}
		if err := exec.Command("docker", "info").Run(); err != nil {
			t.Skip("no Docker engine here: the properties above were checked in the files")
		}
		dockerBuildAndRun(t)
	})
}

// dockerBuildAndRun builds the image, checks it refuses to start without a
// token, and that with one it becomes healthy through its HEALTHCHECK.
func dockerBuildAndRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	tag := "seaflow-test:" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	if out, err := exec.CommandContext(ctx, "docker", "build", "-t", tag, repoFile(".")).CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	defer exec.Command("docker", "rmi", "-f", tag).Run()
	out, err := exec.CommandContext(ctx, "docker", "run", "--rm", tag).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "server.token") {
		t.Errorf("docker run without SEAFLOW_TOKEN: %v\n%s; want a refusal naming server.token", err, out)
	}
	id, err := exec.CommandContext(ctx, "docker", "run", "-d", "-e", "SEAFLOW_TOKEN=a1b2c3d4e5f60718293a", "-p", "127.0.0.1::8080", tag).Output()
	if err != nil {
		t.Fatalf("docker run: %v", err)
	}
	cid := strings.TrimSpace(string(id))
	defer exec.Command("docker", "rm", "-f", cid).Run()
	// Docker runs the HEALTHCHECK on its own schedule (every 10 s): read
	// the status it reports until it is healthy or unhealthy.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		st, err := exec.CommandContext(ctx, "docker", "inspect", "-f", "{{.State.Health.Status}}", cid).Output()
		if err != nil {
			t.Fatalf("docker inspect: %v", err)
		}
		switch strings.TrimSpace(string(st)) {
		case "healthy":
			return
		case "unhealthy":
			logs, _ := exec.Command("docker", "logs", cid).CombinedOutput()
			t.Fatalf("container unhealthy:\n%s", logs)
		}
		select {
		case <-ctx.Done():
			t.Fatal("container not healthy in time")
		case <-tick.C:
		}
	}
}
