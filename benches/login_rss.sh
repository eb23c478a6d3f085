#!/usr/bin/env bash
# 200 concurrent logins with the right password against a release binary;
# prints the answers by status and the server's peak and final RSS.
# Usage: benches/login_rss.sh [path/to/tsunagu] [concurrent]
# (docs/SECURITY.md, "Measured"). The per-address attempt limits are raised
# so that every login reaches the password check, as from many addresses.
set -euo pipefail
BIN=${1:-target/release/tsunagu}
N=${2:-200}
DIR=$(mktemp -d /tmp/tsunagu-login-rss.XXXXXX)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DIR"' EXIT
PASS=login-rss-password-0123
HASH=$(printf '%s\n' "$PASS" | "$BIN" hash-password | tail -1)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$DIR/tsunagu.toml" <<TOML
bind = "127.0.0.1:$PORT"
store = "memory"
log = "warn"
[limits]
logins_per_ip_per_min = 100000
logins_burst = 100000
logins_per_account_per_min = 100000
[[users]]
username = "bench"
display_name = "bench"
role = "counsellor"
password_hash = "$HASH"
TOML
"$BIN" --config "$DIR/tsunagu.toml" > "$DIR/log" 2>&1 &
PID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
rss() { awk -v k="$1" '$1==k":" {print $2}' /proc/$PID/status; }
echo "before: VmRSS $(rss VmRSS) kB"
START=$(date +%s.%N)
seq "$N" | xargs -P "$N" -I{} curl -s -o /dev/null -w '%{http_code}\n' \
  -H 'content-type: application/json' \
  -d "{\"username\":\"bench\",\"password\":\"$PASS\"}" \
  "http://127.0.0.1:$PORT/api/login" > "$DIR/codes"
END=$(date +%s.%N)
echo "answers: $(sort "$DIR/codes" | uniq -c | awk '{printf "%s x %s; ", $2, $1}')in $(echo "$END - $START" | bc) s"
echo "peak: VmHWM $(rss VmHWM) kB; after: VmRSS $(rss VmRSS) kB"
