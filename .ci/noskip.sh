#!/usr/bin/env bash
# Runs `go test -v` with the given arguments, prints its output without the per-test RUN/PASS
# chatter, and fails when any test skipped: a fixture or browser test that skips would otherwise
# pass CI without having run (only -short skips, which CI never asks for).
set -uo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"${GO:-go}" test -v "$@" 2>&1 | tee "$log" | grep -v -E '^\s*(=== (RUN|PAUSE|CONT|NAME)|--- PASS)'
status=${PIPESTATUS[0]}
skips=$(grep -E '^\s*--- SKIP' "$log")
if [ -n "$skips" ]; then
  echo "skipped tests (a skip is a failure here):"
  echo "$skips"
  grep -E -A2 '^\s*--- SKIP' "$log" | grep -E '_test\.go:[0-9]+' || true
  exit 1
fi
exit "$status"
