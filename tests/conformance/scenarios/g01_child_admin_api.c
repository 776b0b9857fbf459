/* g01: every return of terminate/restart/delete/get_childspec on a
 * one_for_one supervisor; a pid is not accepted by terminate_child. */
#include "oracle.h"

static oak_pid top;
static oak_reason why;

static void restart(const char *id)
{
    oak_pid p = 0;
    int r = oak_supervisor_restart_child(top, oak_atom_from(id), &p, &why);
    or_ev("restart_child %s -> %s", id, or_result(r, p, &why, NULL));
}
static void del(const char *id)
{
    int r = oak_supervisor_delete_child(top, oak_atom_from(id));
    or_ev("delete_child %s -> %s", id, or_result(r, 0, NULL, NULL));
}
static void term(const char *desc, const char *id)
{
    int r = oak_supervisor_terminate_child(top, oak_atom_from(id));
    or_ev("terminate_child %s -> %s", desc, or_result(r, 0, NULL, NULL));
}
static void getspec(const char *id)
{
    oak_child_spec s;
    oak_msg *h = NULL;
    int r = oak_supervisor_get_childspec(top, oak_atom_from(id), &s, &h);
    if (r == 0)
        or_ev("get_childspec %s -> {ok,%s}", id, or_childspec(&s));
    else
        or_ev("get_childspec %s -> %s", id, or_result(r, 0, NULL, NULL));
    oak_msg_free(h);
}

static void scenario(void)
{
    oak_child_spec b = or_w("b"), c = or_w("c");
    b.shutdown = OAK_BRUTAL_KILL;
    b.restart = OAK_TRANSIENT;
    c.restart = OAK_TEMPORARY;
    oak_child_spec ch[] = {or_w("a"), b, c};
    or_top("top", or_flags(OAK_ONE_FOR_ONE, 5, 60), ch, 3);
    top = or_pid_of("top");
    restart("a");
    del("a");
    term("a", "a");
    term("a", "a");
    or_show_children("top");
    or_show_counts("top");
    restart("a");
    term("a", "a");
    del("a");
    del("a");
    restart("a");
    term("a", "a");
    int r = oak_supervisor_terminate_child_pid(top, or_pid_of("b"));
    or_ev("terminate_child pid_of_b -> %s", or_result(r, 0, NULL, NULL));
    getspec("b");
    getspec("zzz");
    term("c_temporary", "c");
    oak_pid p = 0;
    r = oak_supervisor_restart_child(top, oak_atom_from("c"), &p, &why);
    or_ev("restart_child c_temporary -> %s", or_result(r, p, &why, NULL));
    or_show_children("top");
    or_show_counts("top");
    or_stop_top("top", "shutdown");
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
