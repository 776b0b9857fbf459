%% skynet: a 10-ary tree of processes with 1,000,000 leaves; leaf I sends I
%% to its parent, every inner process sends the sum of its 10 children up.
%% The root's sum must be 499999500000.
-module(bench_skynet).
-export([main/0, main/1]).

-define(DIV, 10).

main() -> main([]).

main(Args) ->
    N = bench_util:arg(Args, 1, 1000000),
    Self = self(),
    T0 = bench_util:now_ns(),
    spawn(fun() -> skynet(Self, 0, N) end),
    receive
        Sum ->
            T = bench_util:now_ns() - T0,
            Want = N * (N - 1) div 2,
            Sum =:= Want orelse
                bench_util:fail("skynet: sum ~p, expected ~p", [Sum, Want]),
            bench_util:result(skynet, T / 1000000, ms)
    end.

skynet(Parent, Num, 1) ->
    Parent ! Num;
skynet(Parent, Num, Size) ->
    Self = self(),
    Sub = Size div ?DIV,
    [spawn(fun() -> skynet(Self, Num + I * Sub, Sub) end) || I <- lists:seq(0, ?DIV - 1)],
    Parent ! collect(?DIV, 0).

collect(0, Sum) -> Sum;
collect(K, Sum) ->
    receive V -> collect(K - 1, Sum + V) end.
