#!/bin/sh
# Install, with apt-get, what a fresh Debian machine lacks for a target:
#   build  - compiler, cmake, pkg-config, cmocka, and erlang-base (erl and
#            epmd), which the distribution tests run against
#   docs   - doxygen, for make docs (the HTML reference of the headers)
#   test   - redis-tools (redis-cli), for the test of examples/kv, and
#            libdw1, which the runtime opens (if it is there) to give crash
#            reports file:line; without it test_faults and
#            test_log_reports check the reports' form without file:line and
#            say so
#   bench  - compiler, cmake, pkg-config, then each peer of the benchmark on
#            its own: Erlang (erlang-base), Go (golang-go), CAF (g++,
#            libcaf-dev), redis-server and redis-tools (redis-benchmark, for
#            kv_ops), s6 (s6-supervise) and supervisor (supervisord), the
#            os_restart peers. A peer that cannot be installed is reported, and
#            bench/run.sh then reports its figures as skipped.
# Prints what it installs; does nothing when everything is there.
set -eu
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
updated=0

missing_of() { # packages... -> those not installed
    out=""
    for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || out="$out $p"; done
    echo "$out"
}

install() { # packages... (all missing); returns apt-get's status
    echo "ensure-deps: installing:$*" >&2
    if [ "$updated" = 0 ]; then
        $SUDO apt-get update -q >&2 || true
        updated=1
    fi
    # shellcheck disable=SC2068
    $SUDO apt-get install -y -q $@ >&2
}

case "${1:-build}" in
  build)
    want=$(missing_of gcc make cmake pkg-config libcmocka-dev erlang-base)
    # shellcheck disable=SC2086
    [ -z "$want" ] || install $want ;;
  test)
    # examples/kv's test drives the server with redis-cli.
    want=$(missing_of redis-tools)
    # shellcheck disable=SC2086
    [ -z "$want" ] || install $want ||
        echo "ensure-deps: could not install redis-tools: the kv test will be skipped" >&2
    want=$(missing_of libdw1)
    # shellcheck disable=SC2086
    [ -z "$want" ] || install $want ||
        echo "ensure-deps: could not install libdw1: crash reports are tested without file:line" >&2 ;;
  docs)
    want=$(missing_of doxygen)
    # shellcheck disable=SC2086
    [ -z "$want" ] || install $want ;;
  bench)
    want=$(missing_of gcc make cmake pkg-config)
    # shellcheck disable=SC2086
    [ -z "$want" ] || install $want
    for peer in "Erlang:erlang-base" "Go:golang-go" "CAF:g++ libcaf-dev" \
        "Redis:redis-server redis-tools" "s6:s6" "supervisord:supervisor"; do
        name=${peer%%:*}
        # shellcheck disable=SC2086
        want=$(missing_of ${peer#*:})
        [ -n "$want" ] || continue
        # shellcheck disable=SC2086
        install $want ||
            echo "ensure-deps: could not install$want: the $name peer will be skipped" >&2
    done ;;
  *) echo "ensure-deps: fatal: unknown target $1" >&2; exit 100 ;;
esac
exit 0
