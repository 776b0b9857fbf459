/* b02: a transient child is restarted only on an abnormal exit. */
#include "oracle.h"

static oak_child_spec tr(const char *id)
{
    oak_child_spec s = or_w(id);
    s.restart = OAK_TRANSIENT;
    return s;
}

static void scenario(void)
{
    oak_child_spec c[] = {tr("a"), tr("b"), tr("c"), tr("d")};
    or_top("top", or_flags(OAK_ONE_FOR_ONE, 10, 60), c, 4);
    or_exit_child("a", "normal");
    or_exit_child("b", "shutdown");
    or_exit_child("c", "{shutdown,bye}");
    or_crash("d", "boom");
    or_show_children("top");
    or_show_counts("top");
    oak_pid top = or_pid_of("top"), p;
    oak_reason why;
    int r = oak_supervisor_restart_child(top, oak_atom_from("a"), &p, &why);
    or_ev("restart_child a -> %s", or_result(r, p, &why, NULL));
    r = oak_supervisor_restart_child(top, oak_atom_from("a"), &p, &why);
    or_ev("restart_child a -> %s", or_result(r, p, &why, NULL));
    r = oak_supervisor_delete_child(top, oak_atom_from("b"));
    or_ev("delete_child b -> %s", or_result(r, 0, NULL, NULL));
    or_show_children("top");
    or_stop_top("top", "shutdown");
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
