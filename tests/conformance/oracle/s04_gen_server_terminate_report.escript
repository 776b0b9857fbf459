#!/usr/bin/env escript
%% The gen_server terminate error report of a callback that calls exit(R)
%% carries {R, Stacktrace}, while terminate/2 and the exit reason get the
%% bare R; a {stop, R} return reports the bare R. A reason that already has
%% the {R, _} shape is not wrapped again.
-include("lib/boot.hrl").
opts() -> #{reports => [crash]}.
one(Id, Req) ->
    O = oracle_lib,
    {ok, P} = O:start_worker_nolink(Id, #{name => Id}),
    Ref = monitor(process, P),
    O:api([call, Id, Req], fun() -> gen_server:call(P, Req) end),
    O:await_down(Ref, Id),
    O:settle().
scenario() ->
    one(a, {crash, boom}),
    one(b, {stop_noreply, boom}),
    one(c, {crash, {boom, detail}}),
    one(d, {stop_noreply, {boom, detail}}).
