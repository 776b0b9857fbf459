/* s05: gen_server stop on the caller itself is calling_self; a call with a
 * negative timeout is rejected before anything is sent (OTP: the caller
 * exits function_clause; oak: -EINVAL) and the server runs on. */
#include "oracle.h"

#include <stdio.h>

static const char *call_result(int r, oak_msg *m, const oak_reason *why)
{
    static char b[256];
    if (r == 0)
        snprintf(b, sizeof b, "%.*s", (int)m->size, (const char *)m->data);
    else if (r == -EINVAL) /* gen:call has no clause for the timeout */
        snprintf(b, sizeof b, "{exit,{function_clause,_}}");
    else
        snprintf(b, sizeof b, "{exit,%s}", or_r(why));
    oak_msg_free(m);
    return b;
}

static void scenario(void)
{
    oak_pid p = 0;
    or_worker_start("s", NULL, 0, &p, NULL);
    oak_ref ref = or_watch(p);
    oak_reason why;
    int r = oak_gen_server_stop(oak_self(), OAK_NORMAL, NULL, OAK_INFINITY, &why);
    or_ev("stop self -> %s", r == 0 ? "ok" : call_result(r, NULL, &why));
    oak_msg *m = NULL;
    r = oak_gen_server_call(p, oak_atom_from("ping"), NULL, 0, &m, -5, &why);
    or_ev("call s ping timeout -5 -> %s", call_result(r, m, &why));
    m = NULL;
    r = oak_gen_server_call(p, oak_atom_from("ping"), NULL, 0, &m, OAK_GEN_CALL_TIMEOUT, &why);
    or_ev("call s ping -> %s", call_result(r, m, &why));
    r = oak_gen_server_stop(p, OAK_NORMAL, NULL, OAK_INFINITY, &why);
    or_ev("stop s -> %s", r == 0 ? "ok" : call_result(r, NULL, &why));
    or_await_down(ref, "s");
}

int main(void) { return or_run(scenario, 0); }
