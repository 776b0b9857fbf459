/* test_stress.c - the runtime under load, checked for exactness: a million
 * messages between schedulers with none lost or reordered per pair, 100,000
 * processes alive at once, kill storms and link storms where every monitor
 * and every link fires exactly once, and spawn churn from several processes
 * at once. Every run ends with nothing left (ot_run checks the count; the
 * ASan build checks that everything was freed).
 *
 * Sizes are meant to take well under 10 s each on a 2-core machine in the
 * ASan build. The TSan build is several times slower on message-heavy
 * loops, so there the loops are shortened (STRESS_DIV); the shape of every
 * test stays the same.
 */
#include "oak_test.h"

#if defined(__SANITIZE_THREAD__)
#define STRESS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRESS_TSAN 1
#endif
#endif
#ifdef STRESS_TSAN
#define STRESS_DIV 4
#else
#define STRESS_DIV 1
#endif

static oak_config stress_config(void)
{
    oak_config cfg;
    memset(&cfg, 0, sizeof cfg);
    /* At least two schedulers, so that pairs really are on different ones. */
    cfg.schedulers = ot_cpus() >= 2 ? 0 : 2;
    return cfg;
}

/* A map from monitor refs to indices, to check that every DOWN comes
 * exactly once. */
typedef struct ref_index {
    oak_ref ref;
    uint32_t idx;
} ref_index;

static int cmp_ref_index(const void *a, const void *b)
{
    oak_ref x = ((const ref_index *)a)->ref, y = ((const ref_index *)b)->ref;
    return x < y ? -1 : x > y;
}

static long find_ref(const ref_index *map, size_t n, oak_ref ref)
{
    ref_index key = {ref, 0};
    const ref_index *hit = bsearch(&key, map, n, sizeof *map, cmp_ref_index);
    return hit ? (long)hit->idx : -1;
}

/* ---- a million messages ------------------------------------------------------------------ */

enum { SENDERS = 4, PER_SENDER = 250000 / STRESS_DIV };

typedef struct stream_arg {
    oak_pid to;
    uint32_t id;
} stream_arg;

static void streamer(void *arg)
{
    stream_arg a = *(stream_arg *)arg;
    for (uint32_t i = 0; i < PER_SENDER; i++) {
        uint32_t v[2] = {a.id, i};
        int rc = oak_send(a.to, OT_TAG_DATA, v, sizeof v);
        if (rc != 0)
            OT_FAIL("send %u of sender %u: %d", i, a.id, rc);
    }
}

static void million_main(void *arg)
{
    (void)arg;
    int64_t t0 = ot_now_ns();
    oak_ref refs[SENDERS];
    for (uint32_t s = 0; s < SENDERS; s++) {
        stream_arg a = {oak_self(), s};
        OT_SPAWN_COPY_MONITOR(streamer, &a, 0, &refs[s]);
    }
    uint32_t next[SENDERS] = {0};
    long total = (long)SENDERS * PER_SENDER;
    uint64_t tag = OT_TAG_DATA;
    for (long n = 0; n < total; n++) {
        oak_msg *m = NULL;
        int rc = oak_receive(&m, OT_LONG_MS, ot_match_tag, &tag);
        if (rc != 0)
            OT_FAIL("message %ld of %ld never came: %d", n, total, rc);
        uint32_t v[2];
        memcpy(v, m->data, sizeof v);
        oak_msg_free(m);
        if (v[0] >= SENDERS || v[1] != next[v[0]])
            OT_FAIL("sender %u: got message %u, expected %u", v[0], v[1],
                    v[0] < SENDERS ? next[v[0]] : 0);
        next[v[0]]++;
    }
    for (int s = 0; s < SENDERS; s++)
        OT_CHECK_ATOM_EQ(OT_RECV_DOWN(refs[s], OT_LONG_MS).reason, OAK_NORMAL);
    OT_NO_MSG(0, 20);
    print_message("%ld messages from %d senders in %lld ms\n", total, SENDERS,
                  (long long)ot_ms_since(t0));
}

static void million_messages_between_schedulers_arrive_complete_and_in_order(void **state)
{
    (void)state;
    oak_config cfg = stress_config();
    ot_run_limit_s = 120;
    OT_RUN_CFG(million_main, NULL, &cfg);
}

/* Pairs exchanging messages both ways at once, each pair checking order. */
typedef struct pair_arg {
    oak_pid peer;   /* 0 for the first of a pair: it learns the peer */
    oak_pid driver;
} pair_arg;

enum { PAIRS = 8, PAIR_MSGS = 20000 / STRESS_DIV };

static void pair_proc(void *arg)
{
    pair_arg a = *(pair_arg *)arg;
    if (!a.peer) {
        a.peer = OT_RECV_U64(OT_TAG_READY, OAK_INFINITY);
    } else {
        OT_SEND_U64(a.peer, OT_TAG_READY, oak_self());
    }
    uint64_t sent = 0, got = 0;
    uint64_t tag = OT_TAG_DATA;
    while (sent < PAIR_MSGS || got < PAIR_MSGS) {
        if (sent < PAIR_MSGS) {
            OT_SEND_U64(a.peer, OT_TAG_DATA, sent);
            sent++;
        }
        oak_msg *m = NULL;
        int64_t wait = sent < PAIR_MSGS ? 0 : OT_LONG_MS;
        if (oak_receive(&m, wait, ot_match_tag, &tag) == 0) {
            if (ot_u64(m) != got)
                OT_FAIL("pair got %llu, expected %llu",
                        (unsigned long long)ot_u64(m), (unsigned long long)got);
            got++;
            oak_msg_free(m);
        } else if (wait) {
            OT_FAIL("pair waited in vain for message %llu", (unsigned long long)got);
        }
    }
}

static void pairs_main(void *arg)
{
    (void)arg;
    oak_ref refs[2 * PAIRS];
    for (int p = 0; p < PAIRS; p++) {
        pair_arg a = {0, oak_self()};
        oak_pid first = OT_SPAWN_COPY_MONITOR(pair_proc, &a, 0, &refs[2 * p]);
        pair_arg b = {first, oak_self()};
        OT_SPAWN_COPY_MONITOR(pair_proc, &b, 0, &refs[2 * p + 1]);
    }
    for (int i = 0; i < 2 * PAIRS; i++)
        OT_CHECK_ATOM_EQ(OT_RECV_DOWN(refs[i], OT_LONG_MS).reason, OAK_NORMAL);
}

static void pairs_sending_both_ways_at_once_keep_order(void **state)
{
    (void)state;
    oak_config cfg = stress_config();
    ot_run_limit_s = 120;
    OT_RUN_CFG(pairs_main, NULL, &cfg);
}

/* ---- 100,000 processes ------------------------------------------------------------------- */

/* TSan gives every process a fiber and allows 8128 threads and fibers in
 * all, so under TSan the crowd is scaled down below that limit. */
#ifdef STRESS_TSAN
enum { CROWD = 6000 };
#else
enum { CROWD = 100000 };
#endif
static oak_pid crowd[CROWD];
static ref_index crowd_refs[CROWD];
static unsigned char crowd_seen[CROWD];

static void crowd_main(void *arg)
{
    (void)arg;
    int64_t t0 = ot_now_ns();
    for (uint32_t i = 0; i < CROWD; i++) {
        oak_ref r = 0;
        crowd[i] = OT_SPAWN_MONITOR(ot_body_until_stop, NULL, 0, &r);
        crowd_refs[i] = (ref_index){r, i};
    }
    int64_t spawned_ms = ot_ms_since(t0);
    OT_CHECK_INT_EQ(oak_process_count(), CROWD + 1);
    qsort(crowd_refs, CROWD, sizeof crowd_refs[0], cmp_ref_index);
    for (uint32_t i = 1; i < CROWD; i++)
        OT_CHECK_UINT_NE(crowd_refs[i].ref, crowd_refs[i - 1].ref);
    for (uint32_t i = 0; i < CROWD; i++)
        OT_CHECK(oak_is_alive(crowd[i]));
    for (uint32_t i = 0; i < CROWD; i++)
        OT_SEND_U64(crowd[i], OT_TAG_STOP, 0);
    memset(crowd_seen, 0, sizeof crowd_seen);
    uint64_t tag = OAK_TAG_DOWN;
    for (uint32_t n = 0; n < CROWD; n++) {
        oak_msg *m = NULL;
        int rc = oak_receive(&m, OT_LONG_MS, ot_match_tag, &tag);
        if (rc != 0)
            OT_FAIL("only %u of %d DOWN messages came: %d", n, CROWD, rc);
        ot_signal d;
        OT_TAKE_SIGNAL(m, &d);
        long idx = find_ref(crowd_refs, CROWD, d.ref);
        if (idx < 0)
            OT_FAIL("DOWN with unknown ref %#llx", (unsigned long long)d.ref);
        if (crowd_seen[idx]++)
            OT_FAIL("second DOWN for process %ld", idx);
        OT_CHECK_UINT_EQ(d.from, crowd[idx]);
        OT_CHECK_ATOM_EQ(d.reason, OAK_NORMAL);
    }
    OT_NO_MSG(0, 20);
    OT_EVENTUALLY(oak_process_count() == 1, OT_LONG_MS);
    print_message("%d processes: spawned in %lld ms, all done in %lld ms\n",
                  CROWD, (long long)spawned_ms, (long long)ot_ms_since(t0));
}

static void hundred_thousand_processes_alive_at_once_all_end_and_report(void **state)
{
    (void)state;
    oak_config cfg = stress_config();
    ot_run_limit_s = 180;
    OT_RUN_CFG(crowd_main, NULL, &cfg);
}

/* ---- kill storms -------------------------------------------------------------------------- */

enum { STORM = 4000 / STRESS_DIV, KILLERS = 4, STORM_ROUNDS = 3, CHAIN = 8 };
static oak_pid storm[STORM];
static ref_index storm_refs[STORM];
static unsigned char storm_seen[STORM];

/* The ways a target may be occupied when the kill comes. */
static void busy_target(void *arg)
{
    (void)arg;
    for (;;)
        oak_yield();
}

static void sleepy_target(void *arg)
{
    (void)arg;
    for (;;)
        oak_sleep(20);
}

static void chatty_target(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    for (;;) {
        oak_send(me, OT_TAG_DATA, "x", 2);
        oak_msg *m;
        if (oak_receive(&m, 0, NULL, NULL) == 0)
            oak_msg_free(m);
    }
}

/* Links to the previous target of its chain (arg), then blocks; does it
 * trap? Every other chain does. */
typedef struct chain_arg {
    oak_pid prev;
    bool trap;
} chain_arg;

static void chained_target(void *arg)
{
    chain_arg a = *(chain_arg *)arg;
    if (a.trap)
        oak_trap_exit(true);
    if (a.prev)
        (void)oak_link(a.prev); /* may be dead already: fine either way */
    for (;;) {
        oak_msg *m;
        if (oak_receive(&m, OAK_INFINITY, NULL, NULL) == 0)
            oak_msg_free(m);
    }
}

typedef struct killer_arg {
    int from, count;
} killer_arg;

/* Kills storm[from .. from+count) (indices wrap). */
static void killer(void *arg)
{
    killer_arg a = *(killer_arg *)arg;
    for (int i = 0; i < a.count; i++)
        OT_CHECK_INT_EQ(oak_exit_pid(storm[(a.from + i) % STORM], OAK_KILL), 0);
}

static void storm_main(void *arg)
{
    (void)arg;
    int64_t t0 = ot_now_ns();
    for (int round = 0; round < STORM_ROUNDS; round++) {
        oak_pid prev = OAK_NOPID;
        for (uint32_t i = 0; i < STORM; i++) {
            oak_ref r = 0;
            switch (i % 5) {
            case 0:
                storm[i] = OT_SPAWN_MONITOR(busy_target, NULL, 0, &r);
                break;
            case 1:
                storm[i] = OT_SPAWN_MONITOR(sleepy_target, NULL, 0, &r);
                break;
            case 2:
                storm[i] = OT_SPAWN_MONITOR(chatty_target, NULL, 0, &r);
                break;
            case 3:
                storm[i] = OT_SPAWN_MONITOR(ot_body_forever, NULL, 0, &r);
                break;
            default: {
                chain_arg c = {(i / 5) % CHAIN ? prev : OAK_NOPID, (i / 5 / CHAIN) % 2};
                storm[i] = OT_SPAWN_COPY_MONITOR(chained_target, &c, 0, &r);
                prev = storm[i];
                break;
            }
            }
            storm_refs[i] = (ref_index){r, i};
        }
        qsort(storm_refs, STORM, sizeof storm_refs[0], cmp_ref_index);
        memset(storm_seen, 0, sizeof storm_seen);

        /* Every target is killed by two killers at about the same time. */
        oak_ref krefs[KILLERS];
        for (int k = 0; k < KILLERS; k++) {
            killer_arg ka = {k * STORM / KILLERS, STORM / 2};
            OT_SPAWN_COPY_MONITOR(killer, &ka, 0, &krefs[k]);
        }
        for (int k = 0; k < KILLERS; k++)
            OT_CHECK_ATOM_EQ(OT_RECV_DOWN(krefs[k], OT_LONG_MS).reason, OAK_NORMAL);

        uint64_t tag = OAK_TAG_DOWN;
        for (uint32_t n = 0; n < STORM; n++) {
            oak_msg *m = NULL;
            int rc = oak_receive(&m, OT_LONG_MS, ot_match_tag, &tag);
            if (rc != 0)
                OT_FAIL("round %d: only %u of %d DOWNs came: %d", round, n,
                        STORM, rc);
            ot_signal d;
            OT_TAKE_SIGNAL(m, &d);
            long idx = find_ref(storm_refs, STORM, d.ref);
            if (idx < 0)
                OT_FAIL("DOWN with unknown ref %#llx", (unsigned long long)d.ref);
            if (storm_seen[idx]++)
                OT_FAIL("second DOWN for target %ld", idx);
            OT_CHECK_UINT_EQ(d.from, storm[idx]);
            /* Killed directly, or (for a chained target that does not
             * trap) by the `killed` of a linked neighbour first. */
            OT_CHECK_ATOM_EQ(d.reason, OAK_KILLED);
        }
        OT_NO_MSG(OAK_TAG_DOWN, 20);
        OT_EVENTUALLY(oak_process_count() == 1, OT_LONG_MS);
        for (uint32_t i = 0; i < STORM; i++)
            OT_CHECK(!oak_is_alive(storm[i]));
    }
    print_message("%d kill storms of %d processes in %lld ms\n", STORM_ROUNDS,
                  STORM, (long long)ot_ms_since(t0));
}

static void kill_storm_fires_every_monitor_exactly_once(void **state)
{
    (void)state;
    oak_config cfg = stress_config();
    ot_run_limit_s = 120;
    OT_RUN_CFG(storm_main, NULL, &cfg);
}

/* ---- link storms --------------------------------------------------------------------------- */

enum { LINKED = 5000 / STRESS_DIV };

static void linked_worker(void *arg)
{
    (void)arg;
    /* Wait for the word, then all end together, with a reason. */
    oak_msg_free(OT_RECV_TAG(OT_TAG_GO, OAK_INFINITY));
    oak_exit(oak_atom_from("storm"));
}

static oak_pid linked[LINKED];
static unsigned char linked_seen[LINKED];

typedef struct pid_index {
    oak_pid pid;
    uint32_t idx;
} pid_index;
static pid_index linked_sorted[LINKED];

static int cmp_pid_index(const void *a, const void *b)
{
    oak_pid x = ((const pid_index *)a)->pid, y = ((const pid_index *)b)->pid;
    return x < y ? -1 : x > y;
}

static void link_storm_main(void *arg)
{
    (void)arg;
    oak_trap_exit(true);
    for (uint32_t i = 0; i < LINKED; i++) {
        linked[i] = OT_SPAWN(linked_worker, NULL, OAK_SPAWN_LINK);
        linked_sorted[i] = (pid_index){linked[i], i};
    }
    qsort(linked_sorted, LINKED, sizeof linked_sorted[0], cmp_pid_index);
    oak_process_info info;
    OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
    OT_CHECK_INT_EQ(info.links, LINKED);
    for (uint32_t i = 0; i < LINKED; i++)
        OT_SEND_U64(linked[i], OT_TAG_GO, 0);
    memset(linked_seen, 0, sizeof linked_seen);
    for (uint32_t n = 0; n < LINKED; n++) {
        ot_signal e = OT_RECV_EXIT(OT_LONG_MS);
        pid_index key = {e.from, 0};
        pid_index *hit = bsearch(&key, linked_sorted, LINKED,
                                 sizeof linked_sorted[0], cmp_pid_index);
        if (!hit)
            OT_FAIL("EXIT from unknown pid %#llx", (unsigned long long)e.from);
        if (linked_seen[hit->idx]++)
            OT_FAIL("second EXIT from worker %u", hit->idx);
        OT_CHECK_ATOM_EQ(e.reason, oak_atom_from("storm"));
    }
    OT_NO_MSG(0, 20);
    OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
    OT_CHECK_INT_EQ(info.links, 0);
    OT_EVENTUALLY(oak_process_count() == 1, OT_LONG_MS);
}

static void link_storm_gives_each_exit_message_exactly_once(void **state)
{
    (void)state;
    oak_config cfg = stress_config();
    ot_run_limit_s = 120;
    OT_RUN_CFG(link_storm_main, NULL, &cfg);
}

/* ---- spawn churn --------------------------------------------------------------------------- */

enum { SPAWNERS = 4, CHURN_EACH = 40000 / STRESS_DIV, WAVE = 100 };

static void quick(void *arg)
{
    (void)arg;
}

static void spawner(void *arg)
{
    (void)arg;
    for (int done = 0; done < CHURN_EACH; done += WAVE) {
        oak_ref r[WAVE];
        for (int i = 0; i < WAVE; i++)
            OT_SPAWN_MONITOR(quick, NULL, 0, &r[i]);
        for (int i = 0; i < WAVE; i++)
            OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r[i], OT_LONG_MS).reason, OAK_NORMAL);
    }
}

static void churn_main(void *arg)
{
    (void)arg;
    int64_t t0 = ot_now_ns();
    oak_ref r[SPAWNERS];
    for (int i = 0; i < SPAWNERS; i++)
        OT_SPAWN_MONITOR(spawner, NULL, 0, &r[i]);
    for (int i = 0; i < SPAWNERS; i++)
        OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r[i], 10 * OT_LONG_MS).reason, OAK_NORMAL);
    OT_EVENTUALLY(oak_process_count() == 1, OT_LONG_MS);
    print_message("%d processes spawned and ended by %d spawners in %lld ms\n",
                  SPAWNERS * CHURN_EACH, SPAWNERS, (long long)ot_ms_since(t0));
}

static void spawn_churn_from_several_processes_leaves_nothing_behind(void **state)
{
    (void)state;
    oak_config cfg = stress_config();
    ot_run_limit_s = 120;
    OT_RUN_CFG(churn_main, NULL, &cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(million_messages_between_schedulers_arrive_complete_and_in_order),
        cmocka_unit_test(pairs_sending_both_ways_at_once_keep_order),
        cmocka_unit_test(hundred_thousand_processes_alive_at_once_all_end_and_report),
        cmocka_unit_test(kill_storm_fires_every_monitor_exactly_once),
        cmocka_unit_test(link_storm_gives_each_exit_message_exactly_once),
        cmocka_unit_test(spawn_churn_from_several_processes_leaves_nothing_behind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
