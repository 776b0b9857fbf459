%% mem_hibernated: N idle gen_servers (1,000,000 by default), each
%% hibernated from its init ({ok, State, hibernate}); resident bytes per
%% server. VmRSS is read before the first start and again once every server
%% has started (gen_server:start returns after init) and a further 100 ms
%% have passed. The parent keeps every pid.
-module(bench_mem_hibernated).
-behaviour(gen_server).
-export([main/0, main/1]).
-export([init/1, handle_call/3, handle_cast/2]).

main() -> main([]).

main(Args) ->
    N = bench_util:arg(Args, 1, 1000000),
    Before = bench_util:rss_bytes(),
    Pids = start_n(N, []),
    timer:sleep(100),
    After = bench_util:rss_bytes(),
    length(Pids) =:= N orelse bench_util:fail("mem_hibernated: ~p pids", [length(Pids)]),
    bench_util:result(mem_hibernated, round((After - Before) / N), 'B').

start_n(0, Acc) -> Acc;
start_n(N, Acc) ->
    {ok, Pid} = gen_server:start(?MODULE, 0, []),
    start_n(N - 1, [Pid | Acc]).

init(Count) -> {ok, Count, hibernate}.

handle_call(_Req, _From, Count) -> {reply, Count, Count, hibernate}.

handle_cast(_Msg, Count) -> {noreply, Count, hibernate}.
