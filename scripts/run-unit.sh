#!/usr/bin/env bash
# run-unit.sh - runs each unit test binary and prints one total "N passed, N failed" line.
set -u
tp=0; tf=0; bad=0
for t in "$@"; do
  echo "# $t"
  out=$("$t" 2>&1); rc=$?
  printf '%s\n' "$out"
  line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
  if [ -z "$line" ]; then echo "not ok - $t crashed or printed no summary (rc=$rc)"; tf=$((tf+1)); bad=1; continue; fi
  p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
  tp=$((tp+p)); tf=$((tf+f))
  [ "$rc" -ne 0 ] && bad=1
done
echo "unit: $tp passed, $tf failed"
[ "$bad" -eq 0 ] && [ "$tf" -eq 0 ]
