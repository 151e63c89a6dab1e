#!/usr/bin/env bash
# run-demo.sh - `make run`: serves the embedded demo config in the foreground on $PORT and $METRICS_PORT.
set -euo pipefail
BIN=${EXTMETRICS:-build/extmetrics}
PORT=${PORT:-6443}
METRICS_PORT=${METRICS_PORT:-9022}
for v in PORT METRICS_PORT; do
  p=${!v}
  if ! [[ "$p" =~ ^[0-9]{1,5}$ ]] || [ "$p" -lt 1 ] || [ "$p" -gt 65535 ]; then
    echo "make run: $v=$p is not a port (1-65535), e.g. make run PORT=8443 METRICS_PORT=9090" >&2
    exit 2
  fi
done
if [ "$PORT" = "$METRICS_PORT" ]; then
  echo "make run: PORT and METRICS_PORT are both $PORT; they need two ports" >&2
  exit 2
fi
cat <<MSG
extmetrics demo: cron metrics, no cloud account needed (self-signed TLS, auth mode none).
API on https://127.0.0.1:$PORT, own metrics on http://127.0.0.1:$METRICS_PORT (make run PORT=... METRICS_PORT=...).

Query it from another terminal:
  kubectl get --raw /apis/external.metrics.k8s.io/v1beta1/namespaces/default/always-on \\
    --server https://127.0.0.1:$PORT --insecure-skip-tls-verify --token=demo
  kubectl get --raw "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/business-hours?labelSelector=app%3Dweb" \\
    --server https://127.0.0.1:$PORT --insecure-skip-tls-verify --token=demo
  curl -s http://127.0.0.1:$METRICS_PORT/metrics

Stop with Ctrl-C.
MSG
exec "$BIN" serve --demo --listen "127.0.0.1:$PORT" --metrics-listen "127.0.0.1:$METRICS_PORT" "$@"
