#!/usr/bin/env bash
# soak.sh - $EXTMETRICS (default build/extmetrics) for SOAK_SECONDS (600) under load, reloads and templated churn; prints the RSS/threads/fds series.
set -euo pipefail
cd "$(dirname "$0")/../.."
export EXTMETRICS=$(realpath "${EXTMETRICS:-build/extmetrics}")
exec python3 test/bench/soak.py
