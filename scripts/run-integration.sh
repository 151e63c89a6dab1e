#!/usr/bin/env bash
# run-integration.sh - runs every test/integration/test_*.py against $EXTMETRICS; one total line.
set -u
. "$(dirname "$0")/tally.sh"
export EXTMETRICS=$(realpath "${EXTMETRICS:-build/extmetrics}")
PY=${PYTHON:-python3}
for t in test/integration/test_*.py; do
  [ -n "${ONLY_FILE:-}" ] && [[ "$t" != *"$ONLY_FILE"* ]] && continue
  out=$(cd test/integration && timeout 600 "$PY" "$(basename "$t")" 2>&1); rc=$?
  tally "$t" "$rc" "$out"
done
tally_end integration
