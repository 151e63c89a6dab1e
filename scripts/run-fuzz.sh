#!/usr/bin/env bash
# run-fuzz.sh SECONDS RUNS FUZZER... - runs each libFuzzer target on its seed corpus for RUNS executions or SECONDS, whichever comes first.
set -eu
secs=$1; runs=$2; shift 2
for f in "$@"; do
  name=$(basename "$f"); corpus=build/fuzz/corpus/$name
  mkdir -p "$corpus"
  [ -d "test/fuzz/seeds/$name" ] && cp -n test/fuzz/seeds/"$name"/* "$corpus"/ 2>/dev/null || :
  echo "# fuzz $name for ${secs}s or $runs runs"
  "$f" -max_total_time="$secs" -runs="$runs" -max_len=4096 -artifact_prefix=build/fuzz/$name- -print_final_stats=0 "$corpus" >build/fuzz/$name.log 2>&1 || {
    tail -40 build/fuzz/$name.log; echo "fuzz: $name FAILED"; exit 1; }
  grep -E '^(#[0-9]+|Done)' build/fuzz/$name.log | tail -1
done
echo "fuzz: ${#} targets clean"
