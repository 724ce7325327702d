package proctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Binaries is a temporary directory of binaries built from the module.
type Binaries struct {
	// Root is the module's root directory (where go.mod is).
	Root string
	// Dir holds the binaries; Remove deletes it.
	Dir string
	// Seaflow is the seaflow binary, built from ./cmd/seaflow.
	Seaflow string
}

// BuildSeaflow builds ./cmd/seaflow of the module the working directory is
// in, into a new temporary directory named after prefix. Call Remove when
// the tests are done.
func BuildSeaflow(prefix string) (*Binaries, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "seaflow-"+prefix+"-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	b := &Binaries{Root: root, Dir: dir}
	if b.Seaflow, err = b.Build("seaflow", "./cmd/seaflow"); err != nil {
		_ = b.Remove()
		return nil, err
	}
	return b, nil
}

// Build builds pkg (relative to the module root) into Dir/name and returns
// its path.
func (b *Binaries) Build(name, pkg string) (string, error) {
	out := filepath.Join(b.Dir, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = b.Root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
	}
	return out, nil
}

// Remove deletes the binaries' directory.
func (b *Binaries) Remove() error {
	if err := os.RemoveAll(b.Dir); err != nil {
		return fmt.Errorf("remove binaries: %w", err)
	}
	return nil
}

// ModuleRoot is the directory of the go.mod of the module the working
// directory is in.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("go env GOMOD: not inside a module")
	}
	return filepath.Dir(gomod), nil
}
