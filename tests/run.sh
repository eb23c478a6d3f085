#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, property and integration
# tests. What CI runs (.ci/run calls exactly this). Safe to run on a fresh
# machine: it checks for what it needs and says exactly what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "missing: $1 ($2)" >&2; exit 1; }
}
need cargo "install Rust with rustup: https://rustup.rs"
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== cargo fmt --check"
cargo fmt --all -- --check
# --workspace: the server and the load generator (benches/loadgen), whose
# smoke test runs a few connections through the real server for seconds.
echo "== cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test --workspace"
cargo test --workspace --all-targets --quiet
