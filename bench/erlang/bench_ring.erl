%% ring: R processes (10,000 by default) in a ring; a token is passed H hops
%% (1,000,000 by default). The token carries the hops still to go; the
%% process that gets it at 0 reports its position, which must be H rem R
%% (the token starts at position 0).
-module(bench_ring).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    R = bench_util:arg(Args, 1, 10000),
    H = bench_util:arg(Args, 2, 1000000),
    Main = self(),
    Last = spawn(fun() -> receive {next, Next} -> member(R - 1, Next, Main) end end),
    First = lists:foldl(fun(Pos, Next) -> spawn(fun() -> member(Pos, Next, Main) end) end,
                        Last, lists:seq(R - 2, 0, -1)),
    Last ! {next, First},
    T0 = bench_util:now_ns(),
    First ! H,
    receive
        {done, Pos} ->
            T = bench_util:now_ns() - T0,
            Pos =:= H rem R orelse
                bench_util:fail("ring: token ended at ~p, expected ~p", [Pos, H rem R]),
            bench_util:result(ring, T / H, ns)
    end.

member(Pos, Next, Main) ->
    receive
        0 -> Main ! {done, Pos};
        Left -> Next ! Left - 1, member(Pos, Next, Main)
    end.
