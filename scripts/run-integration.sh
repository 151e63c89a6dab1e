#!/usr/bin/env bash
# run-integration.sh - runs every test/integration/test_*.py against $EXTMETRICS; one total line.
set -u
export EXTMETRICS=$(realpath "${EXTMETRICS:-build/extmetrics}")
PY=${PYTHON:-python3}
tp=0; tf=0; bad=0
for t in test/integration/test_*.py; do
  [ -n "${ONLY_FILE:-}" ] && [[ "$t" != *"$ONLY_FILE"* ]] && continue
  out=$(cd test/integration && timeout 600 "$PY" "$(basename "$t")" 2>&1); rc=$?
  printf '%s\n' "$out"
  line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
  if [ -z "$line" ]; then echo "not ok - $t crashed or printed no summary (rc=$rc)"; tf=$((tf+1)); bad=1; continue; fi
  p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
  tp=$((tp+p)); tf=$((tf+f))
  [ "$rc" -ne 0 ] && bad=1
done
echo "integration: $tp passed, $tf failed"
[ "$bad" -eq 0 ] && [ "$tf" -eq 0 ]
