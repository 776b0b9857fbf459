/* b03: a temporary child is never restarted; its spec goes when it exits. */
#include "oracle.h"

static oak_child_spec tmp(const char *id)
{
    oak_child_spec s = or_w(id);
    s.restart = OAK_TEMPORARY;
    return s;
}

static void scenario(void)
{
    oak_child_spec c[] = {tmp("a"), tmp("b"), or_w("c")};
    or_top("top", or_flags(OAK_ONE_FOR_ONE, 10, 60), c, 3);
    or_crash("a", "boom");
    or_exit_child("b", "normal");
    or_show_children("top");
    or_show_counts("top");
    oak_pid top = or_pid_of("top"), p = 0;
    oak_atom a = oak_atom_from("a");
    oak_reason why;
    int r = oak_supervisor_restart_child(top, a, &p, &why);
    or_ev("restart_child a -> %s", or_result(r, p, &why, NULL));
    r = oak_supervisor_delete_child(top, a);
    or_ev("delete_child a -> %s", or_result(r, 0, NULL, NULL));
    oak_child_spec s;
    oak_msg *h = NULL;
    r = oak_supervisor_get_childspec(top, a, &s, &h);
    or_ev("get_childspec a -> %s", or_result(r, 0, NULL, NULL));
    oak_msg_free(h);
    or_stop_top("top", "shutdown");
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
