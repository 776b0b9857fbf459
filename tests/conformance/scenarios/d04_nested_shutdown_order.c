/* d04: reverse start order, depth first; terminate_child and restart_child
 * of a sub-supervisor. */
#include "oracle.h"

static void scenario(void)
{
    oak_child_spec b[] = {or_w("b1"), or_w("b2"), or_w("b3")};
    oak_child_spec c[] = {or_w("a"), or_sup("sub", or_flags(OAK_ONE_FOR_ONE, 1, 60), b, 3),
                          or_w("c")};
    or_top("top", or_flags(OAK_ONE_FOR_ONE, 5, 60), c, 3);
    oak_pid top = or_pid_of("top"), p = 0;
    oak_reason why;
    int r = oak_supervisor_terminate_child(top, oak_atom_from("sub"));
    or_ev("terminate_child sub -> %s", or_result(r, 0, NULL, NULL));
    or_show_children("top");
    r = oak_supervisor_restart_child(top, oak_atom_from("sub"), &p, &why);
    or_ev("restart_child sub -> %s", or_result(r, p, &why, NULL));
    or_show_counts("top");
    or_stop_top("top", "shutdown");
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
