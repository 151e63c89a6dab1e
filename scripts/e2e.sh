#!/usr/bin/env bash
# e2e.sh - make e2e: builds (once) kube-apiserver and kube-controller-manager, then runs test/e2e against
# build/extmetrics: a real control plane on 127.0.0.1, the project's manifests, the examples' HPAs.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for p in etcd-server; do   # golang-go and rsync: k8s-build.sh, when it builds
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=(); [ "$(id -u)" -eq 0 ] || SUDO=(sudo -n)
  echo "e2e: installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${need[@]}"
fi
K8S_BIN=$(scripts/k8s-build.sh | tail -n1)
export K8S_BIN
export EXTMETRICS=$(realpath "${EXTMETRICS:-build/extmetrics}")
exec "${PYTHON:-python3}" test/e2e/test_e2e.py
