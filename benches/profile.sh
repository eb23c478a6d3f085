#!/usr/bin/env bash
# The CPU profile of docs/BENCHMARKS.md: the server relaying between PAIRS
# pairs at RATE messages/s each, sampled with perf for 8 s, grouped by
# where the time goes. Needs perf (apt-get install linux-perf) and the
# release binaries (bash benches/run.sh builds them, or cargo build
# --release --workspace). Loopback only; stops by itself.
#
#   PAIRS=1000 RATE=30 STORE=memory bash benches/profile.sh
#
# STORE=memory or embedded (the default store, in a fresh data directory
# of the run's own), or redis with REDIS_URL (a key prefix of the run's
# own, its keys removed afterwards; only the node is sampled).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v perf >/dev/null || { echo "missing: perf (apt-get install linux-perf)" >&2; exit 1; }
PAIRS=${PAIRS:-1000}
RATE=${RATE:-30}
CAPACITY=8
WORK=$(mktemp -d)
SERVER_PID=
PREFIX="prof-$RANDOM$RANDOM"
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
  if [ "${STORE:-}" = redis ]; then
    sleep 1
    redis-cli -u "$REDIS_URL" --scan --pattern "$PREFIX:*" | xargs -r -n 500 redis-cli -u "$REDIS_URL" unlink > /dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

PASSWORD="prof-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
HASH=$(printf '%s\n' "$PASSWORD" | target/release/tsunagu hash-password 2>/dev/null)
for i in $(seq 0 $(( (PAIRS + CAPACITY - 1) / CAPACITY - 1 ))); do
  printf '[[users]]\nusername = "bench-c%d"\ndisplay_name = "c%d"\nrole = "counsellor"\npassword_hash = "%s"\n\n' "$i" "$i" "$HASH"
done > "$WORK/tsunagu.toml"
(
  export TSUNAGU_CONFIG="$WORK/tsunagu.toml" TSUNAGU_BIND=127.0.0.1:9110 TSUNAGU_LOG=warn
  [ "${STORE:-}" = redis ] || export TSUNAGU_STORE="${STORE:-embedded}"
  export TSUNAGU_DATA_DIR="$WORK/data" TSUNAGU_HOURS__ALWAYS_OPEN=true
  if [ "${STORE:-}" = redis ]; then
    : "${REDIS_URL:?STORE=redis needs REDIS_URL, e.g. redis://127.0.0.1:6379}"
    export TSUNAGU_REDIS_URL=$REDIS_URL TSUNAGU_REDIS_PREFIX=$PREFIX
    export TSUNAGU_HANDOFF__PIN_KEY=profile-pin-key-0123456789abcdef
  fi
  export TSUNAGU_LIMITS__FRAMES_PER_SEC=1000000 TSUNAGU_LIMITS__FRAMES_BURST=1000000
  export TSUNAGU_LIMITS__UPGRADES_PER_IP_PER_MIN=100000000 TSUNAGU_LIMITS__UPGRADES_BURST=1000000
  export TSUNAGU_LIMITS__STARTS_PER_IP_PER_MIN=100000000 TSUNAGU_LIMITS__STARTS_BURST=1000000
  export TSUNAGU_LIMITS__LOGINS_PER_IP_PER_MIN=1000000 TSUNAGU_LIMITS__LOGINS_BURST=100000
  export TSUNAGU_LIMITS__SOCKETS_PER_ADDRESS=100000000 TSUNAGU_LIMITS__WAITING_PER_ADDRESS=100000000
  export TSUNAGU_LIMITS__WAITING_MESSAGES_PER_CONVERSATION=100000000 TSUNAGU_LIMITS__WAITING_BYTES_PER_CONVERSATION=4000000000
  exec target/release/tsunagu serve
) > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
sleep 2
LOADGEN_PASSWORD=$PASSWORD target/release/loadgen --addr 127.0.0.1:9110 --pairs "$PAIRS" \
  --capacity "$CAPACITY" --rate "$RATE" --duration 12 --warmup 2 --threads 2 \
  --server-pid "$SERVER_PID" --label profile > "$WORK/loadgen.log" 2>&1 &
LOADGEN=$!
# Set-up (logins, matching) first, then sample the steady relay.
sleep 12
perf record -q -F 999 -p "$SERVER_PID" -o "$WORK/perf.data" -- sleep 8 2>/dev/null
wait "$LOADGEN" || true
tail -4 "$WORK/loadgen.log"
perf report -i "$WORK/perf.data" --stdio 2>/dev/null | grep -m1 'Samples' || true
perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null \
  | grep -v '^#' | grep -v '^$' \
  | awk '{p=$1; sub("%","",p); dso=$2; sym=""; for(i=4;i<=NF;i++) sym=sym" "$i; c="other";
    if (dso ~ /kernel/) c="kernel (TCP, epoll, scheduler)";
    else if (sym ~ /malloc|free|memmove|memcpy|realloc|_int_/) c="allocator + memcpy";
    else if (sym ~ /serde_json|serde::/) c="serde_json";
    else if (sym ~ /actix|bytes::|BytesMut|h1::/) c="actix-http / actix-ws";
    else if (sym ~ /tokio/) c="tokio (wake-ups, channels)";
    else if (sym ~ /sip::|hash_one|hashbrown|HashMap/) c="hash maps (SipHash)";
    else if (sym ~ /tsunagu::store/) c="tsunagu store";
    else if (sym ~ /tsunagu::hub/) c="tsunagu hub";
    else if (sym ~ /tsunagu/) c="tsunagu socket loop + service";
    s[c]+=p} END {for (k in s) printf "%6.1f%%  %s\n", s[k], k}' | sort -rn
echo "top symbols:"
perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null \
  | grep -v '^#' | grep -v '^$' | head -25 | cut -c1-140 || true # head closes the pipe early
