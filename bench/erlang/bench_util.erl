%% Helpers shared by the Erlang benchmark programs: arguments, the clock,
%% VmRSS, the RESULT line and loud failure.
-module(bench_util).
-export([arg/3, now_ns/0, rss_bytes/0, result/3, fail/2]).

%% Nth command-line argument (from `erl -run Mod main A1 A2 ...`) as a
%% positive integer, or Default.
arg(Args, N, Default) when length(Args) < N -> Default;
arg(Args, N, _Default) ->
    case string:to_integer(lists:nth(N, Args)) of
        {V, ""} when V > 0 -> V;
        _ -> fail("bad argument ~s", [lists:nth(N, Args)])
    end.

now_ns() -> erlang:monotonic_time(nanosecond).

%% VmRSS of the emulator, in bytes, read the way every other program of the
%% benchmark reads it.
rss_bytes() ->
    {ok, Status} = file:read_file("/proc/self/status"),
    {match, [Kb]} = re:run(Status, "VmRSS:\\s+(\\d+) kB",
                           [{capture, all_but_first, list}]),
    list_to_integer(Kb) * 1024.

%% Print the RESULT line and stop the emulator with status 0.
result(Figure, Value, Unit) ->
    io:format("RESULT erlang.~s ~s ~s~n", [Figure, format(Value), Unit]),
    erlang:halt(0).

format(V) when is_integer(V) -> integer_to_list(V);
format(V) -> float_to_list(V, [{decimals, 1}]).

fail(Fmt, Args) ->
    io:format(standard_error, "FAIL " ++ Fmt ++ "~n", Args),
    erlang:halt(1).
