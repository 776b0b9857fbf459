#!/usr/bin/env bash
# examples/kv, driven by redis-cli over loopback: the commands, TTLs,
# pipelining, malformed input (an error, and only that connection ends),
# and an orderly stop on SIGTERM. Exit 77 (skipped) without redis-cli.
set -u
kv=$1
command -v redis-cli >/dev/null 2>&1 || { echo "redis-cli not installed: skipped"; exit 77; }
fail() { echo "FAIL: $*"; kill -KILL "$pid" 2>/dev/null; exit 1; }

# A port nobody uses: try a few.
pid=""
for try in 1 2 3 4 5; do
    port=$(( 20000 + (RANDOM % 20000) ))
    "$kv" --port "$port" > kv.out 2> kv.err &
    pid=$!
    for _ in $(seq 50); do
        [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break 2
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""
done
[ -n "$pid" ] || { echo "FAIL: kv did not start"; cat kv.err; exit 1; }

r() { redis-cli -p "$port" "$@" 2>&1; }
expect() { # expected, then the command
    want=$1; shift
    got=$(r "$@")
    [ "$got" = "$want" ] || fail "$* -> '$got', wanted '$want'"
}

expect PONG ping
expect hello ping hello
expect hi echo hi
expect OK set k v
expect v get k
expect "" get missing
expect 1 incr n
expect 2 incr n
expect "ERR value is not an integer or out of range" incr k
expect OK mset a 1 b 2
expect "$(printf '1\n2\n')" mget a b
expect 2 exists a b missing
expect 2 del a b missing
expect 0 exists a
expect OK set t v px 150
expect v get t
sleep 0.3
expect "" get t
expect OK set t v ex 100
expect v get t
expect "ERR syntax error" set t v zz 1
expect "ERR invalid expire time in 'set' command" set t v ex -1
expect "ERR wrong number of arguments for 'get' command" get
expect "ERR unknown command 'frob'" frob

# Pipelining: 2000 requests in one stream, answered in order.
{ for i in $(seq 2000); do printf '*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$1\r\nx\r\n' $(( ${#i} + 1 )) "$i"; done; } |
    redis-cli -p "$port" --pipe > pipe.out 2>&1
grep -q "errors: 0, replies: 2000" pipe.out || fail "pipe: $(cat pipe.out)"
expect x get k1999
exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect"
printf 'PING\r\n*1\r\n$4\r\nPING\r\nGET k1\r\n' >&3
got=$(timeout 2 head -c 21 <&3 | tr -d '\r')
exec 3<&-
[ "$got" = "$(printf '+PONG\n+PONG\n$1\nx')" ] || fail "inline pipelining: '$got'"

# Malformed input: a protocol error ends that connection only; the data
# and the other connections are untouched.
exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect"
printf '*x\r\n' >&3
got=$(timeout 2 cat <&3 | tr -d '\r')
exec 3<&-
[ "$got" = "-ERR Protocol error: invalid multibulk length" ] || fail "malformed: '$got'"
exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect"
printf '*1\r\n$99999999999\r\n' >&3
got=$(timeout 2 cat <&3 | tr -d '\r')
exec 3<&-
[ "$got" = "-ERR Protocol error: invalid bulk length" ] || fail "bad bulk: '$got'"
expect v get k
expect PONG ping

# SIGTERM: an orderly stop, exit 0, nothing listening after.
kill -TERM "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "still running 5 s after SIGTERM"
wait "$pid"; status=$?
[ "$status" = 0 ] || { cat kv.err; fail "exit status $status"; }
grep -q "application=kv event=exit reason=stopped" kv.err || fail "no stop report: $(cat kv.err)"
redis-cli -p "$port" ping >/dev/null 2>&1 && fail "still answering after the stop"
echo "kv: all checks passed"
exit 0
