%% pingpong: two processes exchange a small message (an integer) N round
%% trips (1,000,000 by default). Ping checks every reply.
-module(bench_pingpong).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    N = bench_util:arg(Args, 1, 1000000),
    Pong = spawn(fun pong/0),
    T0 = bench_util:now_ns(),
    ping(Pong, 1, N),
    T = bench_util:now_ns() - T0,
    Pong ! stop,
    bench_util:result(pingpong, T / N, ns).

ping(_Pong, I, N) when I > N -> ok;
ping(Pong, I, N) ->
    Pong ! {self(), I},
    receive
        I -> ping(Pong, I + 1, N);
        Other -> bench_util:fail("pingpong: got ~p, expected ~p", [Other, I])
    end.

pong() ->
    receive
        {From, I} -> From ! I, pong();
        stop -> ok
    end.
