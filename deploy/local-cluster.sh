#!/usr/bin/env bash
# A Tsunagu cluster on this machine, without containers: one Redis (AOF on),
# three tsunagu nodes and HAProxy with deploy/haproxy.cfg (the file compose
# uses), all from Debian's packages and all on loopback addresses:
#
#   HAProxy     $LOCAL_CLUSTER_LB              (default 127.0.0.1:8000)
#   node 1..3   127.0.0.11..13:$LOCAL_CLUSTER_NODE_PORT   (default 8080)
#   Redis       127.0.0.10:$LOCAL_CLUSTER_REDIS_PORT      (default 6380)
#
# Usage: deploy/local-cluster.sh start | stop | status
#                                | stop-node N | start-node N
#
# It owns only the processes it started: their pids (with their start
# times, so a reused pid is never signalled) are kept in the cluster's
# directory, and `stop` ends each of them and checks that it is gone.
#
# Settings (not TSUNAGU_*, which the nodes would read as their own):
#   LOCAL_CLUSTER_DIR      pids, logs, Redis's data (default $TMPDIR/tsunagu-local-cluster)
#   LOCAL_CLUSTER_BIN      the tsunagu binary (default target/release, then target/debug)
#   LOCAL_CLUSTER_CONFIG   a tsunagu.toml every node reads (accounts, hours, ...)
# Every TSUNAGU_* variable in the environment reaches the nodes, e.g.
# TSUNAGU_HOURS__ALWAYS_OPEN=true to try it out of office hours.
set -Eeuo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
dir=${LOCAL_CLUSTER_DIR:-${TMPDIR:-/tmp}/tsunagu-local-cluster}
lb=${LOCAL_CLUSTER_LB:-127.0.0.1:8000}
node_port=${LOCAL_CLUSTER_NODE_PORT:-8080}
redis_host=127.0.0.10
redis_port=${LOCAL_CLUSTER_REDIS_PORT:-6380}
node_hosts=(127.0.0.11 127.0.0.12 127.0.0.13)
config=${LOCAL_CLUSTER_CONFIG:-}
# A node stops within about 11 s of SIGTERM (drain, then up to 10 s for
# requests in flight); anything slower is killed.
stop_wait_secs=20

say() { echo "local-cluster: $*"; }
die() {
  echo "local-cluster: $*" >&2
  exit 1
}

case ${lb%:*} in
  127.*) ;;
  *) die "LOCAL_CLUSTER_LB must be a loopback address (127.0.0.0/8), not $lb" ;;
esac

# shellcheck source=deploy/need-pkg.sh
. "$here/need-pkg.sh"

tsunagu_bin() {
  if [ -n "${LOCAL_CLUSTER_BIN:-}" ]; then
    echo "$LOCAL_CLUSTER_BIN"
  elif [ -x "$repo/target/release/tsunagu" ]; then
    echo "$repo/target/release/tsunagu"
  elif [ -x "$repo/target/debug/tsunagu" ]; then
    echo "$repo/target/debug/tsunagu"
  else
    die "no tsunagu binary: run 'cargo build --release' first (or set LOCAL_CLUSTER_BIN)"
  fi
}

# Field 22 of /proc/PID/stat: when the process started, in clock ticks.
# The field before it (comm) may hold spaces, so cut after its ')'.
start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  # shellcheck disable=SC2086 # split the fields on purpose
  set -- $stat
  echo "${20}"
}

# Alive and still the process we started (a zombie counts as gone).
alive() {
  local name=$1 pid started state
  [ -f "$dir/$name.pid" ] || return 1
  read -r pid started <"$dir/$name.pid"
  [ "$(start_time "$pid" 2>/dev/null)" = "$started" ] || return 1
  state=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
  [ -n "$state" ] && [ "$state" != Z ]
}

pid_of() { read -r pid _ <"$dir/$1.pid" && echo "$pid"; }

# launch NAME COMMAND...: run in the background, output to NAME.log.
launch() {
  local name=$1
  shift
  "$@" </dev/null >"$dir/$name.log" 2>&1 &
  echo "$! $(start_time $!)" >"$dir/$name.pid"
}

# HTTP 200 from http://ADDR/readyz, with bash alone (no curl needed).
ready() {
  (
    exec 3<>"/dev/tcp/${1%:*}/${1##*:}" || exit 1
    printf 'GET /readyz HTTP/1.0\r\nHost: %s\r\n\r\n' "$1" >&3
    read -r -t 2 _ status _ <&3 && [ "$status" = 200 ]
  ) 2>/dev/null
}

# wait_until NAME CHECK...: until CHECK succeeds (30 s at most), or the
# process NAME has exited; then show the end of its log.
wait_until() {
  local name=$1
  shift
  for _ in $(seq 150); do
    "$@" && return 0
    alive "$name" || break
    sleep 0.2
  done
  echo "local-cluster: $name did not come up; the end of $name.log:" >&2
  tail -n 20 "$dir/$name.log" >&2 || true
  return 1
}

# stop_proc NAME SIGNAL: signal, wait for it to go, kill it if it lingers.
stop_proc() {
  local name=$1 signal=$2 pid
  alive "$name" || {
    rm -f "$dir/$name.pid"
    return 0
  }
  pid=$(pid_of "$name")
  kill "-$signal" "$pid" 2>/dev/null || true
  for _ in $(seq $((stop_wait_secs * 10))); do
    alive "$name" || break
    sleep 0.1
  done
  if alive "$name"; then
    say "$name ($pid) did not stop on SIG$signal; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
  fi
  alive "$name" && die "$name ($pid) is still running"
  rm -f "$dir/$name.pid"
}

start_node() {
  local n=$1 host=${node_hosts[$(($1 - 1))]} bin
  bin=$(tsunagu_bin)
  alive "node$n" && die "node $n is already running"
  local args=()
  [ -n "$config" ] && args=(--config "$config")
  # The nodes' working directory is the cluster's, so nothing lands in
  # the repository. trust_forwarded_for: HAProxy sets X-Forwarded-For.
  (cd "$dir" && launch "node$n" env \
    TSUNAGU_BIND="$host:$node_port" \
    TSUNAGU_REDIS_URL="redis://$redis_host:$redis_port" \
    TSUNAGU_HANDOFF__PIN_KEY="${TSUNAGU_HANDOFF__PIN_KEY:-local-cluster-pin-key-not-for-production}" \
    TSUNAGU_TRUST_FORWARDED_FOR=true \
    TSUNAGU_WEB_DIR="${TSUNAGU_WEB_DIR:-$repo/web}" \
    "$bin" "${args[@]}")
}

wait_node() { wait_until "node$1" ready "${node_hosts[$(($1 - 1))]}:$node_port"; }

redis_up() { redis-cli -h "$redis_host" -p "$redis_port" ping 2>/dev/null | grep -q PONG; }

start() {
  need_pkg redis-server redis-server || die "redis-server did not install"
  need_pkg haproxy haproxy || die "haproxy did not install"
  mkdir -p "$dir/redis"
  for name in redis node1 node2 node3 haproxy; do
    alive "$name" && die "already running ($name); run: $0 stop"
  done
  trap 'stop_all; exit 1' ERR
  # The Redis a deployment needs (docs/REDIS.md): append-only file on,
  # fsync every second, never evict a key.
  launch redis redis-server --bind "$redis_host" --port "$redis_port" \
    --dir "$dir/redis" --appendonly yes --appendfsync everysec \
    --maxmemory-policy noeviction --save ""
  wait_until redis redis_up
  for n in 1 2 3; do start_node "$n"; done
  for n in 1 2 3; do wait_node "$n"; done
  launch haproxy env LB_BIND="$lb" \
    LB_NODE1="${node_hosts[0]}:$node_port" \
    LB_NODE2="${node_hosts[1]}:$node_port" \
    LB_NODE3="${node_hosts[2]}:$node_port" \
    haproxy -db -f "$here/haproxy.cfg"
  wait_until haproxy ready "$lb"
  trap - ERR
  say "up: http://$lb/ (visitor page), http://$lb/console"
  say "nodes ${node_hosts[*]} on port $node_port; redis $redis_host:$redis_port; logs in $dir"
  say "stop with: $0 stop"
}

stop_all() {
  # Nodes first (they drain: sockets closed with 1012), while Redis is
  # still there to take what is in flight; then the balancer; Redis last
  # (it writes its append-only file on SIGTERM).
  local n
  for n in 1 2 3; do alive "node$n" && kill -TERM "$(pid_of "node$n")" 2>/dev/null; done
  for n in 1 2 3; do stop_proc "node$n" TERM; done
  stop_proc haproxy TERM
  stop_proc redis TERM
}

status() {
  local name
  for name in redis node1 node2 node3 haproxy; do
    if alive "$name"; then
      say "$name running (pid $(pid_of "$name"))"
    else
      say "$name stopped"
    fi
  done
}

node_number() {
  case ${1:-} in
    1 | 2 | 3) echo "$1" ;;
    *) die "which node? 1, 2 or 3" ;;
  esac
}

case ${1:-} in
  start) start ;;
  stop)
    [ -d "$dir" ] && stop_all
    say "stopped"
    ;;
  status) status ;;
  stop-node)
    n=$(node_number "${2:-}")
    stop_proc "node$n" TERM
    say "node $n stopped (drained)"
    ;;
  start-node)
    n=$(node_number "${2:-}")
    start_node "$n"
    wait_node "$n"
    say "node $n up"
    ;;
  *) die "usage: $0 start | stop | status | stop-node N | start-node N" ;;
esac
