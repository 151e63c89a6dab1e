#!/usr/bin/env bash
# run-demo.sh - `make run`: serves the embedded demo config in the foreground.
set -euo pipefail
BIN=${EXTMETRICS:-build/extmetrics}
cat <<'MSG'
extmetrics demo: cron metrics, no cloud account needed (self-signed TLS, auth mode none).

Query it from another terminal:
  kubectl get --raw /apis/external.metrics.k8s.io/v1beta1/namespaces/default/always-on \
    --server https://127.0.0.1:6443 --insecure-skip-tls-verify --token=demo
  kubectl get --raw "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/business-hours?labelSelector=app%3Dweb" \
    --server https://127.0.0.1:6443 --insecure-skip-tls-verify --token=demo
  curl -s http://127.0.0.1:9022/metrics

Stop with Ctrl-C.
MSG
exec "$BIN" serve --demo "$@"
