#!/usr/bin/env escript
%% An unknown call to a supervisor makes it exit {function_clause,_}: the
%% caller's call exits with it and the linked driver gets the EXIT signal.
%% The same for an unknown cast, seen by a monitor.
-include("lib/boot.hrl").
opts() -> #{reports => [supervisor]}.
scenario() ->
    O = oracle_lib,
    {ok, Top} = O:top(top, #{strategy => one_for_one, intensity => 1, period => 5}, [O:w(a)]),
    O:api([call, top, unknown_request], fun() -> gen_server:call(Top, unknown_request) end),
    receive {'EXIT', Top, R1} -> O:ev([exit_signal, top, R1]) after 2000 -> O:ev([no_exit_signal]) end,
    O:await_top(top),
    {ok, Top2} = O:top(top2, #{strategy => one_for_one, intensity => 1, period => 5}, [O:w(b)]),
    O:ev([cast, top2, unknown_cast]),
    gen_server:cast(Top2, unknown_cast),
    O:await_top(top2),
    receive {'EXIT', Top2, R2} -> O:ev([exit_signal, top2, R2]) after 2000 -> O:ev([no_exit_signal]) end.
