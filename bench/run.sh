#!/bin/sh
# bench/run.sh - build the benchmark programs of oak and of its peers
# (Erlang/OTP, Go, CAF), run each one a few times on this machine, and print
# the median of each figure as
#     RESULT <impl>.<figure> <value> <unit>
# then a table of oak against the best peer of each figure.
#
# `make bench` runs it after tools/ensure-deps.sh has installed what was
# missing. Every figure of the table is "lower is better". The network
# figures (kv_ops, echo_rtt, conn_mem) run once, after the others, over
# loopback only, through bench/net.sh; their table says which way is better.
# The OS-process figures (os_restart against s6-supervise and supervisord,
# os_spawn against a plain-C floor and Erlang's open_port) run once after
# them, through bench/os.sh.
#
# Knobs (environment):
#   BENCH_RUNS=3        runs of each program; the median is reported
#   BENCH_BUDGET=760    seconds after which no run is started (the rest
#                       are skipped, and said so)
#   BENCH_LIMIT=820     seconds after which a run still going is stopped
#                       (reported as cut by the time limit, not as failed)
#   BENCH_START=<epoch> when the clock of both started (`make bench` passes
#                       the time it started, so installs count too)
#   BENCH_TIMEOUT=120   seconds for one run of one program
#   BENCH_IMPLS="oak erlang go caf"
#   BENCH_FIGURES="spawn pingpong ring skynet call restart restart_quiet mem mem_100k
#                  mem_hibernated wake_hibernated kill_spinner fair_rtt blocking_call
#                  dist_rtt dist_msgs kv_ops echo_rtt conn_mem os_restart os_spawn"
#   BENCH_KV_N=200000   requests of each redis-benchmark test (kv_ops)
#   BENCH_NET_TIMEOUT=240  seconds for all the network figures together
#   BENCH_OS_TIMEOUT=120   seconds for the OS-process figures together
#   BENCH_QUICK=1       counts divided by 100 and one run: a smoke test whose
#                       figures are not comparable with a full run
#   BENCH_BUILD=build-bench   build directory (logs in $BENCH_BUILD/logs)
# Functions are called by name (build_$impl), MISSING_* through eval, and
# "set -- $line" splits a RESULT line on purpose.
# shellcheck disable=SC2317,SC2034,SC2086,SC2013
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${BENCH_BUILD:-$ROOT/build-bench}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
RUNS=${BENCH_RUNS:-3}
BUDGET=${BENCH_BUDGET:-760}
LIMIT=${BENCH_LIMIT:-820}
TIMEOUT=${BENCH_TIMEOUT:-120}
IMPLS=${BENCH_IMPLS:-"oak erlang go caf"}
FIGURES=${BENCH_FIGURES:-"spawn pingpong ring skynet call restart restart_quiet mem mem_100k mem_hibernated wake_hibernated kill_spinner fair_rtt blocking_call dist_rtt dist_msgs kv_ops echo_rtt conn_mem os_restart os_spawn"}
# the network figures are run by bench/net.sh, the OS-process figures by
# bench/os.sh, the others by the loop below
NET_FIGURES="" OS_FIGURES="" OTHER_FIGURES=""
for f in $FIGURES; do
    case $f in
        kv_ops | echo_rtt | conn_mem) NET_FIGURES="$NET_FIGURES $f" ;;
        os_restart | os_spawn) OS_FIGURES="$OS_FIGURES $f" ;;
        *) OTHER_FIGURES="$OTHER_FIGURES $f" ;;
    esac
done
FIGURES=$OTHER_FIGURES
NET_TIMEOUT=${BENCH_NET_TIMEOUT:-240}
OS_TIMEOUT=${BENCH_OS_TIMEOUT:-120}
QUICK=${BENCH_QUICK:-0}
JOBS=$(nproc 2>/dev/null || echo 2)

LOGS=$OUT/logs
VALUES=$OUT/values        # one line per successful run: impl figure value unit
NOTES=$OUT/notes          # impl figure why: an implementation has no such run
PROBLEMS=$OUT/problems    # impl figure what: a run that failed or was not started
RESULTS=$OUT/results.txt  # the RESULT lines and the table of this run
mkdir -p "$LOGS"
: >"$VALUES"
: >"$NOTES"
: >"$PROBLEMS"
START=${BENCH_START:-$(date +%s)}

say() { echo "bench: $*" >&2; }
elapsed() { echo $(($(date +%s) - START)); }

# counts of each figure (BENCH_QUICK divides them by 100)
if [ "$QUICK" = 1 ]; then
    RUNS=1
    N_SPAWN=10000 N_TRIPS=10000 N_RING=1000 N_HOPS=10000 N_SKYNET=10000
    N_CALLS=10000 N_CYCLES=1000 N_MEM=10000 N_MEM_SMALL=1000 N_HIB=10000 N_WAKE=10000 N_KILL=20 N_FAIR=200 N_BLOCK=1000
    N_DIST_TRIPS=1000 N_DIST_MSGS=10000
else
    N_SPAWN=1000000 N_TRIPS=1000000 N_RING=10000 N_HOPS=1000000 N_SKYNET=1000000
    N_CALLS=1000000 N_CYCLES=100000 N_MEM=1000000 N_MEM_SMALL=100000 N_HIB=1000000 N_WAKE=1000000 N_KILL=200 N_FAIR=2000 N_BLOCK=100000
    N_DIST_TRIPS=20000 N_DIST_MSGS=200000
fi

# ---- the machine and the toolchains ----------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
[ -n "$cpu" ] || cpu=$(uname -m)
{
    echo "# oak benchmark run, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "# machine: $(nproc) cores ($cpu), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, Linux $(uname -r)"
    echo "# cc: $(cc --version 2>/dev/null | head -n 1)"
    command -v erl >/dev/null 2>&1 &&
        echo "# erlang: OTP $(erl -noshell -eval 'io:format("~s (erts ~s)", [erlang:system_info(otp_release), erlang:system_info(version)]), halt().' 2>/dev/null)"
    command -v go >/dev/null 2>&1 && echo "# go: $(go version 2>/dev/null)"
    v=$(dpkg-query -W -f '${Version}' libcaf-dev 2>/dev/null) && echo "# caf: libcaf-dev $v, $(g++ --version 2>/dev/null | head -n 1)"
    echo "# runs per program: $RUNS (median reported)$( [ "$QUICK" = 1 ] && echo '; QUICK: counts / 100, not comparable')"
    echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/header.txt"
cat "$OUT/header.txt" >&2

has() { command -v "$1" >/dev/null 2>&1; }
# what an implementation lacks as a whole (empty: it is there)
MISSING_oak="" MISSING_erlang="" MISSING_go="" MISSING_caf=""
missing() { eval "MISSING_$1=\$2"; }
is_missing() { eval "[ -n \"\$MISSING_$1\" ]"; }
why_missing() { eval "echo \"\$MISSING_$1\""; }

wants() { case " $IMPLS " in *" $1 "*) return 0 ;; esac; return 1; }

# ---- builds ----------------------------------------------------------------
build_oak() {
    if ! has cmake || ! has cc; then
        missing oak "cmake or a C compiler is missing"
        return
    fi
    say "building oak (Release, -O2) in $OUT/oak"
    blog=$LOGS/oak-build.log
    if ! cmake -S "$ROOT" -B "$OUT/oak" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" -DOAK_BUILD_TESTS=OFF \
        -DOAK_BUILD_EXAMPLES=ON -DOAK_BUILD_BENCH=ON >"$blog" 2>&1 ||
        ! cmake --build "$OUT/oak" -j "$JOBS" --target oak_static >>"$blog" 2>&1; then
        missing oak "the runtime does not build (log: $blog)"
        return
    fi
    # each program on its own: one that does not build leaves the others
    for prog in $(cat "$OUT/oak/bench/programs.txt" 2>/dev/null); do
        rm -f "$OUT/oak/bench/oak_$prog" # never run a stale binary
        cmake --build "$OUT/oak" -j "$JOBS" --target "oak_$prog" >>"$blog" 2>&1 ||
            say "oak_$prog does not build (log: $blog)"
    done
    # the network figures: examples/kv, the echo server, the load generator
    if [ -n "$NET_FIGURES" ]; then
        for t in kv oak_echo_server netload; do
            cmake --build "$OUT/oak" -j "$JOBS" --target "$t" >>"$blog" 2>&1 ||
                say "$t does not build (log: $blog)"
        done
    fi
    # the OS-process figures: the restarted program and the driver
    if [ -n "$OS_FIGURES" ]; then
        for t in osstamp osload; do
            cmake --build "$OUT/oak" -j "$JOBS" --target "$t" >>"$blog" 2>&1 ||
                say "$t does not build (log: $blog)"
        done
    fi
}

build_erlang() {
    if ! has erl || ! has erlc; then
        missing erlang "not installed (erlang-base)"
        return
    fi
    say "compiling the Erlang modules"
    mkdir -p "$OUT/erlang"
    erlc -o "$OUT/erlang" "$ROOT"/bench/erlang/*.erl >"$LOGS/erlang-build.log" 2>&1 ||
        missing erlang "erlc failed (log: $LOGS/erlang-build.log)"
}

build_go() {
    if ! has go; then
        missing go "not installed (golang-go)"
        return
    fi
    say "building the Go programs"
    mkdir -p "$OUT/go/bin"
    (cd "$ROOT/bench/go" &&
        GOCACHE=$OUT/go/cache GOPATH=$OUT/go/path GOTOOLCHAIN=local GOPROXY=off \
            GOFLAGS="" GO111MODULE=on CGO_ENABLED=0 go build -o "$OUT/go/bin/" ./...) \
        >"$LOGS/go-build.log" 2>&1 ||
        missing go "go build failed (log: $LOGS/go-build.log)"
}

build_caf() {
    if ! has g++ || [ ! -f /usr/include/caf/all.hpp ]; then
        missing caf "not installed (g++, libcaf-dev)"
        return
    fi
    say "building the CAF programs"
    make -s -C "$ROOT/bench/caf" OUT="$OUT/caf" -j "$JOBS" >"$LOGS/caf-build.log" 2>&1 ||
        missing caf "build failed (log: $LOGS/caf-build.log)"
}

for impl in oak erlang go caf; do
    if wants "$impl"; then
        "build_$impl"
        is_missing "$impl" && say "$impl: skipped: $(why_missing "$impl")"
    else
        missing "$impl" "not selected (BENCH_IMPLS)"
    fi
done
say "builds done after $(elapsed) s"

# ---- what to run -----------------------------------------------------------
# command IMPL FIGURE: print the command line of one run, or fail after
# printing "skip: <reason>" when that implementation has no such program.
command_for() {
    impl=$1 fig=$2
    case $fig in
        spawn) prog=spawn args=$N_SPAWN ;;
        pingpong) prog=pingpong args=$N_TRIPS ;;
        ring) prog=ring args="$N_RING $N_HOPS" ;;
        skynet) prog=skynet args=$N_SKYNET ;;
        call) prog=call args=$N_CALLS ;;
        restart) prog=restart args="$N_CYCLES reports" ;;
        restart_quiet) prog=restart args="$N_CYCLES quiet" ;;
        mem) prog=mem args="$N_MEM mem" ;;
        mem_100k) prog=mem args="$N_MEM_SMALL mem_100k" ;;
        mem_hibernated) prog=mem_hibernated args=$N_HIB ;;
        wake_hibernated) prog=wake_hibernated args=$N_WAKE ;;
        kill_spinner) prog=kill_spinner args=$N_KILL ;;
        fair_rtt) prog=fair_rtt args=$N_FAIR ;;
        blocking_call) prog=blocking_call args=$N_BLOCK ;;
        dist_rtt) prog=dist_rtt args=$N_DIST_TRIPS ;;
        dist_msgs) prog=dist_msgs args=$N_DIST_MSGS ;;
        *) echo "skip: unknown figure"; return 1 ;;
    esac
    # The distribution figures: one program per figure runs either side
    # (two nodes over loopback, an epmd of its own that it kills at the end).
    case $prog in
        dist_*)
            case $impl in
                oak | erlang) ;;
                *) echo "skip: no Erlang distribution"; return 1 ;;
            esac
            if [ ! -x "$OUT/oak/bench/oak_$prog" ]; then
                echo "skip: oak_$prog (which runs both sides) does not build (log: $LOGS/oak-build.log)"
                return 1
            fi
            echo "$OUT/oak/bench/oak_$prog $args $impl"
            return 0 ;;
    esac
    case $impl in
        oak)
            if ! grep -qx "$prog" "$OUT/oak/bench/programs.txt" 2>/dev/null; then
                case $prog in
                    call) echo "skip: not yet implemented (needs gen_server)" ;;
                    restart) echo "skip: not yet implemented (needs supervisor and gen_server)" ;;
                    *) echo "skip: no program oak_$prog" ;;
                esac
                return 1
            elif [ ! -x "$OUT/oak/bench/oak_$prog" ]; then
                echo "skip: oak_$prog does not build (log: $LOGS/oak-build.log)"
                return 1
            fi
            echo "$OUT/oak/bench/oak_$prog $args" ;;
        erlang)
            if [ "$prog" = blocking_call ]; then
                echo "skip: a dirty NIF is not available to bench programs"
                return 1
            fi
            # +P: room for the 1,000,000+ processes of spawn, skynet and mem
            # (OTP's default limit is 262,144), the same table size as
            # oak's default.
            echo "erl -noshell +P 4194304 -pa $OUT/erlang -run bench_$prog main $args" ;;
        go)
            # Goroutines cannot give up their stacks: their idle servers
            # are the mem figure's, under this figure's name.
            case $prog in
                mem_hibernated) echo "$OUT/go/bin/mem $N_HIB mem_hibernated"; return 0 ;;
                wake_hibernated) echo "skip: Go has no hibernation"; return 1 ;;
                kill_spinner) echo "skip: Go cannot kill a goroutine"; return 1 ;;
            esac
            if [ "$prog" = restart ]; then
                echo "skip: Go has no supervisor (goroutines have no links or restart)"
                return 1
            fi
            echo "$OUT/go/bin/$prog $args" ;;
        caf)
            case $prog in
                mem_hibernated) echo "$OUT/caf/mem $N_HIB mem_hibernated"; return 0 ;;
                wake_hibernated) echo "skip: CAF has no hibernation"; return 1 ;;
                kill_spinner | fair_rtt | blocking_call)
                    echo "skip: no CAF program (CAF actors are not preempted)"; return 1 ;;
            esac
            if [ "$prog" = restart ]; then
                echo "skip: CAF 0.17 has no supervisor"
                return 1
            fi
            echo "$OUT/caf/$prog $args" ;;
    esac
}

# ---- runs ------------------------------------------------------------------
export ERL_CRASH_DUMP_SECONDS=0
over_budget=0
failed=0
run=1
while [ "$run" -le "$RUNS" ]; do
    for fig in $FIGURES; do
        for impl in oak erlang go caf; do
            wants "$impl" || continue
            if is_missing "$impl"; then
                [ "$run" = 1 ] && echo "$impl $fig $(why_missing "$impl")" >>"$NOTES"
                continue
            fi
            if ! cmd=$(command_for "$impl" "$fig"); then
                [ "$run" = 1 ] && echo "$impl $fig ${cmd#skip: }" >>"$NOTES"
                continue
            fi
            if [ "$(elapsed)" -ge "$BUDGET" ]; then
                over_budget=1
                echo "$impl $fig run $run not started: time budget of $BUDGET s spent" >>"$PROBLEMS"
                continue
            fi
            log=$LOGS/$impl.$fig.$run.log
            echo "\$ $cmd" >"$log"
            t0=$(date +%s)
            limit=$((LIMIT - $(elapsed)))
            [ "$limit" -lt "$TIMEOUT" ] || limit=$TIMEOUT
            timeout -k 5 "$limit" $cmd >>"$log" 2>&1
            rc=$?
            if [ "$rc" = 124 ] && [ "$limit" -lt "$TIMEOUT" ]; then
                over_budget=1
                say "run $run/$RUNS $impl.$fig: stopped at the time limit of $LIMIT s"
                echo "$impl $fig run $run stopped at the time limit of $LIMIT s" >>"$PROBLEMS"
                continue
            fi
            line=$(grep "^RESULT $impl\.$fig " "$log" | tail -n 1)
            # the restart runs log every report: keep the first MiB
            if [ "$(wc -c <"$log")" -gt 1048576 ]; then
                head -c 1048576 "$log" >"$log.tmp" && mv "$log.tmp" "$log"
                echo "... (cut)" >>"$log"
                [ -n "$line" ] && echo "$line" >>"$log"
            fi
            if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
                [ "$rc" = 124 ] && why="timed out after $TIMEOUT s" || why="exit status $rc"
                say "run $run/$RUNS $impl.$fig: FAILED ($why; log: $log)"
                grep '^FAIL' "$log" | head -n 3 >&2
                echo "$impl $fig run $run FAILED ($why; log: $log)" >>"$PROBLEMS"
                failed=1
                continue
            fi
            set -- $line
            echo "$impl $fig $3 $4" >>"$VALUES"
            say "run $run/$RUNS $impl.$fig: $3 $4 ($(($(date +%s) - t0)) s)"
        done
    done
    run=$((run + 1))
done
[ "$over_budget" = 1 ] && say "time budget spent: some runs were skipped (see below)"

# ---- the network and OS-process figures (one run each) --------------------
# side_figures NAME WHAT FIGURES TIMEOUT: run bench/NAME.sh on FIGURES into
# $OUT/NAME.txt, at most TIMEOUT seconds.
side_figures() {
    : >"$OUT/$1.txt"
    [ -n "$3" ] || return 0
    say "$2 figures:$3 (one run, up to $4 s)"
    timeout -k 5 "$4" sh "$ROOT/bench/$1.sh" "$OUT" "$3" >"$OUT/$1.txt" 2>"$LOGS/$1.log"
    rc=$?
    [ "$rc" = 0 ] || echo "$2 figures: exit status $rc (log: $LOGS/$1.log)" >>"$OUT/$1.txt"
    grep -q '^FAIL' "$OUT/$1.txt" && failed=1
    return 0
}
side_figures net network "$NET_FIGURES" "$NET_TIMEOUT"
side_figures os OS-process "$OS_FIGURES" "$OS_TIMEOUT"

# ---- medians, RESULT lines and the table ----------------------------------
median() { # impl fig -> "value unit runs" or nothing
    awk -v i="$1" -v f="$2" '$1 == i && $2 == f { v[n++] = $3; u = $4 }
        END {
            if (!n) exit
            for (a = 0; a < n; a++) for (b = a + 1; b < n; b++)
                if (v[b] + 0 < v[a] + 0) { t = v[a]; v[a] = v[b]; v[b] = t }
            if (n % 2) m = v[int(n / 2)]
            else if (u == "B") m = sprintf("%.0f", (v[n / 2 - 1] + v[n / 2]) / 2)
            else m = sprintf("%.1f", (v[n / 2 - 1] + v[n / 2]) / 2)
            printf "%s %s %d\n", m, u, n
        }' "$VALUES"
}
# side_table FILE: the RESULT lines of a figure script (net.sh, os.sh) as a
# table, one column per implementation, then oak over each of the others.
side_table() {
    awk '$1 == "RESULT" { split($2, a, "."); v[a[1], a[2]] = $3; u[a[2]] = $4
            if (!(a[2] in f)) { f[a[2]] = 1; order[++m] = a[2] }
            if (!(a[1] in seen)) { seen[a[1]] = 1; impls[n++] = a[1] } }
        END {
            if (!n) exit
            printf "\n%-24s", "figure"
            for (i = 0; i < n; i++) printf " %12s", impls[i]
            for (i = 0; i < n; i++) if (impls[i] != "oak") printf " %11s", "oak/" impls[i]
            printf "\n"
            for (j = 1; j <= m; j++) {
                k = order[j]
                printf "%-24s", k " (" u[k] ")"
                for (i = 0; i < n; i++) printf " %12s", ((impls[i], k) in v) ? v[impls[i], k] : "-"
                for (i = 0; i < n; i++) if (impls[i] != "oak")
                    printf " %11s", (((impls[i], k) in v) && (("oak", k) in v) && v[impls[i], k] + 0 > 0) ? sprintf("%.2f", v["oak", k] / v[impls[i], k]) : "-"
                printf "\n"
            }
        }' "$1"
}
first_note() { # file impl fig -> the rest of the first line about them
    awk -v i="$2" -v f="$3" '$1 == i && $2 == f { $1 = $2 = ""; sub(/^  /, ""); print; exit }' "$1"
}

{
    cat "$OUT/header.txt"
    for fig in $FIGURES; do
        for impl in oak erlang go caf; do
            wants "$impl" || continue
            m=$(median "$impl" "$fig")
            if [ -n "$m" ]; then
                set -- $m
                echo "RESULT $impl.$fig $1 $2"
            elif why=$(first_note "$NOTES" "$impl" "$fig") && [ -n "$why" ]; then
                echo "SKIP $impl.$fig: $why"
            else
                why=$(first_note "$PROBLEMS" "$impl" "$fig")
                case $why in
                    *"time budget"* | *"time limit"*) echo "SKIP $impl.$fig: $why" ;;
                    *) echo "FAIL $impl.$fig: ${why:-no result}" ;;
                esac
            fi
        done
    done
    echo
    printf '%-14s %-16s %-24s %s\n' figure oak "best peer" "oak/best"
    for fig in $FIGURES; do
        oak=$(median oak "$fig")
        best="" bestv="" unit=""
        for impl in erlang go caf; do
            m=$(median "$impl" "$fig")
            [ -n "$m" ] || continue
            set -- $m
            if [ -z "$bestv" ] || awk -v a="$1" -v b="$bestv" 'BEGIN { exit !(a + 0 < b + 0) }'; then
                best=$impl bestv=$1 unit=$2
            fi
        done
        if [ -n "$oak" ]; then
            set -- $oak
            oakv=$1 oaks="$1 $2"
        else
            oakv="" oaks="-"
        fi
        if [ -n "$bestv" ]; then
            bests="$best $bestv $unit"
        else
            bests="-"
        fi
        if [ -n "$oakv" ] && [ -n "$bestv" ]; then
            ratio=$(awk -v a="$oakv" -v b="$bestv" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "-" }')
        else
            ratio="-"
        fi
        printf '%-14s %-16s %-24s %s\n' "$fig" "$oaks" "$bests" "$ratio"
    done
    echo
    echo "oak/best: oak's median over the best peer's median; below 1.00 oak is faster (or smaller)."
    if [ -s "$OUT/net.txt" ]; then
        echo
        echo "network figures (one run; loopback; ops/s: BIGGER is better, ms, us and B: smaller is better):"
        cat "$OUT/net.txt"
        side_table "$OUT/net.txt"
    fi
    if [ -s "$OUT/os.txt" ]; then
        echo
        echo "OS-process figures (one run; us, smaller is better; s6 and supervisord wait about"
        echo "a second before each restart by design, see bench/os.sh; c.os_spawn is the floor):"
        cat "$OUT/os.txt"
        side_table "$OUT/os.txt"
    fi
    if [ -s "$PROBLEMS" ]; then
        echo "problems:"
        sed 's/^\([^ ]*\) \([^ ]*\) /  \1.\2: /' "$PROBLEMS"
    fi
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)"
    echo "total time: $(elapsed) s"
} >"$RESULTS"
cat "$RESULTS"
echo "bench: results in $RESULTS, logs in $LOGS" >&2
if [ "$failed" = 1 ]; then
    echo "bench: some runs FAILED (see problems above)" >&2
    exit 1
fi
exit 0
