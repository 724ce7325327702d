package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

func init() {
	commands["version"] = command{summary: "print the build's version", run: runVersion}
}

func runVersion(_ context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("version")
	if err := fs.Parse(args); err != nil {
		return err
	}
	revision := ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				revision = " (" + s.Value[:12] + ")"
			}
		}
	}
	fmt.Fprintf(m.Stdout, "seaflow %s%s %s %s/%s\n", version, revision, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
