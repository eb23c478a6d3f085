#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, property and integration
# tests, then the integration tests a second time on the Redis store. What
# CI runs (.ci/run calls exactly this). Safe to run on a fresh machine: it
# installs or starts what it needs (a local redis-server) and says exactly
# what is missing otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "missing: $1 ($2)" >&2; exit 1; }
}
need cargo "install Rust with rustup: https://rustup.rs"
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy >/dev/null 2>&1 || true

# Redis for the Redis half of the suite: use the one that answers on
# TSUNAGU_TEST_REDIS_URL (default 127.0.0.1:6379), else start one. Tests
# only ever touch keys under their own random prefix; nothing here stops
# or flushes a Redis.
export TSUNAGU_TEST_REDIS_URL="${TSUNAGU_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
redis_up() { redis-cli -u "$TSUNAGU_TEST_REDIS_URL" ping 2>/dev/null | grep -q PONG; }
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "== installing redis-server (Debian package)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
if ! redis_up; then
  echo "== starting redis-server on 127.0.0.1:6379"
  redis-server --daemonize yes --port 6379 --bind 127.0.0.1 --save "" --appendonly no >/dev/null
  for _ in $(seq 50); do redis_up && break; sleep 0.1; done
  redis_up || { echo "redis-server did not start" >&2; exit 1; }
fi

# Every key this run creates starts with this, so the run can clean up
# after itself without touching anyone else's keys.
export TSUNAGU_TEST_REDIS_PREFIX="tsunagu-test-$(date +%s)-$$"
cleanup() {
  redis-cli -u "$TSUNAGU_TEST_REDIS_URL" --scan --pattern "${TSUNAGU_TEST_REDIS_PREFIX}-*" 2>/dev/null \
    | xargs -r -n 500 redis-cli -u "$TSUNAGU_TEST_REDIS_URL" unlink >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== cargo fmt --check"
cargo fmt --all -- --check
# --workspace: the server and the load generator (benches/loadgen), whose
# smoke test runs a few connections through the real server for seconds.
echo "== cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test --workspace (in-memory store; the store conformance suite runs on both)"
cargo test --workspace --all-targets --quiet
echo "== the API suite again on the durable embedded store (TSUNAGU_TEST_STORE=embedded)"
TSUNAGU_TEST_STORE=embedded cargo test --quiet --test api
echo "== cargo test --test api on the Redis store"
TSUNAGU_TEST_STORE=redis cargo test --test api --quiet
# --- deploy (issue 9): the deployment files' lint, then a real cluster ----
# deploy/lint.sh installs its linters if missing. The cluster test starts
# deploy/local-cluster.sh (Redis, three nodes, HAProxy on loopback), stops
# the visitor's node mid-chat and counts what arrived; it must have run.
echo "== deploy: lint the Dockerfile, compose file, HAProxy config and scripts"
bash deploy/lint.sh
echo "== deploy: local cluster behind HAProxy, the visitor's node stopped mid-chat"
export TSUNAGU_TEST_CLUSTER_DIR="${TMPDIR:-/tmp}/tsunagu-test-cluster-$$"
cluster_log="$TSUNAGU_TEST_CLUSTER_DIR.log"
stop_test_cluster() {
  LOCAL_CLUSTER_DIR="$TSUNAGU_TEST_CLUSTER_DIR" bash deploy/local-cluster.sh stop >/dev/null || true
  rm -rf "$TSUNAGU_TEST_CLUSTER_DIR" "$cluster_log"
}
trap 'stop_test_cluster; cleanup' EXIT
TSUNAGU_TEST_CLUSTER=1 cargo test --test api --quiet -- cluster::a_node_stopped --nocapture 2>&1 | tee "$cluster_log"
grep -q "test result: ok. 1 passed" "$cluster_log" || { echo "the cluster test did not run" >&2; exit 1; }
# --- end deploy -----------------------------------------------------------
# --- failover (issue 25): Redis primary, two replicas, three Sentinels ----
# deploy/local-cluster.sh in Sentinel mode on loopback and free ports;
# 200 visitors chatting and 50 bookings; the primary SIGKILLed mid-traffic.
# With WAIT (the settings' way) nothing acknowledged may be lost: it must
# pass. Then the same without WAIT, three times, to measure the window WAIT
# closes: the counts are printed, a loss does not fail the suite.
echo "== failover: the Redis primary killed mid-traffic, Sentinel promotes a replica"
export TSUNAGU_TEST_FAILOVER_DIR="${TMPDIR:-/tmp}/tsunagu-test-failover-$$"
failover_log="$TSUNAGU_TEST_FAILOVER_DIR.log"
stop_failover_cluster() {
  LOCAL_CLUSTER_DIR="$TSUNAGU_TEST_FAILOVER_DIR" LOCAL_CLUSTER_SENTINEL=1 \
    bash deploy/local-cluster.sh stop >/dev/null 2>&1 || true
  rm -rf "$TSUNAGU_TEST_FAILOVER_DIR" "$failover_log"
}
trap 'stop_failover_cluster; stop_test_cluster; cleanup' EXIT
# With passwords on every Redis and Sentinel (TSUNAGU_TEST_FAILOVER_AUTH=1),
# as a deployment's should be: the nodes follow the failover with them.
TSUNAGU_TEST_FAILOVER=1 TSUNAGU_TEST_FAILOVER_AUTH=1 cargo test --test api --quiet -- failover::the_primary_killed --nocapture 2>&1 | tee "$failover_log"
grep -q "test result: ok. 1 passed" "$failover_log" || { echo "the failover test did not run" >&2; exit 1; }
echo "== failover without WAIT (measured, not failed on): 3 runs"
for run in 1 2 3; do
  TSUNAGU_TEST_FAILOVER=1 TSUNAGU_TEST_FAILOVER_WAIT=off cargo test --test api --quiet \
    -- failover::the_primary_killed --nocapture >"$failover_log" 2>&1 || true
  grep -h "^failover (WAIT off)" "$failover_log" | sed "s/^/run $run: /" || echo "run $run: did not finish"
done
# --- end failover ---------------------------------------------------------
echo "== browser tests (headless Chromium; screenshots in test-artifacts/screenshots/)"
bash tests/browser/run.sh
# The HTTP API against docs/openapi.yaml (issue 27): Schemathesis, installed
# from PyPI when missing, bounded in examples and time.
echo "== openapi: property-based checks of the HTTP API (Schemathesis)"
bash tests/openapi/run.sh
