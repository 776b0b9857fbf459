#!/bin/sh
# Install, with apt-get, what a fresh Debian machine lacks for a target:
#   build  - compiler, cmake, pkg-config, cmocka
#   bench  - the above plus the peers: Erlang, Go, CAF
# Prints what it installs; does nothing when everything is there.
set -eu
want=""
need() { dpkg -s "$1" >/dev/null 2>&1 || want="$want $1"; }
case "${1:-build}" in
  build) for p in gcc make cmake pkg-config libcmocka-dev; do need "$p"; done ;;
  bench) for p in gcc g++ make cmake pkg-config libcmocka-dev erlang-base golang-go libcaf-dev; do need "$p"; done ;;
  *) echo "ensure-deps: fatal: unknown target $1" >&2; exit 100 ;;
esac
[ -z "$want" ] && exit 0
echo "ensure-deps: installing:$want" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2 || true
# shellcheck disable=SC2086
$SUDO apt-get install -y -q $want >&2
