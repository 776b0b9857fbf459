%% The worker of bench_restart: tells the client when it is up, answers
%% `ping`, and crashes when it gets the cast `crash`.
-module(bench_restart_worker).
-behaviour(gen_server).
-export([start_link/1]).
-export([init/1, handle_call/3, handle_cast/2]).

start_link(Client) ->
    gen_server:start_link(?MODULE, Client, []).

init(Client) ->
    Client ! {up, self()},
    {ok, Client}.

handle_call(ping, _From, Client) ->
    {reply, pong, Client}.

handle_cast(crash, _Client) ->
    erlang:error(crash_requested).
