%% kill_spinner: N rounds (200 by default) of: spawn a process that spins in
%% a loop, let it spin 5 ms, then exit(Pid, kill) and wait for its DOWN.
%% Mean microseconds from the kill to the DOWN.
-module(bench_kill_spinner).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    N = bench_util:arg(Args, 1, 200),
    Total = rounds(N, 0),
    bench_util:result(kill_spinner, Total / N / 1000, us).

rounds(0, Acc) -> Acc;
rounds(K, Acc) ->
    Self = self(),
    {Pid, Ref} = spawn_monitor(fun() -> Self ! spinning, spin(0) end),
    receive spinning -> ok end,
    timer:sleep(5),
    T0 = bench_util:now_ns(),
    exit(Pid, kill),
    receive
        {'DOWN', Ref, process, Pid, killed} -> ok
    after 10000 -> bench_util:fail("kill_spinner: no DOWN", [])
    end,
    rounds(K - 1, Acc + (bench_util:now_ns() - T0)).

spin(X) -> spin(X + 1).
