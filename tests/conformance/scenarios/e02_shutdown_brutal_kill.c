/* e02: brutal_kill: no terminate, reason killed, no report. */
#include "oracle.h"

static void scenario(void)
{
    oak_child_spec a = or_w("a"), b = or_w("b");
    a.shutdown = OAK_BRUTAL_KILL;
    b.shutdown = OAK_BRUTAL_KILL;
    oak_child_spec c[] = {a, b, or_w("c")};
    or_top("top", or_flags(OAK_ONE_FOR_ONE, 5, 60), c, 3);
    oak_ref rb = or_watch(or_pid_of("b"));
    int r = oak_supervisor_terminate_child(or_pid_of("top"), oak_atom_from("b"));
    or_ev("terminate_child b -> %s", or_result(r, 0, NULL, NULL));
    or_await_down(rb, "b");
    oak_ref ra = or_watch(or_pid_of("a"));
    or_stop_top("top", "shutdown");
    or_await_down(ra, "a");
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
