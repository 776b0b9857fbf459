/* Aliases: messages sent to an alias arrive only while it is active. */
#include "oak_test.h"

enum { TAG_REPLY = 7, TAG_GO = 8, TAG_PLAIN = 9 };

typedef struct alias_target {
    oak_pid owner;
    oak_ref alias;
} alias_target;

/* Sends one message to the alias when told to, then a plain message. */
static void replier(void *arg)
{
    alias_target t = *(alias_target *)arg;
    oak_msg *m;
    OT_CHECK_INT_EQ(oak_receive(&m, OT_LONG_MS, NULL, NULL), 0);
    oak_msg_free(m);
    int v = 42;
    OT_CHECK_INT_EQ(oak_send_alias(t.owner, t.alias, TAG_REPLY, &v, sizeof v), 0);
    OT_CHECK_INT_EQ(oak_send(t.owner, TAG_PLAIN, NULL, 0), 0);
}

static oak_pid start_replier(oak_ref alias)
{
    alias_target t = {oak_self(), alias};
    oak_spawn_opts o = {.arg_size = sizeof t};
    oak_pid p;
    OT_CHECK_INT_EQ(oak_spawn(replier, &t, &o, &p), 0);
    return p;
}

static bool is_plain(const oak_msg *m, void *arg)
{
    (void)arg;
    return m->tag == TAG_PLAIN;
}

static void active_alias_main(void *arg)
{
    (void)arg;
    oak_ref a = oak_alias();
    OT_CHECK(a != 0);
    oak_pid r = start_replier(a);
    OT_CHECK_INT_EQ(oak_send(r, TAG_GO, NULL, 0), 0);
    oak_msg *m;
    OT_CHECK_INT_EQ(oak_receive_ref(&m, a, OT_LONG_MS), 0);
    OT_CHECK_UINT_EQ(m->tag, TAG_REPLY);
    OT_CHECK_UINT_EQ(m->from, r);
    OT_CHECK_INT_EQ(*(int *)m->data, 42);
    oak_msg_free(m);
    OT_CHECK_INT_EQ(oak_unalias(a), 0);
    OT_CHECK_INT_EQ(oak_unalias(a), -ENOENT);
}

static void message_to_an_active_alias_is_delivered(void **state)
{
    (void)state;
    OT_RUN(active_alias_main, NULL);
}

static void inactive_alias_main(void *arg)
{
    (void)arg;
    oak_ref a = oak_alias();
    oak_pid r = start_replier(a);
    OT_CHECK_INT_EQ(oak_unalias(a), 0);
    OT_CHECK_INT_EQ(oak_send(r, TAG_GO, NULL, 0), 0);
    /* The plain message is sent after the alias one: once it is here, the
     * alias message has been taken from the inbox (and dropped). */
    oak_msg *m;
    OT_CHECK_INT_EQ(oak_receive(&m, OT_LONG_MS, is_plain, NULL), 0);
    oak_msg_free(m);
    OT_CHECK_INT_EQ(oak_message_count(), 0);
    OT_CHECK_INT_EQ(oak_receive_ref(&m, a, 0), -ETIMEDOUT);
}

static void message_to_an_inactive_alias_never_reaches_the_mailbox(void **state)
{
    (void)state;
    OT_RUN(inactive_alias_main, NULL);
}

static void wait_forever(void *arg)
{
    (void)arg;
    oak_msg *m;
    for (;;)
        if (oak_receive(&m, OAK_INFINITY, NULL, NULL) == 0)
            oak_msg_free(m);
}

static void monitor_alias_main(void *arg)
{
    (void)arg;
    /* The alias of a monitor ends with oak_demonitor... */
    oak_pid w;
    OT_CHECK_INT_EQ(oak_spawn(wait_forever, NULL, NULL, &w), 0);
    oak_ref a = oak_monitor_alias(w);
    OT_CHECK(a != 0);
    OT_CHECK_INT_EQ(oak_send_alias(oak_self(), a, TAG_REPLY, NULL, 0), 0);
    oak_msg *m;
    OT_CHECK_INT_EQ(oak_receive_ref(&m, a, OT_LONG_MS), 0);
    oak_msg_free(m);
    OT_CHECK_INT_EQ(oak_demonitor(a, OAK_DEMONITOR_FLUSH), 0);
    OT_CHECK_INT_EQ(oak_send_alias(oak_self(), a, TAG_REPLY, NULL, 0), 0);
    OT_CHECK_INT_EQ(oak_receive_ref(&m, a, 50), -ETIMEDOUT);
    OT_CHECK_INT_EQ(oak_unalias(a), -ENOENT);

    /* ...and with the DOWN of the monitored process. */
    oak_ref b = oak_monitor_alias(w);
    OT_CHECK_INT_EQ(oak_exit_pid(w, OAK_KILL), 0);
    OT_CHECK_INT_EQ(oak_receive_ref(&m, b, OT_LONG_MS), 0);
    OT_CHECK_UINT_EQ(m->tag, OAK_TAG_DOWN);
    oak_msg_free(m);
    OT_CHECK_INT_EQ(oak_send_alias(oak_self(), b, TAG_REPLY, NULL, 0), 0);
    OT_CHECK_INT_EQ(oak_receive_ref(&m, b, 50), -ETIMEDOUT);

    /* A monitor alias on a dead process: DOWN noproc, alias not active. */
    oak_ref c = oak_monitor_alias(w);
    OT_CHECK_INT_EQ(oak_receive_ref(&m, c, OT_LONG_MS), 0);
    OT_CHECK_UINT_EQ(m->tag, OAK_TAG_DOWN);
    OT_CHECK_ATOM_EQ(((oak_down *)m->data)->reason, OAK_NOPROC);
    oak_msg_free(m);
    OT_CHECK_INT_EQ(oak_unalias(c), -ENOENT);
}

static void monitor_alias_ends_with_demonitor_and_with_down(void **state)
{
    (void)state;
    OT_RUN(monitor_alias_main, NULL);
}

/* Send `to` (as a TAG_PLAIN u64) how many monitors the caller is under. */
static void tell_monitored_by(oak_pid to)
{
    oak_process_info info;
    OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
    uint64_t n = info.monitored_by;
    OT_CHECK_INT_EQ(oak_send(to, TAG_PLAIN, &n, sizeof n), 0);
}

/* Answers one request with oak_send_reply, then reports how many monitors
 * it is under. */
static void reply_server(void *arg)
{
    (void)arg;
    oak_msg *m;
    OT_CHECK_INT_EQ(oak_receive(&m, OT_LONG_MS, NULL, NULL), 0);
    oak_pid caller = m->from;
    oak_ref ref = m->ref;
    oak_msg_free(m);
    OT_CHECK_INT_EQ(oak_send_reply(caller, ref, TAG_REPLY, NULL, 0), 0);
    tell_monitored_by(caller);
}

static void reply_main(void *arg)
{
    (void)arg;
    oak_pid srv;
    OT_CHECK_INT_EQ(oak_spawn(reply_server, NULL, NULL, &srv), 0);
    oak_ref ref = oak_monitor_alias(srv);
    OT_CHECK_INT_EQ(oak_send_ref(srv, ref, TAG_GO, NULL, 0), 0);
    oak_msg *m;
    OT_CHECK_INT_EQ(oak_receive_ref(&m, ref, OT_LONG_MS), 0);
    OT_CHECK_UINT_EQ(m->tag, TAG_REPLY);
    oak_msg_free(m);
    /* The reply ended the monitor at both ends. */
    OT_CHECK_INT_EQ(oak_demonitor(ref, OAK_DEMONITOR_INFO), 0);
    OT_CHECK_INT_EQ(oak_receive(&m, OT_LONG_MS, is_plain, NULL), 0);
    OT_CHECK_UINT_EQ(*(uint64_t *)m->data, 0);
    oak_msg_free(m);
    /* A plain alias send from a monitored process does not end it. */
    oak_pid w;
    OT_CHECK_INT_EQ(oak_spawn(wait_forever, NULL, NULL, &w), 0);
    oak_ref r2 = oak_monitor_alias(w);
    OT_CHECK_INT_EQ(oak_send_alias(oak_self(), r2, TAG_REPLY, NULL, 0), 0);
    OT_CHECK_INT_EQ(oak_receive_ref(&m, r2, OT_LONG_MS), 0);
    oak_msg_free(m);
    OT_CHECK_INT_EQ(oak_demonitor(r2, OAK_DEMONITOR_INFO), 1);
    oak_exit_pid(w, OAK_KILL);
}

static void reply_ends_the_callers_monitor_at_both_ends(void **state)
{
    (void)state;
    OT_RUN(reply_main, NULL);
}

/* oak_send_request: the monitor and the request in one signal. */
static void request_server(void *arg)
{
    (void)arg;
    oak_msg *m;
    OT_CHECK_INT_EQ(oak_receive(&m, OT_LONG_MS, NULL, NULL), 0);
    oak_pid caller = m->from;
    oak_ref ref = m->ref;
    tell_monitored_by(caller); /* the monitor came with the message */
    if (m->tag == TAG_GO)
        OT_CHECK_INT_EQ(oak_send_reply(caller, ref, TAG_REPLY, m->data, m->size), 0);
    else
        oak_exit(oak_atom_from("refused"));
    oak_msg_free(m);
}

static void request_main(void *arg)
{
    (void)arg;
    oak_pid srv;
    oak_msg *m;
    oak_ref ref;
    OT_CHECK_INT_EQ(oak_spawn(request_server, NULL, NULL, &srv), 0);
    OT_CHECK_INT_EQ(oak_send_request(srv, TAG_GO, "hello", 6, &ref), 0);
    OT_CHECK_INT_EQ(oak_receive(&m, OT_LONG_MS, is_plain, NULL), 0);
    OT_CHECK_UINT_EQ(*(uint64_t *)m->data, 1);
    oak_msg_free(m);
    OT_CHECK_INT_EQ(oak_receive_ref(&m, ref, OT_LONG_MS), 0);
    OT_CHECK_UINT_EQ(m->tag, TAG_REPLY);
    OT_CHECK_STR_EQ((const char *)m->data, "hello");
    oak_msg_free(m);
    OT_CHECK_INT_EQ(oak_demonitor(ref, OAK_DEMONITOR_INFO), 0); /* ended by the reply */

    /* A server that dies on the request: DOWN with its reason. */
    OT_CHECK_INT_EQ(oak_spawn(request_server, NULL, NULL, &srv), 0);
    OT_CHECK_INT_EQ(oak_send_request(srv, OT_TAG_OTHER, NULL, 0, &ref), 0);
    OT_CHECK_INT_EQ(oak_receive_ref(&m, ref, OT_LONG_MS), 0);
    OT_CHECK_UINT_EQ(m->tag, OAK_TAG_DOWN);
    OT_CHECK_ATOM_EQ(((oak_down *)m->data)->reason, oak_atom_from("refused"));
    oak_msg_free(m);
    OT_CHECK_INT_EQ(oak_receive(&m, OT_LONG_MS, is_plain, NULL), 0);
    oak_msg_free(m);

    /* A dead server: DOWN noproc at once, and the ref is no alias. */
    OT_CHECK_INT_EQ(oak_send_request(srv, TAG_GO, NULL, 0, &ref), 0);
    OT_CHECK_INT_EQ(oak_receive_ref(&m, ref, 0), 0);
    OT_CHECK_UINT_EQ(m->tag, OAK_TAG_DOWN);
    OT_CHECK_ATOM_EQ(((oak_down *)m->data)->reason, OAK_NOPROC);
    oak_msg_free(m);
    OT_CHECK_INT_EQ(oak_send_alias(oak_self(), ref, TAG_REPLY, NULL, 0), 0);
    OT_CHECK_INT_EQ(oak_receive_ref(&m, ref, 20), -ETIMEDOUT);

    OT_CHECK_INT_EQ(oak_send_request(srv, TAG_GO, NULL, 0, NULL), -EINVAL);
    OT_CHECK_INT_EQ(oak_send_request(OAK_NOPID, TAG_GO, NULL, 0, &ref), -EINVAL);
    OT_CHECK_INT_EQ(oak_send_request(srv, TAG_GO, NULL, 3, &ref), -EINVAL);
}

static void send_request_monitors_and_sends_in_one_signal(void **state)
{
    (void)state;
    oak_ref ref;
    OT_CHECK_INT_EQ(oak_send_request(1, TAG_GO, NULL, 0, &ref), -EPERM);
    OT_RUN(request_main, NULL);
}

static void alias_errors_main(void *arg)
{
    (void)arg;
    OT_CHECK_INT_EQ(oak_send_alias(oak_self(), 0, TAG_REPLY, NULL, 0), -EINVAL);
    OT_CHECK_INT_EQ(oak_send_reply(oak_self(), 0, TAG_REPLY, NULL, 0), -EINVAL);
    OT_CHECK_INT_EQ(oak_unalias(12345), -ENOENT);
}

static void alias_errors_are_einval_and_enoent(void **state)
{
    (void)state;
    OT_CHECK_INT_EQ(oak_alias(), 0); /* outside a process */
    OT_CHECK_INT_EQ(oak_unalias(1), -EPERM);
    OT_RUN(alias_errors_main, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(message_to_an_active_alias_is_delivered),
        cmocka_unit_test(message_to_an_inactive_alias_never_reaches_the_mailbox),
        cmocka_unit_test(monitor_alias_ends_with_demonitor_and_with_down),
        cmocka_unit_test(reply_ends_the_callers_monitor_at_both_ends),
        cmocka_unit_test(alias_errors_are_einval_and_enoent),
        cmocka_unit_test(send_request_monitors_and_sends_in_one_signal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
