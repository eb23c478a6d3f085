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
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test --all-targets --quiet
echo "== the API suite again on the durable embedded store (TSUNAGU_TEST_STORE=embedded)"
TSUNAGU_TEST_STORE=embedded cargo test --quiet --test api
