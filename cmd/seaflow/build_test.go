package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestDockerfileBuild builds the binary exactly as the Dockerfile does (its
// go build line, read from the file) and checks what the image relies on:
// a static executable with no interpreter, stamped with the version.
func TestDockerfileBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the image is linux")
	}
	dockerfile, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`RUN CGO_ENABLED=0 GOOS=linux go build (-trimpath) -ldflags "([^"]+)" -o \S+ (\./cmd/seaflow)`).FindSubmatch(dockerfile)
	if m == nil {
		t.Fatal("the Dockerfile has no go build line of the expected form")
	}
	ldflags := strings.ReplaceAll(string(m[2]), "${VERSION}", "v-test")
	out := filepath.Join(t.TempDir(), "seaflow")
	cmd := exec.Command("go", "build", string(m[1]), "-ldflags", ldflags, "-o", out, string(m[3]))
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary has a dynamic interpreter: it would not run on a static distroless image")
		}
	}
	v, err := exec.Command(out, "version").Output()
	if err != nil || !strings.HasPrefix(string(v), "seaflow v-test") {
		t.Errorf("version = %q, %v; want the stamped version", v, err)
	}
	if err := exec.Command(out, "validate", "--config", filepath.Join("..", "..", "rules.example.yaml")).Run(); err != nil {
		t.Errorf("the built binary does not validate the example it ships: %v", err)
	}
}
