/* test_runtime.c - starting and stopping the runtime: what oak_run()
 * returns, oak_shutdown() from a process, a foreign thread and a signal
 * handler, -EBUSY for a second runtime, the scheduler count, and runs one
 * after another.
 */
#include "oak_test.h"

#include <sched.h>
#include <signal.h>

/* ---- the result of oak_run() ---------------------------------------------------------- */

static void main_returns(void *arg) { (void)arg; }

static void main_exits_normal(void *arg)
{
    (void)arg;
    oak_exit(OAK_NORMAL);
}

static void main_exits_boom(void *arg)
{
    (void)arg;
    oak_exit(oak_atom_from("boom"));
}

static void main_exits_shutdown(void *arg)
{
    (void)arg;
    oak_exit_detail(OAK_SHUTDOWN, "reason");
}

static void main_kills_itself(void *arg)
{
    (void)arg;
    oak_exit_pid(oak_self(), OAK_KILL);
    ot_body_forever(NULL);
}

static void killer(void *arg)
{
    oak_pid victim = *(oak_pid *)arg;
    oak_exit_pid(victim, OAK_KILL);
}

static void main_killed_by_other(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    OT_SPAWN_COPY(killer, &me, 0);
    ot_body_forever(NULL);
}

static void main_linked_to_crash(void *arg)
{
    (void)arg;
    oak_spawn_opts o = {0};
    o.flags = OAK_SPAWN_LINK;
    oak_spawn(main_exits_boom, NULL, &o, NULL);
    ot_body_forever(NULL);
}

static void run_returns_0_when_main_ends_normal(void **state)
{
    (void)state;
    assert_int_equal(ot_run(main_returns, NULL, NULL), 0);
    assert_int_equal(ot_run(main_exits_normal, NULL, NULL), 0);
}

static void run_returns_1_when_main_ends_with_another_reason(void **state)
{
    (void)state;
    assert_int_equal(ot_run(main_exits_boom, NULL, NULL), 1);
    assert_int_equal(ot_run(main_exits_shutdown, NULL, NULL), 1);
    assert_int_equal(ot_run(main_kills_itself, NULL, NULL), 1);
    assert_int_equal(ot_run(main_killed_by_other, NULL, NULL), 1);
    assert_int_equal(ot_run(main_linked_to_crash, NULL, NULL), 1);
}

static void main_shuts_down(void *arg)
{
    int status = *(int *)arg;
    OT_CHECK_INT_EQ(oak_shutdown(status), 0);
    /* oak_shutdown() returns; the status holds however we end now. */
    oak_exit(oak_atom_from("boom"));
}

static void main_shuts_down_and_waits(void *arg)
{
    int status = *(int *)arg;
    OT_SPAWN(ot_body_forever, NULL, 0);
    OT_CHECK_INT_EQ(oak_shutdown(status), 0);
    ot_body_forever(NULL);
}

static void run_returns_the_status_given_to_shutdown(void **state)
{
    (void)state;
    int s = 42;
    assert_int_equal(ot_run(main_shuts_down, &s, NULL), 42);
    s = 0;
    assert_int_equal(ot_run(main_shuts_down, &s, NULL), 0);
    s = 7;
    assert_int_equal(ot_run(main_shuts_down_and_waits, &s, NULL), 7);
}

/* A process other than main calls oak_shutdown(). */
static void shutter(void *arg)
{
    (void)arg;
    oak_sleep(10);
    oak_shutdown(5);
}

static void main_waits_for_shutter(void *arg)
{
    (void)arg;
    OT_SPAWN(shutter, NULL, 0);
    ot_body_forever(NULL);
}

static void shutdown_from_any_process_ends_the_run(void **state)
{
    (void)state;
    assert_int_equal(ot_run(main_waits_for_shutter, NULL, NULL), 5);
}

static atomic_int thread_shutdown_rc;
static atomic_int main_started;

/* Wait (on a foreign thread) until the main process runs. */
static void wait_main_started(void)
{
    for (int i = 0; i < 2000 && !atomic_load(&main_started); i++)
        ot_thread_sleep_ms(5);
    ot_thread_sleep_ms(20);
}

static void *shutdown_thread(void *arg)
{
    (void)arg;
    wait_main_started();
    atomic_store(&thread_shutdown_rc, oak_shutdown(33));
    return NULL;
}

static void main_blocks(void *arg)
{
    (void)arg;
    atomic_store(&main_started, 1);
    for (int i = 0; i < 10; i++)
        OT_SPAWN(ot_body_forever, NULL, 0);
    ot_body_forever(NULL);
}

static void shutdown_from_a_foreign_thread_ends_the_run(void **state)
{
    (void)state;
    atomic_store(&thread_shutdown_rc, -1);
    atomic_store(&main_started, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, shutdown_thread, NULL), 0);
    assert_int_equal(ot_run(main_blocks, NULL, NULL), 33);
    pthread_join(th, NULL);
    assert_int_equal(atomic_load(&thread_shutdown_rc), 0);
}

static void on_sigusr1(int sig)
{
    (void)sig;
    oak_shutdown(9);
}

static void *signal_thread(void *arg)
{
    (void)arg;
    wait_main_started();
    kill(getpid(), SIGUSR1);
    return NULL;
}

static void shutdown_from_a_signal_handler_ends_the_run(void **state)
{
    (void)state;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    atomic_store(&main_started, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, signal_thread, NULL), 0);
    int rc = ot_run(main_blocks, NULL, NULL);
    pthread_join(th, NULL);
    sigaction(SIGUSR1, &old, NULL);
    assert_int_equal(rc, 9);
}

static void shutdown_without_a_runtime_returns_esrch(void **state)
{
    (void)state;
    assert_int_equal(oak_shutdown(0), -ESRCH);
    assert_int_equal(ot_run(main_returns, NULL, NULL), 0);
    assert_int_equal(oak_shutdown(0), -ESRCH);
}

/* ---- one runtime at a time --------------------------------------------------------------- */

static atomic_int second_rc;
static atomic_int second_main_ran;

static void second_main(void *arg)
{
    (void)arg;
    atomic_store(&second_main_ran, 1);
}

static void *second_run_thread(void *arg)
{
    (void)arg;
    atomic_store(&second_rc, oak_run(second_main, NULL, NULL));
    return NULL;
}

static void busy_main(void *arg)
{
    (void)arg;
    pthread_t th;
    OT_CHECK_INT_EQ(pthread_create(&th, NULL, second_run_thread, NULL), 0);
    pthread_join(th, NULL);
}

static void second_runtime_while_one_runs_returns_ebusy(void **state)
{
    (void)state;
    atomic_store(&second_rc, 0);
    atomic_store(&second_main_ran, 0);
    assert_int_equal(ot_run(busy_main, NULL, NULL), 0);
    assert_int_equal(atomic_load(&second_rc), -EBUSY);
    assert_int_equal(atomic_load(&second_main_ran), 0);
}

static atomic_int runs_seen;

static void counting_main(void *arg)
{
    int *expect = arg;
    OT_CHECK_INT_EQ(*expect, 1234);
    oak_ref r = 0;
    OT_SPAWN_MONITOR(ot_body_return, NULL, 0, &r);
    OT_RECV_DOWN(r, OT_LONG_MS);
    atomic_fetch_add(&runs_seen, 1);
}

static void runs_one_after_another_each_start_afresh(void **state)
{
    (void)state;
    atomic_store(&runs_seen, 0);
    int v = 1234;
    for (int i = 0; i < 30; i++) {
        oak_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.schedulers = 1 + (unsigned)(i % 3);
        assert_int_equal(ot_run(counting_main, &v, &cfg), 0);
    }
    assert_int_equal(atomic_load(&runs_seen), 30);
}

/* ---- configuration -------------------------------------------------------------------------- */

static atomic_uint sched_seen;

static void sched_main(void *arg)
{
    (void)arg;
    atomic_store(&sched_seen, oak_scheduler_count());
}

static void scheduler_count_follows_the_config(void **state)
{
    (void)state;
    assert_int_equal(oak_scheduler_count(), 0);
    const unsigned counts[] = {1, 2, 3, 5};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        oak_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.schedulers = counts[i];
        atomic_store(&sched_seen, 0);
        OT_RUN_CFG(sched_main, NULL, &cfg);
        assert_int_equal(atomic_load(&sched_seen), counts[i]);
    }
    /* Default: one per online CPU (the affinity mask may narrow that). */
    atomic_store(&sched_seen, 0);
    OT_RUN(sched_main, NULL);
    unsigned seen = atomic_load(&sched_seen);
    assert_true(seen >= 1);
    assert_true(seen <= ot_cpus());
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        unsigned aff = (unsigned)CPU_COUNT(&set);
        assert_true(seen == ot_cpus() || seen == aff);
    } else {
        assert_int_equal(seen, ot_cpus());
    }
    assert_int_equal(oak_scheduler_count(), 0);
}

static atomic_int bad_main_ran;

static void bad_main(void *arg)
{
    (void)arg;
    atomic_store(&bad_main_ran, 1);
}

static void impossible_config_fails_without_running_main(void **state)
{
    (void)state;
    atomic_store(&bad_main_ran, 0);
    oak_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.stack_size = SIZE_MAX;
    int rc = oak_run(bad_main, NULL, &cfg);
    assert_true(rc < 0);
    assert_int_equal(atomic_load(&bad_main_ran), 0);
    assert_int_equal(oak_scheduler_count(), 0);
    /* And a good run afterwards works. */
    assert_int_equal(ot_run(main_returns, NULL, NULL), 0);
}

/* ---- the end of a run ------------------------------------------------------------------------- */

static void yielder(void *arg)
{
    (void)arg;
    for (;;)
        oak_yield();
}

static void main_leaves_busy_processes(void *arg)
{
    (void)arg;
    for (int i = 0; i < 8; i++)
        OT_SPAWN(yielder, NULL, 0);
    for (int i = 0; i < 100; i++)
        OT_SPAWN(ot_body_forever, NULL, 0);
    oak_sleep(20);
}

static void run_ends_when_main_ends_even_with_busy_processes_left(void **state)
{
    (void)state;
    int64_t t0 = ot_now_ns();
    assert_int_equal(ot_run(main_leaves_busy_processes, NULL, NULL), 0);
    assert_true(ot_ms_since(t0) < 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(run_returns_0_when_main_ends_normal),
        cmocka_unit_test(run_returns_1_when_main_ends_with_another_reason),
        cmocka_unit_test(run_returns_the_status_given_to_shutdown),
        cmocka_unit_test(shutdown_from_any_process_ends_the_run),
        cmocka_unit_test(shutdown_from_a_foreign_thread_ends_the_run),
        cmocka_unit_test(shutdown_from_a_signal_handler_ends_the_run),
        cmocka_unit_test(shutdown_without_a_runtime_returns_esrch),
        cmocka_unit_test(second_runtime_while_one_runs_returns_ebusy),
        cmocka_unit_test(runs_one_after_another_each_start_afresh),
        cmocka_unit_test(scheduler_count_follows_the_config),
        cmocka_unit_test(impossible_config_fails_without_running_main),
        cmocka_unit_test(run_ends_when_main_ends_even_with_busy_processes_left),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
