/* f01: b fails at init: a is stopped, c never starts, start_link fails
 * with {shutdown,{failed_to_start_child,b,nope}}. */
#include "oracle.h"

static bool is_exit(const oak_msg *m, void *arg) { return m->tag == OAK_TAG_EXIT; }

static void scenario(void)
{
    const char *script[] = {"stop:nope"};
    or_set_script("b", 1, script);
    oak_child_spec c[] = {or_w("a"), or_w("b"), or_w("c")};
    oak_pid p = 0;
    oak_reason why;
    int r = or_start_sup("top", or_flags(OAK_ONE_FOR_ONE, 5, 60), c, 3, &p, &why);
    or_ev("start_link top -> %s", or_result(r, p, &why, NULL));
    oak_msg *m = NULL;
    if (oak_receive(&m, 1000, is_exit, NULL) == 0) {
        const oak_down *d = m->data;
        oak_reason_set(&why, d->reason, d->detail);
        or_ev("exit_signal_from %s %s", or_p(m->from), or_r(&why));
        oak_msg_free(m);
    } else {
        or_ev("no_exit_signal");
    }
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
