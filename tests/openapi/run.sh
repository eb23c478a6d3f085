#!/usr/bin/env bash
# Property-based checks of the HTTP API from docs/openapi.yaml (issue 27):
# Schemathesis generates requests for every path and method from the
# document and checks that no answer is a server error (500), that every
# status and content type is one the document allows, and that every body
# matches its schema (errors: the one error body). Bounded: a fixed number
# of examples per operation and a time-out.
#
# Installs Schemathesis from PyPI when it is missing (pip, user site when
# not root). Builds the debug binary, starts it on a free loopback port
# with the in-memory store, and stops it (by its PID) when done.
#
# Usage: bash tests/openapi/run.sh   (TSUNAGU_ST_EXAMPLES, default 20)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"

say() { echo "== openapi: $*"; }
die() { echo "openapi: $*" >&2; exit 1; }

command -v python3 >/dev/null 2>&1 || die "missing: python3 (for Schemathesis)"
if ! command -v schemathesis >/dev/null 2>&1; then
  say "installing schemathesis (pip)"
  if ! python3 -m pip --version >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
      die "missing: pip for python3 (apt-get install python3-pip)"
    fi
    say "installing python3-pip (Debian package)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null
  fi
  user=""
  if [ "$(id -u)" != 0 ]; then
    user="--user"
    export PATH="$HOME/.local/bin:$PATH"
  fi
  # Debian marks its Python as externally managed (PEP 668): retry with
  # the flag that allows a tool install there.
  python3 -m pip install --quiet --disable-pip-version-check $user schemathesis \
    || python3 -m pip install --quiet --disable-pip-version-check $user --break-system-packages schemathesis
  hash -r
fi
command -v schemathesis >/dev/null 2>&1 || die "schemathesis did not install"

say "building the server"
cargo build --quiet --bin tsunagu
BIN="$ROOT/target/debug/tsunagu"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tsunagu-openapi-XXXXXX")"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
# An admin, so the staff operations answer with their success bodies
# (checked against their schemas) and not only 401.
ADMIN_PASSWORD="openapi-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
HASH="$(printf '%s\n' "$ADMIN_PASSWORD" | "$BIN" hash-password 2>/dev/null)"
[ -n "$HASH" ] || die "tsunagu hash-password printed nothing"
cat >"$WORK/tsunagu.toml" <<EOF
bind = "127.0.0.1:$PORT"
store = "memory"
web_dir = "$ROOT/web"

[hours]
always_open = true

[auth]
second_factor_roles = []

[[users]]
username = "openapi-admin"
display_name = "OpenAPI"
role = "admin"
password_hash = "$HASH"
EOF

TSUNAGU_CONFIG="$WORK/tsunagu.toml" "$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
stop() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap stop EXIT

BASE="http://127.0.0.1:$PORT"
ready=0
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('$BASE/healthz').status==200 else 1)" 2>/dev/null; then
    ready=1
    break
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.2
done
[ "$ready" = 1 ] || { cat "$WORK/server.log" >&2; die "the server did not answer /healthz"; }

# The default response of every operation is the error body, so
# status_code_conformance accepts any documented code; the checks that
# bite are no 500, the content type, and every body (success or error)
# against its schema (response_schema_conformance). Bounded: examples per
# operation, and a time-out per run.
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
run_st() {
  local log="$1"
  shift
  timeout 600 schemathesis run "$ROOT/docs/openapi.yaml" \
    --url "$BASE" \
    --max-examples "${TSUNAGU_ST_EXAMPLES:-20}" \
    --checks "$CHECKS" \
    --no-color "$@" 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]}
  [ "$status" = 0 ] || die "schemathesis failed (exit $status)"
  grep -q " passed" "$log" || die "schemathesis ran no test case"
}

# Log the admin in first: the run without a session tries logins too,
# and the per-address login limit then answers 429.
COOKIE="$(python3 - "$BASE" "$ADMIN_PASSWORD" <<'PY'
import json, sys, urllib.request
base, password = sys.argv[1], sys.argv[2]
req = urllib.request.Request(
    base + "/api/login",
    data=json.dumps({"username": "openapi-admin", "password": password}).encode(),
    headers={"Content-Type": "application/json"},
)
with urllib.request.urlopen(req) as r:
    print(r.headers["Set-Cookie"].split(";")[0])
PY
)"
[ -n "$COOKIE" ] || die "the admin did not log in"
say "schemathesis against $BASE (docs/openapi.yaml), no session"
run_st "$WORK/anonymous.log"

say "schemathesis as an admin (the staff operations' success bodies)"
# Operations that end the admin's own session (or could, given its id
# from GET /api/accounts) are left to the anonymous run and the API suite:
# after them every later request would be a 401.
run_st "$WORK/admin.log" -H "Cookie: $COOKIE" \
  --exclude-path /api/logout \
  --exclude-path /api/me/logout-everywhere \
  --exclude-path /api/me/password \
  --exclude-path '/api/accounts/{id}' \
  --exclude-path '/api/accounts/{id}/setup' \
  --exclude-path '/api/accounts/{id}/revoke-sessions' \
  --exclude-path '/api/accounts/{id}/second-factor/reset'
# As an admin only the operations of other roles (intake's bookings, the
# counsellor's socket, a conversation's case view, hearing sheet and
# relay sheets, and the letters queue) may answer nothing but 401/403;
# so may the visitor's operations that take a resume token (no generated
# request has one): which of them does varies from run to run.
awk '/^Authentication failed/ { f = 1; next } /💡/ { f = 0 } f && /^  - /' "$WORK/admin.log" \
  | grep -v -e '/ws/counsellor$' -e ' /api/intake/' -e ' /api/counsellor/conversations/' -e ' /api/counsellor/letters' -e ' /api/visitor/' >"$WORK/unauth" || true
[ ! -s "$WORK/unauth" ] || { cat "$WORK/unauth" >&2; die "operations an admin may use answered only 401/403"; }
say "ok"
