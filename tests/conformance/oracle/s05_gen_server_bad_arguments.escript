#!/usr/bin/env escript
%% gen_server:stop on the caller itself exits calling_self; a call with a
%% negative timeout is rejected before anything is sent (the server never
%% sees it and keeps running).
-include("lib/boot.hrl").
opts() -> #{}.
scenario() ->
    O = oracle_lib,
    {ok, P} = O:start_worker_nolink(s, #{}),
    Ref = monitor(process, P),
    O:api([stop, self], fun() -> gen_server:stop(self()) end),
    O:api([call, s, ping, timeout, -5], fun() -> try gen_server:call(P, ping, -5) catch error:E -> {error, E} end end),
    O:api([call, s, ping], fun() -> gen_server:call(P, ping) end),
    O:api([stop, s], fun() -> gen_server:stop(P) end),
    O:await_down(Ref, s).
