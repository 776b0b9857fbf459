%% os_spawn: start a program and see it exit, N times (10,000 by default),
%% one after the other: open_port({spawn_executable, Prog}, [exit_status])
%% and wait for {Port, {exit_status, 0}}. Prog is /bin/true unless given.
-module(bench_os_spawn).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    N = bench_util:arg(Args, 1, 10000),
    Prog = case Args of [_, P | _] -> P; _ -> "/bin/true" end,
    T0 = bench_util:now_ns(),
    loop(Prog, N),
    T = bench_util:now_ns() - T0,
    bench_util:result(os_spawn, T / N / 1000, us).

loop(_Prog, 0) -> ok;
loop(Prog, N) ->
    Port = open_port({spawn_executable, Prog}, [exit_status]),
    receive
        {Port, {exit_status, 0}} -> loop(Prog, N - 1);
        {Port, {exit_status, S}} -> bench_util:fail("os_spawn: ~s exited ~p", [Prog, S])
    after 10000 -> bench_util:fail("os_spawn: no exit_status from ~s", [Prog])
    end.
