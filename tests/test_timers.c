/* test_timers.c - oak_sleep, oak_send_after, oak_cancel_timer and the
 * runtime clock. Every timing check has a wide tolerance: never early (a
 * millisecond of slack for clock granularity), and well under 5 s late.
 */
#include "oak_test.h"

/* ---- sleep -------------------------------------------------------------------------- */

static void sleep_main(void *arg)
{
    (void)arg;
    const int64_t waits[] = {1, 20, 50, 100};
    for (size_t i = 0; i < sizeof waits / sizeof waits[0]; i++) {
        int64_t t0 = ot_now_ns();
        int64_t c0 = oak_now_ms();
        OT_CHECK_INT_EQ(oak_sleep(waits[i]), 0);
        int64_t took = ot_ms_since(t0);
        OT_CHECK_INT_GE(took, waits[i] - 1 - waits[i] / 10);
        OT_CHECK_INT_LT(took, 5000);
        /* The runtime clock moved on as much. */
        OT_CHECK_INT_GE(oak_now_ms() - c0, waits[i] - 1 - waits[i] / 10);
    }
    OT_CHECK_INT_EQ(oak_sleep(0), 0);
    OT_CHECK_INT_EQ(oak_sleep(-2), -EINVAL);
    OT_CHECK_INT_EQ(oak_sleep(INT64_MIN), -EINVAL);
}

static void sleep_suspends_for_at_least_the_time_asked(void **state)
{
    (void)state;
    OT_RUN(sleep_main, NULL);
}

static void sleep_queue_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    oak_send_after(10, me, OT_TAG_DATA, "a", 2);
    oak_send_after(20, me, OT_TAG_DATA, "b", 2);
    int64_t t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_sleep(80), 0);
    /* The messages did not end the sleep early, and they are kept. */
    OT_CHECK_INT_GE(ot_ms_since(t0), 75);
    OT_CHECK_INT_EQ(oak_message_count(), 2);
    oak_msg *m = OT_RECV_ANY(0);
    OT_CHECK_STR_EQ((const char *)m->data, "a");
    oak_msg_free(m);
    m = OT_RECV_ANY(0);
    OT_CHECK_STR_EQ((const char *)m->data, "b");
    oak_msg_free(m);
}

static void sleep_keeps_arriving_messages_queued(void **state)
{
    (void)state;
    OT_RUN(sleep_queue_main, NULL);
}

static void sleeping_crowd(void *arg)
{
    (void)arg;
    OT_CHECK_INT_EQ(oak_sleep(100), 0);
}

static void many_sleep_main(void *arg)
{
    (void)arg;
    enum { N = 500 };
    static oak_ref r[N];
    int64_t t0 = ot_now_ns();
    for (int i = 0; i < N; i++)
        OT_SPAWN_MONITOR(sleeping_crowd, NULL, 0, &r[i]);
    for (int i = 0; i < N; i++)
        OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r[i], OT_LONG_MS).reason, OAK_NORMAL);
    /* They slept at the same time, not one after another. */
    OT_CHECK_INT_GE(ot_ms_since(t0), 95);
    OT_CHECK_INT_LT(ot_ms_since(t0), 10000);
}

static void sleeping_processes_do_not_hold_their_scheduler(void **state)
{
    (void)state;
    OT_RUN(many_sleep_main, NULL);
}

/* ---- send_after ------------------------------------------------------------------------- */

static void send_after_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    char buf[16] = "payload";
    int64_t t0 = ot_now_ns();
    oak_ref t = oak_send_after(50, me, OT_TAG_DATA, buf, sizeof buf);
    OT_CHECK_UINT_NE(t, 0);
    /* The payload was copied at the call. */
    memset(buf, 'X', sizeof buf);
    oak_msg *m = OT_RECV_TAG(OT_TAG_DATA, OT_LONG_MS);
    int64_t took = ot_ms_since(t0);
    OT_CHECK_INT_GE(took, 49);
    OT_CHECK_INT_LT(took, 5000);
    OT_CHECK_UINT_EQ(m->ref, t);
    OT_CHECK_UINT_EQ(m->from, OAK_NOPID);
    OT_CHECK_INT_EQ(m->size, sizeof buf);
    OT_CHECK_STR_EQ((const char *)m->data, "payload");
    oak_msg_free(m);
    OT_NO_MSG(0, OT_SETTLE_MS);

    /* Delay 0 delivers too, and size 0. */
    t = oak_send_after(0, me, OT_TAG_GO, NULL, 0);
    OT_CHECK_UINT_NE(t, 0);
    m = OT_RECV_TAG(OT_TAG_GO, OT_LONG_MS);
    OT_CHECK_UINT_EQ(m->ref, t);
    OT_CHECK_INT_EQ(m->size, 0);
    oak_msg_free(m);
}

static void send_after_delivers_a_copy_with_the_timer_ref_after_the_delay(void **state)
{
    (void)state;
    OT_RUN(send_after_main, NULL);
}

static void order_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    oak_ref t3 = oak_send_after(90, me, OT_TAG_DATA, NULL, 0);
    oak_ref t1 = oak_send_after(10, me, OT_TAG_DATA, NULL, 0);
    oak_ref t2 = oak_send_after(50, me, OT_TAG_DATA, NULL, 0);
    oak_msg *m = OT_RECV_ANY(OT_LONG_MS);
    OT_CHECK_UINT_EQ(m->ref, t1);
    oak_msg_free(m);
    m = OT_RECV_ANY(OT_LONG_MS);
    OT_CHECK_UINT_EQ(m->ref, t2);
    oak_msg_free(m);
    m = OT_RECV_ANY(OT_LONG_MS);
    OT_CHECK_UINT_EQ(m->ref, t3);
    oak_msg_free(m);
}

static void timers_fire_in_deadline_order(void **state)
{
    (void)state;
    OT_RUN(order_main, NULL);
}

static void cancel_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    oak_ref t = oak_send_after(10000, me, OT_TAG_DATA, "never", 6);
    OT_CHECK_UINT_NE(t, 0);
    oak_sleep(20);
    int64_t left = oak_cancel_timer(t);
    OT_CHECK_INT_GE(left, 0);
    OT_CHECK_INT_LE(left, 10000 - 15);
    OT_CHECK_INT_GE(left, 5000);
    OT_CHECK_INT_EQ(oak_cancel_timer(t), -ENOENT);

    /* A cancelled short timer never delivers (wait past its deadline). */
    oak_ref s = oak_send_after(200, me, OT_TAG_DATA, "never", 6);
    left = oak_cancel_timer(s);
    OT_CHECK_INT_GE(left, 0);
    OT_CHECK_INT_LE(left, 200);
    OT_NO_MSG(0, 300);

    /* A timer that fired cannot be cancelled. */
    oak_ref f = oak_send_after(5, me, OT_TAG_GO, NULL, 0);
    oak_msg_free(OT_RECV_TAG(OT_TAG_GO, OT_LONG_MS));
    OT_CHECK_INT_EQ(oak_cancel_timer(f), -ENOENT);
    /* Nor a reference that never was a timer. */
    OT_CHECK_INT_EQ(oak_cancel_timer(oak_make_ref()), -ENOENT);
}

static void cancel_timer_returns_the_time_left_and_the_message_never_comes(void **state)
{
    (void)state;
    OT_RUN(cancel_main, NULL);
}

static void errors_main(void *arg)
{
    (void)arg;
    OT_CHECK_UINT_EQ(oak_send_after(-1, oak_self(), OT_TAG_DATA, NULL, 0), 0);
    OT_CHECK_UINT_EQ(oak_send_after(10, OAK_NOPID, OT_TAG_DATA, NULL, 0), 0);
    OT_NO_MSG(0, 50);
    /* To a dead pid: a timer, that delivers nowhere. */
    oak_pid dead = OT_DEAD_PID();
    OT_CHECK_UINT_NE(oak_send_after(1, dead, OT_TAG_DATA, NULL, 0), 0);
    OT_NO_MSG(0, 50);
}

static void send_after_rejects_negative_delay_and_nopid(void **state)
{
    (void)state;
    OT_RUN(errors_main, NULL);
}

static void fire_and_die(void *arg)
{
    oak_pid to = *(oak_pid *)arg;
    OT_CHECK_UINT_NE(oak_send_after(30, to, OT_TAG_DATA, "late", 5), 0);
    oak_exit(oak_atom_from("gone"));
}

static void outlive_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    oak_ref r = 0;
    oak_pid p = OT_SPAWN_COPY_MONITOR(fire_and_die, &me, 0, &r);
    OT_RECV_DOWN(r, OT_LONG_MS);
    oak_msg *m = OT_RECV_TAG(OT_TAG_DATA, OT_LONG_MS);
    OT_CHECK_STR_EQ((const char *)m->data, "late");
    OT_CHECK_UINT_NE(m->from, p);
    oak_msg_free(m);
}

static void send_after_fires_even_if_the_caller_died(void **state)
{
    (void)state;
    OT_RUN(outlive_main, NULL);
}

static void many_main(void *arg)
{
    (void)arg;
    enum { N = 2000 };
    oak_pid me = oak_self();
    static unsigned char got[N];
    static oak_ref refs[N];
    memset(got, 0, sizeof got);
    uint32_t x = 12345;
    for (uint32_t i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        refs[i] = oak_send_after((x >> 8) % 100, me, OT_TAG_DATA, &i, sizeof i);
        OT_CHECK_UINT_NE(refs[i], 0);
    }
    /* Cancel every tenth. */
    int cancelled = 0;
    for (uint32_t i = 0; i < N; i += 10)
        if (oak_cancel_timer(refs[i]) >= 0) {
            got[i] = 2;
            cancelled++;
        }
    for (int n = 0; n < N - cancelled; n++) {
        oak_msg *m = OT_RECV_TAG(OT_TAG_DATA, OT_LONG_MS);
        uint32_t i;
        memcpy(&i, m->data, sizeof i);
        OT_CHECK_INT_LT(i, N);
        OT_CHECK_INT_EQ(got[i], 0);
        OT_CHECK_UINT_EQ(m->ref, refs[i]);
        got[i] = 1;
        oak_msg_free(m);
    }
    OT_NO_MSG(0, OT_SETTLE_MS);
}

static void many_timers_each_fire_exactly_once_unless_cancelled(void **state)
{
    (void)state;
    OT_RUN(many_main, NULL);
}

static void pending_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++)
        OT_CHECK_UINT_NE(oak_send_after(3600 * 1000, oak_self(), OT_TAG_DATA,
                                        "x", 2), 0);
    OT_CHECK_UINT_NE(oak_send_after(3600 * 1000, OT_SPAWN(ot_body_forever, NULL, 0),
                                    OT_TAG_DATA, NULL, 0), 0);
}

static void pending_timers_do_not_delay_the_end_of_the_runtime(void **state)
{
    (void)state;
    int64_t t0 = ot_now_ns();
    OT_RUN(pending_main, NULL);
    assert_true(ot_ms_since(t0) < 5000);
}

static int64_t thread_clock[2];

static void *clock_thread(void *arg)
{
    (void)arg;
    thread_clock[0] = oak_now_ms();
    ot_thread_sleep_ms(20);
    thread_clock[1] = oak_now_ms();
    return NULL;
}

static void clock_main(void *arg)
{
    (void)arg;
    int64_t prev = oak_now_ms();
    for (int i = 0; i < 1000; i++) {
        int64_t now = oak_now_ms();
        OT_CHECK_INT_GE(now, prev);
        prev = now;
    }
    pthread_t th;
    OT_CHECK_INT_EQ(pthread_create(&th, NULL, clock_thread, NULL), 0);
    oak_sleep(40);
    pthread_join(th, NULL);
    OT_CHECK_INT_GE(oak_now_ms(), thread_clock[1]);
}

static void now_ms_never_goes_back_on_any_thread(void **state)
{
    (void)state;
    OT_RUN(clock_main, NULL);
    assert_true(thread_clock[1] >= thread_clock[0] + 19);
}

/* ---- receive timeouts, armed lazily ---------------------------------------------- */

/* Sends to `to` and yields, again and again, until killed: each message
 * wakes a waiting receiver, often before its scheduler has armed the
 * receiver's timer. */
static void chatter(void *arg)
{
    oak_pid to = (oak_pid)(uintptr_t)arg;
    for (uint64_t i = 0; i < 50000000; i++) {
        OT_SEND_U64(to, OT_TAG_DATA, i);
        oak_yield();
    }
}

static void chatter_main(void *arg)
{
    (void)arg;
    oak_pid c = OT_SPAWN(chatter, (void *)(uintptr_t)oak_self(), OAK_SPAWN_LINK);
    uint64_t want = OT_TAG_STRAY; /* never sent */
    oak_msg *m = NULL;
    int64_t t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_receive(&m, 100, ot_match_tag, &want), -ETIMEDOUT);
    int64_t took = ot_ms_since(t0);
    OT_CHECK_INT_GE(took, 99);
    OT_CHECK_INT_LT(took, 5000);
    /* It was woken over and over meanwhile. */
    OT_CHECK_INT_GE(oak_message_count(), 10);
    oak_trap_exit(true);
    oak_exit_pid(c, OAK_KILL);
}

static void receive_timeout_holds_while_other_messages_keep_waking_it(void **state)
{
    (void)state;
    OT_RUN(chatter_main, NULL);
}

static void answered_main(void *arg)
{
    (void)arg;
    oak_pid pong = OT_SPAWN(ot_ponger, NULL, OAK_SPAWN_LINK);
    /* Timed waits, each ended by its answer at once (some before their
     * timer is armed, some after), for longer than their timeout: a timer
     * left behind would end one of them early. */
    int64_t t0 = ot_now_ns();
    for (uint64_t i = 0; i < 1000 || (ot_ms_since(t0) < 150 && i < 10000000); i++) {
        OT_SEND_U64(pong, OT_TAG_PING, i);
        OT_CHECK_INT_EQ(OT_RECV_U64(OT_TAG_PONG, 30), i);
    }
    /* None of their timers is left to end a later wait early. */
    for (int i = 0; i < 3; i++) {
        oak_msg *m = NULL;
        int64_t t0 = ot_now_ns();
        OT_CHECK_INT_EQ(oak_receive(&m, 60, NULL, NULL), -ETIMEDOUT);
        OT_CHECK_INT_GE(ot_ms_since(t0), 59);
    }
    OT_SEND(pong, OT_TAG_STOP, NULL, 0);
}

static void timed_receives_ended_by_messages_leave_no_timer_behind(void **state)
{
    (void)state;
    OT_RUN(answered_main, NULL);
}

/* Many processes on every scheduler do selective receives with short
 * timeouts while a pelter wakes them at random with messages they do not
 * want (and now and then one they do): waits end before and after their
 * timers are armed, processes move between schedulers, old list entries
 * pile up. No receive may time out early or hang. */
enum { CHURN_PROCS = 64, CHURN_WAITS = 60 };

static void churn_waiter(void *arg)
{
    oak_pid parent = (oak_pid)(uintptr_t)arg;
    uint32_t x = (uint32_t)oak_self() * 2654435761u;
    uint64_t want = OT_TAG_DATA;
    int timeouts = 0;
    for (int i = 0; i < CHURN_WAITS; i++) {
        x = x * 1103515245u + 12345u;
        int64_t ms = 1 + (x >> 16) % 8;
        oak_msg *m = NULL;
        int64_t t0 = ot_now_ns();
        int rc = oak_receive(&m, ms, ot_match_tag, &want);
        if (rc == -ETIMEDOUT) {
            OT_CHECK_INT_GE(ot_ms_since(t0), ms - 1);
            timeouts++;
        } else {
            OT_CHECK_INT_EQ(rc, 0);
            oak_msg_free(m);
        }
    }
    OT_SEND_U64(parent, OT_TAG_DONE, (uint64_t)timeouts);
}

static void pelter(void *arg)
{
    const oak_pid *to = arg;
    uint32_t x = 99;
    for (;;) {
        x = x * 1103515245u + 12345u;
        oak_pid p = to[(x >> 8) % CHURN_PROCS];
        oak_send(p, (x >> 4) % 16 == 0 ? OT_TAG_DATA : OT_TAG_OTHER, NULL, 0);
        if ((x >> 12) % 8 == 0)
            oak_sleep(1);
        else
            oak_yield();
    }
}

static void churn_main(void *arg)
{
    (void)arg;
    static oak_pid waiters[CHURN_PROCS];
    for (int i = 0; i < CHURN_PROCS; i++)
        waiters[i] = OT_SPAWN(churn_waiter, (void *)(uintptr_t)oak_self(), 0);
    oak_pid pel = OT_SPAWN(pelter, waiters, 0);
    uint64_t timeouts = 0;
    for (int i = 0; i < CHURN_PROCS; i++)
        timeouts += OT_RECV_U64(OT_TAG_DONE, OT_LONG_MS);
    oak_exit_pid(pel, OAK_KILL);
    /* Both ways of ending a wait happened. */
    OT_CHECK_INT_GT(timeouts, 0);
    OT_CHECK_INT_LT(timeouts, CHURN_PROCS * CHURN_WAITS);
}

static void timed_receives_under_churn_never_end_early_or_hang(void **state)
{
    (void)state;
    OT_RUN(churn_main, NULL);
}

/* ---- reused control blocks --------------------------------------------------------------- */

/* A timed wait is listed on its scheduler and armed only at that
 * scheduler's next look at its timers. A process whose wait a message
 * ends at once, and that dies soon after, may leave the entry in the list
 * while its control block is reused by a spawn (on another scheduler,
 * too): the old entry must never arm, end or delay the new incarnation's
 * wait. Drivers on several schedulers run batches of workers that park in
 * a timed receive; most are woken at once by a message, every eighth must
 * time out, none early. (The data race of this path that TSan once found,
 * a spawn clearing and restoring the wait's number under another
 * scheduler's atomic read, shows in test_osproc's `many` group, whose
 * mirrors hibernate; this test asserts the behaviour.) */
enum { REUSE_DRIVERS = 4, REUSE_BATCH = 16 };
#ifdef OAK_TEST_UNDER_TSAN
enum { REUSE_ROUNDS = 60 };
#else
enum { REUSE_ROUNDS = 300 };
#endif

typedef struct reuse_arg {
    oak_pid driver;
    int64_t timeout_ms;
} reuse_arg;

static void reuse_worker(void *arg)
{
    reuse_arg a = *(reuse_arg *)arg;
    uint64_t want = OT_TAG_DATA;
    oak_msg *m = NULL;
    int64_t t0 = ot_now_ns();
    int rc = oak_receive(&m, a.timeout_ms, ot_match_tag, &want);
    if (rc == 0) {
        oak_msg_free(m);
        /* Alive a little longer, perhaps elsewhere: its old scheduler
         * looks at its list meanwhile. */
        oak_sleep(1);
    }
    /* 0: ended by the message; 1: timed out, not early; 2: anything else */
    uint64_t how = rc == 0 ? 0 : rc == -ETIMEDOUT && ot_ms_since(t0) >= a.timeout_ms - 1 ? 1 : 2;
    OT_SEND_U64(a.driver, OT_TAG_REPORT, how);
}

static void reuse_driver(void *arg)
{
    oak_pid parent = (oak_pid)(uintptr_t)arg;
    uint64_t ended = 0, timed_out = 0, wrong = 0;
    for (int r = 0; r < REUSE_ROUNDS; r++) {
        oak_pid w[REUSE_BATCH];
        for (int i = 0; i < REUSE_BATCH; i++) {
            reuse_arg a = {oak_self(), i % 8 == 7 ? 2 : 60000};
            w[i] = OT_SPAWN_COPY(reuse_worker, &a, 0);
        }
        oak_yield(); /* they park (and are listed) meanwhile */
        for (int i = 0; i < REUSE_BATCH; i++)
            if (i % 8 != 7)
                oak_send(w[i], OT_TAG_DATA, NULL, 0);
        for (int i = 0; i < REUSE_BATCH; i++) {
            uint64_t how = OT_RECV_U64(OT_TAG_REPORT, OT_LONG_MS);
            ended += how == 0;
            timed_out += how == 1;
            wrong += how == 2;
        }
    }
    OT_CHECK_UINT_EQ(wrong, 0);
    OT_CHECK_UINT_EQ(ended + timed_out, (uint64_t)REUSE_ROUNDS * REUSE_BATCH);
    OT_CHECK_UINT_EQ(timed_out, (uint64_t)REUSE_ROUNDS * REUSE_BATCH / 8);
    OT_SEND_U64(parent, OT_TAG_DONE, 0);
}

static void reuse_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < REUSE_DRIVERS; i++)
        OT_SPAWN(reuse_driver, (void *)(uintptr_t)oak_self(), 0);
    for (int i = 0; i < REUSE_DRIVERS; i++)
        OT_RECV_U64(OT_TAG_DONE, 4 * OT_LONG_MS);
}

static void reused_control_blocks_keep_their_timed_waits_apart(void **state)
{
    (void)state;
    OT_RUN(reuse_main, NULL);
}

/* ---- timeouts beyond the clock ------------------------------------------------------------ */

/* Every timeout >= 0 is valid; those too long for the clock to hold as a
 * deadline wait forever (no signed overflow, no early end). */
static const int64_t huge_timeouts[] = {INT64_MAX / 1000, INT64_MAX / 1000000 + 1,
                                        INT64_MAX / 2, INT64_MAX};

static void huge_sleeper(void *arg)
{
    oak_sleep(*(const int64_t *)arg);
    OT_FAIL("oak_sleep(%lld) returned", (long long)*(const int64_t *)arg);
}

static void huge_timeouts_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    for (size_t i = 0; i < sizeof huge_timeouts / sizeof *huge_timeouts; i++) {
        int64_t t = huge_timeouts[i];
        /* send_after: never fires, but can be cancelled. */
        oak_ref far = oak_send_after(t, me, OT_TAG_STRAY, NULL, 0);
        OT_CHECK_UINT_NE(far, 0);
        /* receive: waits until a message comes. */
        oak_ref near = oak_send_after(60, me, OT_TAG_DATA, NULL, 0);
        int64_t t0 = ot_now_ns();
        oak_msg *m = NULL;
        OT_CHECK_INT_EQ(oak_receive(&m, t, NULL, NULL), 0);
        OT_CHECK_INT_GE(ot_ms_since(t0), 50);
        OT_CHECK_UINT_EQ(m->ref, near);
        oak_msg_free(m);
        /* receive_ref: the same. */
        near = oak_send_after(60, me, OT_TAG_DATA, NULL, 0);
        t0 = ot_now_ns();
        OT_CHECK_INT_EQ(oak_receive_ref(&m, near, t), 0);
        OT_CHECK_INT_GE(ot_ms_since(t0), 50);
        oak_msg_free(m);
        /* sleep: still asleep a while later. */
        oak_ref mon;
        oak_pid sleeper = OT_SPAWN_COPY_MONITOR(huge_sleeper, &t, 0, &mon);
        OT_NO_MSG(OAK_TAG_DOWN, OT_SETTLE_MS);
        OT_CHECK(oak_is_alive(sleeper));
        OT_CHECK_INT_EQ(oak_exit_pid(sleeper, OAK_KILL), 0);
        OT_CHECK_ATOM_EQ(OT_RECV_DOWN(mon, OT_LONG_MS).reason, OAK_KILLED);
        OT_NO_MSG(OT_TAG_STRAY, 0);
        OT_CHECK_INT_GE(oak_cancel_timer(far), 0);
    }
}

static void timeouts_too_long_for_the_clock_wait_forever(void **state)
{
    (void)state;
    OT_RUN(huge_timeouts_main, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sleep_suspends_for_at_least_the_time_asked),
        cmocka_unit_test(sleep_keeps_arriving_messages_queued),
        cmocka_unit_test(sleeping_processes_do_not_hold_their_scheduler),
        cmocka_unit_test(send_after_delivers_a_copy_with_the_timer_ref_after_the_delay),
        cmocka_unit_test(timers_fire_in_deadline_order),
        cmocka_unit_test(cancel_timer_returns_the_time_left_and_the_message_never_comes),
        cmocka_unit_test(send_after_rejects_negative_delay_and_nopid),
        cmocka_unit_test(send_after_fires_even_if_the_caller_died),
        cmocka_unit_test(many_timers_each_fire_exactly_once_unless_cancelled),
        cmocka_unit_test(pending_timers_do_not_delay_the_end_of_the_runtime),
        cmocka_unit_test(now_ms_never_goes_back_on_any_thread),
        cmocka_unit_test(receive_timeout_holds_while_other_messages_keep_waking_it),
        cmocka_unit_test(timed_receives_ended_by_messages_leave_no_timer_behind),
        cmocka_unit_test(timed_receives_under_churn_never_end_early_or_hang),
        cmocka_unit_test(reused_control_blocks_keep_their_timed_waits_apart),
        cmocka_unit_test(timeouts_too_long_for_the_clock_wait_forever),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
