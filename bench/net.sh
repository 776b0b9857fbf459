#!/bin/sh
# bench/net.sh - the network figures of the benchmark, over loopback:
#   kv_ops    redis-benchmark -t ping_inline,set,get -c 50 -n $KV_N, without
#             and with -P 16, against oak's examples/kv, redis-server, and
#             the same server in Go (bench/go/kvserver) and Erlang
#             (bench/erlang/bench_kv_server.erl); "oak1" is examples/kv with
#             one scheduler (--schedulers 1), as Redis has one thread, beside
#             "oak" with one per CPU: requests per second
#             (BIGGER is better) and p50/p99 in ms as redis-benchmark
#             prints them (smaller is better)
#   echo_rtt  round trip of 32 bytes over one connection, p50 and p99 in us
#             (smaller is better), by bench/net/netload.c, against
#             bench/oak_echo_server.c and the Go and Erlang echo servers
#   conn_mem  10,000 idle connections (each echoed one byte, so the server
#             took it), then 3 s idle: the server's VmRSS growth per
#             connection, in bytes
#             (smaller is better); the client side is a separate process
# Each server is started on a free port of 127.0.0.1 and killed after its
# figure; every command is bounded by timeout(1).
#
#   sh bench/net.sh OUT [FIGURES]   OUT: the run.sh build directory
# Prints RESULT <impl>.<figure> <value> <unit> and SKIP lines.
# shellcheck disable=SC2086
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$1
FIGS=${2:-"kv_ops echo_rtt conn_mem"}
QUICK=${BENCH_QUICK:-0}
KV_N=${BENCH_KV_N:-200000}
RTT_N=${BENCH_RTT_N:-20000}
CONNS=${BENCH_CONNS:-10000}
if [ "$QUICK" = 1 ]; then KV_N=2000 RTT_N=200 CONNS=100; fi
LOGS=$OUT/logs
mkdir -p "$LOGS"
NETLOAD=$OUT/oak/bench/netload
OAK_ECHO=$OUT/oak/bench/oak_echo_server
OAK_KV=$OUT/oak/examples/kv
GOBIN=$OUT/go/bin
ERLDIR=$OUT/erlang
# Room for 10,000 connections on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

say() { echo "net: $*" >&2; }
has() { command -v "$1" >/dev/null 2>&1; }
SERVER=""

# start IMPL KIND PORT: start a server (kind kv or echo) in the background;
# SERVER is its pid. Fails (with the reason in WHY) when it is not there or
# does not listen within 10 s. Not in a subshell: SERVER must stay set.
start() {
    impl=$1 kind=$2 port=$3 WHY=""
    case $impl.$kind in
        oak.kv) [ -x "$OAK_KV" ] || { WHY="examples/kv is not built"; return 1; }
            set -- "$OAK_KV" --port "$port" ;;
        oak1.kv) [ -x "$OAK_KV" ] || { WHY="examples/kv is not built"; return 1; }
            set -- "$OAK_KV" --port "$port" --schedulers 1 ;;
        oak.echo) [ -x "$OAK_ECHO" ] || { WHY="oak_echo_server is not built"; return 1; }
            set -- "$OAK_ECHO" "$port" ;;
        redis.kv) has redis-server || { WHY="redis-server is not installed (redis-server)"; return 1; }
            set -- redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
                --protected-mode no ;;
        go.kv | go.echo) [ -x "$GOBIN/${kind}server" ] || { WHY="the Go programs are not built"; return 1; }
            set -- "$GOBIN/${kind}server" "$port" ;;
        erlang.kv | erlang.echo)
            [ -f "$ERLDIR/bench_${kind}_server.beam" ] || { WHY="the Erlang modules are not built"; return 1; }
            set -- erl -noshell +P 4194304 +Q 1048576 -pa "$ERLDIR" -run "bench_${kind}_server" main "$port" ;;
        *) WHY="no such server"; return 1 ;;
    esac
    log=$LOGS/net.$impl.$kind.log
    echo "\$ $*" >"$log"
    # at most 10 minutes, whatever happens to this script
    timeout -k 2 600 "$@" >>"$log" 2>&1 &
    SERVER=$!
    i=0
    while [ $i -lt 100 ]; do
        "$NETLOAD" probe "$port" 2>/dev/null && return 0
        kill -0 "$SERVER" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    stop
    WHY="the $impl $kind server did not start (log: $log)"
    return 1
}

stop() {
    [ -n "$SERVER" ] || return 0
    child=$(server_pid)
    kill -TERM "$child" "$SERVER" 2>/dev/null
    i=0
    while kill -0 "$child" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$child" "$SERVER" 2>/dev/null
    wait "$SERVER" 2>/dev/null
    SERVER=""
}

server_pid() { # the pid of the server itself (timeout's child)
    c=$(cat /proc/$SERVER/task/*/children 2>/dev/null | tr ' ' '\n' | grep . | head -n 1)
    echo "${c:-$SERVER}"
}

rss() { awk '/^VmRSS/ { print $2 * 1024 }' "/proc/$1/status" 2>/dev/null; }

free_port() { "$NETLOAD" port; }

# serve IMPL KIND FIGURE: start IMPL's KIND server on a free port (in
# $port), or print FIGURE's SKIP line for IMPL and fail.
serve() {
    port=$(free_port)
    start "$1" "$2" "$port" && return 0
    echo "SKIP $1.$3: $WHY"
    return 1
}

[ -x "$NETLOAD" ] || { echo "SKIP *.net: bench/net/netload is not built"; exit 0; }

kv_ops() {
    if ! has redis-benchmark; then
        for impl in oak oak1 redis go erlang; do echo "SKIP $impl.kv_ops: redis-benchmark is not installed (redis-tools)"; done
        return
    fi
    for impl in ${KV_IMPLS:-oak oak1 redis go erlang}; do
        serve "$impl" kv kv_ops || continue
        for p in 1 16; do
            suffix=""
            [ "$p" = 1 ] || suffix=_p$p
            csv=$LOGS/net.$impl.kv_ops$suffix.csv
            if ! timeout -k 2 240 redis-benchmark -h 127.0.0.1 -p "$port" -t ping_inline,set,get \
                -c 50 -n "$KV_N" -P "$p" --csv >"$csv" 2>>"$LOGS/net.$impl.kv.log"; then
                echo "FAIL $impl.kv_ops$suffix: redis-benchmark failed (log: $csv)"
                continue
            fi
            # "test","rps","avg","min","p50","p95","p99","max"
            tr -d '"' <"$csv" | awk -F, -v i="$impl" -v s="$suffix" 'NR > 1 && NF >= 7 {
                t = tolower($1)
                printf "RESULT %s.kv_%s%s %s ops/s\n", i, t, s, $2
                printf "RESULT %s.kv_%s%s_p50 %s ms\n", i, t, s, $5
                printf "RESULT %s.kv_%s%s_p99 %s ms\n", i, t, s, $7 }'
        done
        stop
        say "kv_ops $impl done"
    done
}

echo_rtt() {
    for impl in oak go erlang; do
        serve "$impl" echo echo_rtt || continue
        if r=$(timeout -k 2 120 "$NETLOAD" rtt "$port" "$RTT_N" 32 2>>"$LOGS/net.$impl.echo.log"); then
            set -- $r
            echo "RESULT $impl.echo_rtt_p50 $1 us"
            echo "RESULT $impl.echo_rtt_p99 $2 us"
        else
            echo "FAIL $impl.echo_rtt: netload failed (log: $LOGS/net.$impl.echo.log)"
        fi
        stop
        say "echo_rtt $impl done"
    done
}

conn_mem() {
    for impl in oak go erlang; do
        serve "$impl" echo conn_mem || continue
        "$NETLOAD" rtt "$port" 1 1 >/dev/null 2>&1 # one connection came and went
        pid=$(server_pid)
        before=$(rss "$pid")
        fifo=$OUT/net.hold.$$
        rm -f "$fifo" && mkfifo "$fifo"
        # the client holds its ends until its stdin (the fifo) is closed
        timeout -k 2 300 "$NETLOAD" hold "$port" "$CONNS" <"$fifo" >"$OUT/net.hold.out" 2>>"$LOGS/net.$impl.echo.log" &
        client=$!
        exec 4>"$fifo"
        i=0
        while ! grep -q '^ready' "$OUT/net.hold.out" 2>/dev/null && kill -0 "$client" 2>/dev/null &&
            [ $i -lt 1200 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        if grep -q '^ready' "$OUT/net.hold.out"; then
            # idle for 3 s, the same for all three: oak gives back the stack
            # pages of processes idle for 1-2 s, Go's scavenger and
            # Erlang's allocators work in the background too
            sleep 3
            after=$(rss "$pid")
            echo "RESULT $impl.conn_mem $(( (after - before) / CONNS )) B"
        else
            echo "FAIL $impl.conn_mem: the client did not get $CONNS connections (log: $LOGS/net.$impl.echo.log)"
        fi
        exec 4>&-
        wait "$client" 2>/dev/null
        rm -f "$fifo" "$OUT/net.hold.out"
        stop
        say "conn_mem $impl done"
    done
}

trap 'stop' EXIT INT TERM
for f in $FIGS; do "$f"; done
