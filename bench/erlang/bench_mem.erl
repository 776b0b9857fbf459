%% mem: N idle processes (1,000,000 by default) blocked in receive; resident
%% bytes per process. VmRSS is read before the first spawn and again once
%% every process has reached its receive (each bumps a counter just before
%% it blocks) and a further 100 ms have passed. The parent keeps every pid.
%% Arguments: N [Label]; Label defaults to mem.
-module(bench_mem).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    N = bench_util:arg(Args, 1, 1000000),
    Label = case Args of [_, L | _] -> L; _ -> "mem" end,
    Ready = atomics:new(1, []),
    Before = bench_util:rss_bytes(),
    Pids = spawn_n(Ready, N, []),
    wait_ready(Ready, N, bench_util:now_ns() + 60000000000),
    timer:sleep(100),
    After = bench_util:rss_bytes(),
    length(Pids) =:= N orelse bench_util:fail("mem: ~p pids", [length(Pids)]),
    Alive = erlang:system_info(process_count),
    Alive >= N orelse bench_util:fail("mem: ~p processes alive", [Alive]),
    bench_util:result(Label, round((After - Before) / N), 'B').

spawn_n(_Ready, 0, Acc) -> Acc;
spawn_n(Ready, N, Acc) ->
    Pid = spawn(fun() -> atomics:add(Ready, 1, 1), receive stop -> ok end end),
    spawn_n(Ready, N - 1, [Pid | Acc]).

wait_ready(Ready, N, Deadline) ->
    case atomics:get(Ready, 1) of
        N -> ok;
        K ->
            bench_util:now_ns() < Deadline orelse
                bench_util:fail("mem: only ~p of ~p processes started", [K, N]),
            timer:sleep(1),
            wait_ready(Ready, N, Deadline)
    end.
