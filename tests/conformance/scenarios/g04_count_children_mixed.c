/* g04: count_children arithmetic with running, terminated and ignored
 * workers and supervisors. */
#include "oracle.h"

static void scenario(void)
{
    const char *ign[] = {"ignore"};
    or_set_script("w3", 1, ign);
    oak_child_spec x[] = {or_w("x")};
    oak_child_spec c[] = {or_w("w1"), or_w("w2"), or_w("w3"),
                          or_sup("sub1", or_flags(OAK_ONE_FOR_ONE, 1, 5), x, 1),
                          or_sup("sub2", or_flags(OAK_ONE_FOR_ONE, 1, 5), NULL, 0)};
    or_top("top", or_flags(OAK_ONE_FOR_ONE, 5, 60), c, 5);
    oak_pid top = or_pid_of("top");
    or_show_counts("top");
    int r = oak_supervisor_terminate_child(top, oak_atom_from("w1"));
    or_ev("terminate_child w1 -> %s", or_result(r, 0, NULL, NULL));
    r = oak_supervisor_terminate_child(top, oak_atom_from("sub2"));
    or_ev("terminate_child sub2 -> %s", or_result(r, 0, NULL, NULL));
    or_show_counts("top");
    or_show_children("top");
    or_stop_top("top", "shutdown");
}

int main(void) { return or_run(scenario, 0); }
