/* test_gen_server_hibernate.c - a gen_server that hibernates, asked by a
 * callback or after hibernate_after ms idle, keeps its state and answers
 * every request as before; a crash after a wake still runs terminate and
 * reports its reason.
 */
#include "oak_test.h"

enum { C_INC = 1, C_GET, C_HIBERNATE, C_CRASH };

typedef struct counter {
    uint64_t n;
    uint64_t hibernations;
} counter;

static _Atomic int terminated;
static _Atomic oak_atom terminate_reason;

static int c_init(oak_gen_server *gs, void *arg, void **state)
{
    (void)gs;
    (void)arg;
    counter *c = oak_alloc(sizeof *c);
    if (!c)
        return OAK_GS_STOP;
    c->n = 0;
    c->hibernations = 0;
    *state = c;
    return OAK_GS_OK;
}

static int c_call(oak_gen_server *gs, void *state, const oak_msg *req, const oak_gen_from *from)
{
    (void)from;
    counter *c = state;
    switch (req->tag) {
    case C_INC:
        c->n++;
        oak_gen_server_set_hibernate(gs); /* after each increment */
        c->hibernations++;
        break;
    case C_HIBERNATE:
        oak_gen_server_set_hibernate(gs);
        c->hibernations++;
        break;
    case C_CRASH:
        oak_gen_server_exit(gs, oak_atom_from("crashed_after_wake"), NULL);
    default:
        break;
    }
    oak_gen_server_set_reply(gs, OT_TAG_DATA, &c->n, sizeof c->n);
    return OAK_GS_REPLY;
}

static int c_cast(oak_gen_server *gs, void *state, const oak_msg *req)
{
    (void)req;
    counter *c = state;
    c->n += 10;
    oak_gen_server_set_hibernate(gs);
    return OAK_GS_OK;
}

static int c_info(oak_gen_server *gs, void *state, const oak_msg *m)
{
    counter *c = state;
    if (m->tag == OAK_TIMEOUT) {
        c->n += 100;
        return OAK_GS_OK;
    }
    c->n += 1000;
    oak_gen_server_set_hibernate(gs);
    return OAK_GS_OK;
}

static void c_terminate(oak_gen_server *gs, void *state, const oak_reason *why)
{
    (void)gs;
    (void)state;
    atomic_store(&terminate_reason, why->atom);
    atomic_fetch_add(&terminated, 1);
}

static const oak_gen_server_callbacks counter_cb = {
    .init = c_init,
    .handle_call = c_call,
    .handle_cast = c_cast,
    .handle_info = c_info,
    .terminate = c_terminate,
};

static uint64_t call(oak_pid s, uint64_t tag)
{
    oak_msg *m = NULL;
    oak_reason why;
    int rc = oak_gen_server_call(s, tag, NULL, 0, &m, OT_LONG_MS, &why);
    OT_CHECK_INT_EQ(rc, 0);
    uint64_t v = ot_u64(m);
    oak_msg_free(m);
    return v;
}

static void asked_main(void *arg)
{
    (void)arg;
    atomic_store(&terminated, 0);
    oak_pid s = OAK_NOPID;
    oak_gen_server_opts o = {.flags = OAK_GEN_LINK};
    OT_CHECK_INT_EQ(oak_gen_server_start(&counter_cb, NULL, &o, &s, NULL), 0);
    for (uint64_t i = 1; i <= 200; i++)
        OT_CHECK_UINT_EQ(call(s, C_INC), i);
    /* A cast and a plain message, each followed by hibernation. */
    OT_CHECK_INT_EQ(oak_gen_server_cast(s, 0, NULL, 0), 0);
    OT_SEND(s, OT_TAG_STRAY, NULL, 0);
    OT_CHECK_UINT_EQ(call(s, C_GET), 200 + 10 + 1000);
    /* Many requests queued while it sleeps are all answered, in order. */
    for (int i = 0; i < 50; i++)
        OT_CHECK_INT_EQ(oak_gen_server_cast(s, 0, NULL, 0), 0);
    OT_CHECK_UINT_EQ(call(s, C_GET), 200 + 10 + 1000 + 500);
    /* A crash after a wake: terminate runs, the reason reaches the link. */
    oak_trap_exit(true);
    oak_msg *m = NULL;
    oak_reason why;
    OT_CHECK_UINT_EQ(call(s, C_HIBERNATE), 1710);
    int rc = oak_gen_server_call(s, C_CRASH, NULL, 0, &m, OT_LONG_MS, &why);
    OT_CHECK_INT_LT(rc, 0);
    ot_signal x;
    OT_TAKE_SIGNAL(OT_RECV_TAG(OAK_TAG_EXIT, OT_LONG_MS), &x);
    OT_CHECK_UINT_EQ(x.from, s);
    OT_CHECK_ATOM_EQ(x.reason, oak_atom_from("crashed_after_wake"));
    OT_CHECK_INT_EQ(atomic_load(&terminated), 1);
    OT_CHECK_ATOM_EQ(atomic_load(&terminate_reason), oak_atom_from("crashed_after_wake"));
}

/* handle_call, handle_cast and handle_info ask to hibernate: the state
 * survives every wake, queued requests are answered in order, and
 * oak_gen_server_exit() after a wake still runs terminate. */
static void gen_server_hibernating_on_request_keeps_state_and_order(void **st)
{
    (void)st;
    OT_RUN(asked_main, NULL);
}

static void idle_main(void *arg)
{
    (void)arg;
    atomic_store(&terminated, 0);
    oak_pid s = OAK_NOPID;
    oak_gen_server_opts o = {.hibernate_after_ms = 5};
    OT_CHECK_INT_EQ(oak_gen_server_start(&counter_cb, NULL, &o, &s, NULL), 0);
    for (int round = 0; round < 20; round++) {
        OT_CHECK_UINT_EQ(call(s, C_GET), (uint64_t)round * 1000);
        oak_sleep(10); /* idle past hibernate_after */
        OT_SEND(s, OT_TAG_STRAY, NULL, 0); /* +1000, then asked to hibernate */
    }
    OT_CHECK_UINT_EQ(call(s, C_GET), 20000);
    OT_CHECK_INT_EQ(oak_gen_server_stop(s, OAK_NORMAL, NULL, OT_LONG_MS, NULL), 0);
    OT_CHECK_INT_EQ(atomic_load(&terminated), 1);
    OT_CHECK_ATOM_EQ(atomic_load(&terminate_reason), OAK_NORMAL);
}

/* hibernate_after: idle servers hibernate by themselves and wake for the
 * next request; stop after a wake runs terminate with the reason. */
static void gen_server_hibernate_after_idles_and_wakes(void **st)
{
    (void)st;
    OT_RUN(idle_main, NULL);
}

#define N_SERVERS 5000

static void many_main(void *arg)
{
    (void)arg;
    oak_pid *s = malloc(N_SERVERS * sizeof *s);
    OT_CHECK(s != NULL);
    oak_gen_server_opts o = {.hibernate_after_ms = 1};
    for (int i = 0; i < N_SERVERS; i++)
        OT_CHECK_INT_EQ(oak_gen_server_start(&counter_cb, NULL, &o, &s[i], NULL), 0);
    for (int round = 1; round <= 3; round++) {
        oak_sleep(20);
        for (int i = 0; i < N_SERVERS; i++)
            OT_CHECK_UINT_EQ(call(s[i], C_INC), (uint64_t)round);
    }
    for (int i = 0; i < N_SERVERS; i++)
        OT_CHECK_INT_EQ(oak_gen_server_stop(s[i], OAK_NORMAL, NULL, OT_LONG_MS, NULL), 0);
    free(s);
}

/* 5,000 servers hibernating on 4 execution stacks all answer. */
static void gen_server_many_hibernating_servers_on_few_stacks(void **st)
{
    (void)st;
#if defined(__SANITIZE_THREAD__)
    skip(); /* TSan: too many fibers */
#else
    oak_config cfg = {.guarded_stacks = 4};
    OT_RUN_CFG(many_main, NULL, &cfg);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gen_server_hibernating_on_request_keeps_state_and_order),
        cmocka_unit_test(gen_server_hibernate_after_idles_and_wakes),
        cmocka_unit_test(gen_server_many_hibernating_servers_on_few_stacks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
