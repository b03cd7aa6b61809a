#!/usr/bin/env bash
# Runs every test of the workspace, after installing and starting what the tests need:
#   - moto (the AWS emulator) from PyPI, when missing; each AWS test starts its own server;
#   - strace from Debian, when missing (the durability test counts syncs with it);
#   - a real kube-apiserver (etcd + kube-apiserver + kube-controller-manager), built once per
#     machine from Debian's kubernetes source package into ~/.cache/strake/kube (tests/kube/build.sh),
#     started on loopback for the run and stopped at the end.
# Before the tests, the habits: rustfmt, clippy with warnings denied, rustdoc with warnings denied,
# and core built without its CLI feature.
# Used by developers (see README) and by CI (.ci/run). Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "cargo is not installed: install Rust 1.95 (rustup) first" >&2; exit 1; }

# A build cache kept across runs (CI's, outside the checkout) collects a test executable per
# change and incremental sessions by the gigabyte: those not touched for six hours are dropped
# (cargo relinks an executable it needs again).
TARGET="${CARGO_TARGET_DIR:-target}"
if [ -d "$TARGET/debug/deps" ]; then
  echo "==> pruning stale build outputs in $TARGET"
  find "$TARGET/debug/deps" -maxdepth 1 -type f -perm -u+x ! -name '*.so' ! -name '*.rlib' ! -name '*.rmeta' ! -name '*.d' -mmin +360 -delete
  [ -d "$TARGET/debug/incremental" ] && find "$TARGET/debug/incremental" -mindepth 1 -maxdepth 1 -type d -mmin +360 -exec rm -rf {} +
fi

echo "==> moto (AWS emulator)"
python3 -c 'import moto.server' 2>/dev/null || python3 -m pip install --quiet 'moto[server]==5.2.1'

echo "==> strace (the durability test counts the syncs of a real apply with it)"
command -v strace >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends strace >/dev/null; }

echo "==> kube-apiserver (built once per machine, then cached)"
bash tests/kube/build.sh
KUBE_STATE="$(mktemp -d -t strake-kube-XXXXXX)"
trap 'bash tests/kube/stop.sh "$KUBE_STATE" >/dev/null 2>&1 || true; rm -rf "$KUBE_STATE"' EXIT
bash tests/kube/start.sh "$KUBE_STATE" "https://oidc.eks.us-east-1.amazonaws.com/id/STRAKETEST00000000000000000000000" | tail -1
export STRAKE_TEST_KUBE_DIR="$KUBE_STATE"

echo "==> habits: formatting, lints, docs, the engine without its CLI"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
cargo check -p strake --no-default-features --locked --quiet

echo "==> cargo test"
cargo build --workspace --all-targets --locked
cargo test --workspace --locked "$@"
