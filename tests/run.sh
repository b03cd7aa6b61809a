#!/usr/bin/env bash
# Runs every test of the workspace. Installs and starts what the tests need first.
# Used by developers (see README) and by CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

# Rust toolchain: the workspace pins rust-version; cargo must be on PATH.
command -v cargo >/dev/null || { echo "cargo is not installed: install Rust 1.95 (rustup) first" >&2; exit 1; }

cargo build --workspace --all-targets --locked
cargo test --workspace --locked "$@"
