%% restart: a one_for_one supervisor whose worker (bench_restart_worker, a
%% gen_server) crashes on request. One cycle: the client casts `crash` to the
%% worker, the worker raises an error, the supervisor restarts it, the new
%% worker's init tells the client it is up, and the client makes a call to
%% it, which must answer. Intensity is high enough never to trip. N cycles
%% (100,000 by default).
%%
%% Arguments: N [reports|quiet]. `reports` (the default) keeps the logger as
%% OTP ships it: crash reports, the gen_server's error report and the
%% supervisor's child_terminated report, written by the default handler to
%% standard output with its default overload protection. `quiet` sets the
%% logger's primary level to none first; the figure is then restart_quiet.
-module(bench_restart).
-behaviour(supervisor).
-export([main/0, main/1]).
-export([init/1]).

main() -> main([]).

main(Args) ->
    N = bench_util:arg(Args, 1, 100000),
    Figure = case Args of
                 [_, "quiet" | _] -> logger:set_primary_config(level, none),
                                     restart_quiet;
                 [_, "reports" | _] -> restart;
                 [_, Other | _] -> bench_util:fail("restart: bad mode ~s", [Other]);
                 _ -> restart
             end,
    {ok, Sup} = supervisor:start_link(?MODULE, self()),
    First = receive {up, P} -> P end,
    T0 = bench_util:now_ns(),
    Last = cycles(First, N),
    T = bench_util:now_ns() - T0,
    [{worker, Last, worker, _}] = supervisor:which_children(Sup),
    bench_util:result(Figure, T / N / 1000, us).

cycles(Worker, 0) -> Worker;
cycles(Worker, K) ->
    gen_server:cast(Worker, crash),
    New = receive {up, P} -> P end,
    New =/= Worker orelse bench_util:fail("restart: same pid after restart", []),
    pong = gen_server:call(New, ping),
    cycles(New, K - 1).

init(Client) ->
    Flags = #{strategy => one_for_one, intensity => 1000000, period => 1},
    Child = #{id => worker,
              start => {bench_restart_worker, start_link, [Client]},
              restart => permanent,
              type => worker},
    {ok, {Flags, [Child]}}.
