#!/usr/bin/env bash
# k8s-build.sh - builds kube-apiserver and kube-controller-manager once from Debian's source package.
# Prints the directory holding the two binaries (last line of stdout). The build goes into a cache
# outside the repository, keyed by the source package version, and is reused while it is the same.
set -euo pipefail

CACHE_ROOT=${EXTMETRICS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/extmetrics}
PKG=kubernetes
A=$CACHE_ROOT/apt
mkdir -p "$A/lists/partial" "$A/cache/archives/partial"
# deb-src is not configured on these machines: a private apt config, nothing global is touched.
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main" >"$A/sources.list"
O=(-o "Dir::Etc::sourcelist=$A/sources.list" -o Dir::Etc::sourceparts=/nonexistent
   -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache" -o Debug::NoLocking=1)

log() { echo "k8s-build: $*" >&2; }

# The version decides the cache key; the index is refreshed only when none is known yet.
version() { apt-cache "${O[@]}" showsrc "$PKG" 2>/dev/null | awk '/^Version:/ {print $2; exit}'; }
VER=$(version || true)
if [ -z "$VER" ]; then
  log "fetching the Debian source index"
  apt-get "${O[@]}" -q update >&2
  VER=$(version)
fi
[ -n "$VER" ] || { log "no source package $PKG found"; exit 1; }
OUT=$CACHE_ROOT/k8s-$VER
if [ -x "$OUT/bin/kube-apiserver" ] && [ -x "$OUT/bin/kube-controller-manager" ]; then
  echo "$OUT/bin"
  exit 0
fi

need=()
for p in golang-go etcd-server rsync; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=(); [ "$(id -u)" -eq 0 ] || SUDO=(sudo -n)
  log "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${need[@]}" >&2
fi

SRC=$CACHE_ROOT/src-$VER
if [ ! -f "$SRC/.unpacked" ]; then
  log "downloading source package $PKG $VER"
  (cd "$A" && apt-get "${O[@]}" -q source --download-only "$PKG=$VER" >&2)
  tarball=$(ls "$A"/${PKG}_*.orig.tar.gz | head -n1)
  rm -rf "$SRC"; mkdir -p "$SRC"
  log "unpacking $(basename "$tarball")"
  tar xzf "$tarball" --strip-components=1 -C "$SRC"
  mkdir -p "$SRC/.go/src/k8s.io"
  ln -sfn ../../.. "$SRC/.go/src/k8s.io/kubernetes"
  touch "$SRC/.unpacked"
fi

log "building kube-apiserver and kube-controller-manager once (about 8.5 CPU-minutes: 5 minutes on 2 idle cores)"
start=$(date +%s)
(
  cd "$SRC"
  export GOPATH=$SRC/.go GOCACHE=$CACHE_ROOT/gocache CGO_ENABLED=0 GOFLAGS=-mod=vendor
  make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" 2>&1 |
    while IFS= read -r line; do echo "k8s-build: [$(( $(date +%s) - start ))s] $line" >&2; done
  exit "${PIPESTATUS[0]}"
) &
pid=$!
# A heartbeat: Go prints nothing for minutes while it compiles.
while kill -0 "$pid" 2>/dev/null; do
  sleep 60
  kill -0 "$pid" 2>/dev/null && log "still building ($(( $(date +%s) - start ))s)"
done
wait "$pid"
mkdir -p "$OUT/bin.tmp"
cp "$SRC/_output/bin/kube-apiserver" "$SRC/_output/bin/kube-controller-manager" "$OUT/bin.tmp/"
rm -rf "$OUT/bin"; mv "$OUT/bin.tmp" "$OUT/bin"
log "built in $(( $(date +%s) - start ))s into $OUT/bin"
# The 2 GB tree and Go's build cache are not needed once the binaries exist.
rm -rf "$SRC" "$CACHE_ROOT/gocache"
echo "$OUT/bin"
