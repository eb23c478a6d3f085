#!/usr/bin/env bash
# Benchmarks of docs/BENCHMARKS.md, from a fresh checkout:
#
#   bash benches/run.sh [idle|relay|steady|burst|match|all ...]
#
# Builds the server, the load generator and the bare Rust relay (release),
# installs the Node relay's package (`npm ci`), then runs every scenario
# RUNS times against each target, each run on a freshly started server, and
# prints the table of medians. Every run stops by itself; all traffic stays
# on 127.0.0.0/8.
#
# Environment:
#   RUNS=3            runs per scenario and target (the table shows medians)
#   SCALE=full|small  small: tiny counts for a quick try (a minute or two)
#   STORE=memory|embedded|redis  the Tsunagu store (embedded: the durable
#                     SQLite store, a fresh data directory per run); redis needs REDIS_URL (it is
#                     passed to the server as TSUNAGU_REDIS_URL; the load
#                     generator does not change)
#   BUILD=0           use the binaries already in target/release
#   SERVER_BIN=PATH  another server binary (before/after comparisons)
#   TARGETS="tsunagu node-ack node bare floor"  the targets of the idle,
#                     relay and steady scenarios (default: all five):
#                     tsunagu   the server (its clients acknowledge every
#                               message, as the web pages do: 5 frames per
#                               message: send, message, sent, ack, delivered)
#                     node-ack  the Node relay answering acks with
#                               `delivered`: the same five frames (the
#                               same-protocol baseline)
#                     node      the Node relay without acks (3 frames)
#                     bare      the tokio-tungstenite forwarder (2 frames)
#                     floor     the actix-ws forwarder: the stack's floor
#                               (2 frames; its idle socket is the memory
#                               floor of actix-web + actix-ws)
#   PIN=1             the generator on CPU 1, the server (and redis-server's
#                     measured share) on CPU 0, with taskset: the server's
#                     CPU per message is then not inflated by competing
#                     with the generator for the same core
#   IDLE_COUNTS="1000 5000" PAIR_COUNTS="100 1000"  other sizes than SCALE's
#   OUT=DIR           where the JSON reports go (default bench-results/DATE)
#
# Needs: cargo, node + npm, and an open-file limit above the largest socket
# count per process (this script raises the soft limit to the hard limit;
# 19,000 idle sockets need about 19,100 in the server process).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

need() { command -v "$1" >/dev/null 2>&1 || { echo "missing: $1 ($2)" >&2; exit 1; }; }
need cargo "install Rust with rustup: https://rustup.rs"
need node "install Node.js 18 or later (apt-get install nodejs npm)"
need npm "install npm (apt-get install npm)"

RUNS=${RUNS:-3}
SCALE=${SCALE:-full}
STORE=${STORE:-memory}
OUT=${OUT:-$ROOT/bench-results/$(date -u +%Y%m%dT%H%M%SZ)}
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -eq 0 ] && SCENARIOS=(all)
[ "${SCENARIOS[0]}" = all ] && SCENARIOS=(idle relay steady burst match)

# The server binary (e.g. an older build, for before/after comparisons) and
# the targets each relay and idle scenario runs against.
SERVER_BIN=${SERVER_BIN:-target/release/tsunagu}
read -r -a TARGETS <<< "${TARGETS:-tsunagu node-ack node bare floor}"

TSUNAGU_PORT=9100
NODE_PORT=9101
BARE_PORT=9102
FLOOR_PORT=9103

# With PIN=1 the server and the generator get a core each.
SERVER_CPU=()
LOADGEN_CPU=()
if [ "${PIN:-0}" = 1 ]; then
  need taskset "apt-get install util-linux"
  SERVER_CPU=(taskset -c 0)
  LOADGEN_CPU=(taskset -c 1)
fi

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "open-file limit: $(ulimit -n) (hard $(ulimit -Hn))"

if [ "${BUILD:-1}" = 1 ]; then
  echo "== building (release)"
  cargo build --release --workspace --quiet
fi
echo "== installing the Node relay's package"
(cd benches/node-relay && npm ci --no-audit --no-fund --loglevel=error)

mkdir -p "$OUT"
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# Counsellor accounts bench-c0 .. bench-c(N-1), all with one password.
PASSWORD="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export LOADGEN_PASSWORD=$PASSWORD
HASH=$(printf '%s\n' "$PASSWORD" | target/release/tsunagu hash-password 2>/dev/null)
COUNSELLORS=700
{
  for i in $(seq 0 $((COUNSELLORS - 1))); do
    printf '[[users]]\nusername = "bench-c%d"\ndisplay_name = "相談員%d"\nrole = "counsellor"\npassword_hash = "%s"\n\n' "$i" "$i" "$HASH"
  done
} > "$WORK/tsunagu.toml"

tsunagu_env() {
  # Every client is on 127.0.0.x: the per-address limits that protect a
  # real deployment would refuse the benchmark itself.
  export TSUNAGU_CONFIG="$WORK/tsunagu.toml"
  export TSUNAGU_BIND="127.0.0.1:$TSUNAGU_PORT"
  export TSUNAGU_LOG=warn
  export TSUNAGU_WEB_DIR="$ROOT/web"
  export TSUNAGU_LIMITS__MAX_QUEUE=1000000
  export TSUNAGU_LIMITS__UPGRADES_PER_IP_PER_MIN=100000000
  export TSUNAGU_LIMITS__UPGRADES_BURST=1000000
  export TSUNAGU_LIMITS__STARTS_PER_IP_PER_MIN=100000000
  export TSUNAGU_LIMITS__STARTS_BURST=1000000
  export TSUNAGU_LIMITS__FRAMES_PER_SEC=1000000
  export TSUNAGU_LIMITS__FRAMES_BURST=1000000
  export TSUNAGU_LIMITS__LOGINS_PER_IP_PER_MIN=1000000
  export TSUNAGU_LIMITS__LOGINS_BURST=100000
  export TSUNAGU_LIMITS__LOGINS_PER_ACCOUNT_PER_MIN=100000
  export TSUNAGU_LIMITS__SOCKETS_PER_ADDRESS=100000000
  export TSUNAGU_LIMITS__WAITING_PER_ADDRESS=100000000
  export TSUNAGU_LIMITS__WAITING_MESSAGES_PER_CONVERSATION=100000000
  export TSUNAGU_LIMITS__WAITING_BYTES_PER_CONVERSATION=4000000000
  # A benchmark must not depend on the hour it runs at.
  export TSUNAGU_HOURS__ALWAYS_OPEN=true
  case "$STORE" in
    redis)
      : "${REDIS_URL:?STORE=redis needs REDIS_URL, e.g. redis://127.0.0.1:6379/15}"
      export TSUNAGU_REDIS_URL=$REDIS_URL
      export TSUNAGU_HANDOFF__PIN_KEY=${TSUNAGU_HANDOFF__PIN_KEY:-bench-pin-key-0123456789abcdef}
      # A fresh key prefix per run (as the embedded store gets a fresh
      # directory): a run must not queue behind the last run's visitors.
      export TSUNAGU_REDIS_PREFIX=$RUN_PREFIX ;;
    embedded)
      # The durable store (every message fsynced before it is confirmed),
      # in a fresh directory per run.
      export TSUNAGU_STORE=embedded
      export TSUNAGU_DATA_DIR="$WORK/data-$RANDOM$RANDOM" ;;
    *) export TSUNAGU_STORE=memory ;;
  esac
}

wait_port() {
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then echo "the server exited" >&2; return 1; fi
    sleep 0.05
  done
  echo "nothing listens on port $1" >&2
  return 1
}

start_server() { # target -> sets SERVER_PID, PORT, LG_TARGET
  RUN_PREFIX="bench-$RANDOM$RANDOM"
  case $1 in
    tsunagu)
      (tsunagu_env; exec "${SERVER_CPU[@]}" "$SERVER_BIN" serve) > "$WORK/server.log" 2>&1 &
      SERVER_PID=$!; PORT=$TSUNAGU_PORT; LG_TARGET=tsunagu ;;
    node)
      "${SERVER_CPU[@]}" node benches/node-relay/relay.js "$NODE_PORT" > "$WORK/server.log" 2>&1 &
      SERVER_PID=$!; PORT=$NODE_PORT; LG_TARGET=relay ;;
    node-ack)
      "${SERVER_CPU[@]}" node benches/node-relay/relay.js "$NODE_PORT" --delivered > "$WORK/server.log" 2>&1 &
      SERVER_PID=$!; PORT=$NODE_PORT; LG_TARGET=relay ;;
    bare)
      "${SERVER_CPU[@]}" target/release/bare-relay "127.0.0.1:$BARE_PORT" > "$WORK/server.log" 2>&1 &
      SERVER_PID=$!; PORT=$BARE_PORT; LG_TARGET=relay ;;
    floor)
      "${SERVER_CPU[@]}" target/release/actix-floor "127.0.0.1:$FLOOR_PORT" > "$WORK/server.log" 2>&1 &
      SERVER_PID=$!; PORT=$FLOOR_PORT; LG_TARGET=relay ;;
  esac
  wait_port "$PORT" || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.5
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  if [ "$STORE" = redis ]; then
    # Only this run's keys: nothing else in that Redis is touched.
    redis-cli -u "$REDIS_URL" --scan --pattern "$RUN_PREFIX:*" \
      | xargs -r -n 500 redis-cli -u "$REDIS_URL" unlink > /dev/null || true
  fi
}

# redis-server's process id, when it runs on this machine (its CPU per
# message is reported apart from the node's).
redis_pid_args() {
  [ "$STORE" = redis ] && [ "$1" = tsunagu ] || return 0
  local pid
  pid=$(redis-cli -u "$REDIS_URL" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p')
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] && echo "--redis-pid $pid"
}

# Acknowledgements per target: Tsunagu's clients ack every message (as the
# web pages do) and node-ack answers them; the others have no acks.
ack_args() {
  case $1 in tsunagu|node-ack) echo "--ack" ;; esac
}

# run LABEL TARGET LOADGEN-ARGS...: one measured run on a fresh server.
run() {
  local label=$1 target=$2; shift 2
  start_server "$target"
  echo "-- $label/$target (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
  # shellcheck disable=SC2046 # the helpers print whole flags or nothing
  if ! "${LOADGEN_CPU[@]}" target/release/loadgen --target "$LG_TARGET" --addr "127.0.0.1:$PORT" \
      --server-pid "$SERVER_PID" --label "$label/$target" --json "$OUT/results.jsonl" \
      $(redis_pid_args "$target") $(ack_args "$target") "$@"; then
    echo "   (run failed; server log tail:)" >&2
    tail -5 "$WORK/server.log" >&2 || true
  fi
  stop_server
  # The server's warnings (the log level is `warn`: no message text, no
  # addresses), kept beside the report: a lagging event stream, failed
  # matching rounds or sweeps, liveness renewals that timed out.
  if [ "$target" = tsunagu ] && [ -s "$WORK/server.log" ]; then
    cp "$WORK/server.log" "$OUT/$label-run$r.server.log"
    echo "   server log: $(wc -l < "$WORK/server.log") lines, $OUT/$label-run$r.server.log"
  fi
}

if [ -n "${IDLE_COUNTS:-}" ] || [ -n "${PAIR_COUNTS:-}" ]; then
  read -r -a IDLE_COUNTS <<< "${IDLE_COUNTS:-1000}"
  read -r -a PAIR_COUNTS <<< "${PAIR_COUNTS:-100}"
  BURST=5000; BURST_SECS=10; DUR=10
elif [ "$SCALE" = small ]; then
  IDLE_COUNTS=(200 1000); PAIR_COUNTS=(10 100); BURST=500; BURST_SECS=2; DUR=3
else
  IDLE_COUNTS=(1000 5000 19000); PAIR_COUNTS=(100 1000 5000); BURST=5000; BURST_SECS=10; DUR=10
fi

for scenario in "${SCENARIOS[@]}"; do
  for r in $(seq 1 "$RUNS"); do
    echo "== $scenario, run $r of $RUNS"
    case $scenario in
      idle)
        # Sockets held and resident memory per socket. 20k and 50k need
        # more open files per process than this machine allows (20,000):
        # see docs/BENCHMARKS.md.
        for n in "${IDLE_COUNTS[@]}"; do
          for t in "${TARGETS[@]}"; do
            run "idle-$n" "$t" --idle "$n" --duration 1 --warmup 0
          done
        done ;;
      relay)
        # Pairs exchanging 100 messages/s each (50 each way).
        for k in "${PAIR_COUNTS[@]}"; do
          for t in "${TARGETS[@]}"; do
            run "relay-$k" "$t" --pairs "$k" --rate 100 --duration "$DUR" --warmup 2 --threads 2
          done
        done ;;
      steady)
        # 1,000 pairs at 10 messages/s each (10,000/s): below every
        # target's saturation on this machine, so latencies compare.
        for t in "${TARGETS[@]}"; do
          run "steady-1000" "$t" --pairs 1000 --rate 10 --duration "$DUR" --warmup 2 --threads 2
        done ;;
      burst)
        # 1,000 visitors already waiting, then BURST join in BURST_SECS.
        run "burst-$BURST" tsunagu --idle 1000 --burst "$BURST" --burst-secs "$BURST_SECS" \
          --duration "$((BURST_SECS + 2))" --warmup 0 --threads 2 ;;
      match)
        # 50 counsellors x 2 places; each chat is 5 counsellor messages
        # (about 1 s), then the next of 500 waiting visitors is matched.
        run "match" tsunagu --pairs 100 --capacity 2 --idle 500 --churn-after 5 --rejoin \
          --rate 10 --duration "$DUR" --warmup 2 --threads 2 ;;
      *) echo "unknown scenario: $scenario (idle relay steady burst match all)" >&2; exit 2 ;;
    esac
  done
done

echo
echo "== medians of $RUNS run(s) ($OUT/results.jsonl)"
target/release/loadgen summarize "$OUT/results.jsonl" | tee "$OUT/summary.md"
