# shellcheck shell=bash
# Debian packages for the deploy scripts on a fresh machine or CI.
# Sourced by local-cluster.sh and lint.sh.

# apt_get PACKAGE: install it (as root, or with sudo).
apt_get() {
  echo "installing $1 (Debian package)"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$1" >/dev/null
}

# need_pkg COMMAND PACKAGE: install PACKAGE when COMMAND is missing.
need_pkg() {
  command -v "$1" >/dev/null 2>&1 && return 0
  apt_get "$2" || true
  command -v "$1" >/dev/null 2>&1
}
