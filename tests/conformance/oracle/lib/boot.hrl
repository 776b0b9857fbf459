%% Boot for oak's own scenarios: compile and load the shared oracle_lib.erl
%% (OAK_ORACLE, default ../shared/otp-oracle beside the repository), then
%% run scenario/0. Needed only to record .expected files.
-mode(compile).

main(_) ->
    Dir = filename:dirname(escript:script_name()),
    Oracle = case os:getenv("OAK_ORACLE") of
                 false -> filename:join([Dir, "..", "..", "..", "..", "shared", "otp-oracle"]);
                 O -> O
             end,
    Src = filename:join([Oracle, "scenarios", "lib", "oracle_lib.erl"]),
    {ok, M, Bin} = compile:file(Src, [binary, report]),
    {module, M} = code:load_binary(M, Src, Bin),
    oracle_lib:run(fun scenario/0, opts()).
