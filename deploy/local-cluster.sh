#!/usr/bin/env bash
# A Tsunagu cluster on this machine, without containers: one Redis (AOF on),
# three tsunagu nodes and HAProxy with deploy/haproxy.cfg (the file compose
# uses), all from Debian's packages and all on loopback addresses:
#
#   HAProxy     $LOCAL_CLUSTER_LB              (default 127.0.0.1:8000)
#   node 1..3   127.0.0.11..13:$LOCAL_CLUSTER_NODE_PORT   (default 8080)
#   Redis       127.0.0.10:$LOCAL_CLUSTER_REDIS_PORT      (default 6380)
#
# With LOCAL_CLUSTER_SENTINEL=1 Redis has no single point of failure
# (docs/REDIS.md, "Replicas and failover"): that Redis is the first
# primary, two replicas follow it and three Sentinels (`redis-server
# <conf> --sentinel`, the same package) watch it as service "tsunagu";
# the nodes find the primary through the Sentinels and wait for one
# replica on every durable write (TSUNAGU_REDIS_REPLICAS_TO_WAIT, default 1):
#
#   replicas    127.0.0.10:$LOCAL_CLUSTER_REPLICA_PORTS   (default "6381 6382")
#   Sentinels   127.0.0.10:$LOCAL_CLUSTER_SENTINEL_PORTS  (default "26380 26381 26382")
#
# With LOCAL_CLUSTER_REDIS_AUTH=1 every Redis asks for a password, as a
# deployment's should (docs/REDIS.md, "Passwords"): the data servers
# `requirepass`/`masterauth` $LOCAL_CLUSTER_REDIS_PASSWORD, the Sentinels
# their own `requirepass` $LOCAL_CLUSTER_SENTINEL_PASSWORD (and `sentinel
# auth-pass` for the data servers); the nodes get them as
# TSUNAGU_REDIS_PASSWORD and TSUNAGU_REDIS_SENTINEL_PASSWORD (without
# Sentinel, in TSUNAGU_REDIS_URL). The passwords live in files of mode
# 600 in the cluster's directory, never on a command line.
#
# Usage: deploy/local-cluster.sh start | stop | status
#                                | stop-node N | start-node N
#                                | kill-primary   (Sentinel mode: SIGKILL
#                                  the Redis the Sentinels name primary)
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
sentinel_mode=${LOCAL_CLUSTER_SENTINEL:-0}
redis_auth=${LOCAL_CLUSTER_REDIS_AUTH:-0}
data_password=${LOCAL_CLUSTER_REDIS_PASSWORD:-local-cluster-redis-password-not-for-production}
sentinel_password=${LOCAL_CLUSTER_SENTINEL_PASSWORD:-local-cluster-sentinel-password-not-for-production}
read -r -a replica_ports <<<"${LOCAL_CLUSTER_REPLICA_PORTS:-6381 6382}"
read -r -a sentinel_ports <<<"${LOCAL_CLUSTER_SENTINEL_PORTS:-26380 26381 26382}"
service=tsunagu
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
case $sentinel_mode in
  0 | 1) ;;
  *) die "LOCAL_CLUSTER_SENTINEL must be 0 or 1, not $sentinel_mode" ;;
esac
case $redis_auth in
  0 | 1) ;;
  *) die "LOCAL_CLUSTER_REDIS_AUTH must be 0 or 1, not $redis_auth" ;;
esac
case $data_password$sentinel_password in
  *[!A-Za-z0-9._-]*) die "the Redis passwords may hold only A-Z a-z 0-9 . _ -" ;;
esac
[ "${#replica_ports[@]}" = 2 ] || die "LOCAL_CLUSTER_REPLICA_PORTS must be two ports"
[ "${#sentinel_ports[@]}" = 3 ] || die "LOCAL_CLUSTER_SENTINEL_PORTS must be three ports"

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
  local args=() store=(TSUNAGU_REDIS_URL="redis://$redis_host:$redis_port")
  [ -n "$config" ] && args=(--config "$config")
  [ "$redis_auth" = 1 ] && store=(TSUNAGU_REDIS_URL="redis://:$data_password@$redis_host:$redis_port")
  if [ "$sentinel_mode" = 1 ]; then
    store=(
      TSUNAGU_REDIS_SENTINELS="[$(sentinel_list)]"
      TSUNAGU_REDIS_SERVICE="$service"
      TSUNAGU_REDIS_REPLICAS_TO_WAIT="${TSUNAGU_REDIS_REPLICAS_TO_WAIT:-1}"
    )
    [ "$redis_auth" = 1 ] && store+=(
      TSUNAGU_REDIS_PASSWORD="$data_password"
      TSUNAGU_REDIS_SENTINEL_PASSWORD="$sentinel_password"
    )
  fi
  # The nodes' working directory is the cluster's, so nothing lands in
  # the repository. trust_forwarded_for: HAProxy sets X-Forwarded-For.
  (cd "$dir" && launch "node$n" env \
    TSUNAGU_BIND="$host:$node_port" \
    "${store[@]}" \
    TSUNAGU_HANDOFF__PIN_KEY="${TSUNAGU_HANDOFF__PIN_KEY:-local-cluster-pin-key-not-for-production}" \
    TSUNAGU_TRUST_FORWARDED_FOR=true \
    TSUNAGU_WEB_DIR="${TSUNAGU_WEB_DIR:-$repo/web}" \
    "$bin" "${args[@]}")
}

wait_node() { wait_until "node$1" ready "${node_hosts[$(($1 - 1))]}:$node_port"; }

# redis-cli on PORT, with the password that server asks for (through
# REDISCLI_AUTH, not the command line).
rcli() {
  local port=$1 p
  shift
  if [ "$redis_auth" = 1 ]; then
    local pw=$data_password
    for p in "${sentinel_ports[@]}"; do [ "$p" = "$port" ] && pw=$sentinel_password; done
    REDISCLI_AUTH=$pw redis-cli -h "$redis_host" -p "$port" "$@"
  else
    redis-cli -h "$redis_host" -p "$port" "$@"
  fi
}

redis_up() { rcli "${1:-$redis_port}" ping 2>/dev/null | grep -q PONG; }

# The Sentinels as the nodes' setting wants them: "h:p","h:p","h:p".
sentinel_list() {
  local p out=""
  for p in "${sentinel_ports[@]}"; do out+="${out:+,}\"$redis_host:$p\""; done
  echo "$out"
}

# The Redis settings a deployment needs (docs/REDIS.md): append-only
# file on, fsync every second, never evict a key. With Sentinel, every
# server announces the loopback address it listens on (the kernel would
# show 127.0.0.1), and a primary cut off from every replica for 10 s
# stops taking writes (the partition case, docs/REDIS.md).
launch_redis() {
  local name=$1 port=$2
  shift 2
  mkdir -p "$dir/$name"
  local extra=() conf=()
  if [ "$redis_auth" = 1 ]; then
    # A file of its own (mode 600), so the password is on no command line.
    (umask 077 && printf 'requirepass %s\nmasterauth %s\n' "$data_password" "$data_password" >"$dir/$name/auth.conf")
    conf=("$dir/$name/auth.conf")
  fi
  if [ "$sentinel_mode" = 1 ]; then
    extra=(--replica-announce-ip "$redis_host" --min-replicas-to-write 1 --min-replicas-max-lag 10)
  fi
  launch "$name" redis-server "${conf[@]}" --bind "$redis_host" --port "$port" --dir "$dir/$name" \
    --appendonly yes --appendfsync everysec --maxmemory-policy noeviction --save "" \
    "${extra[@]}" "$@"
}

# replicas_of PORT: how many replicas of the Redis on PORT are in sync
# (`state=online`; one still loading its first copy does not count for
# min-replicas-to-write).
replicas_of() {
  rcli "$1" info replication 2>/dev/null \
    | grep -c '^slave[0-9]*:.*state=online' || true
}
two_replicas() { [ "$(replicas_of "$redis_port")" = 2 ]; }

# A Sentinel's file (it rewrites it as it learns): watch the primary, call
# it down after 1 s without an answer, fail over with 2 of 3 agreeing.
start_sentinel() {
  local n=$1 port=${sentinel_ports[$(($1 - 1))]} conf
  mkdir -p "$dir/sentinel$n"
  conf=$dir/sentinel$n/sentinel.conf
  local auth=""
  [ "$redis_auth" = 1 ] && auth="requirepass $sentinel_password
sentinel auth-pass $service $data_password"
  (umask 077 && : >"$conf")
  cat >"$conf" <<CONF
bind $redis_host
port $port
dir $dir/sentinel$n
sentinel announce-ip $redis_host
sentinel announce-port $port
sentinel monitor $service $redis_host $redis_port 2
sentinel down-after-milliseconds $service 1000
sentinel failover-timeout $service 10000
sentinel parallel-syncs $service 1
$auth
CONF
  launch "sentinel$n" redis-server "$conf" --sentinel
}

# The primary the Sentinels name now, as host:port.
named_primary() {
  local p answer
  for p in "${sentinel_ports[@]}"; do
    answer=$(rcli "$p" sentinel get-master-addr-by-name "$service" 2>/dev/null | tr '\n' ':')
    [ -n "$answer" ] && { echo "${answer%:}"; return 0; }
  done
  return 1
}

redis_names() {
  echo redis
  [ "$sentinel_mode" = 1 ] && echo replica1 replica2 sentinel1 sentinel2 sentinel3
  return 0
}

kill_primary() {
  [ "$sentinel_mode" = 1 ] || die "kill-primary needs LOCAL_CLUSTER_SENTINEL=1"
  local addr port name
  addr=$(named_primary) || die "no Sentinel names a primary"
  port=${addr##*:}
  case $port in
    "$redis_port") name=redis ;;
    "${replica_ports[0]}") name=replica1 ;;
    "${replica_ports[1]}") name=replica2 ;;
    *) die "the primary $addr is not one of this cluster's" ;;
  esac
  alive "$name" || die "$name ($addr) is not running"
  kill -KILL "$(pid_of "$name")"
  say "killed $name ($addr) with SIGKILL"
}

start() {
  need_pkg redis-server redis-server || die "redis-server did not install"
  need_pkg haproxy haproxy || die "haproxy did not install"
  # shellcheck disable=SC2046 # one name per word
  for name in $(redis_names) node1 node2 node3 haproxy; do
    alive "$name" && die "already running ($name); run: $0 stop"
  done
  trap 'stop_all; exit 1' ERR
  launch_redis redis "$redis_port"
  wait_until redis redis_up
  if [ "$sentinel_mode" = 1 ]; then
    launch_redis replica1 "${replica_ports[0]}" --replicaof "$redis_host" "$redis_port"
    launch_redis replica2 "${replica_ports[1]}" --replicaof "$redis_host" "$redis_port"
    wait_until replica1 redis_up "${replica_ports[0]}"
    wait_until replica2 redis_up "${replica_ports[1]}"
    # The primary takes writes only with a replica (min-replicas-to-write).
    wait_until redis two_replicas
    for n in 1 2 3; do start_sentinel "$n"; done
    for n in 1 2 3; do wait_until "sentinel$n" redis_up "${sentinel_ports[$((n - 1))]}"; done
    wait_until sentinel1 named_primary
  fi
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
  [ "$sentinel_mode" = 1 ] \
    && say "replicas on ports ${replica_ports[*]}, Sentinels on ports ${sentinel_ports[*]} (service $service)"
  [ "$redis_auth" = 1 ] && say "every Redis and Sentinel asks for a password (LOCAL_CLUSTER_REDIS_AUTH=1)"
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
  # The Sentinels before the servers they watch (no failover on the way
  # down); Redis last (it writes its append-only file on SIGTERM).
  for n in 1 2 3; do stop_proc "sentinel$n" TERM; done
  stop_proc replica1 TERM
  stop_proc replica2 TERM
  stop_proc redis TERM
}

status() {
  local name
  # shellcheck disable=SC2046 # one name per word
  for name in $(redis_names) node1 node2 node3 haproxy; do
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
  status)
    status
    if [ "$sentinel_mode" = 1 ]; then
      say "primary (named by the Sentinels): $(named_primary || echo none)"
    fi
    ;;
  kill-primary) kill_primary ;;
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
  *) die "usage: $0 start | stop | status | stop-node N | start-node N | kill-primary" ;;
esac
