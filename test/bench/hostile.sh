#!/usr/bin/env bash
# hostile.sh [memory|slowloris|flood]... - issue 14's attacks at full size against $EXTMETRICS (default build/extmetrics); prints figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
export EXTMETRICS=$(realpath "${EXTMETRICS:-build/extmetrics}")
exec python3 test/bench/hostile.py "$@"
