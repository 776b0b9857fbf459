%% fair_rtt: one busy looper per scheduler, and beside them a ping-pong
%% pair: N round trips (2,000 by default), the 99th percentile of their
%% round-trip times in microseconds.
-module(bench_fair_rtt).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    N = bench_util:arg(Args, 1, 2000),
    Loopers = [spawn(fun() -> loop(0) end) || _ <- lists:seq(1, erlang:system_info(schedulers))],
    Pong = spawn(fun pong/0),
    timer:sleep(50),
    Rtts = lists:sort(trips(Pong, N, [])),
    P99 = lists:nth(trunc(N * 0.99) + 1, Rtts),
    [exit(L, kill) || L <- Loopers],
    Pong ! stop,
    bench_util:result(fair_rtt, P99 / 1000, us).

trips(_Pong, 0, Acc) -> Acc;
trips(Pong, K, Acc) ->
    T0 = bench_util:now_ns(),
    Pong ! {self(), K},
    receive K -> ok end,
    trips(Pong, K - 1, [bench_util:now_ns() - T0 | Acc]).

loop(X) -> loop(X + 1).

pong() ->
    receive
        {From, I} -> From ! I, pong();
        stop -> ok
    end.
