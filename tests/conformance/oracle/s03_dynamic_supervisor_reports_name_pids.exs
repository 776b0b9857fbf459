# DynamicSupervisor (Elixir 1.14) names a child by its pid in reports: a
# failed restart is a start_error whose offender is {restarting, OldPid}
# (the pid the child had before it crashed), and the shutdown report when
# the intensity is exceeded names the child's last pid.
Code.require_file("lib/oracle.exs", __DIR__)

Oracle.run(fn ->
  {:ok, sup} = DynamicSupervisor.start_link(strategy: :one_for_one, max_restarts: 2, max_seconds: 60)
  Oracle.label(sup, "dsup")
  ref = Oracle.watch(sup)
  :oracle_lib.set_script(:a, [:ok, {:stop, :nope}, :ok])
  Oracle.api([:start_child, :a], fn -> DynamicSupervisor.start_child(sup, Oracle.w(:a)) end)
  Oracle.crash(:a)
  Oracle.api([:which_children], fn -> Oracle.which(sup) end)
  Oracle.crash(:a)
  Oracle.await(ref, :dsup)
end, %{reports: [:supervisor]})
