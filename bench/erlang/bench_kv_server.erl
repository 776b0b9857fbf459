%% kv server for kv_ops: the same RESP2 server as oak's examples/kv, the
%% way it is written in Erlang: gen_tcp in {active, once}, a process per
%% connection parsing with binary matching, the data in a public ETS table
%% (read and write concurrency). PING, ECHO, SET, GET, DEL, EXISTS, INCR,
%% COMMAND: what redis-benchmark sends. The replies of one packet's
%% requests go out in one send (pipelining).
%%   erl -noshell -run bench_kv_server main PORT
-module(bench_kv_server).
-export([main/1]).

main([Port]) ->
    ets:new(kv, [named_table, public, set, {read_concurrency, true},
                 {write_concurrency, true}]),
    {ok, L} = gen_tcp:listen(list_to_integer(Port),
                             [binary, {ip, {127, 0, 0, 1}}, {reuseaddr, true},
                              {backlog, 1024}, {active, false}, {nodelay, true}]),
    io:format("listening ~s~n", [Port]),
    accept(L).

accept(L) ->
    {ok, S} = gen_tcp:accept(L),
    Pid = spawn(fun() -> receive go -> loop(S, <<>>) end end),
    ok = gen_tcp:controlling_process(S, Pid),
    Pid ! go,
    accept(L).

loop(S, Buf) ->
    ok = inet:setopts(S, [{active, once}]),
    receive
        {tcp, S, Data} ->
            case requests(<<Buf/binary, Data/binary>>, []) of
                {ok, Out, Rest} ->
                    gen_tcp:send(S, lists:reverse(Out)),
                    loop(S, Rest);
                {error, Out, Why} ->
                    gen_tcp:send(S, lists:reverse(Out, [<<"-ERR Protocol error: ">>, Why, <<"\r\n">>])),
                    gen_tcp:close(S)
            end;
        {tcp_closed, S} -> ok;
        {tcp_error, S, _} -> gen_tcp:close(S)
    end.

requests(Buf, Out) ->
    case request(Buf) of
        more -> {ok, Out, Buf};
        {error, Why} -> {error, Out, Why};
        {[], Rest} -> requests(Rest, Out);
        {Args, Rest} -> requests(Rest, [run(Args) | Out])
    end.

request(<<$*, _/binary>> = Buf) ->
    case binary:split(Buf, <<"\r\n">>) of
        [_] -> more;
        [<<$*, N/binary>>, Rest] ->
            case catch binary_to_integer(N) of
                C when is_integer(C), C >= 0, C =< 1024 -> bulks(C, Rest, []);
                _ -> {error, <<"invalid multibulk length">>}
            end
    end;
request(Buf) ->
    case binary:split(Buf, <<"\n">>) of
        [_] -> more;
        [Line, Rest] -> {binary:split(string:trim(Line), [<<" ">>, <<"\t">>], [global, trim_all]), Rest}
    end.

bulks(0, Rest, Acc) -> {lists:reverse(Acc), Rest};
bulks(C, Buf, Acc) ->
    case binary:split(Buf, <<"\r\n">>) of
        [_] -> more;
        [<<$$, L/binary>>, Rest] ->
            case catch binary_to_integer(L) of
                Len when is_integer(Len), Len >= 0, Len =< 1048576 ->
                    case Rest of
                        <<Arg:Len/binary, "\r\n", Rest2/binary>> -> bulks(C - 1, Rest2, [Arg | Acc]);
                        _ when byte_size(Rest) < Len + 2 -> more;
                        _ -> {error, <<"expected '\\r\\n'">>}
                    end;
                _ -> {error, <<"invalid bulk length">>}
            end;
        _ -> {error, <<"invalid bulk length">>}
    end.

bulk(V) -> [$$, integer_to_binary(byte_size(V)), <<"\r\n">>, V, <<"\r\n">>].

run([Cmd | Args]) -> command(string:uppercase(Cmd), Args).

command(<<"PING">>, []) -> <<"+PONG\r\n">>;
command(<<"PING">>, [M]) -> bulk(M);
command(<<"ECHO">>, [M]) -> bulk(M);
command(<<"SET">>, [K, V]) -> ets:insert(kv, {K, V}), <<"+OK\r\n">>;
command(<<"GET">>, [K]) ->
    case ets:lookup(kv, K) of
        [{_, V}] -> bulk(V);
        [] -> <<"$-1\r\n">>
    end;
command(<<"DEL">>, Ks) ->
    N = length([K || K <- Ks, ets:take(kv, K) =/= []]),
    [$:, integer_to_binary(N), <<"\r\n">>];
command(<<"EXISTS">>, Ks) ->
    N = length([K || K <- Ks, ets:member(kv, K)]),
    [$:, integer_to_binary(N), <<"\r\n">>];
command(<<"INCR">>, [K]) ->
    N = ets:update_counter(kv, K, 1, {K, 0}),
    [$:, integer_to_binary(N), <<"\r\n">>];
command(<<"COMMAND">>, _) -> <<"*0\r\n">>;
command(<<"CONFIG">>, _) -> <<"*0\r\n">>;
command(_, _) -> <<"-ERR unknown command or wrong number of arguments\r\n">>.
