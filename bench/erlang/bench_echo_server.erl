%% echo server for echo_rtt and conn_mem: gen_tcp in {active, once}, a
%% process per connection that sends back what it receives. Runs until
%% the emulator is killed (bench/net.sh starts and stops it).
%%   erl -noshell -run bench_echo_server main PORT
-module(bench_echo_server).
-export([main/1]).

main([Port]) ->
    {ok, L} = gen_tcp:listen(list_to_integer(Port),
                             [binary, {ip, {127, 0, 0, 1}}, {reuseaddr, true},
                              {backlog, 4096}, {active, false}, {nodelay, true}]),
    io:format("listening ~s~n", [Port]),
    accept(L).

accept(L) ->
    {ok, S} = gen_tcp:accept(L),
    Pid = spawn(fun() -> receive go -> loop(S) end end),
    ok = gen_tcp:controlling_process(S, Pid),
    Pid ! go,
    accept(L).

loop(S) ->
    ok = inet:setopts(S, [{active, once}]),
    receive
        {tcp, S, Data} -> gen_tcp:send(S, Data), loop(S);
        {tcp_closed, S} -> ok;
        {tcp_error, S, _} -> gen_tcp:close(S)
    end.
