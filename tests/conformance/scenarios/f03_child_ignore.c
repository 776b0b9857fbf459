/* f03: ignore: permanent spec kept with pid undefined, temporary dropped;
 * restart_child; start_child {ok,undefined} / already_present. */
#include "oracle.h"

static void scenario(void)
{
    const char *ign[] = {"ignore"};
    or_set_script("b", 1, ign);
    or_set_script("t", 1, ign);
    oak_child_spec t = or_w("t");
    t.restart = OAK_TEMPORARY;
    oak_child_spec c[] = {or_w("a"), or_w("b"), t, or_w("c")};
    or_top("top", or_flags(OAK_ONE_FOR_ONE, 5, 60), c, 4);
    or_show_children("top");
    or_show_counts("top");
    oak_pid top = or_pid_of("top"), p = 0;
    oak_reason why;
    int r = oak_supervisor_restart_child(top, oak_atom_from("b"), &p, &why);
    or_ev("restart_child b -> %s", or_result(r, p, &why, NULL));
    or_show_children("top");
    or_set_script("d", 1, ign);
    oak_child_spec d = or_w("d");
    r = oak_supervisor_start_child(top, &d, &p, &why);
    or_ev("start_child d -> %s", or_result(r, p, &why, "d"));
    r = oak_supervisor_start_child(top, &d, &p, &why);
    or_ev("start_child d -> %s", or_result(r, p, &why, "d"));
    or_set_script("e", 1, ign);
    oak_child_spec e = or_w("e");
    e.restart = OAK_TEMPORARY;
    r = oak_supervisor_start_child(top, &e, &p, &why);
    or_ev("start_child e_temporary -> %s", or_result(r, p, &why, "e"));
    or_show_children("top");
    or_stop_top("top", "shutdown");
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
