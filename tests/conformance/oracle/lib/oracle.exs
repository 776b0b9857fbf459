# Boot for oak's own Elixir scenarios: loads the shared lib/oracle.exs
# (OAK_ORACLE, default ../shared/otp-oracle beside the repository).
# Needed only to record .expected files.
oracle = System.get_env("OAK_ORACLE") || Path.join(__DIR__, "../../../../../shared/otp-oracle")
Code.require_file(Path.join([oracle, "scenarios", "lib", "oracle.exs"]))
