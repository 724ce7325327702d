#!/usr/bin/env bash
# Runs every fuzz target of the project for FUZZTIME each (default 15s):
# rule files, expressions, webhook bodies and signature headers, the
# client's response decoding, the emulator's SQL and fixtures, the planner,
# budget state decoding and subject tokens. Seeds are in each target's
# f.Add calls and testdata/fuzz; a crasher is written to testdata/fuzz and
# fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-15s}"
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
  pkg="./$(dirname "${file#./}")"
  for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
    echo "== fuzz $pkg $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
  done
done
