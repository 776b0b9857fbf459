#!/bin/sh
# bench/os.sh - the OS-process figures of the benchmark:
#   os_restart  a program that exits 1 at once (bench/os/osstamp, which
#               first appends the monotonic time to ./stamps) restarted by
#               its supervisor, again and again: us per cycle, from the
#               program's own stamps ((last - first) / cycles, by
#               bench/os/osload), for oak (one_for_one, bench/oak_os_restart.c),
#               s6-supervise (Debian's s6) and supervisord (Debian's
#               supervisor), each driven the same way: started on a service
#               whose program is osstamp, run until enough stamps are there,
#               stopped
#   os_spawn    start /bin/true and see it exit, N times one after the
#               other: us per program, for oak (bench/oak_os_spawn.c), the
#               plain-C floor (fork + execve + waitpid, osload spawn) and
#               Erlang's open_port({spawn_executable, ...}, [exit_status]);
#               N is the issue's 10,000 for oak and the floor
#               (BENCH_OS_SPAWNS), 2,000 for Erlang (BENCH_OS_ERL_SPAWNS,
#               a peer only, to keep the script's time), said in a NOTE line
# Every supervisor runs in its own session (setsid) with its program's
# working directory in a temporary directory of its own; each is bounded by
# timeout(1), and afterwards its session is killed and every process whose
# working directory is in the temporary directory is killed by pid (a
# survivor is reported as a FAIL).
#
# s6-supervise 2.11 waits at least one second between two starts of ./run,
# and supervisord 4.2 starts a program again only on the next turn of its
# loop, which sleeps up to one second in poll when nothing else happens:
# both peers run few cycles (BENCH_OS_PEER_CYCLES) to keep within ~10 s.
#
#   sh bench/os.sh OUT [FIGURES]   OUT: the run.sh build directory
# Prints RESULT <impl>.<figure> <value> <unit>, SKIP and FAIL lines.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$1
FIGS=${2:-"os_restart os_spawn"}
QUICK=${BENCH_QUICK:-0}
CYCLES=${BENCH_OS_CYCLES:-1000}
PEER_CYCLES=${BENCH_OS_PEER_CYCLES:-5}
SPAWNS=${BENCH_OS_SPAWNS:-10000}
ERL_SPAWNS=${BENCH_OS_ERL_SPAWNS:-2000}
if [ "$QUICK" = 1 ]; then CYCLES=20 PEER_CYCLES=2 SPAWNS=100 ERL_SPAWNS=100; fi
LOGS=$OUT/logs
mkdir -p "$LOGS"
BIN=$OUT/oak/bench
OSLOAD=$BIN/osload
OSSTAMP=$BIN/osstamp
ERLDIR=$OUT/erlang
TMP=""
PEER=""

say() { echo "os: $*" >&2; }
has() { command -v "$1" >/dev/null 2>&1; }

# Stop the peer started by run_peer: SIGTERM (each supervisor then stops
# its program), up to 5 s, then SIGKILL to its whole session; then kill, by
# pid, every process still working in $TMP.
stop_peer() {
    if [ -n "$PEER" ]; then
        kill -TERM "$PEER" 2>/dev/null
        i=0
        while kill -0 "$PEER" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -KILL -- "-$PEER" 2>/dev/null
        wait "$PEER" 2>/dev/null
        PEER=""
    fi
    [ -n "$TMP" ] || return 0
    left=""
    for p in /proc/[0-9]*; do
        case $(readlink "$p/cwd" 2>/dev/null) in
            "$TMP" | "$TMP"/*) left="$left ${p#/proc/}" ;;
        esac
    done
    if [ -n "$left" ]; then
        kill -KILL $left 2>/dev/null
        echo "FAIL os_restart: processes left behind:$left"
    fi
    rm -rf "$TMP"
    TMP=""
}

# run_peer IMPL CYCLES DIR CMD...: start CMD in a session of its own, wait
# for CYCLES restarts seen in DIR/stamps, print the figure, stop it.
run_peer() {
    impl=$1 n=$2 dir=$3
    shift 3
    log=$LOGS/os.$impl.os_restart.log
    echo "\$ $*" >"$log"
    setsid timeout -k 2 60 "$@" >>"$log" 2>&1 &
    PEER=$!
    # the first start may take a turn of the peer's loop: 2 s per cycle
    timeout -k 2 60 "$OSLOAD" cycles "$dir" "$n" $((n * 2 + 10)) "$impl" 2>>"$log" ||
        echo "FAIL $impl.os_restart: no figure (log: $log)"
    stop_peer
    say "os_restart $impl done"
}

os_restart() {
    for impl in oak s6 supervisord; do
        TMP=$(mktemp -d "${TMPDIR:-/tmp}/oak-os-restart.XXXXXX")
        case $impl in
            oak)
                [ -x "$BIN/oak_os_restart" ] || { echo "SKIP oak.os_restart: oak_os_restart is not built"; stop_peer; continue; }
                run_peer oak "$CYCLES" "$TMP" "$BIN/oak_os_restart" "$TMP" "$OSSTAMP" ;;
            s6)
                has s6-supervise || { echo "SKIP s6.os_restart: s6-supervise is not installed (s6)"; stop_peer; continue; }
                # ./run is osstamp itself; nosetsid keeps it in the peer's
                # session, so that the session kill reaches it.
                mkdir "$TMP/svc" && ln -s "$OSSTAMP" "$TMP/svc/run" && : >"$TMP/svc/nosetsid"
                run_peer s6 "$PEER_CYCLES" "$TMP/svc" s6-supervise "$TMP/svc" ;;
            supervisord)
                has supervisord || { echo "SKIP supervisord.os_restart: supervisord is not installed (supervisor)"; stop_peer; continue; }
                # Its fastest honest restart: startsecs=0 (a program is
                # RUNNING at once, so an exit is never "too quick" and there
                # is no BACKOFF), autorestart=true, no output captured.
                mkdir "$TMP/work"
                cat >"$TMP/supervisord.conf" <<CONF
[supervisord]
nodaemon=true
user=root
logfile=$TMP/supervisord.log
pidfile=$TMP/supervisord.pid
childlogdir=$TMP
[program:osstamp]
command=$OSSTAMP
directory=$TMP/work
startsecs=0
autorestart=true
stopwaitsecs=1
stdout_logfile=NONE
stderr_logfile=NONE
CONF
                [ "$(id -u)" = 0 ] || sed -i '/^user=root$/d' "$TMP/supervisord.conf"
                run_peer supervisord "$PEER_CYCLES" "$TMP/work" supervisord -c "$TMP/supervisord.conf" ;;
        esac
    done
}

os_spawn() {
    log=$LOGS/os.os_spawn.log
    : >"$log"
    if [ -x "$BIN/oak_os_spawn" ]; then
        timeout -k 2 60 "$BIN/oak_os_spawn" "$SPAWNS" /bin/true 2>>"$log" || echo "FAIL oak.os_spawn: (log: $log)"
    else
        echo "SKIP oak.os_spawn: oak_os_spawn is not built"
    fi
    timeout -k 2 60 "$OSLOAD" spawn "$SPAWNS" /bin/true 2>>"$log" || echo "FAIL c.os_spawn: (log: $log)"
    if has erl && [ -f "$ERLDIR/bench_os_spawn.beam" ]; then
        timeout -k 2 60 erl -noshell -pa "$ERLDIR" -run bench_os_spawn main "$ERL_SPAWNS" /bin/true 2>>"$log" ||
            echo "FAIL erlang.os_spawn: (log: $log)"
        echo "NOTE os_spawn: oak and c over $SPAWNS programs each, erlang over $ERL_SPAWNS"
    else
        echo "SKIP erlang.os_spawn: the Erlang modules are not built (erlang-base)"
    fi
    say "os_spawn done"
}

[ -x "$OSLOAD" ] && [ -x "$OSSTAMP" ] || { echo "SKIP *.os: bench/os/osload is not built"; exit 0; }
trap 'stop_peer' EXIT
trap 'stop_peer; exit 1' INT TERM
for f in $FIGS; do "$f"; done
