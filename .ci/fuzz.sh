#!/usr/bin/env bash
# Runs every Go fuzz target of the module briefly. The seed corpora already run in `go test`; this adds
# a short coverage-guided search so a regression in a parser shows up in CI.
set -euo pipefail
fuzztime=${1:-8s}
while IFS= read -r line; do
  file=${line%%:*}
  name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"${line#*:}")
  dir=$(dirname "$file")
  echo "fuzz $dir $name ($fuzztime)"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "./$dir"
done < <(git grep -n -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' -- '*_test.go' | sed -E 's/^([^:]*):[0-9]+:/\1:/')
