/* s04: the gen_server terminate report of a callback that crashed
 * (oak_gen_server_exit) carries {R,_}; terminate and the exit get the bare
 * R; a {stop, R} result reports the bare R; no reason is wrapped twice. */
#include "oracle.h"

#include <string.h>

static void one(const char *id, const char *tag, const char *arg)
{
    oak_pid p = 0;
    or_worker_start(id, NULL, 0, &p, NULL);
    oak_ref ref = or_watch(p);
    oak_msg *m = NULL;
    oak_reason why;
    int r = oak_gen_server_call(p, oak_atom_from(tag), arg, strlen(arg), &m,
                                OAK_GEN_CALL_TIMEOUT, &why);
    if (r == 0) {
        or_ev("call %s {%s,%s} -> reply", id, tag, arg);
        oak_msg_free(m);
    } else {
        or_ev("call %s {%s,%s} -> {exit,%s}", id, tag, arg, or_r(&why));
    }
    or_await_down(ref, id);
    or_settle(150);
}

static void scenario(void)
{
    one("a", "crash", "boom");
    one("b", "stop_noreply", "boom");
    one("c", "crash", "{boom,detail}");
    one("d", "stop_noreply", "{boom,detail}");
}

int main(void) { return or_run(scenario, OR_REPORT_CRASH); }
