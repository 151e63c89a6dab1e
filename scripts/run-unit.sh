#!/usr/bin/env bash
# run-unit.sh - runs each unit test binary and prints one total "N passed, N failed" line.
set -u
. "$(dirname "$0")/tally.sh"
for t in "$@"; do
  echo "# $t"
  out=$("$t" 2>&1); rc=$?
  tally "$t" "$rc" "$out"
done
tally_end unit
