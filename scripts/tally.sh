# tally.sh - sourced by the test runners: adds one suite's "N passed, N failed" to the totals.
tp=0; tf=0; bad=0

# tally NAME RC OUTPUT: prints the output and counts its closing summary line;
# a suite that printed none (crash) counts as one failure.
tally() {
  local name=$1 rc=$2 out=$3 line p f
  printf '%s\n' "$out"
  line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
  if [ -z "$line" ]; then echo "not ok - $name crashed or printed no summary (rc=$rc)"; tf=$((tf+1)); bad=1; return; fi
  p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
  tp=$((tp+p)); tf=$((tf+f))
  [ "$rc" -ne 0 ] && bad=1
  return 0
}

# tally_end LABEL: the total line, and the exit status for the runner.
tally_end() {
  echo "$1: $tp passed, $tf failed"
  [ "$bad" -eq 0 ] && [ "$tf" -eq 0 ]
}
