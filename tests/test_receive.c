/* test_receive.c - selective receive: matching, order of what stays,
 * timeouts (0 polls; a timeout expires), waking on a later match, and
 * oak_receive_ref().
 */
#include "oak_test.h"

static void send_seq(oak_pid to, uint64_t tag, uint64_t v) { OT_SEND_U64(to, tag, v); }

/* ---- matching ------------------------------------------------------------------------ */

static bool match_even(const oak_msg *m, void *arg)
{
    (void)arg;
    return m->tag == OT_TAG_DATA && ot_u64(m) % 2 == 0;
}

static void selective_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    for (uint64_t i = 0; i < 10; i++)
        send_seq(me, OT_TAG_DATA, i);
    /* Takes 0, 2, 4, ... in order; the odd ones stay. */
    for (uint64_t i = 0; i < 10; i += 2) {
        oak_msg *m = NULL;
        OT_CHECK_INT_EQ(oak_receive(&m, 0, match_even, NULL), 0);
        OT_CHECK_UINT_EQ(ot_u64(m), i);
        oak_msg_free(m);
    }
    oak_msg *m = NULL;
    OT_CHECK_INT_EQ(oak_receive(&m, 0, match_even, NULL), -ETIMEDOUT);
    OT_CHECK_INT_EQ(oak_message_count(), 5);
    for (uint64_t i = 1; i < 10; i += 2) {
        m = OT_RECV_ANY(0);
        OT_CHECK_UINT_EQ(ot_u64(m), i);
        oak_msg_free(m);
    }
    OT_CHECK_INT_EQ(oak_message_count(), 0);
}

static void selective_receive_takes_the_first_match_and_keeps_the_rest_in_order(void **state)
{
    (void)state;
    OT_RUN(selective_main, NULL);
}

typedef struct seen {
    void *expected_arg;
    int calls;
    int bad_arg;
} seen;

static bool counting_match(const oak_msg *m, void *arg)
{
    seen *s = arg;
    s->calls++;
    if (s->expected_arg != arg)
        s->bad_arg++;
    return m->tag == OT_TAG_GO;
}

static void match_arg_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    send_seq(me, OT_TAG_DATA, 1);
    send_seq(me, OT_TAG_DATA, 2);
    send_seq(me, OT_TAG_GO, 3);
    seen s = {NULL, 0, 0};
    s.expected_arg = &s;
    oak_msg *m = NULL;
    OT_CHECK_INT_EQ(oak_receive(&m, 0, counting_match, &s), 0);
    OT_CHECK_UINT_EQ(m->tag, OT_TAG_GO);
    oak_msg_free(m);
    OT_CHECK_INT_EQ(s.bad_arg, 0);
    /* It looked at the two non-matching messages and the match, at least. */
    OT_CHECK_INT_GE(s.calls, 3);
    OT_CHECK_INT_EQ(oak_message_count(), 2);
}

static void match_function_gets_its_argument(void **state)
{
    (void)state;
    OT_RUN(match_arg_main, NULL);
}

/* ---- timeouts --------------------------------------------------------------------------- */

static void poll_main(void *arg)
{
    (void)arg;
    oak_msg *m = (oak_msg *)0x1;
    int64_t t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_receive(&m, 0, NULL, NULL), -ETIMEDOUT);
    OT_CHECK_INT_LT(ot_ms_since(t0), 1000);
    send_seq(oak_self(), OT_TAG_DATA, 7);
    m = NULL;
    OT_CHECK_INT_EQ(oak_receive(&m, 0, NULL, NULL), 0);
    OT_CHECK_UINT_EQ(ot_u64(m), 7);
    oak_msg_free(m);
    OT_CHECK_INT_EQ(oak_receive_ref(&m, oak_make_ref(), 0), -ETIMEDOUT);
}

static void receive_with_timeout_0_only_looks(void **state)
{
    (void)state;
    OT_RUN(poll_main, NULL);
}

static void timeout_main(void *arg)
{
    (void)arg;
    const int64_t waits[] = {1, 10, 50, 120};
    for (size_t i = 0; i < sizeof waits / sizeof waits[0]; i++) {
        oak_msg *m = NULL;
        int64_t t0 = ot_now_ns();
        OT_CHECK_INT_EQ(oak_receive(&m, waits[i], NULL, NULL), -ETIMEDOUT);
        int64_t took = ot_ms_since(t0);
        /* Never early (1 ms of slack for clock granularity); never
         * absurdly late. */
        OT_CHECK_INT_GE(took, waits[i] - 1 - waits[i] / 10);
        OT_CHECK_INT_LT(took, 5000);
    }
    /* Also with a match function and non-matching messages present. */
    send_seq(oak_self(), OT_TAG_DATA, 1);
    oak_msg *m = NULL;
    uint64_t tag = OT_TAG_GO;
    int64_t t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_receive(&m, 50, ot_match_tag, &tag), -ETIMEDOUT);
    OT_CHECK_INT_GE(ot_ms_since(t0), 45);
    OT_CHECK_INT_EQ(oak_message_count(), 1);
    t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_receive_ref(&m, oak_make_ref(), 50), -ETIMEDOUT);
    OT_CHECK_INT_GE(ot_ms_since(t0), 45);
    OT_CHECK_INT_LT(ot_ms_since(t0), 5000);
}

static void receive_timeout_expires_after_the_time_asked(void **state)
{
    (void)state;
    OT_RUN(timeout_main, NULL);
}

static void late_sender(void *arg)
{
    oak_pid to = *(oak_pid *)arg;
    oak_sleep(30);
    send_seq(to, OT_TAG_DATA, 99);
}

static void wake_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    OT_SPAWN_COPY(late_sender, &me, 0);
    oak_msg *m = NULL;
    int64_t t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_receive(&m, 10 * OT_LONG_MS, NULL, NULL), 0);
    OT_CHECK_INT_LT(ot_ms_since(t0), OT_LONG_MS);
    OT_CHECK_UINT_EQ(ot_u64(m), 99);
    oak_msg_free(m);
    /* Infinite wait, woken by a message. */
    OT_SPAWN_COPY(late_sender, &me, 0);
    OT_CHECK_INT_EQ(oak_receive(&m, OAK_INFINITY, NULL, NULL), 0);
    OT_CHECK_UINT_EQ(ot_u64(m), 99);
    oak_msg_free(m);
}

static void waiting_receive_returns_a_message_that_arrives_meanwhile(void **state)
{
    (void)state;
    OT_RUN(wake_main, NULL);
}

typedef struct drip_arg {
    oak_pid to;
    int count;
} drip_arg;

static void dripper(void *arg)
{
    drip_arg a = *(drip_arg *)arg;
    for (int i = 0; i < a.count; i++) {
        send_seq(a.to, OT_TAG_DATA, (uint64_t)i);
        oak_sleep(5);
    }
    send_seq(a.to, OT_TAG_GO, 0);
}

static void wake_on_match_main(void *arg)
{
    (void)arg;
    drip_arg a = {oak_self(), 20};
    OT_SPAWN_COPY(dripper, &a, 0);
    /* Non-matching messages arrive while we wait; only GO ends the wait. */
    oak_msg *go = OT_RECV_TAG(OT_TAG_GO, OT_LONG_MS);
    oak_msg_free(go);
    OT_CHECK_INT_EQ(oak_message_count(), 20);
    for (uint64_t i = 0; i < 20; i++) {
        oak_msg *m = OT_RECV_ANY(0);
        OT_CHECK_UINT_EQ(m->tag, OT_TAG_DATA);
        OT_CHECK_UINT_EQ(ot_u64(m), i);
        oak_msg_free(m);
    }
}

static void selective_receive_waits_through_non_matching_arrivals(void **state)
{
    (void)state;
    OT_RUN(wake_on_match_main, NULL);
}

/* ---- receive_ref ---------------------------------------------------------------------------- */

static void call(oak_pid server, oak_ref ref, uint64_t v)
{
    OT_CHECK_INT_EQ(oak_send_ref(server, ref, OT_TAG_PING, &v, sizeof v), 0);
}

static void ref_only_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    oak_pid srv = OT_SPAWN(ot_ponger, NULL, 0);
    oak_ref r1 = oak_make_ref();
    call(srv, r1, 1);
    oak_ref r2 = oak_make_ref();
    call(srv, r2, 2);
    send_seq(me, OT_TAG_PONG, 3); /* a PONG without ref */

    oak_msg *m = NULL;
    OT_CHECK_INT_EQ(oak_receive_ref(&m, r2, OT_LONG_MS), 0);
    OT_CHECK_UINT_EQ(m->ref, r2);
    OT_CHECK_UINT_EQ(ot_u64(m), 2);
    OT_CHECK_UINT_EQ(m->from, srv);
    oak_msg_free(m);
    OT_CHECK_INT_EQ(oak_receive_ref(&m, r1, OT_LONG_MS), 0);
    OT_CHECK_UINT_EQ(m->ref, r1);
    OT_CHECK_UINT_EQ(ot_u64(m), 1);
    oak_msg_free(m);
    /* The message without ref is still there, and nothing else. */
    OT_CHECK_INT_EQ(oak_message_count(), 1);
    m = OT_RECV_ANY(0);
    OT_CHECK_UINT_EQ(ot_u64(m), 3);
    OT_CHECK_UINT_EQ(m->ref, 0);
    oak_msg_free(m);
    OT_SEND_U64(srv, OT_TAG_STOP, 0);
}

static void receive_ref_takes_only_the_message_with_that_ref(void **state)
{
    (void)state;
    OT_RUN(ref_only_main, NULL);
}

static void long_queue_main(void *arg)
{
    (void)arg;
    enum { QUEUE = 20000, CALLS = 200 };
    oak_pid me = oak_self();
    oak_pid srv = OT_SPAWN(ot_ponger, NULL, 0);
    for (uint64_t i = 0; i < QUEUE; i++)
        send_seq(me, OT_TAG_OTHER, i);
    for (uint64_t c = 0; c < CALLS; c++) {
        oak_ref r = oak_make_ref();
        call(srv, r, c);
        oak_msg *m = NULL;
        OT_CHECK_INT_EQ(oak_receive_ref(&m, r, OT_LONG_MS), 0);
        OT_CHECK_UINT_EQ(m->ref, r);
        OT_CHECK_UINT_EQ(m->tag, OT_TAG_PONG);
        OT_CHECK_UINT_EQ(ot_u64(m), c);
        oak_msg_free(m);
    }
    /* The queue is untouched and in order. */
    OT_CHECK_INT_EQ(oak_message_count(), QUEUE);
    for (uint64_t i = 0; i < QUEUE; i++) {
        oak_msg *m = OT_RECV_ANY(0);
        OT_CHECK_UINT_EQ(ot_u64(m), i);
        oak_msg_free(m);
    }
    OT_SEND_U64(srv, OT_TAG_STOP, 0);
}

static void receive_ref_finds_the_reply_behind_a_long_queue(void **state)
{
    (void)state;
    OT_RUN(long_queue_main, NULL);
}

static void ref_down_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    for (uint64_t i = 0; i < 1000; i++)
        send_seq(me, OT_TAG_OTHER, i);
    oak_pid p = OT_SPAWN(ot_body_until_stop, NULL, 0);
    oak_ref r = oak_monitor(p);
    OT_SEND_U64(p, OT_TAG_STOP, 0);
    oak_msg *m = NULL;
    OT_CHECK_INT_EQ(oak_receive_ref(&m, r, OT_LONG_MS), 0);
    ot_signal d;
    OT_TAKE_SIGNAL(m, &d);
    OT_CHECK_UINT_EQ(d.tag, OAK_TAG_DOWN);
    OT_CHECK_UINT_EQ(d.ref, r);
    OT_CHECK_UINT_EQ(d.from, p);
    OT_CHECK_ATOM_EQ(d.reason, OAK_NORMAL);
    OT_CHECK_INT_EQ(oak_message_count(), 1000);
}

static void receive_ref_takes_the_down_of_a_monitor(void **state)
{
    (void)state;
    OT_RUN(ref_down_main, NULL);
}

/* ---- where receive may be called ----------------------------------------------------------- */

static int thread_rc1, thread_rc2, thread_rc3;

static void *outside_thread(void *arg)
{
    (void)arg;
    oak_msg *m = NULL;
    thread_rc1 = oak_receive(&m, 0, NULL, NULL);
    thread_rc2 = oak_receive_ref(&m, 1, 0);
    thread_rc3 = oak_sleep(1);
    return NULL;
}

static void outside_main(void *arg)
{
    (void)arg;
    pthread_t th;
    OT_CHECK_INT_EQ(pthread_create(&th, NULL, outside_thread, NULL), 0);
    pthread_join(th, NULL);
}

static void receive_outside_a_process_returns_eperm(void **state)
{
    (void)state;
    oak_msg *m = NULL;
    assert_int_equal(oak_receive(&m, 0, NULL, NULL), -EPERM);
    assert_int_equal(oak_receive_ref(&m, 1, 0), -EPERM);
    thread_rc1 = thread_rc2 = thread_rc3 = 0;
    OT_RUN(outside_main, NULL);
    assert_int_equal(thread_rc1, -EPERM);
    assert_int_equal(thread_rc2, -EPERM);
    assert_int_equal(thread_rc3, -EPERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(selective_receive_takes_the_first_match_and_keeps_the_rest_in_order),
        cmocka_unit_test(match_function_gets_its_argument),
        cmocka_unit_test(receive_with_timeout_0_only_looks),
        cmocka_unit_test(receive_timeout_expires_after_the_time_asked),
        cmocka_unit_test(waiting_receive_returns_a_message_that_arrives_meanwhile),
        cmocka_unit_test(selective_receive_waits_through_non_matching_arrivals),
        cmocka_unit_test(receive_ref_takes_only_the_message_with_that_ref),
        cmocka_unit_test(receive_ref_finds_the_reply_behind_a_long_queue),
        cmocka_unit_test(receive_ref_takes_the_down_of_a_monitor),
        cmocka_unit_test(receive_outside_a_process_returns_eperm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
