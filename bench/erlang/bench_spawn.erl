%% spawn: N processes (1,000,000 by default) that exit at once, spawned and
%% waited for: each sends `done` to its parent and returns; the parent spawns
%% them all, then receives the N messages. The parent keeps its message queue
%% off its heap, as the efficiency guide advises for a process that gets a
%% flood of messages: otherwise every garbage collection of the parent
%% (spawning allocates) walks the up to N queued messages.
-module(bench_spawn).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    N = bench_util:arg(Args, 1, 1000000),
    process_flag(message_queue_data, off_heap),
    Parent = self(),
    T0 = bench_util:now_ns(),
    spawn_n(Parent, N),
    collect(N),
    T = bench_util:now_ns() - T0,
    receive Stray -> bench_util:fail("spawn: stray message ~p", [Stray])
    after 0 -> ok
    end,
    bench_util:result(spawn, T / N, ns).

spawn_n(_Parent, 0) -> ok;
spawn_n(Parent, N) ->
    spawn(fun() -> Parent ! done end),
    spawn_n(Parent, N - 1).

collect(0) -> ok;
collect(N) ->
    receive done -> collect(N - 1) end.
