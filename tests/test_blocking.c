/* test_blocking.c - blocking calls run on the helper pool while their
 * caller waits without holding a scheduler; a caller killed meanwhile
 * leaves the call to finish, and its result to the discard hook. */
#include "oak_test.h"

#include <oak/blocking.h>

static void *sleep_and_double(void *arg)
{
    uint64_t v = *(uint64_t *)arg;
    struct timespec ts = {0, 10 * 1000000};
    nanosleep(&ts, NULL);
    return (void *)(uintptr_t)(v * 2);
}

#define N_CALLERS 1000

static void caller(void *arg)
{
    uint64_t v = *(uint64_t *)arg;
    oak_pid owner = 0;
    memcpy(&owner, (char *)arg + sizeof v, sizeof owner);
    void *r = NULL;
    OT_CHECK_INT_EQ(oak_blocking(sleep_and_double, &v, sizeof v, &r, NULL), 0);
    OT_SEND_U64(owner, OT_TAG_DONE, (uint64_t)(uintptr_t)r == 2 * v);
}

static void many_main(void *arg)
{
    (void)arg;
    int64_t t0 = ot_now_ns();
    for (uint64_t i = 0; i < N_CALLERS; i++) {
        struct {
            uint64_t v;
            oak_pid owner;
        } a = {i, oak_self()};
        ot_spawn_(caller, &a, sizeof a, 0, NULL, __FILE__, __LINE__);
    }
    /* While a thousand callers wait, this process still runs at once. */
    oak_blocking_stats st;
    OT_CHECK_INT_EQ(oak_blocking_stats_get(&st), 0);
    OT_CHECK_INT_LE(st.threads, 16);
    int ok = 0;
    for (int i = 0; i < N_CALLERS; i++)
        ok += (int)OT_RECV_U64(OT_TAG_DONE, OT_LONG_MS);
    OT_CHECK_INT_EQ(ok, N_CALLERS);
    OT_CHECK_INT_EQ(oak_blocking_stats_get(&st), 0);
    OT_CHECK_INT_GE(st.calls, N_CALLERS);
    OT_CHECK_INT_EQ(st.queued, 0);
    /* 1,000 calls of 10 ms on 16 threads: about 0.6 s, never 10 s. */
    OT_CHECK_INT_LT(ot_ms_since(t0), 8000);
}

/* 1,000 concurrent blocking calls on a pool of 16 threads all finish with
 * the right results; the pool grows to its bound and no further. */
static void thousand_concurrent_blocking_calls(void **state)
{
    (void)state;
    oak_config cfg = {.blocking_threads = 16};
    OT_RUN_CFG(many_main, NULL, &cfg);
}

static _Atomic int discarded;

static void *slow_alloc(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 200 * 1000000};
    nanosleep(&ts, NULL);
    return malloc(100);
}

static void discard_result(void *result, void *arg)
{
    (void)arg;
    free(result);
    atomic_fetch_add(&discarded, 1);
}

static void killed_caller(void *arg)
{
    (void)arg;
    void *r = NULL;
    oak_blocking(slow_alloc, NULL, 0, &r, discard_result);
    OT_FAIL("the call returned to a killed caller");
}

static void kill_main(void *arg)
{
    (void)arg;
    oak_ref ref = 0;
    oak_pid p = OT_SPAWN_MONITOR(killed_caller, NULL, 0, &ref);
    oak_sleep(50); /* it waits in the call now */
    OT_CHECK_INT_EQ(oak_exit_pid(p, OAK_KILL), 0);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(ref, OT_LONG_MS).reason, OAK_KILLED);
    /* The call goes on and its result is discarded on the helper. */
    for (int i = 0; i < 500 && atomic_load(&discarded) == 0; i++)
        oak_sleep(10);
    OT_CHECK_INT_EQ(atomic_load(&discarded), 1);
    /* Killed after the result came but before it was taken: the caller's
     * own cleanup discards it. */
    void *r = NULL;
    OT_CHECK_INT_EQ(oak_blocking(slow_alloc, NULL, 0, &r, NULL), 0);
    OT_CHECK(r != NULL);
    free(r);
}

/* A caller killed during its blocking call dies at once; the call finishes
 * on its thread and the discard hook releases the result. */
static void killed_caller_leaves_the_result_to_discard(void **state)
{
    (void)state;
    atomic_store(&discarded, 0);
    OT_RUN(kill_main, NULL);
}

static void *unused(void *arg)
{
    return arg;
}

static void bad_main(void *arg)
{
    (void)arg;
    OT_CHECK_INT_EQ(oak_blocking(NULL, NULL, 0, NULL, NULL), -EINVAL);
    OT_CHECK_INT_EQ(oak_blocking(unused, NULL, 8, NULL, NULL), -EINVAL);
    void *r = NULL;
    int x = 7;
    OT_CHECK_INT_EQ(oak_blocking(unused, &x, 0, &r, NULL), 0);
    OT_CHECK(r == &x);
}

/* Bad arguments get -EINVAL; outside a process -EPERM, and the stats
 * -ESRCH without a runtime. */
static void blocking_call_bad_arguments(void **state)
{
    (void)state;
    OT_RUN(bad_main, NULL);
    assert_int_equal(oak_blocking(unused, NULL, 0, NULL, NULL), -EPERM);
    oak_blocking_stats st;
    assert_int_equal(oak_blocking_stats_get(&st), -ESRCH);

}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(thousand_concurrent_blocking_calls),
        cmocka_unit_test(killed_caller_leaves_the_result_to_discard),
        cmocka_unit_test(blocking_call_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
