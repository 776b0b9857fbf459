/* test_messages.c - sending: copy semantics, order between a pair, the
 * message's fields, payload alignment and size, sending to dead pids, the
 * argument errors, references, and message ownership.
 */
#include "oak_test.h"

/* ---- copy semantics ---------------------------------------------------------------- */

static void copy_sender(void *arg)
{
    oak_pid to = *(oak_pid *)arg;
    char buf[64];
    memset(buf, 'A', sizeof buf);
    OT_CHECK_INT_EQ(oak_send(to, OT_TAG_DATA, buf, sizeof buf), 0);
    /* The message is a copy: scribbling on the buffer now changes nothing
     * the receiver sees. */
    memset(buf, 'B', sizeof buf);
    OT_CHECK_INT_EQ(oak_send(to, OT_TAG_DATA, buf, sizeof buf), 0);
    memset(buf, 'C', sizeof buf);
    uint64_t where = (uint64_t)(uintptr_t)buf;
    OT_SEND_U64(to, OT_TAG_REPORT, where);
    /* Keep the frame alive until the receiver has looked. */
    oak_msg_free(OT_RECV_TAG(OT_TAG_GO, OAK_INFINITY));
}

static void copy_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    oak_pid s = OT_SPAWN_COPY(copy_sender, &me, 0);
    oak_msg *m1 = OT_RECV_TAG(OT_TAG_DATA, OT_LONG_MS);
    oak_msg *m2 = OT_RECV_TAG(OT_TAG_DATA, OT_LONG_MS);
    uint64_t where = OT_RECV_U64(OT_TAG_REPORT, OT_LONG_MS);
    OT_CHECK_INT_EQ(m1->size, 64);
    OT_CHECK_INT_EQ(m2->size, 64);
    OT_CHECK_UINT_EQ(m1->from, s);
    OT_CHECK_UINT_NE((uint64_t)(uintptr_t)m1->data, where);
    OT_CHECK_UINT_NE((uint64_t)(uintptr_t)m2->data, where);
    for (int i = 0; i < 64; i++) {
        OT_CHECK_INT_EQ(((const char *)m1->data)[i], 'A');
        OT_CHECK_INT_EQ(((const char *)m2->data)[i], 'B');
    }
    oak_msg_free(m1);
    oak_msg_free(m2);
    OT_SEND_U64(s, OT_TAG_GO, 0);
}

static void send_copies_the_payload_so_the_sender_may_reuse_its_buffer(void **state)
{
    (void)state;
    OT_RUN(copy_main, NULL);
}

/* ---- order ------------------------------------------------------------------------------ */

typedef struct seq_arg {
    oak_pid to;
    uint32_t id;
    uint32_t count;
} seq_arg;

static void seq_sender(void *arg)
{
    seq_arg a = *(seq_arg *)arg;
    for (uint32_t i = 0; i < a.count; i++) {
        uint32_t v[2] = {a.id, i};
        OT_CHECK_INT_EQ(oak_send(a.to, OT_TAG_DATA, v, sizeof v), 0);
    }
}

static void order_main(void *arg)
{
    int senders = *(int *)arg;
    enum { COUNT = 20000 };
    uint32_t next[8] = {0};
    for (int s = 0; s < senders; s++) {
        seq_arg a = {oak_self(), (uint32_t)s, COUNT};
        OT_SPAWN_COPY(seq_sender, &a, 0);
    }
    for (long n = 0; n < (long)senders * COUNT; n++) {
        oak_msg *m = OT_RECV_TAG(OT_TAG_DATA, OT_LONG_MS);
        uint32_t v[2];
        OT_CHECK_INT_EQ(m->size, sizeof v);
        memcpy(v, m->data, sizeof v);
        oak_msg_free(m);
        OT_CHECK_INT_LT(v[0], senders);
        OT_CHECK_INT_EQ(v[1], next[v[0]]);
        next[v[0]]++;
    }
    OT_NO_MSG(OT_TAG_DATA, 20);
}

static void messages_from_one_process_arrive_in_send_order(void **state)
{
    (void)state;
    int one = 1;
    OT_RUN(order_main, &one);
}

static void each_of_several_senders_keeps_its_order(void **state)
{
    (void)state;
    int four = 4;
    OT_RUN(order_main, &four);
}

/* ---- the message's fields ---------------------------------------------------------------- */

static void fields_sender(void *arg)
{
    oak_pid to = *(oak_pid *)arg;
    OT_CHECK_INT_EQ(oak_send_ref(to, (oak_ref)0xABCDEF12345ull, 42, "ref'd", 6), 0);
    OT_CHECK_INT_EQ(oak_send(to, (uint64_t)1 << 62, "plain", 6), 0);
    OT_CHECK_INT_EQ(oak_send(to, oak_atom_from("an_atom_tag"), NULL, 0), 0);
}

static void fields_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    oak_ref r = 0;
    oak_pid s = OT_SPAWN_COPY_MONITOR(fields_sender, &me, 0, &r);
    OT_RECV_DOWN(r, OT_LONG_MS);

    oak_msg *m = OT_RECV_ANY(OT_LONG_MS);
    OT_CHECK_UINT_EQ(m->tag, 42);
    OT_CHECK_UINT_EQ(m->ref, 0xABCDEF12345ull);
    OT_CHECK_UINT_EQ(m->from, s);
    OT_CHECK_INT_EQ(m->size, 6);
    OT_CHECK_STR_EQ((const char *)m->data, "ref'd");
    oak_msg_free(m);

    m = OT_RECV_ANY(OT_LONG_MS);
    OT_CHECK_UINT_EQ(m->tag, (uint64_t)1 << 62);
    OT_CHECK_UINT_EQ(m->ref, 0);
    OT_CHECK_UINT_EQ(m->from, s);
    OT_CHECK_STR_EQ((const char *)m->data, "plain");
    oak_msg_free(m);

    m = OT_RECV_ANY(OT_LONG_MS);
    OT_CHECK_UINT_EQ(m->tag, oak_atom_from("an_atom_tag"));
    OT_CHECK_INT_EQ(m->size, 0);
    OT_CHECK(m->data == NULL);
    oak_msg_free(m);
}

static void message_carries_tag_ref_sender_and_payload_and_outlives_its_sender(void **state)
{
    (void)state;
    OT_RUN(fields_main, NULL);
}

static void align_main(void *arg)
{
    (void)arg;
    static unsigned char src[1 << 17];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (unsigned char)(i * 31 + 7);
    const size_t sizes[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65,
                            100, 255, 256, 1000, 4095, 4096, 4097, 65536,
                            sizeof src};
    oak_pid me = oak_self();
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        /* From an odd address too. */
        const unsigned char *from = src + (k % 3);
        size_t n = sizes[k] - (k % 3 && sizes[k] > 3 ? 3 : 0);
        OT_CHECK_INT_EQ(oak_send(me, OT_TAG_DATA, from, n), 0);
        oak_msg *m = OT_RECV_TAG(OT_TAG_DATA, OT_LONG_MS);
        OT_CHECK_INT_EQ(m->size, n);
        OT_CHECK_INT_EQ((uintptr_t)m->data % 16, 0);
        OT_CHECK(memcmp(m->data, from, n) == 0);
        oak_msg_free(m);
    }
    /* Size 0 with a non-NULL pointer: still no payload. */
    OT_CHECK_INT_EQ(oak_send(me, OT_TAG_DATA, src, 0), 0);
    oak_msg *m = OT_RECV_TAG(OT_TAG_DATA, OT_LONG_MS);
    OT_CHECK_INT_EQ(m->size, 0);
    OT_CHECK(m->data == NULL);
    oak_msg_free(m);
}

static void payload_arrives_intact_and_16_byte_aligned_for_every_size(void **state)
{
    (void)state;
    OT_RUN(align_main, NULL);
}

static void large_receiver(void *arg)
{
    oak_pid parent = *(oak_pid *)arg;
    oak_msg *m = OT_RECV_TAG(OT_TAG_DATA, OAK_INFINITY);
    const uint32_t *w = m->data;
    for (size_t i = 0; i < m->size / 4; i++)
        if (w[i] != (uint32_t)(i * 2654435761u))
            OT_FAIL("word %zu is %#x", i, w[i]);
    OT_SEND_U64(parent, OT_TAG_REPORT, m->size);
    oak_msg_free(m);
}

static void large_main(void *arg)
{
    (void)arg;
    size_t n = 4u << 20;
    uint32_t *buf = malloc(n);
    OT_CHECK(buf != NULL);
    for (size_t i = 0; i < n / 4; i++)
        buf[i] = (uint32_t)(i * 2654435761u);
    oak_pid me = oak_self();
    oak_pid p = OT_SPAWN_COPY(large_receiver, &me, 0);
    int rc = oak_send(p, OT_TAG_DATA, buf, n);
    memset(buf, 0, n);
    free(buf);
    OT_CHECK_INT_EQ(rc, 0);
    OT_CHECK_UINT_EQ(OT_RECV_U64(OT_TAG_REPORT, OT_LONG_MS), n);
}

static void large_payload_arrives_intact_in_another_process(void **state)
{
    (void)state;
    OT_RUN(large_main, NULL);
}

/* ---- dead pids and bad arguments ------------------------------------------------------------ */

static void dead_main(void *arg)
{
    (void)arg;
    oak_pid dead = OT_DEAD_PID();
    OT_CHECK_INT_EQ(oak_send(dead, OT_TAG_DATA, "x", 1), 0);
    OT_CHECK_INT_EQ(oak_send_ref(dead, oak_make_ref(), OT_TAG_DATA, NULL, 0), 0);
    OT_CHECK(!oak_is_alive(dead));
    OT_NO_MSG(0, OT_SETTLE_MS);
}

static void send_to_a_dead_pid_returns_0_and_delivers_nothing(void **state)
{
    (void)state;
    OT_RUN(dead_main, NULL);
}

static void einval_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    OT_CHECK_INT_EQ(oak_send(OAK_NOPID, OT_TAG_DATA, "x", 1), -EINVAL);
    OT_CHECK_INT_EQ(oak_send(me, OT_TAG_DATA, NULL, 1), -EINVAL);
    OT_CHECK_INT_EQ(oak_send(me, OAK_TAG_EXIT, NULL, 0), -EINVAL);
    OT_CHECK_INT_EQ(oak_send(me, OAK_TAG_DOWN, NULL, 0), -EINVAL);
    OT_CHECK_INT_EQ(oak_send(me, (uint64_t)1 << 63, NULL, 0), -EINVAL);
    OT_CHECK_INT_EQ(oak_send(me, UINT64_MAX, NULL, 0), -EINVAL);
    OT_CHECK_INT_EQ(oak_send_ref(OAK_NOPID, 1, OT_TAG_DATA, NULL, 0), -EINVAL);
    OT_CHECK_INT_EQ(oak_send_ref(me, 1, OT_TAG_DATA, NULL, 5), -EINVAL);
    OT_CHECK_INT_EQ(oak_send_ref(me, 1, OAK_TAG_DOWN, NULL, 0), -EINVAL);
    OT_CHECK_INT_EQ(oak_send_name(oak_atom_from("x"), OAK_TAG_EXIT, NULL, 0) < 0, 1);
    /* The largest user tag is fine. */
    OT_CHECK_INT_EQ(oak_send(me, ((uint64_t)1 << 63) - 1, NULL, 0), 0);
    oak_msg *m = OT_RECV_ANY(OT_LONG_MS);
    OT_CHECK_UINT_EQ(m->tag, ((uint64_t)1 << 63) - 1);
    oak_msg_free(m);
    /* None of the failed sends delivered anything. */
    OT_CHECK_INT_EQ(oak_message_count(), 0);
    OT_CHECK_INT_EQ(oak_receive(NULL, 0, NULL, NULL), -EINVAL);
    OT_CHECK_INT_EQ(oak_receive_ref(NULL, 1, 0), -EINVAL);
    oak_msg_free(NULL);
}

static void send_rejects_nopid_null_data_and_runtime_tags(void **state)
{
    (void)state;
    OT_RUN(einval_main, NULL);
}

/* ---- message_count -------------------------------------------------------------------------- */

static void count_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    OT_CHECK_INT_EQ(oak_message_count(), 0);
    for (int i = 0; i < 5; i++)
        OT_SEND_U64(me, OT_TAG_DATA + (i % 2), i);
    OT_CHECK_INT_EQ(oak_message_count(), 5);
    oak_process_info info;
    OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
    OT_CHECK_INT_EQ(info.message_queue, 5);
    oak_msg_free(OT_RECV_TAG(OT_TAG_REPORT, 0));
    OT_CHECK_INT_EQ(oak_message_count(), 4);
    oak_msg_free(OT_RECV_ANY(0));
    oak_msg_free(OT_RECV_ANY(0));
    OT_CHECK_INT_EQ(oak_message_count(), 2);
    /* A received message no longer counts, freed or not. */
    oak_msg *kept = OT_RECV_ANY(0);
    OT_CHECK_INT_EQ(oak_message_count(), 1);
    oak_msg_free(kept);
    oak_msg_free(OT_RECV_ANY(0));
    OT_CHECK_INT_EQ(oak_message_count(), 0);
}

static void message_count_counts_messages_waiting_in_the_mailbox(void **state)
{
    (void)state;
    OT_RUN(count_main, NULL);
}

/* ---- ownership ---------------------------------------------------------------------------- */

static void hoarder(void *arg)
{
    oak_pid parent = *(oak_pid *)arg;
    /* Take some messages and never free them; leave the rest unread. */
    for (int i = 0; i < 10; i++)
        (void)OT_RECV_TAG(OT_TAG_DATA, OAK_INFINITY);
    OT_SEND_U64(parent, OT_TAG_READY, 0);
    oak_msg_free(OT_RECV_TAG(OT_TAG_STOP, OAK_INFINITY));
}

static void hoard_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    static char blob[3000];
    for (int round = 0; round < 20; round++) {
        oak_ref r = 0;
        oak_pid h = OT_SPAWN_COPY_MONITOR(hoarder, &me, 0, &r);
        for (int i = 0; i < 10; i++)
            OT_SEND(h, OT_TAG_DATA, blob, sizeof blob);
        OT_RECV_U64(OT_TAG_READY, OT_LONG_MS);
        for (int i = 0; i < 100; i++)
            OT_SEND(h, OT_TAG_OTHER, blob, sizeof blob);
        if (round % 2)
            OT_SEND_U64(h, OT_TAG_STOP, 0);
        else
            OT_CHECK_INT_EQ(oak_exit_pid(h, OAK_KILL), 0);
        OT_RECV_DOWN(r, OT_LONG_MS);
    }
    /* Unread messages to ourselves are freed when the runtime ends. */
    for (int i = 0; i < 100; i++)
        OT_SEND(me, OT_TAG_OTHER, blob, sizeof blob);
}

static void unread_and_unfreed_messages_are_freed_with_their_process(void **state)
{
    (void)state;
    OT_RUN(hoard_main, NULL);
}

/* ---- memory ------------------------------------------------------------------------------- */

enum { BURST_SENDERS = 4, BURST_EACH = 100000 };

/* Sends its share of the burst (small messages, from whichever scheduler
 * it runs on), then DONE. */
static void burst_sender(void *arg)
{
    oak_pid to = *(oak_pid *)arg;
    uint64_t v[2] = {0, 0};
    for (int i = 0; i < BURST_EACH; i++) {
        v[0] = (uint64_t)i;
        OT_CHECK_INT_EQ(oak_send(to, OT_TAG_DATA, v, sizeof v), 0);
    }
    oak_send(to, OT_TAG_DONE, NULL, 0);
}

static void burst_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    long before = ot_resident_kib();
    for (int i = 0; i < BURST_SENDERS; i++)
        OT_SPAWN_COPY(burst_sender, &me, 0);
    for (int i = 0; i < BURST_SENDERS; i++)
        oak_msg_free(OT_RECV_TAG(OT_TAG_DONE, OT_LONG_MS));
    long peak = ot_resident_kib();
    OT_CHECK_INT_EQ(oak_message_count(), BURST_SENDERS * BURST_EACH);
    for (long n = 0; n < (long)BURST_SENDERS * BURST_EACH; n++)
        oak_msg_free(OT_RECV_TAG(OT_TAG_DATA, OT_LONG_MS));
    /* The burst really took memory: 400,000 messages in the mailbox. */
    print_message("burst: resident %ld KiB before, %ld KiB with the messages\n", before, peak);
    OT_CHECK_INT_GT(peak - before, 20 * 1024);
    /* Received and freed, it is given back: at once on the scheduler
     * that frees, within a second or so on the others (they sweep when
     * idle). Wait until most of it is gone. */
    long after = ot_resident_kib();
    for (int64_t waited = 0; after - before > (peak - before) / 4 && waited < OT_LONG_MS;
         waited += 50) {
        oak_sleep(50);
        after = ot_resident_kib();
    }
    print_message("burst: resident %ld KiB after\n", after);
    OT_CHECK_INT_LT(after - before, (peak - before) / 4);
}

static void a_burst_of_messages_gives_its_memory_back(void **state)
{
    (void)state;
    OT_RUN(burst_main, NULL);
}

/* ---- references ----------------------------------------------------------------------------- */

enum { REF_PROCS = 4, REFS_EACH = 5000 };
static oak_ref all_refs[REF_PROCS * REFS_EACH + 100];

static void ref_maker(void *arg)
{
    int idx = *(int *)arg;
    for (int i = 0; i < REFS_EACH; i++)
        all_refs[idx * REFS_EACH + i] = oak_make_ref();
}

static void *ref_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++)
        all_refs[REF_PROCS * REFS_EACH + i] = oak_make_ref();
    return NULL;
}

static void refs_main(void *arg)
{
    (void)arg;
    oak_ref r[REF_PROCS];
    for (int i = 0; i < REF_PROCS; i++)
        OT_SPAWN_COPY_MONITOR(ref_maker, &i, 0, &r[i]);
    pthread_t th;
    OT_CHECK_INT_EQ(pthread_create(&th, NULL, ref_thread, NULL), 0);
    for (int i = 0; i < REF_PROCS; i++)
        OT_RECV_DOWN(r[i], OT_LONG_MS);
    pthread_join(th, NULL);
}

static int cmp_ref(const void *a, const void *b)
{
    oak_ref x = *(const oak_ref *)a, y = *(const oak_ref *)b;
    return x < y ? -1 : x > y;
}

static void make_ref_gives_unique_nonzero_references_from_any_thread(void **state)
{
    (void)state;
    memset(all_refs, 0, sizeof all_refs);
    OT_RUN(refs_main, NULL);
    size_t n = sizeof all_refs / sizeof all_refs[0];
    qsort(all_refs, n, sizeof all_refs[0], cmp_ref);
    assert_int_not_equal(all_refs[0], 0);
    for (size_t i = 1; i < n; i++)
        assert_int_not_equal(all_refs[i], all_refs[i - 1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(send_copies_the_payload_so_the_sender_may_reuse_its_buffer),
        cmocka_unit_test(messages_from_one_process_arrive_in_send_order),
        cmocka_unit_test(each_of_several_senders_keeps_its_order),
        cmocka_unit_test(message_carries_tag_ref_sender_and_payload_and_outlives_its_sender),
        cmocka_unit_test(payload_arrives_intact_and_16_byte_aligned_for_every_size),
        cmocka_unit_test(large_payload_arrives_intact_in_another_process),
        cmocka_unit_test(send_to_a_dead_pid_returns_0_and_delivers_nothing),
        cmocka_unit_test(send_rejects_nopid_null_data_and_runtime_tags),
        cmocka_unit_test(message_count_counts_messages_waiting_in_the_mailbox),
        cmocka_unit_test(unread_and_unfreed_messages_are_freed_with_their_process),
        cmocka_unit_test(a_burst_of_messages_gives_its_memory_back),
        cmocka_unit_test(make_ref_gives_unique_nonzero_references_from_any_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
