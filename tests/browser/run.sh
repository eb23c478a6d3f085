#!/usr/bin/env bash
# Browser tests of the visitor page and the counsellor console: headless
# Chromium (Debian's) driven by playwright-core, against the real server
# built from this repository, on 127.0.0.1 only.
#
# Safe on a fresh machine: installs Chromium and a Japanese font with apt
# when missing, runs `npm ci` when node_modules is missing or stale, builds
# the server, starts it on a free port with a temporary config, runs
# `node --test`, and always stops the server.
#
# Screenshots go to test-artifacts/screenshots/{ja,en}/ at the repo root.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CHROMIUM="${TSUNAGU_TEST_CHROMIUM:-/usr/bin/chromium}"

say() { printf '== %s\n' "$*"; }
die() { printf 'tests/browser: %s\n' "$*" >&2; exit 1; }

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "missing $* and no apt-get to install it"
  [ "$(id -u)" = 0 ] || die "missing $*: install it (apt-get install -y $*) or run as root"
  if [ "$APT_UPDATED" = 0 ]; then
    apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# ---------------------------------------------------------------- tools
if [ ! -x "$CHROMIUM" ]; then
  say "installing chromium"
  apt_install chromium
fi
if command -v fc-list >/dev/null 2>&1 && ! fc-list :lang=ja 2>/dev/null | grep -q .; then
  # Only for the screenshots: without a Japanese font they show boxes.
  say "installing a Japanese font (fonts-ipafont-gothic)"
  apt_install fonts-ipafont-gothic
fi
if ! command -v node >/dev/null 2>&1; then
  say "installing node"
  apt_install nodejs npm
fi
command -v cargo >/dev/null 2>&1 || die "missing cargo (install Rust with rustup: https://rustup.rs)"

# --------------------------------------------------------- node modules
LOCK_SUM="$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)"
STAMP="$HERE/node_modules/.tsunagu-lock-sha256"
if [ ! -d "$HERE/node_modules" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$LOCK_SUM" ]; then
  say "npm ci (tests/browser)"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$LOCK_SUM" >"$STAMP"
fi

# ---------------------------------------------------------------- server
say "cargo build"
(cd "$ROOT" && cargo build --quiet --bin tsunagu)
BIN="$ROOT/target/debug/tsunagu"

WORK="$(mktemp -d)"
SERVER_PID=""
CLOSED_PID=""
FLOOR_PID=""
stop_pid() {
  local pid="$1"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
}
cleanup() {
  stop_pid "$SERVER_PID"
  stop_pid "$CLOSED_PID"
  stop_pid "$FLOOR_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# A free loopback port, chosen by the OS.
free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

PORT="$(free_port)"
PASSWORD="browser-test-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
# The LINE channel, for the handoff-over-LINE test: its Messaging API is a
# stand-in the test itself serves on this port (nothing leaves 127.0.0.1).
LINE_PORT="$(free_port)"
LINE_SECRET="line-secret-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
HASH="$(printf '%s\n' "$PASSWORD" | "$BIN" hash-password 2>/dev/null)"
[ -n "$HASH" ] || die "tsunagu hash-password printed nothing"

CONFIG="$WORK/tsunagu.toml"
{
  cat <<EOF
bind = "127.0.0.1:$PORT"
web_dir = "$ROOT/web"
# The default durable store, in this run's own directory: every run
# starts empty and nothing is left in the repository.
data_dir = "$WORK/data"
log = "warn"
matching = "auto"
# The handoff link sent to a LINE visitor starts with it.
public_url = "http://127.0.0.1:$PORT"

[letters]
# Every test comes from 127.0.0.1: letters per address are not limited.
per_address = 100000

[limits]
upgrades_per_ip_per_min = 100000
upgrades_burst = 10000
starts_per_ip_per_min = 100000
starts_burst = 10000
frames_per_sec = 10000
frames_burst = 10000
logins_per_ip_per_min = 100000
logins_per_account_per_min = 1000
logins_burst = 1000
# Every test comes from 127.0.0.1: the per-address limit on booking
# look-ups is lifted; a reference locks after 5 wrong PINs.
booking_lookups_per_ip_per_min = 100000
booking_pin_failures = 5
# Every test comes from 127.0.0.1: what one address may hold at once is
# lifted (tests/api/caps.rs tests the caps).
sockets_per_address = 100000
waiting_per_address = 100000
login_failures_per_address = 100000
default_capacity = 2
max_capacity = 8

[timing]
queue_update_ms = 50
sweep_interval_ms = 100
heartbeat_interval_ms = 5000
client_timeout_ms = 30000
# A waiting visitor whose tab is gone leaves the queue soon, so one test
# cannot leave a visitor for the next test's counsellor.
visitor_grace_secs = 4
# Short, so that the test of a counsellor who stays away (requeue) is quick;
# every other test ends its conversations before its counsellor leaves.
counsellor_grace_secs = 3

# Opening hours are enforced by default; the tests run at any hour.
# Appointment slots keep the weekly office hours even when the chat is
# always open (issue 27): office hours every day, all day, so the specs'
# slots ("tomorrow at 15:00") are valid on any date.
[hours]
always_open = true
closed_on_national_holidays = false

[hours.year_end]
closed = false

[[hours.weekly]]
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
open = "00:00"
close = "24:00"

# No role is held to a second factor here, so every spec's staff log in
# with a password; spec 25 sets one up by choice (the role rule is tested
# in tests/api/second_factor.rs).
[auth]
second_factor_roles = []

[line]
channel_secret = "$LINE_SECRET"
access_token = "browser-test-line-token"
api_base = "http://127.0.0.1:$LINE_PORT"
retry_base_ms = 100
catch_up_ms = 300

[site]
name_ja = "ひきこもり地域支援センター チャット相談（テスト）"
name_en = "Hikikomori Support Centre chat (test)"
hours_ja = "月曜日から金曜日 9:00〜17:00（祝日・年末年始を除く）"
hours_en = "Monday to Friday, 9:00-17:00 Japan time (closed on national holidays and over the year end)"

# No [[alternatives]]: the shipped defaults for Japan (119, 110 and the
# national lines) are what the pages show, as on a default install.
EOF
  # One counsellor per test file, so no test sees another's chats.
  # ishii: the floor test's counsellor; kudo: its supervisor. joh, kondo,
  # ota: the handoff tests' counsellors; sato: the booking look-up test's;
  # mori: admin; noda: intake; ueda: the LINE handoff test's counsellor;
  # ikeda, ono: the quick exit and safety tests' counsellors, kubo their supervisor.
  # kato, nishi: the busy console test's counsellors (ja, en).
  # hanada, hirose: the empty-floor test's supervisors (1280 px, phone), hoshi its
  # counsellor; they use the floor server (below).
  # hoshino: the staff accounts test's admin (issue 21; its counsellors are made in the test).
  # yagi: the booking-that-survives test's counsellor (kudo is the floor test's supervisor:
  # a counsellor left available would take the floor test's visitors).
  # taniguchi, uno: the return code test's counsellors (spec 26, ja and en).
  # tamura, sugi, hori: the whisper test's counsellor, supervisor and admin (spec 21).
  # totp.ja, totp.en: the second factor test's supervisors (spec 25; they
  # enrol, so each language has its own).
  for u in ueda:上田:counsellor aoki:青木:counsellor baba:馬場:counsellor chiba:千葉:counsellor doi:土井:counsellor endo:遠藤:counsellor fujita:藤田:counsellor goto:後藤:counsellor hara:原:counsellor ishii:石井:counsellor kudo:工藤:supervisor joh:城:counsellor kondo:近藤:counsellor ota:太田:counsellor sato:佐藤:counsellor mori:森:admin noda:野田:intake ikeda:池田:counsellor ono:小野:counsellor kubo:久保:supervisor kato:加藤:counsellor nishi:西:counsellor yagi:八木:counsellor totp.ja:三浦:supervisor totp.en:永井:supervisor hoshino:星野:admin hanada:花田:supervisor hirose:広瀬:supervisor hoshi:星:counsellor tamura:田村:counsellor sugi:杉:supervisor hori:堀:admin taniguchi:谷口:counsellor uno:宇野:counsellor; do
    IFS=: read -r uname dname role <<<"$u"
    cat <<EOF

[[users]]
username = "$uname"
display_name = "$dname"
role = "$role"
password_hash = "$HASH"
EOF
  done
  # Issue 22 (a case's retention, spec 27): kiyo, kiyo.en: its counsellors (ja, en).
  for u in kiyo:清:counsellor kiyo.en:清水:counsellor; do
    IFS=: read -r uname dname role <<<"$u"
    cat <<EOF

[[users]]
username = "$uname"
display_name = "$dname"
role = "$role"
password_hash = "$HASH"
EOF
  done
  # Issue 20 (canned replies, spec 23): sakai, tani: its counsellors (ja, en); kanri: its admin; kanda: its supervisor.
  for u in sakai:酒井:counsellor tani:谷:counsellor kanri:管理:admin kanda:神田:supervisor; do
    IFS=: read -r uname dname role <<<"$u"
    cat <<EOF

[[users]]
username = "$uname"
display_name = "$dname"
role = "$role"
password_hash = "$HASH"
EOF
  done
  # Issue 20 (the admin page in sections, the floor for admins, spec 33):
  # kanshi: its supervisor; kanshi.c: its counsellor; kanshi.admin: its admin.
  # Issue 27 (a start sent again, spec 32): keiyaku, its counsellor.
  # Issue 22 (the letters queue in the console, spec 35): fumi, fumi.en: its counsellors (ja, en);
  # fumi.sup: its supervisor (acknowledges the urgent letters' alerts, so later specs start clean).
  # Issue 23 (the directory of partner services on the admin page, spec 36): renkei, its admin;
  # (naming partners when referring, spec 37): shokai, its counsellor.
  # (the hearing sheet in the console, spec 38): kiki.ja, kiki.en, its counsellors (ja, en);
  # (the relay sheet, spec 39): tsunagi.ja, tsunagi.en; (the relay sheet in the console,
  # spec 40): renraku.ja, renraku.en, their counsellors (ja, en).
  for u in kanshi:監:supervisor kanshi.c:監物:counsellor kanshi.admin:監査:admin keiyaku:契約:counsellor fumi:文:counsellor fumi.en:文子:counsellor fumi.sup:文江:supervisor renkei:連携:admin shokai:紹介:counsellor \
    kiki.ja:菊池:counsellor kiki.en:木下:counsellor tsunagi.ja:綱木:counsellor tsunagi.en:綱島:counsellor renraku.ja:連城:counsellor renraku.en:連野:counsellor; do
    IFS=: read -r uname dname role <<<"$u"
    cat <<EOF

[[users]]
username = "$uname"
display_name = "$dname"
role = "$role"
password_hash = "$HASH"
EOF
  done
} >"$CONFIG"

# A second server whose chat is closed: open Monday to Friday as usual,
# but a one-off closure covers yesterday to tomorrow (Japan time), so it
# is closed whenever the tests run, and has a next opening.
CLOSED_PORT="$(free_port)"
JST_FROM="$(TZ=Asia/Tokyo date -d yesterday +%F)"
JST_TO="$(TZ=Asia/Tokyo date -d tomorrow +%F)"
CLOSED_CONFIG="$WORK/tsunagu-closed.toml"
{
  cat <<EOF
bind = "127.0.0.1:$CLOSED_PORT"
data_dir = "$WORK/data-closed"
EOF
  # The main config without its bind, data_dir and [hours] section.
  awk '
    /^bind = / || /^data_dir = / { next }
    /^\[hours\]/ || /^\[hours\./ || /^\[\[hours\./ { skip = 1; next }
    /^\[/ { skip = 0 }
    skip { next }
    { print }
  ' "$CONFIG"
  cat <<EOF

[hours]
always_open = false
closed_on_national_holidays = true
last_entry_minutes = 30

[[hours.weekly]]
days = ["mon", "tue", "wed", "thu", "fri"]
open = "09:00"
close = "17:00"

[[hours.closures]]
from = "$JST_FROM"
to = "$JST_TO"
EOF
} >"$CLOSED_CONFIG"

# A third server with the empty-floor alert on after 2 s (spec 22): the
# main server keeps it off, so no other test's supervisor sees a banner
# when its counsellors are away for a while.
FLOOR_PORT="$(free_port)"
FLOOR_CONFIG="$WORK/tsunagu-floor.toml"
{
  sed -e "s#^bind = .*#bind = \"127.0.0.1:$FLOOR_PORT\"#" \
      -e "s#^data_dir = .*#data_dir = \"$WORK/data-floor\"#" \
      -e "s#^public_url = .*#public_url = \"http://127.0.0.1:$FLOOR_PORT\"#" "$CONFIG"
  printf '\n[alerts]\nempty_floor_after_secs = 2\n'
} >"$FLOOR_CONFIG"
printf '\n[alerts]\nempty_floor_disabled = true\n' >>"$CONFIG"

# Start `tsunagu serve` with config $2, logging to $3; its pid in the
# variable named $1; wait until $4/healthz answers (or stop, printing $3).
start_server() {
  local pid_var=$1 config=$2 log=$3 base=$4 what=$5
  say "starting the $what on ${base#http://}"
  TSUNAGU_CONFIG="$config" "$BIN" serve >"$log" 2>&1 &
  printf -v "$pid_var" '%s' "$!"
  for _ in $(seq 1 100); do
    if node -e "fetch('$base/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" 2>/dev/null; then
      return 0
    fi
    kill -0 "${!pid_var}" 2>/dev/null || break
    sleep 0.2
  done
  cat "$log" >&2
  die "the $what did not answer /healthz"
}

BASE="http://127.0.0.1:$PORT"
CLOSED_BASE="http://127.0.0.1:$CLOSED_PORT"
FLOOR_BASE="http://127.0.0.1:$FLOOR_PORT"
start_server SERVER_PID "$CONFIG" "$WORK/server.log" "$BASE" server
start_server CLOSED_PID "$CLOSED_CONFIG" "$WORK/server-closed.log" "$CLOSED_BASE" "closed-hours server"
start_server FLOOR_PID "$FLOOR_CONFIG" "$WORK/server-floor.log" "$FLOOR_BASE" "empty-floor server"

mkdir -p "$ROOT/test-artifacts/screenshots/ja" "$ROOT/test-artifacts/screenshots/en"

# Which specs: the arguments (`bash tests/browser/run.sh specs/33-….test.mjs`,
# paths relative to tests/browser), else BROWSER_TEST_SPECS, else all.
SPECS="${*:-${BROWSER_TEST_SPECS:-specs/*.test.mjs}}"
say "node --test"
status=0
(
  cd "$HERE"
  TSUNAGU_URL="$BASE" \
  TSUNAGU_CLOSED_URL="$CLOSED_BASE" \
  TSUNAGU_FLOOR_URL="$FLOOR_BASE" \
  TSUNAGU_PASSWORD="$PASSWORD" \
  TSUNAGU_LINE_SECRET="$LINE_SECRET" \
  TSUNAGU_LINE_API_PORT="$LINE_PORT" \
  TSUNAGU_TEST_CHROMIUM="$CHROMIUM" \
  TSUNAGU_SCREENSHOTS="$ROOT/test-artifacts/screenshots" \
    node --test --test-concurrency=1 --test-reporter=spec ${SPECS}
) || status=$?

if [ "$status" != 0 ]; then
  echo "---- server log (last 50 lines)" >&2
  tail -n 50 "$WORK/server.log" >&2 || true
fi
exit "$status"
