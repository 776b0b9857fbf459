/* s03: a DynamicSupervisor names a child by pid in its reports: a failed
 * restart is a start_error with offender {restarting, OldPid}, and the
 * shutdown report when intensity is exceeded names the child's last pid. */
#include "oracle.h"

static void scenario(void)
{
    oak_supervisor_def def = {.flags = or_flags(OAK_DYNAMIC, 2, 60)};
    oak_pid dsup = 0;
    oak_supervisor_start(&def, OAK_GEN_LINK, &dsup, NULL);
    or_label(dsup, "dsup");
    oak_ref ref = or_watch(dsup);
    const char *script[] = {"ok", "stop:nope", "ok"};
    or_set_script("a", 3, script);
    oak_child_spec a = or_w("a");
    oak_pid p = 0;
    oak_reason why;
    int r = oak_supervisor_start_child(dsup, &a, &p, &why);
    or_ev("start_child a -> %s", or_result(r, p, &why, NULL));
    or_crash("a", "boom");
    oak_child_info v[4];
    int n = oak_supervisor_which_children(dsup, v, 4);
    or_ev("which_children -> [{undefined,%s,worker}]", n == 1 ? or_p(v[0].pid) : "?");
    or_crash("a", "boom");
    or_await_sup(ref, "dsup");
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
