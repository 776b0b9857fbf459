#!/usr/bin/env escript
%% supervisor:check_childspecs/2 rejects a bad auto_shutdown before it looks
%% at the specs; check_childspecs/1 (auto_shutdown undefined) checks
%% significant only against restart permanent.
-include("lib/boot.hrl").
opts() -> #{}.
scenario() ->
    O = oracle_lib,
    Sig = maps:merge(O:w(a), #{significant => true, restart => transient}),
    SigPerm = maps:merge(O:w(a), #{significant => true}),
    Bad = #{id => b},
    O:api([check_childspecs, valid, bad_auto_shutdown], fun() -> supervisor:check_childspecs([O:w(a)], 7) end),
    O:api([check_childspecs, invalid, bad_auto_shutdown], fun() -> supervisor:check_childspecs([Bad], 7) end),
    O:api([check_childspecs_1, significant_transient], fun() -> supervisor:check_childspecs([Sig]) end),
    O:api([check_childspecs_1, significant_permanent], fun() -> supervisor:check_childspecs([SigPerm]) end),
    O:api([check_childspecs_1, missing_start], fun() -> supervisor:check_childspecs([Bad]) end),
    O:api([check_childspecs, never, significant_transient], fun() -> supervisor:check_childspecs([Sig], never) end),
    O:api([check_childspecs, any_significant, significant_transient], fun() -> supervisor:check_childspecs([Sig], any_significant) end).
