%% wake_hibernated: N synchronous gen_server calls (1,000,000 by default)
%% to a server that hibernates after every request ({reply, R, S,
%% hibernate}). The server adds to a counter and replies with the total;
%% every answer must be the count so far. Compare with bench_call.
-module(bench_wake_hibernated).
-behaviour(gen_server).
-export([main/0, main/1]).
-export([init/1, handle_call/3, handle_cast/2]).

main() -> main([]).

main(Args) ->
    N = bench_util:arg(Args, 1, 1000000),
    {ok, Server} = gen_server:start_link(?MODULE, 0, []),
    T0 = bench_util:now_ns(),
    calls(Server, 1, N),
    T = bench_util:now_ns() - T0,
    bench_util:result(wake_hibernated, T / N, ns).

calls(_Server, I, N) when I > N -> ok;
calls(Server, I, N) ->
    case gen_server:call(Server, {add, 1}) of
        I -> calls(Server, I + 1, N);
        Other -> bench_util:fail("wake_hibernated: got ~p, expected ~p", [Other, I])
    end.

init(Total) -> {ok, Total, hibernate}.

handle_call({add, X}, _From, Total) ->
    {reply, Total + X, Total + X, hibernate}.

handle_cast(_Msg, Total) -> {noreply, Total, hibernate}.
