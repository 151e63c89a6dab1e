#!/usr/bin/env bash
# serve.sh - wrk against a cached metric on extmetrics and against nginx serving the same JSON over TLS;
# prints req/s, p99 latency and the ratio, RSS while serving, and memory per configured metric.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${EXTMETRICS:-build/extmetrics}
DUR=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
W=$(mktemp -d)
cleanup() { [ -n "${EMPID:-}" ] && kill "$EMPID" 2>/dev/null; [ -f "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
anon_kb() { awk '/^RssAnon/ {print $2}' "/proc/$1/status"; }
pss_kb() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }

EP=$(port); MP=$(port); NP=$(port)
PATH_Q=/apis/external.metrics.k8s.io/v1beta1/namespaces/default/queue-depth
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$W/key.pem" -out "$W/cert.pem" 2>/dev/null

metrics_yaml() { # $1 = number of metrics
  echo "server: {auth: {mode: none}, threads: 2}"
  echo "defaults: {pollingInterval: 30s, timeout: 3s}"
  echo "metrics:"
  echo "  - {name: queue-depth, namespaces: [\"*\"], type: cron, labels: {queue: orders}, metadata: {timezone: UTC, start: \"0 0 1 1 *\", end: \"* * * * *\", desiredReplicas: \"22\"}}"
  for i in $(seq 2 "$1"); do
    echo "  - {name: m$i, namespaces: [\"*\"], type: cron, metadata: {timezone: Europe/Berlin, start: \"0 22 * * *\", end: \"0 6 * * *\", desiredReplicas: \"$i\"}}"
  done
}

start_em() { # $1 = config
  "$BIN" serve --config "$1" --listen 127.0.0.1:$EP --metrics-listen 127.0.0.1:$MP \
    --tls-cert-file "$W/cert.pem" --tls-key-file "$W/key.pem" --log-level warn >"$W/em.log" 2>&1 &
  EMPID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$MP/readyz" >/dev/null && return 0; sleep 0.1; done
  echo "extmetrics did not start"; cat "$W/em.log"; exit 1
}

# --- throughput: extmetrics vs nginx ---------------------------------------------------------
metrics_yaml 1 >"$W/one.yaml"
start_em "$W/one.yaml"
mkdir -p "$W/www$(dirname $PATH_Q)"
curl -sk "https://127.0.0.1:$EP$PATH_Q" >"$W/www$PATH_Q"
chmod -R a+rX "$W"
cat >"$W/nginx.conf" <<NGX
worker_processes 2;
pid $W/nginx.pid;
error_log $W/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$NP ssl;
    ssl_certificate $W/cert.pem; ssl_certificate_key $W/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    keepalive_requests 1000000;
    root $W/www;
    default_type application/json;
  }
}
NGX
nginx -c "$W/nginx.conf" -p "$W"
sleep 0.3
curl -sfk "https://127.0.0.1:$NP$PATH_Q" >/dev/null || { echo "nginx did not serve"; cat "$W/nginx-error.log"; exit 1; }

run_wrk() { # url -> "reqs p99ms"
  wrk -t2 -c64 -d"${DUR}s" --latency "$1" | awk '
    /Requests\/sec/ {r=$2}
    /^ +99%/ {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; p=v}
    END {printf "%s %s\n", r, p}'
}
em_sum=0; ng_sum=0; peak=0; peak_anon=0; peak_pss=0
echo "round  extmetrics_req/s  p99_ms  nginx_req/s  p99_ms"
for i in $(seq "$ROUNDS"); do
  read -r er ep < <(run_wrk "https://127.0.0.1:$EP$PATH_Q")
  r=$(rss_kb "$EMPID"); [ "$r" -gt "$peak" ] && peak=$r
  a=$(anon_kb "$EMPID"); [ "$a" -gt "$peak_anon" ] && peak_anon=$a
  p=$(pss_kb "$EMPID"); [ "$p" -gt "$peak_pss" ] && peak_pss=$p
  read -r nr np < <(run_wrk "https://127.0.0.1:$NP$PATH_Q")
  printf "%5d  %16.0f  %6.2f  %11.0f  %6.2f\n" "$i" "$er" "$ep" "$nr" "$np"
  em_sum=$(echo "$em_sum + $er" | bc -l); ng_sum=$(echo "$ng_sum + $nr" | bc -l)
done
ratio=$(echo "$em_sum / $ng_sum" | bc -l)
printf "extmetrics/nginx req/s ratio: %.3f (goal >= 0.9)\n" "$ratio"
printf "extmetrics memory while serving: RSS %.1f MB (goal < 10 MB), of it private/anonymous %.1f MB; PSS %.1f MB\n" \
  "$(echo "$peak / 1024" | bc -l)" "$(echo "$peak_anon / 1024" | bc -l)" "$(echo "$peak_pss / 1024" | bc -l)"
echo "(the rest of RSS is shared, clean pages of libcrypto, GnuTLS, libc... mapped by every process using them)"
kill "$EMPID"; wait "$EMPID" 2>/dev/null || :; EMPID=

# --- memory per configured metric -----------------------------------------------------------------
metrics_yaml 10 >"$W/m10.yaml"; metrics_yaml 2010 >"$W/m2010.yaml"
start_em "$W/m10.yaml"; sleep 2; r10=$(rss_kb "$EMPID"); kill "$EMPID"; wait "$EMPID" 2>/dev/null || :
start_em "$W/m2010.yaml"; sleep 4; r2010=$(rss_kb "$EMPID"); kill "$EMPID"; wait "$EMPID" 2>/dev/null || :; EMPID=
printf "RSS with 10 metrics: %d kB, with 2010: %d kB => %.2f kB per configured metric\n" "$r10" "$r2010" \
  "$(echo "($r2010 - $r10) / 2000" | bc -l)"
