#!/usr/bin/env bash
# Builds kube-apiserver and kube-controller-manager from Debian's `kubernetes`
# source package (no packaged kube-apiserver exists for Debian bookworm), puts
# them with Debian's kubectl into a cache outside the checkout, and installs
# what start.sh needs (etcd-server, openssl, curl).
#
#   tests/kube/build.sh          # builds once (~9-10 min on 2 cores), then a no-op
#
# The binaries land in
#   ${STRAKE_CACHE_DIR:-$HOME/.cache/strake}/kube/<source version>-<hash of this script>/bin/
# and the last line printed is `KUBE_BIN_DIR=<that dir>`. A change of this
# script, or a new source version, gives a new cache key and so a rebuild.
#
# Apt: the deb-src list is derived from the machine's own enabled deb822
# sources (/etc/apt/sources.list.d/*.sources, Types: deb -> deb-src) into a
# private apt directory under the cache; the system's apt config is untouched.
set -euo pipefail

SCRIPT="$(readlink -f "${BASH_SOURCE[0]}")"
CACHE_ROOT="${STRAKE_CACHE_DIR:-$HOME/.cache/strake}/kube"
APT_DIR="$CACHE_ROOT/apt"
SRC_PKG=kubernetes
START=$(date +%s)

log() { printf '[kube/build +%ss] %s\n' "$(($(date +%s) - START))" "$*"; }
die() { printf '[kube/build] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (installs Debian packages)"

# One build at a time (parallel test processes may all call start.sh): the
# others wait here, then find the cache warm.
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/build.lock"
if ! flock -n 9; then
  log "another build.sh holds $CACHE_ROOT/build.lock: waiting"
  flock 9
fi

# ---- Debian packages -------------------------------------------------------
# Installs the given packages that are not installed yet; `apt-get update` is
# run at most once, and only when something is missing.
APT_UPDATED=0
apt_update_once() {
  [ "$APT_UPDATED" = 1 ] && return 0
  log "apt-get update"
  apt-get update -qq
  APT_UPDATED=1
}
ensure_pkgs() {
  local missing=() p
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  apt_update_once
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Runtime needs of start.sh / the tests (also on the no-op path: a reused cache
# on a machine that lost its packages must still work).
ensure_pkgs etcd-server openssl curl jq ca-certificates iproute2

# ---- private deb-src apt directory ----------------------------------------
APT_OPTS=(
  -o "Dir::Etc::SourceList=/dev/null"
  -o "Dir::Etc::SourceParts=$APT_DIR/sources.list.d"
  -o "Dir::State::Lists=$APT_DIR/lists"
  -o "Dir::Cache=$APT_DIR/cache"
  -o "APT::Sandbox::User=root"
)

write_deb_src_list() {
  rm -rf "$APT_DIR/sources.list.d"
  mkdir -p "$APT_DIR/sources.list.d" "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
  local f n=0
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # One stanza per paragraph; drop stanzas with `Enabled: no`, and make the
    # rest deb-src only.
    awk 'BEGIN { RS = ""; ORS = "" }
         {
           if ($0 ~ /(^|\n)[Ee]nabled:[ \t]*[Nn][Oo]/) next
           n = split($0, L, "\n")
           for (i = 1; i <= n; i++) {
             if (L[i] ~ /^Types:/) L[i] = "Types: deb-src"
             print L[i] "\n"
           }
           print "\n"
         }' "$f" >"$APT_DIR/sources.list.d/$(basename "$f")"
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] || die "no enabled /etc/apt/sources.list.d/*.sources file to derive deb-src entries from"
}

source_version() {
  apt-cache "${APT_OPTS[@]}" showsrc "$SRC_PKG" 2>/dev/null |
    awk '/^Package: /{p=$2} /^Version: /{ if (p == "'"$SRC_PKG"'") print $2 }' |
    sort -V | tail -1
}

ensure_pkgs dpkg-dev xz-utils
# The private lists are refreshed when missing or older than a week.
if [ -z "$(find "$APT_DIR/lists" -maxdepth 1 -name '*Sources*' -mtime -7 2>/dev/null | head -1)" ]; then
  write_deb_src_list
  log "apt-get update (private deb-src lists in $APT_DIR)"
  apt-get "${APT_OPTS[@]}" update -qq
fi
VERSION="$(source_version)"
[ -n "$VERSION" ] || die "no source package '$SRC_PKG' in the deb-src lists ($APT_DIR)"

HASH="$(sha256sum "$SCRIPT" | cut -c1-12)"
KEY="${VERSION//[:\/]/_}-$HASH"
OUT="$CACHE_ROOT/$KEY"
BIN="$OUT/bin"
WANT=(kube-apiserver kube-controller-manager kubectl)

have_all() {
  local b
  for b in "${WANT[@]}"; do [ -x "$BIN/$b" ] || return 1; done
}

if have_all; then
  log "cached: $BIN ($(ls "$BIN" | tr '\n' ' '))"
  echo "KUBE_BIN_DIR=$BIN"
  exit 0
fi

# ---- build -----------------------------------------------------------------
log "building $SRC_PKG $VERSION into $BIN"
apt_update_once
ensure_pkgs golang-go rsync jq make golang-github-modern-go-reflect2-dev

WORK="$OUT/work"
rm -rf "$WORK"
mkdir -p "$WORK" "$BIN"

log "apt-get source $SRC_PKG=$VERSION"
(cd "$WORK" && apt-get "${APT_OPTS[@]}" source -qq "$SRC_PKG=$VERSION" >"$WORK/apt-source.log" 2>&1) ||
  { tail -20 "$WORK/apt-source.log" >&2; die "apt-get source failed"; }
SRC="$(find "$WORK" -mindepth 1 -maxdepth 1 -type d -name "$SRC_PKG-*" | head -1)"
[ -n "$SRC" ] && [ -f "$SRC/Makefile" ] || die "unpacked source not found in $WORK"

# The vendored github.com/modern-go/reflect2 v1.0.1 segfaults on Go >= 1.18
# (it links to runtime internals that changed); Debian's 1.0.2 is the fix.
REFLECT2=/usr/share/gocode/src/github.com/modern-go/reflect2
[ -f "$REFLECT2/reflect2.go" ] || die "$REFLECT2 missing (golang-github-modern-go-reflect2-dev)"
log "replacing vendor/github.com/modern-go/reflect2 with $(dpkg-query -W -f='${Version}' golang-github-modern-go-reflect2-dev)"
rm -rf "$SRC/vendor/github.com/modern-go/reflect2"
mkdir -p "$SRC/vendor/github.com/modern-go/reflect2"
find "$REFLECT2" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' \) -exec cp {} "$SRC/vendor/github.com/modern-go/reflect2/" \;

# kubectl: Debian's kubernetes-client (same source) when it is packaged. It is
# extracted rather than installed: on some images /usr/bin/kubectl already
# belongs to another package, and dpkg would refuse the overwrite.
WHAT="cmd/kube-apiserver cmd/kube-controller-manager"
KUBECTL_FROM=""
# (No `| grep -q` under pipefail: grep's early exit would fail the pipeline.)
POLICY="$(apt-cache policy kubernetes-client 2>/dev/null || true)"
if [[ "$POLICY" =~ Candidate:\ [0-9] ]]; then
  log "fetching Debian's kubernetes-client for kubectl"
  mkdir -p "$WORK/kubectl-deb"
  if (cd "$WORK/kubectl-deb" &&
    { apt-get -o APT::Sandbox::User=root download -qq "kubernetes-client=$VERSION" >/dev/null 2>&1 ||
      apt-get -o APT::Sandbox::User=root download -qq kubernetes-client >/dev/null 2>&1; }) &&
    dpkg-deb -x "$WORK/kubectl-deb"/kubernetes-client_*.deb "$WORK/kubectl-deb/root" &&
    [ -x "$WORK/kubectl-deb/root/usr/bin/kubectl" ]; then
    cp "$WORK/kubectl-deb/root/usr/bin/kubectl" "$BIN/kubectl"
    KUBECTL_FROM="Debian package kubernetes-client $(dpkg-deb -f "$WORK/kubectl-deb"/kubernetes-client_*.deb Version)"
  fi
fi
if [ -z "$KUBECTL_FROM" ]; then
  log "kubernetes-client is not packaged: building cmd/kubectl too"
  WHAT="$WHAT cmd/kubectl"
  KUBECTL_FROM="built from source $SRC_PKG $VERSION"
fi

# No .git here: hack/lib/version.sh takes the version from the values that
# `git archive` substituted into it (v1.20.2, tree state "archive"). Module mode
# is off in this release (GOPATH + vendor/), so GOFLAGS must not carry -mod.
log "make WHAT=\"$WHAT\" (nice -n 10; log: $WORK/make.log)"
BUILD_START=$(date +%s)
(
  cd "$SRC"
  unset GOFLAGS GOPATH GOROOT GO111MODULE
  export CGO_ENABLED=0 HOME="$WORK/home"
  mkdir -p "$HOME"
  nice -n 10 make WHAT="$WHAT"
) >"$WORK/make.log" 2>&1 || { tail -40 "$WORK/make.log" >&2; die "build failed (full log: $WORK/make.log)"; }
log "make done in $(($(date +%s) - BUILD_START))s"

for b in ${WHAT}; do
  cp "$SRC/_output/bin/$(basename "$b")" "$BIN/"
done
have_all || die "missing binaries in $BIN"
{
  echo "source: $SRC_PKG $VERSION (Debian), reflect2 replaced by golang-github-modern-go-reflect2-dev"
  echo "go: $(go version)"
  echo "kubectl: $KUBECTL_FROM"
  echo "built: $(date -u +%FT%TZ) in $(($(date +%s) - START))s"
} >"$OUT/BUILD-INFO"
rm -rf "$WORK"
# Older keys are stale builds of this recipe.
find "$CACHE_ROOT" -mindepth 1 -maxdepth 1 -type d -name "*-????????????" ! -name "$KEY" -exec rm -rf {} +

"$BIN/kube-apiserver" --version
log "done: $BIN"
echo "KUBE_BIN_DIR=$BIN"
