#!/usr/bin/env bash
# deps.sh - installs the Debian packages extmetrics needs to build, run and test.
set -euo pipefail

PKGS=(
  build-essential pkg-config clang libclang-rt-14-dev
  libmicrohttpd-dev libgnutls28-dev libssl-dev libcurl4-openssl-dev libjansson-dev libyaml-dev libpq-dev
  libhiredis-dev libmariadb-dev librabbitmq-dev
  openssl curl ca-certificates tzdata
  postgresql prometheus prometheus-pushgateway python3-kubernetes nodejs
  redis-server redis-sentinel redis-tools mariadb-server mariadb-client rabbitmq-server amqp-tools
  wrk nginx-light bc
  skopeo umoci   # test_image.py: reads `make image`'s archive and unpacks it as a runtime would
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v kubectl >/dev/null 2>&1; then missing+=(kubernetes-client); fi
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi   # test/deploy: npm ci of the schema validator
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "deps: run as root or with passwordless sudo, or install them: apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# nginx, postgresql, redis and mariadb must not start system services: tests run their own on free ports.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${SUDO[@]}" chmod +x /usr/sbin/policy-rc.d
  trap '"${SUDO[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
