package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// unitFile is what the tests read from deploy/seaflow.service: its
// [Service] settings and the install commands of its header.
type unitFile struct {
	service  map[string][]string
	installs []installLine
}

// installLine is one "install [-D] [-d] -m MODE -o OWNER -g GROUP [SRC] DST".
type installLine struct {
	dir          bool
	mode         os.FileMode
	owner, group string
	dst          string
}

func readUnit(t *testing.T) unitFile {
	t.Helper()
	f, err := os.Open(repoFile("deploy/seaflow.service"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unitFile{service: map[string][]string{}}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cmd, ok := strings.CutPrefix(line, "#   install "); ok {
			cmd, _, _ = strings.Cut(cmd, " #") // a comment after the command
			cmd, _, _ = strings.Cut(cmd, "&&")
			u.installs = append(u.installs, parseInstall(t, strings.Fields(cmd)))
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && section == "[Service]" && !strings.HasPrefix(line, "#") {
			u.service[k] = append(u.service[k], v)
		}
	}
	return u
}

func parseInstall(t *testing.T, args []string) installLine {
	t.Helper()
	l := installLine{owner: "root", group: "root", mode: 0o755}
	var rest []string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-D":
		case "-d":
			l.dir = true
		case "-m", "-o", "-g":
			if i+1 >= len(args) {
				t.Fatalf("install %v: %s without a value", args, args[i])
			}
			v := args[i+1]
			switch args[i] {
			case "-m":
				m, err := strconv.ParseUint(v, 8, 32)
				if err != nil {
					t.Fatalf("install %v: mode %q", args, v)
				}
				l.mode = os.FileMode(m)
			case "-o":
				l.owner = v
			case "-g":
				l.group = v
			}
			i++
		default:
			rest = append(rest, args[i])
		}
	}
	if len(rest) == 0 {
		t.Fatalf("install %v: no destination", args)
	}
	l.dst = rest[len(rest)-1]
	return l
}

func (u unitFile) install(t *testing.T, dst string) installLine {
	t.Helper()
	for _, l := range u.installs {
		if l.dst == dst {
			return l
		}
	}
	t.Fatalf("the unit's header installs no %s", dst)
	return installLine{}
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// seaflowBinary builds ./cmd/seaflow once for the tests that run it as
// another user, in a directory any user may read.
func seaflowBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "seaflow-unit-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "seaflow")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		binErr = os.Chmod(dir, 0o755)
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// TestSystemdUnit: the unit installed its config 0640 root:root and ran
// with DynamicUser=yes, so the service could not read it ("permission
// denied"). It now gives its dynamic user the group the config belongs
// to; systemd-analyze verifies it, and setpriv runs the binary with the
// unit's user, group and file modes.
func TestSystemdUnit(t *testing.T) {
	u := readUnit(t)
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	group := strings.Join(u.service["SupplementaryGroups"], " ")
	cfg := u.install(t, "/etc/seaflow/seaflow.yaml")
	etc := u.install(t, "/etc/seaflow")
	t.Run("settings", func(t *testing.T) {
		if strings.Join(u.service["DynamicUser"], "") != "yes" || group == "" {
			t.Fatalf("DynamicUser=%v SupplementaryGroups=%v: want a dynamic user with a static group", u.service["DynamicUser"], u.service["SupplementaryGroups"])
		}
		if cfg.group != group || cfg.mode&0o040 == 0 || cfg.mode&0o007 != 0 {
			t.Errorf("config installed %o %s:%s; want it readable by group %s and not by others", cfg.mode, cfg.owner, cfg.group, group)
		}
		if !etc.dir || etc.group != group || etc.mode&0o010 == 0 {
			t.Errorf("/etc/seaflow installed %o %s:%s; want the group %s to traverse it", etc.mode, etc.owner, etc.group, group)
		}
		if env := u.install(t, "/etc/seaflow/seaflow.env"); env.owner != "root" || env.mode != 0o600 {
			t.Errorf("the secrets file is %o %s: want 0600 root (systemd reads it, the service user does not)", env.mode, env.owner)
		}
		sysusers, err := os.ReadFile(repoFile("deploy/seaflow.sysusers"))
		if err != nil || !strings.Contains(string(sysusers), "\ng "+group+" ") {
			t.Errorf("deploy/seaflow.sysusers does not create group %s: %v\n%s", group, err, sysusers)
		}
		if !strings.Contains(strings.Join(u.service["ExecStart"], ""), "--data-dir /var/lib/"+strings.Join(u.service["StateDirectory"], "")) {
			t.Errorf("ExecStart %v does not use the StateDirectory", u.service["ExecStart"])
		}
	})
	t.Run("systemd-analyze verify", func(t *testing.T) {
		if _, err := exec.LookPath("systemd-analyze"); err != nil {
			t.Skip("systemd-analyze is not installed (apt-get install systemd)")
		}
		// The unit names /usr/local/bin/seaflow, which verify checks
		// exists: point it at the freshly built binary.
		unit, err := os.ReadFile(repoFile("deploy/seaflow.service"))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "seaflow.service")
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/seaflow", seaflowBinary(t))), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("systemd-analyze", "verify", "--man=no", path).CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	})
	t.Run("setpriv as the unit's user", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to own files as root:seaflow and switch users")
		}
		if _, err := exec.LookPath("setpriv"); err != nil {
			t.Skip("setpriv (util-linux) is not installed")
		}
		runAsUnitUser(t, cfg, etc, u.service["StateDirectoryMode"])
	})
}

// runAsUnitUser lays out /etc/seaflow and /var/lib/seaflow in a scratch
// root with the unit's owners and modes, then runs seaflow as a dynamic
// user would be: an unused uid whose only supplementary group is the
// config's group.
func runAsUnitUser(t *testing.T, cfg, etc installLine, stateMode []string) {
	const uid, gid = 61234, 61235 // the dynamic user, the static group "seaflow"
	bin := seaflowBinary(t)
	root, err := os.MkdirTemp("", "seaflow-unit-root-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	owner := func(name string) int {
		if name == "root" {
			return 0
		}
		return gid
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Chmod(root, 0o755))
	etcDir := filepath.Join(root, "etc", "seaflow")
	must(os.MkdirAll(etcDir, 0o755))
	must(os.Chmod(filepath.Join(root, "etc"), 0o755))
	must(os.Chown(etcDir, owner(etc.owner), owner(etc.group)))
	must(os.Chmod(etcDir, etc.mode))
	stateDir := filepath.Join(root, "var", "lib", "seaflow")
	must(os.MkdirAll(stateDir, 0o755))
	mode := uint64(0o755) // systemd's default StateDirectoryMode
	if len(stateMode) > 0 {
		mode, err = strconv.ParseUint(stateMode[0], 8, 32)
		must(err)
	}
	must(os.Chown(stateDir, uid, uid)) // systemd chowns the StateDirectory to the dynamic user
	must(os.Chmod(stateDir, os.FileMode(mode)))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	addr := ln.Addr().String()
	ln.Close()
	cfgPath := filepath.Join(etcDir, "seaflow.yaml")
	must(os.WriteFile(cfgPath, []byte(fmt.Sprintf("server: { listen: %q, auth: none }\n", addr)), 0o600))
	must(os.Chown(cfgPath, owner(cfg.owner), owner(cfg.group)))
	must(os.Chmod(cfgPath, cfg.mode))

	asUser := func(groups string, args ...string) *exec.Cmd {
		pre := []string{"--reuid=" + strconv.Itoa(uid), "--regid=" + strconv.Itoa(uid), "--inh-caps=-all"}
		if groups == "" {
			pre = append(pre, "--clear-groups")
		} else {
			pre = append(pre, "--groups="+groups)
		}
		cmd := exec.Command("setpriv", append(append(pre, "--", bin), args...)...)
		cmd.Dir = root
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent"}
		return cmd
	}
	// The old unit: no supplementary group, as DynamicUser alone gave.
	if out, err := asUser("", "validate", "--config", cfgPath).CombinedOutput(); err == nil || !strings.Contains(string(out), "permission denied") {
		t.Errorf("without the group: %v %s; want permission denied (the check would not catch the old bug)", err, out)
	}
	// ExecStartPre, then ExecStart.
	if out, err := asUser(strconv.Itoa(gid), "validate", "--config", cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("ExecStartPre as the unit's user: %v\n%s", err, out)
	}
	run := asUser(strconv.Itoa(gid), "run", "--config", cfgPath, "--data-dir", stateDir)
	logs := &watchedLog{want: `"seaflow running"`, seen: make(chan struct{})}
	run.Stdout, run.Stderr = logs, logs
	must(run.Start())
	done := make(chan error, 1)
	go func() { done <- run.Wait() }()
	defer func() {
		_ = run.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("seaflow exited with %v after SIGTERM\n%s", err, logs.String())
			}
		case <-time.After(30 * time.Second):
			_ = run.Process.Kill()
			t.Errorf("seaflow did not stop after SIGTERM\n%s", logs.String())
		}
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(stateDir, "jetstream"), &st); err != nil || st.Uid != uid {
			t.Errorf("the store in the StateDirectory: owner %d, %v; want the unit's user %d", st.Uid, err, uid)
		}
	}()
	select {
	case <-logs.seen:
	case err := <-done:
		done <- err
		t.Fatalf("seaflow as the unit's user exited: %v\n%s", err, logs.String())
	}
	if out, errOut, code := runCLI(t, nil, "health", "--url", "http://"+addr); code != 0 || strings.TrimSpace(out) != "ready" {
		t.Errorf("seaflow health: exit %d %s%s", code, out, errOut)
	}
}

// watchedLog collects a process's output and closes seen once a line
// containing want was written.
type watchedLog struct {
	syncBuffer
	want string
	seen chan struct{}
	once sync.Once
}

func (w *watchedLog) Write(p []byte) (int, error) {
	n, err := w.syncBuffer.Write(p)
	if strings.Contains(w.syncBuffer.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}
