/* j01: call timeout; the late reply is dropped; the server keeps running;
 * timeouts infinity and 0. */
#include "oracle.h"

#include <string.h>

static oak_pid srv;

static void call(const char *desc, const char *tag, const char *arg, int64_t t)
{
    oak_msg *m = NULL;
    oak_reason why;
    int r = oak_gen_server_call(srv, oak_atom_from(tag), arg, arg ? strlen(arg) : 0,
                                &m, t, &why);
    if (r == 0) {
        or_ev("%s -> %.*s", desc, (int)m->size, (const char *)m->data);
        oak_msg_free(m);
    } else {
        or_ev("%s -> {exit,%s}", desc, or_r(&why));
    }
}

static void scenario(void)
{
    or_worker_start("srv", NULL, OAK_GEN_LINK, &srv, NULL);
    int64_t t0 = oak_now_ms();
    call("call {sleep,500} timeout 100", "sleep", "500", 100);
    or_elapsed_check(t0, 90, 400);
    or_settle(700);
    or_ev("mailbox_after_late_reply -> %s", or_mailbox());
    call("call ping", "ping", NULL, OAK_GEN_CALL_TIMEOUT);
    call("call {sleep,300} timeout infinity", "sleep", "300", OAK_INFINITY);
    call("call {sleep,100} timeout 0", "sleep", "100", 0);
    or_settle(300);
    or_ev("mailbox -> %s", or_mailbox());
    or_ev("is_process_alive srv -> %s", oak_is_alive(srv) ? "true" : "false");
}

int main(void) { return or_run(scenario, 0); }
