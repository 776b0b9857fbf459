/* s01: an unknown call or cast to a supervisor makes it exit
 * {function_clause,_}, seen by the caller and by links and monitors. */
#include "oracle.h"

static bool exit_from(const oak_msg *m, void *arg)
{
    return m->tag == OAK_TAG_EXIT && m->from == *(const oak_pid *)arg;
}

static void exit_signal(const char *id, oak_pid from)
{
    oak_msg *m = NULL;
    if (oak_receive(&m, 2000, exit_from, &from) != 0) {
        or_ev("no_exit_signal");
        return;
    }
    oak_reason r;
    const oak_down *d = m->data;
    oak_reason_set(&r, d->reason, d->detail);
    or_ev("exit_signal %s %s", id, or_r(&r));
    oak_msg_free(m);
}

static void scenario(void)
{
    oak_child_spec a[] = {or_w("a")};
    or_top("top", or_flags(OAK_ONE_FOR_ONE, 1, 5), a, 1);
    oak_pid top = or_pid_of("top");
    oak_msg *m = NULL;
    oak_reason why;
    int r = oak_gen_server_call(top, oak_atom_from("unknown_request"), NULL, 0, &m,
                                OAK_GEN_CALL_TIMEOUT, &why);
    if (r == 0) {
        or_ev("call top unknown_request -> %.*s", (int)m->size, (const char *)m->data);
        oak_msg_free(m);
    } else {
        or_ev("call top unknown_request -> {exit,%s}", or_r(&why));
    }
    exit_signal("top", top);
    or_await_top("top");

    oak_child_spec b[] = {or_w("b")};
    or_top("top2", or_flags(OAK_ONE_FOR_ONE, 1, 5), b, 1);
    oak_pid top2 = or_pid_of("top2");
    or_ev("cast top2 unknown_cast");
    oak_gen_server_cast(top2, oak_atom_from("unknown_cast"), NULL, 0);
    or_await_top("top2");
    exit_signal("top2", top2);
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
