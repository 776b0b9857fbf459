/* test_cleanup.c - what a process owns is released however it ends:
 * oak_defer() cleanups run last registered first on a normal end, an exit
 * with a reason, a kill while suspended (in receive, in sleep), an exit
 * signal through a link, a fault, and at the end of the runtime; oak_undefer;
 * oak_alloc memory freed at death.
 *
 * Cleanups may run on any scheduler thread and their order relative to the
 * DOWN message is not specified, so the log they write is atomic and the
 * tests wait for it to fill instead of assuming it is full at the DOWN.
 * Leaks (of process memory, messages, stacks) are caught by the ASan build
 * of the suite; one test also checks the resident size without it.
 */
#include "oak_test.h"

#include <fcntl.h>
#include <sys/mman.h>

#if defined(__GNUC__)
#define FAULTING __attribute__((noinline, no_sanitize("address", "undefined")))
#else
#define FAULTING
#endif

/* ---- the cleanup log ------------------------------------------------------------------ */

enum { LOG_MAX = 256 };
static atomic_int log_len;
static atomic_int log_ids[LOG_MAX];

static void log_reset(void)
{
    atomic_store(&log_len, 0);
    for (int i = 0; i < LOG_MAX; i++)
        atomic_store(&log_ids[i], 0);
}

static void log_cleanup(void *arg)
{
    int i = atomic_fetch_add(&log_len, 1);
    if (i < LOG_MAX)
        atomic_store(&log_ids[i], (int)(intptr_t)arg);
}

/* The log, as text like "3,2,1" (for checks that print both sides). */
static const char *log_text(void)
{
    static char buf[LOG_MAX * 6];
    buf[0] = 0;
    int n = atomic_load(&log_len);
    size_t off = 0;
    for (int i = 0; i < n && i < LOG_MAX; i++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, i ? ",%d" : "%d",
                                atomic_load(&log_ids[i]));
    return buf;
}

/* Register cleanups 1..3 (ids base+1..base+3). */
static void defer_three(int base)
{
    for (int i = 1; i <= 3; i++) {
        int h = oak_defer(log_cleanup, (void *)(intptr_t)(base + i));
        OT_CHECK_INT_GT(h, 0);
    }
}

/* ---- how a process may end --------------------------------------------------------------- */

typedef enum ending {
    END_RETURN,
    END_EXIT,
    END_KILLED_IN_RECEIVE,
    END_KILLED_IN_SLEEP,
    END_LINK_SIGNAL_IN_RECEIVE,
    END_SIGNAL_IN_YIELD,
    END_FAULT,
} ending;

static FAULTING void null_store(void)
{
    volatile int *volatile p = NULL;
    *p = 1;
}

typedef struct ender_arg {
    oak_pid driver;
    ending how;
} ender_arg;

static void ender(void *arg)
{
    ender_arg a = *(ender_arg *)arg;
    defer_three(0);
    /* Memory the process owns, never freed by hand. */
    for (int i = 0; i < 10; i++)
        OT_CHECK(oak_alloc(1000 + (size_t)i) != NULL);
    OT_SEND_U64(a.driver, OT_TAG_READY, 0);
    switch (a.how) {
    case END_RETURN:
        return;
    case END_EXIT:
        oak_exit(oak_atom_from("boom"));
    case END_KILLED_IN_RECEIVE:
    case END_LINK_SIGNAL_IN_RECEIVE:
        ot_body_forever(NULL);
        break;
    case END_KILLED_IN_SLEEP:
        for (;;)
            oak_sleep(OAK_INFINITY);
    case END_SIGNAL_IN_YIELD:
        for (;;)
            oak_yield();
    case END_FAULT:
        null_store();
        break;
    }
    oak_exit(oak_atom_from("unexpected"));
}

/* Ends its partner (through a link) on GO. */
static void link_killer(void *arg)
{
    oak_pid victim = *(oak_pid *)arg;
    OT_CHECK_INT_EQ(oak_link(victim), 0);
    oak_exit(oak_atom_from("linked_boom"));
}

static ending the_ending;

static void ending_main(void *arg)
{
    (void)arg;
    ender_arg a = {oak_self(), the_ending};
    oak_ref r = 0;
    oak_pid p = OT_SPAWN_COPY_MONITOR(ender, &a, 0, &r);
    OT_RECV_U64(OT_TAG_READY, OT_LONG_MS);
    oak_atom want = OAK_NORMAL;
    switch (the_ending) {
    case END_RETURN:
        break;
    case END_EXIT:
        want = oak_atom_from("boom");
        break;
    case END_KILLED_IN_RECEIVE:
    case END_KILLED_IN_SLEEP:
        oak_sleep(10);
        OT_CHECK_INT_EQ(oak_exit_pid(p, OAK_KILL), 0);
        want = OAK_KILLED;
        break;
    case END_LINK_SIGNAL_IN_RECEIVE:
        oak_sleep(10);
        OT_SPAWN_COPY(link_killer, &p, 0);
        want = oak_atom_from("linked_boom");
        break;
    case END_SIGNAL_IN_YIELD:
        OT_CHECK_INT_EQ(oak_exit_pid(p, OAK_SHUTDOWN), 0);
        want = OAK_SHUTDOWN;
        break;
    case END_FAULT:
        want = OAK_SIGSEGV;
        break;
    }
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, want);
    OT_EVENTUALLY(atomic_load(&log_len) >= 3, OT_LONG_MS);
    oak_sleep(20);
    OT_CHECK_STR_EQ(log_text(), "3,2,1");
}

static void run_ending(ending e)
{
    log_reset();
    the_ending = e;
    OT_RUN(ending_main, NULL);
}

static void cleanups_run_last_first_when_the_entry_returns(void **state)
{
    (void)state;
    run_ending(END_RETURN);
}

static void cleanups_run_last_first_on_exit_with_a_reason(void **state)
{
    (void)state;
    run_ending(END_EXIT);
}

static void cleanups_run_when_killed_while_suspended_in_receive(void **state)
{
    (void)state;
    run_ending(END_KILLED_IN_RECEIVE);
}

static void cleanups_run_when_killed_while_sleeping(void **state)
{
    (void)state;
    run_ending(END_KILLED_IN_SLEEP);
}

static void cleanups_run_when_a_link_signal_ends_the_process(void **state)
{
    (void)state;
    run_ending(END_LINK_SIGNAL_IN_RECEIVE);
}

static void cleanups_run_when_an_exit_signal_lands_in_yield(void **state)
{
    (void)state;
    run_ending(END_SIGNAL_IN_YIELD);
}

static void cleanups_run_when_the_process_faults(void **state)
{
    (void)state;
    run_ending(END_FAULT);
}

/* ---- the end of the runtime --------------------------------------------------------------- */

static void stay(void *arg)
{
    intptr_t id = (intptr_t)arg;
    OT_CHECK_INT_GT(oak_defer(log_cleanup, (void *)id), 0);
    OT_CHECK(oak_alloc(4096) != NULL);
    if (id % 2)
        ot_body_forever(NULL);
    for (;;)
        oak_sleep(OAK_INFINITY);
}

static void end_main(void *arg)
{
    bool shutdown = *(bool *)arg;
    for (intptr_t i = 1; i <= 100; i++)
        OT_SPAWN(stay, (void *)i, 0);
    OT_CHECK_INT_GT(oak_defer(log_cleanup, (void *)(intptr_t)1000), 0);
    OT_EVENTUALLY(oak_process_count() == 101, OT_LONG_MS);
    oak_sleep(20);
    if (shutdown) {
        OT_CHECK_INT_EQ(oak_shutdown(0), 0);
        for (;;)
            oak_sleep(OAK_INFINITY);
    }
}

static void check_all_ran(void)
{
    assert_int_equal(atomic_load(&log_len), 101);
    int seen[1001] = {0};
    for (int i = 0; i < 101; i++) {
        int id = atomic_load(&log_ids[i]);
        assert_true(id >= 1 && id <= 1000);
        seen[id]++;
    }
    for (int i = 1; i <= 100; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(seen[1000], 1);
}

static void cleanups_of_live_processes_run_when_main_returns(void **state)
{
    (void)state;
    log_reset();
    bool shutdown = false;
    OT_RUN(end_main, &shutdown);
    check_all_ran();
}

static void cleanups_of_all_processes_run_on_shutdown(void **state)
{
    (void)state;
    log_reset();
    bool shutdown = true;
    OT_RUN(end_main, &shutdown);
    check_all_ran();
}

/* ---- undefer ------------------------------------------------------------------------------ */

static void undefer_proc(void *arg)
{
    (void)arg;
    int h1 = oak_defer(log_cleanup, (void *)(intptr_t)1);
    int h2 = oak_defer(log_cleanup, (void *)(intptr_t)2);
    int h3 = oak_defer(log_cleanup, (void *)(intptr_t)3);
    int h4 = oak_defer(log_cleanup, (void *)(intptr_t)4);
    OT_CHECK_INT_GT(h1, 0);
    OT_CHECK_INT_GT(h2, 0);
    OT_CHECK_INT_GT(h3, 0);
    OT_CHECK_INT_GT(h4, 0);
    OT_CHECK(h1 != h2 && h1 != h3 && h1 != h4 && h2 != h3 && h2 != h4 && h3 != h4);
    /* Drop 2 without running it. */
    OT_CHECK_INT_EQ(oak_undefer(h2, false), 0);
    OT_CHECK_INT_EQ(atomic_load(&log_len), 0);
    /* Run 3 now, once. */
    OT_CHECK_INT_EQ(oak_undefer(h3, true), 0);
    OT_CHECK_STR_EQ(log_text(), "3");
    OT_CHECK_INT_EQ(oak_undefer(h2, false), -ENOENT);
    OT_CHECK_INT_EQ(oak_undefer(h3, true), -ENOENT);
    OT_CHECK_INT_EQ(oak_undefer(h4 + 1000, false), -ENOENT);
    OT_CHECK_STR_EQ(log_text(), "3");
    oak_exit(oak_atom_from("done"));
}

static void undefer_main(void *arg)
{
    (void)arg;
    oak_ref r = 0;
    OT_SPAWN_MONITOR(undefer_proc, NULL, 0, &r);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, oak_atom_from("done"));
    OT_EVENTUALLY(atomic_load(&log_len) >= 3, OT_LONG_MS);
    oak_sleep(20);
    /* 3 ran at undefer; at the end 4 then 1. */
    OT_CHECK_STR_EQ(log_text(), "3,4,1");
}

static void undefer_drops_or_runs_a_cleanup_once(void **state)
{
    (void)state;
    log_reset();
    OT_RUN(undefer_main, NULL);
}

static void undefer_of_another_process_cleanup_proc(void *arg)
{
    int h = *(int *)arg;
    OT_CHECK_INT_EQ(oak_undefer(h, true), -ENOENT);
}

static void foreign_handle_main(void *arg)
{
    (void)arg;
    int h = oak_defer(log_cleanup, (void *)(intptr_t)7);
    OT_CHECK_INT_GT(h, 0);
    oak_ref r = 0;
    OT_SPAWN_COPY_MONITOR(undefer_of_another_process_cleanup_proc, &h, 0, &r);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, OAK_NORMAL);
    OT_CHECK_INT_EQ(atomic_load(&log_len), 0);
    OT_CHECK_INT_EQ(oak_undefer(h, false), 0);
}

static void undefer_only_reaches_the_callers_own_cleanups(void **state)
{
    (void)state;
    log_reset();
    OT_RUN(foreign_handle_main, NULL);
    assert_int_equal(atomic_load(&log_len), 0);
}

/* ---- what a cleanup may do ------------------------------------------------------------------- */

static atomic_int cleanup_receive_rc;
static oak_pid cleanup_notify;

static void sending_cleanup(void *arg)
{
    oak_msg *m = NULL;
    atomic_store(&cleanup_receive_rc, oak_receive(&m, 0, NULL, NULL));
    uint64_t v = (uint64_t)(uintptr_t)arg;
    OT_EXPECT_INT_EQ(oak_send(cleanup_notify, OT_TAG_REPORT, &v, sizeof v), 0);
}

static void sending_proc(void *arg)
{
    (void)arg;
    OT_SEND_U64(oak_self(), OT_TAG_DATA, 1); /* there is a message to take */
    OT_CHECK_INT_GT(oak_defer(sending_cleanup, (void *)(uintptr_t)1), 0);
    OT_CHECK_INT_GT(oak_defer(sending_cleanup, (void *)(uintptr_t)2), 0);
    ot_body_forever(NULL);
}

static void sending_main(void *arg)
{
    (void)arg;
    cleanup_notify = oak_self();
    oak_ref r = 0;
    oak_pid p = OT_SPAWN_MONITOR(sending_proc, NULL, 0, &r);
    oak_sleep(10);
    OT_CHECK_INT_EQ(oak_exit_pid(p, OAK_KILL), 0);
    OT_RECV_DOWN(r, OT_LONG_MS);
    /* Both messages come, in the order the cleanups ran: 2 then 1. */
    OT_CHECK_UINT_EQ(OT_RECV_U64(OT_TAG_REPORT, OT_LONG_MS), 2);
    OT_CHECK_UINT_EQ(OT_RECV_U64(OT_TAG_REPORT, OT_LONG_MS), 1);
    OT_CHECK_INT_EQ(atomic_load(&cleanup_receive_rc), -EPERM);
}

static void cleanups_may_send_but_not_receive(void **state)
{
    (void)state;
    atomic_store(&cleanup_receive_rc, 0);
    OT_RUN(sending_main, NULL);
}

/* ---- process memory --------------------------------------------------------------------------- */

static void alloc_proc(void *arg)
{
    (void)arg;
    unsigned char *a = oak_alloc(100);
    unsigned char *b = oak_alloc(1 << 20);
    OT_CHECK(a != NULL);
    OT_CHECK(b != NULL);
    memset(a, 0xAB, 100);
    memset(b, 0xCD, 1 << 20);
    OT_CHECK_INT_EQ(a[99], 0xAB);
    OT_CHECK_INT_EQ(b[(1 << 20) - 1], 0xCD);
    oak_free(a);
    oak_free(NULL);
    /* b is freed with the process. */
}

static void alloc_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++) {
        oak_ref r = 0;
        OT_SPAWN_MONITOR(alloc_proc, NULL, 0, &r);
        OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, OAK_NORMAL);
    }
}

static void alloc_gives_usable_memory_and_free_accepts_null(void **state)
{
    (void)state;
    assert_null(oak_alloc(16));
    oak_free(NULL);
    assert_int_equal(oak_defer(log_cleanup, NULL), -EPERM);
    OT_RUN(alloc_main, NULL);
}

enum { HOG_MIB = 32, HOG_ROUNDS = 40 };

static void hog(void *arg)
{
    bool block = *(bool *)arg;
    size_t n = (size_t)HOG_MIB << 20;
    unsigned char *p = oak_alloc(n);
    OT_CHECK(p != NULL);
    for (size_t i = 0; i < n; i += 4096)
        p[i] = 1;
    if (block)
        ot_body_forever(NULL);
}

static void hog_main(void *arg)
{
    (void)arg;
    long before = ot_resident_kib();
    for (int i = 0; i < HOG_ROUNDS; i++) {
        bool block = i % 2;
        oak_ref r = 0;
        oak_pid p = OT_SPAWN_COPY_MONITOR(hog, &block, 0, &r);
        if (block) {
            oak_sleep(5);
            OT_CHECK_INT_EQ(oak_exit_pid(p, OAK_KILL), 0);
        }
        OT_RECV_DOWN(r, OT_LONG_MS);
    }
    long after = ot_resident_kib();
    if (before > 0 && after > 0) {
        /* Leaked, the hogs would hold HOG_ROUNDS * HOG_MIB = 1280 MiB;
         * allocator caches and a sanitizer's quarantine stay far below
         * half of that. */
        OT_CHECK_INT_LT(after - before, (long)HOG_ROUNDS * HOG_MIB * 1024 / 2);
    }
}

static void process_memory_is_freed_when_the_process_dies(void **state)
{
    (void)state;
    OT_RUN(hog_main, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cleanups_run_last_first_when_the_entry_returns),
        cmocka_unit_test(cleanups_run_last_first_on_exit_with_a_reason),
        cmocka_unit_test(cleanups_run_when_killed_while_suspended_in_receive),
        cmocka_unit_test(cleanups_run_when_killed_while_sleeping),
        cmocka_unit_test(cleanups_run_when_a_link_signal_ends_the_process),
        cmocka_unit_test(cleanups_run_when_an_exit_signal_lands_in_yield),
        cmocka_unit_test(cleanups_run_when_the_process_faults),
        cmocka_unit_test(cleanups_of_live_processes_run_when_main_returns),
        cmocka_unit_test(cleanups_of_all_processes_run_on_shutdown),
        cmocka_unit_test(undefer_drops_or_runs_a_cleanup_once),
        cmocka_unit_test(undefer_only_reaches_the_callers_own_cleanups),
        cmocka_unit_test(cleanups_may_send_but_not_receive),
        cmocka_unit_test(alloc_gives_usable_memory_and_free_accepts_null),
        cmocka_unit_test(process_memory_is_freed_when_the_process_dies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
