#!/usr/bin/env bash
# Runs every fuzz target of the project for FUZZTIME each (default 15s):
# rule files, expressions, webhook bodies and signature headers, the
# client's response decoding, the emulator's SQL and fixtures, the planner,
# budget state decoding and subject tokens. Seeds are in each target's
# f.Add calls and testdata/fuzz; a crasher is written to testdata/fuzz and
# fails the run.
#
# Go 1.26's fuzz coordinator can end a clean run at -fuzztime with a bare
# "context deadline exceeded" and no crasher (golang/go#75804, fixed in Go
# 1.27; seen here on FuzzParse on a loaded machine). Such a run is tried
# once more; if it ends the same way again, still with nothing written, it
# is reported and the run goes on. Any other failure fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-15s}"

# corpus lists the files of a target's corpus, to see whether a run wrote
# a reproducer.
corpus() { find "$1/testdata/fuzz/$2" -type f 2>/dev/null | sort; }

# fuzz_one runs one target; 0 passed, 1 failed, 2 the coordinator's
# deadline race with nothing written.
fuzz_one() {
  local pkg=$1 target=$2 out before
  out=$(mktemp)
  before=$(corpus "$pkg" "$target")
  if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" 2>&1 | tee "$out"; then
    rm -f "$out"
    return 0
  fi
  local reason
  reason=$(grep -A1 -- "^--- FAIL: ${target} " "$out" | tail -n +2 | sed 's/^[[:space:]]*//')
  rm -f "$out"
  if [ "$reason" = "context deadline exceeded" ] && [ "$(corpus "$pkg" "$target")" = "$before" ]; then
    return 2
  fi
  return 1
}

grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
  pkg="./$(dirname "${file#./}")"
  for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
    echo "== fuzz $pkg $target ($fuzztime)"
    rc=0
    fuzz_one "$pkg" "$target" || rc=$?
    if [ "$rc" -eq 2 ]; then
      echo "== fuzz $pkg $target: the coordinator's deadline race (golang/go#75804), nothing written; once more"
      rc=0
      fuzz_one "$pkg" "$target" || rc=$?
      if [ "$rc" -eq 2 ]; then
        echo "== fuzz $pkg $target: the deadline race again, nothing written: reported, not failed"
        rc=0
      fi
    fi
    if [ "$rc" -ne 0 ]; then
      echo "== fuzz $pkg $target FAILED"
      exit 1
    fi
  done
done
