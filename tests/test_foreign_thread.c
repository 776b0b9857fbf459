/* test_foreign_thread.c - the calls documented as safe from any thread,
 * made from a pthread that is not a process: send (from == OAK_NOPID),
 * send_ref, send_name, exit_pid (sender OAK_NOPID), send_after, is_alive,
 * make_ref; an idle runtime woken by such a thread; and -EPERM (or the
 * documented neutral result) for the calls that need a process.
 */
#include "oak_test.h"

/* ---- sending --------------------------------------------------------------------------- */

typedef struct sender_ctx {
    oak_pid to;
    int id;
    int count;
    int failures; /* sends that did not return 0 */
} sender_ctx;

static void *send_thread(void *arg)
{
    sender_ctx *c = arg;
    for (int i = 0; i < c->count; i++) {
        uint32_t v[2] = {(uint32_t)c->id, (uint32_t)i};
        if (oak_send(c->to, OT_TAG_DATA, v, sizeof v) != 0)
            c->failures++;
    }
    return NULL;
}

static void one_sender_main(void *arg)
{
    (void)arg;
    static sender_ctx c;
    c = (sender_ctx){oak_self(), 0, 1, 0};
    pthread_t th;
    OT_CHECK_INT_EQ(pthread_create(&th, NULL, send_thread, &c), 0);
    oak_msg *m = OT_RECV_TAG(OT_TAG_DATA, OT_LONG_MS);
    OT_CHECK_UINT_EQ(m->from, OAK_NOPID);
    OT_CHECK_UINT_EQ(m->ref, 0);
    OT_CHECK_INT_EQ(m->size, 8);
    oak_msg_free(m);
    pthread_join(th, NULL);
    OT_CHECK_INT_EQ(c.failures, 0);
}

static void send_from_a_foreign_thread_reaches_a_process_with_no_sender(void **state)
{
    (void)state;
    OT_RUN(one_sender_main, NULL);
}

enum { THREADS = 4, PER_THREAD = 25000 };

static void many_senders_main(void *arg)
{
    (void)arg;
    static sender_ctx c[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        c[i] = (sender_ctx){oak_self(), i, PER_THREAD, 0};
        OT_CHECK_INT_EQ(pthread_create(&th[i], NULL, send_thread, &c[i]), 0);
    }
    uint32_t next[THREADS] = {0};
    for (long n = 0; n < (long)THREADS * PER_THREAD; n++) {
        oak_msg *m = OT_RECV_TAG(OT_TAG_DATA, OT_LONG_MS);
        uint32_t v[2];
        memcpy(v, m->data, sizeof v);
        oak_msg_free(m);
        OT_CHECK_INT_LT(v[0], THREADS);
        /* One thread's sends, each finished before the next began, keep
         * their order. */
        OT_CHECK_INT_EQ(v[1], next[v[0]]);
        next[v[0]]++;
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        OT_CHECK_INT_EQ(c[i].failures, 0);
    }
    OT_NO_MSG(0, 20);
}

static void many_foreign_threads_sending_at_once_lose_nothing(void **state)
{
    (void)state;
    OT_RUN(many_senders_main, NULL);
}

/* ---- the other calls -------------------------------------------------------------------- */

typedef struct misc_ctx {
    oak_pid target;     /* traps exits */
    oak_pid victim;     /* does not */
    oak_pid dead;
    oak_ref ref;
    int send_ref_rc, send_name_rc, send_name_missing_rc;
    int exit_rc, kill_rc, exit_nopid_rc;
    oak_ref timer;
    bool alive_target, alive_dead, alive_nopid;
    oak_pid self;
} misc_ctx;

static misc_ctx mc;

static void *misc_thread(void *arg)
{
    (void)arg;
    mc.self = oak_self();
    mc.alive_target = oak_is_alive(mc.target);
    mc.alive_dead = oak_is_alive(mc.dead);
    mc.alive_nopid = oak_is_alive(OAK_NOPID);
    mc.ref = oak_make_ref();
    mc.send_ref_rc = oak_send_ref(mc.target, mc.ref, OT_TAG_PING, "r", 2);
    mc.send_name_rc = oak_send_name(oak_atom_from("ft_target"), OT_TAG_GO, NULL, 0);
    mc.send_name_missing_rc = oak_send_name(oak_atom_from("ft_missing"), OT_TAG_GO, NULL, 0);
    mc.timer = oak_send_after(10, mc.target, OT_TAG_DONE, "t", 2);
    mc.exit_rc = oak_exit_pid(mc.target, oak_atom_from("from_thread"));
    mc.kill_rc = oak_exit_pid(mc.victim, OAK_KILL);
    mc.exit_nopid_rc = oak_exit_pid(OAK_NOPID, OAK_KILL);
    return NULL;
}

static void misc_main(void *arg)
{
    (void)arg;
    memset(&mc, 0, sizeof mc);
    mc.target = oak_self();
    OT_CHECK_INT_EQ(oak_register(oak_atom_from("ft_target"), oak_self()), 0);
    oak_trap_exit(true);
    oak_ref vr = 0;
    mc.victim = OT_SPAWN_MONITOR(ot_body_forever, NULL, 0, &vr);
    mc.dead = OT_DEAD_PID();
    pthread_t th;
    OT_CHECK_INT_EQ(pthread_create(&th, NULL, misc_thread, NULL), 0);

    oak_msg *m = OT_RECV_TAG(OT_TAG_PING, OT_LONG_MS);
    OT_CHECK_UINT_EQ(m->from, OAK_NOPID);
    OT_CHECK_STR_EQ((const char *)m->data, "r");
    oak_ref ref = m->ref;
    oak_msg_free(m);
    m = OT_RECV_TAG(OT_TAG_GO, OT_LONG_MS);
    OT_CHECK_UINT_EQ(m->from, OAK_NOPID);
    oak_msg_free(m);
    ot_signal e = OT_RECV_EXIT(OT_LONG_MS);
    OT_CHECK_UINT_EQ(e.from, OAK_NOPID);
    OT_CHECK_ATOM_EQ(e.reason, oak_atom_from("from_thread"));
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(vr, OT_LONG_MS).reason, OAK_KILLED);
    m = OT_RECV_TAG(OT_TAG_DONE, OT_LONG_MS);
    OT_CHECK_STR_EQ((const char *)m->data, "t");
    oak_ref tref = m->ref;
    oak_msg_free(m);

    pthread_join(th, NULL);
    OT_CHECK_UINT_EQ(ref, mc.ref);
    OT_CHECK_UINT_NE(mc.ref, 0);
    OT_CHECK_UINT_NE(mc.timer, 0);
    OT_CHECK_UINT_EQ(tref, mc.timer);
    OT_CHECK_UINT_EQ(mc.self, OAK_NOPID);
    OT_CHECK(mc.alive_target);
    OT_CHECK(!mc.alive_dead);
    OT_CHECK(!mc.alive_nopid);
    OT_CHECK_INT_EQ(mc.send_ref_rc, 0);
    OT_CHECK_INT_EQ(mc.send_name_rc, 0);
    OT_CHECK_INT_EQ(mc.send_name_missing_rc, -ESRCH);
    OT_CHECK_INT_EQ(mc.exit_rc, 0);
    OT_CHECK_INT_EQ(mc.kill_rc, 0);
    OT_CHECK_INT_EQ(mc.exit_nopid_rc, -EINVAL);
}

static void documented_any_thread_calls_work_from_a_foreign_thread(void **state)
{
    (void)state;
    OT_RUN(misc_main, NULL);
}

/* exit_pid from a foreign thread kills a non-trapping process with the
 * reason. */
static atomic_int exit_thread_rc;

static void *exit_thread(void *arg)
{
    oak_pid p = *(oak_pid *)arg;
    atomic_store(&exit_thread_rc, oak_exit_pid_detail(p, OAK_SHUTDOWN, "bye"));
    return NULL;
}

static void exit_main(void *arg)
{
    (void)arg;
    oak_ref r = 0;
    static oak_pid p;
    p = OT_SPAWN_MONITOR(ot_body_forever, NULL, 0, &r);
    pthread_t th;
    OT_CHECK_INT_EQ(pthread_create(&th, NULL, exit_thread, &p), 0);
    ot_signal d = OT_RECV_DOWN(r, OT_LONG_MS);
    OT_CHECK_ATOM_EQ(d.reason, OAK_SHUTDOWN);
    OT_CHECK_STR_EQ(d.detail, "bye");
    pthread_join(th, NULL);
    OT_CHECK_INT_EQ(atomic_load(&exit_thread_rc), 0);
}

static void exit_pid_from_a_foreign_thread_kills_with_its_reason(void **state)
{
    (void)state;
    OT_RUN(exit_main, NULL);
}

/* ---- waking an idle runtime ---------------------------------------------------------------- */

static void *late_thread(void *arg)
{
    oak_pid to = *(oak_pid *)arg;
    ot_thread_sleep_ms(300);
    oak_send(to, OT_TAG_GO, NULL, 0);
    return NULL;
}

static void idle_wake_main(void *arg)
{
    (void)arg;
    static oak_pid me;
    me = oak_self();
    for (int i = 0; i < 20; i++)
        OT_SPAWN(ot_body_forever, NULL, 0);
    pthread_t th;
    OT_CHECK_INT_EQ(pthread_create(&th, NULL, late_thread, &me), 0);
    /* Every process is blocked: the schedulers sleep until the thread's
     * message arrives, and must wake for it. */
    int64_t t0 = ot_now_ns();
    oak_msg_free(OT_RECV_TAG(OT_TAG_GO, OT_LONG_MS));
    OT_CHECK_INT_GE(ot_ms_since(t0), 250);
    pthread_join(th, NULL);
}

static void message_from_a_foreign_thread_wakes_an_idle_runtime(void **state)
{
    (void)state;
    OT_RUN(idle_wake_main, NULL);
}

/* ---- process-only calls ------------------------------------------------------------------- */

typedef struct eperm_ctx {
    int spawn, link, unlink, trap, receive, receive_ref, sleep, defer, info;
    oak_ref monitor, monitor_name;
    void *alloc;
    oak_pid self;
    oak_pid target;
} eperm_ctx;

static eperm_ctx ec;

static void *eperm_thread(void *arg)
{
    (void)arg;
    oak_msg *m = NULL;
    oak_process_info info;
    ec.self = oak_self();
    ec.spawn = oak_spawn(ot_body_return, NULL, NULL, NULL);
    ec.link = oak_link(ec.target);
    ec.unlink = oak_unlink(ec.target);
    ec.trap = oak_trap_exit(true);
    ec.receive = oak_receive(&m, 0, NULL, NULL);
    ec.receive_ref = oak_receive_ref(&m, 1, 0);
    ec.sleep = oak_sleep(1);
    ec.defer = oak_defer(free, NULL);
    ec.info = oak_process_info_self(&info);
    ec.monitor = oak_monitor(ec.target);
    ec.monitor_name = oak_monitor_name(oak_atom_from("x"));
    ec.alloc = oak_alloc(10);
    oak_free(NULL);
    return NULL;
}

static void eperm_main(void *arg)
{
    (void)arg;
    memset(&ec, 0, sizeof ec);
    ec.target = oak_self();
    pthread_t th;
    OT_CHECK_INT_EQ(pthread_create(&th, NULL, eperm_thread, NULL), 0);
    pthread_join(th, NULL);
    /* Nothing reached us: no link, no monitor, no process. */
    OT_NO_MSG(0, OT_SETTLE_MS);
    oak_process_info info;
    OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
    OT_CHECK_INT_EQ(info.links, 0);
    OT_CHECK_INT_EQ(info.monitored_by, 0);
    OT_CHECK_INT_EQ(oak_process_count(), 1);
}

static void process_only_calls_return_eperm_on_a_foreign_thread(void **state)
{
    (void)state;
    OT_RUN(eperm_main, NULL);
    assert_int_equal(ec.self, OAK_NOPID);
    assert_int_equal(ec.spawn, -EPERM);
    assert_int_equal(ec.link, -EPERM);
    assert_int_equal(ec.unlink, -EPERM);
    assert_int_equal(ec.trap, -EPERM);
    assert_int_equal(ec.receive, -EPERM);
    assert_int_equal(ec.receive_ref, -EPERM);
    assert_int_equal(ec.sleep, -EPERM);
    assert_int_equal(ec.defer, -EPERM);
    assert_int_equal(ec.info, -EPERM);
    assert_int_equal(ec.monitor, 0);
    assert_int_equal(ec.monitor_name, 0);
    assert_null(ec.alloc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(send_from_a_foreign_thread_reaches_a_process_with_no_sender),
        cmocka_unit_test(many_foreign_threads_sending_at_once_lose_nothing),
        cmocka_unit_test(documented_any_thread_calls_work_from_a_foreign_thread),
        cmocka_unit_test(exit_pid_from_a_foreign_thread_kills_with_its_reason),
        cmocka_unit_test(message_from_a_foreign_thread_wakes_an_idle_runtime),
        cmocka_unit_test(process_only_calls_return_eperm_on_a_foreign_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
