/* test_scheduler.c - scheduling, checked by what it makes possible rather
 * than by timing: a flooding or busy process does not starve others (with
 * one scheduler, so that nothing can hide it), processes really run on all
 * schedulers at once, wake-ups are never lost between schedulers, and an idle
 * runtime uses no CPU.
 */
#include "oak_test.h"

#include <fenv.h>

static oak_config one_scheduler(void)
{
    oak_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.schedulers = 1;
    return cfg;
}

/* ---- fairness ----------------------------------------------------------------------- */

/* Sends to itself without end, taking its own messages back so that its
 * mailbox stays short; it never blocks and never calls oak_yield(). */
static void self_flooder(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    char blob[32] = {0};
    for (;;) {
        for (int i = 0; i < 64; i++)
            oak_send(me, OT_TAG_DATA, blob, sizeof blob);
        oak_msg *m;
        while (oak_receive(&m, 0, NULL, NULL) == 0)
            oak_msg_free(m);
    }
}

/* Drains its mailbox without end. */
static void sink(void *arg)
{
    (void)arg;
    for (;;) {
        oak_msg *m;
        if (oak_receive(&m, OAK_INFINITY, NULL, NULL) == 0)
            oak_msg_free(m);
    }
}

/* Sends to the sink without end. */
static void other_flooder(void *arg)
{
    oak_pid to = *(oak_pid *)arg;
    char blob[32] = {0};
    for (;;)
        oak_send(to, OT_TAG_DATA, blob, sizeof blob);
}

/* Spins on oak_yield() without end. */
static void yielder(void *arg)
{
    (void)arg;
    for (;;)
        oak_yield();
}


typedef enum hog_kind { HOG_SELF_FLOOD, HOG_FLOOD_OTHER, HOG_YIELD } hog_kind;

static hog_kind the_hog;

static void fairness_main(void *arg)
{
    (void)arg;
    oak_ref hr = 0;
    oak_pid hog = OAK_NOPID, snk = OAK_NOPID;
    switch (the_hog) {
    case HOG_SELF_FLOOD:
        hog = OT_SPAWN_MONITOR(self_flooder, NULL, 0, &hr);
        break;
    case HOG_FLOOD_OTHER:
        snk = OT_SPAWN(sink, NULL, 0);
        hog = OT_SPAWN_COPY_MONITOR(other_flooder, &snk, 0, &hr);
        break;
    case HOG_YIELD:
        hog = OT_SPAWN_MONITOR(yielder, NULL, 0, &hr);
        break;
    }
    /* Let the hog get going, then do 200 round trips with another
     * process; each needs the scheduler to come back to us and to it. */
    oak_sleep(10);
    oak_pid e = OT_SPAWN(ot_ponger, NULL, 0);
    for (uint64_t i = 0; i < 200; i++) {
        OT_SEND_U64(e, OT_TAG_PING, i);
        OT_CHECK_UINT_EQ(OT_RECV_U64(OT_TAG_PONG, OT_LONG_MS), i);
    }
    /* Timers still fire. */
    int64_t t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_sleep(20), 0);
    OT_CHECK_INT_LT(ot_ms_since(t0), OT_LONG_MS);
    OT_CHECK(oak_is_alive(hog));
    OT_CHECK_INT_EQ(oak_exit_pid(hog, OAK_KILL), 0);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(hr, OT_LONG_MS).reason, OAK_KILLED);
    if (snk)
        OT_CHECK_INT_EQ(oak_exit_pid(snk, OAK_KILL), 0);
    OT_SEND_U64(e, OT_TAG_STOP, 0);
}

static void run_fairness(hog_kind k, unsigned reductions)
{
    the_hog = k;
    oak_config cfg = one_scheduler();
    cfg.reductions = reductions;
    OT_RUN_CFG(fairness_main, NULL, &cfg);
}

static void process_flooding_itself_does_not_starve_others(void **state)
{
    (void)state;
    run_fairness(HOG_SELF_FLOOD, 0);
}

static void process_flooding_another_does_not_starve_others(void **state)
{
    (void)state;
    run_fairness(HOG_FLOOD_OTHER, 0);
}

static void yielding_busy_process_does_not_starve_others(void **state)
{
    (void)state;
    run_fairness(HOG_YIELD, 0);
}

static void fairness_holds_with_a_small_reduction_budget(void **state)
{
    (void)state;
    run_fairness(HOG_SELF_FLOOD, 10);
    run_fairness(HOG_FLOOD_OTHER, 10);
}

/* ---- parallelism ------------------------------------------------------------------------- */

/* Each spinner arrives at a barrier and spins, never yielding, until all
 * have arrived. They can only all arrive if each holds a scheduler of its
 * own at the same time. */
static atomic_int arrived;
static atomic_int gave_up;
static int spinners;

static void spinner(void *arg)
{
    (void)arg;
    atomic_fetch_add(&arrived, 1);
    int64_t t0 = ot_now_ns();
    while (atomic_load(&arrived) < spinners) {
        if (ot_ms_since(t0) > 20000) {
            atomic_fetch_add(&gave_up, 1);
            return;
        }
    }
}

static void parallel_main(void *arg)
{
    (void)arg;
    spinners = (int)oak_scheduler_count();
    OT_CHECK_INT_GE(spinners, 2);
    oak_ref refs[64];
    for (int i = 0; i < spinners && i < 64; i++)
        OT_SPAWN_MONITOR(spinner, NULL, 0, &refs[i]);
    for (int i = 0; i < spinners && i < 64; i++)
        OT_RECV_DOWN(refs[i], 30000 * ot_timeout_scale());
    OT_CHECK_INT_EQ(atomic_load(&gave_up), 0);
    OT_CHECK_INT_EQ(atomic_load(&arrived), spinners);
}

static void processes_run_on_all_schedulers_at_once(void **state)
{
    (void)state;
    oak_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.schedulers = 4;
    atomic_store(&arrived, 0);
    atomic_store(&gave_up, 0);
    ot_run_limit_s = 90;
    OT_RUN_CFG(parallel_main, NULL, &cfg);
}

/* ---- wake-ups ------------------------------------------------------------------------------ */

/* ---- floating-point control ------------------------------------------------------------ */

#if defined(__x86_64__)
/* The rounding mode and the SSE control bits are callee-saved in the ABI:
 * each process keeps its own across switches. */
static _Atomic int fp_wrong;

static void rounding_upward(void *arg)
{
    (void)arg;
    fesetround(FE_UPWARD); /* x87 control word and MXCSR */
    for (int i = 0; i < 2000; i++) {
        oak_yield();
        if (fegetround() != FE_UPWARD ||
            (__builtin_ia32_stmxcsr() & 0x6000) != 0x4000) /* MXCSR rounding: up */
            atomic_store(&fp_wrong, 1);
    }
}

static void flush_to_zero(void *arg)
{
    (void)arg;
    __builtin_ia32_ldmxcsr(__builtin_ia32_stmxcsr() | 0x8000); /* MXCSR only */
    for (int i = 0; i < 2000; i++) {
        oak_yield();
        unsigned m = __builtin_ia32_stmxcsr();
        if (!(m & 0x8000) || (m & 0x6000) || fegetround() != FE_TONEAREST)
            atomic_store(&fp_wrong, 1);
    }
}

static void default_rounding(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        oak_yield();
        if (fegetround() != FE_TONEAREST || (__builtin_ia32_stmxcsr() & 0xe000))
            atomic_store(&fp_wrong, 1);
    }
}

static void fp_control_main(void *arg)
{
    (void)arg;
    oak_ref r[3];
    OT_SPAWN_MONITOR(rounding_upward, NULL, 0, &r[0]);
    OT_SPAWN_MONITOR(flush_to_zero, NULL, 0, &r[1]);
    OT_SPAWN_MONITOR(default_rounding, NULL, 0, &r[2]);
    for (int i = 0; i < 3; i++)
        OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r[i], OT_LONG_MS).reason, OAK_NORMAL);
    OT_CHECK_INT_EQ(atomic_load(&fp_wrong), 0);
    OT_CHECK_INT_EQ(fegetround(), FE_TONEAREST);
}
#endif

static void each_process_keeps_its_floating_point_control(void **state)
{
    (void)state;
#if defined(__x86_64__)
    atomic_store(&fp_wrong, 0);
    oak_config cfg = one_scheduler();
    OT_RUN_CFG(fp_control_main, NULL, &cfg);
#else
    skip(); /* AArch64: FPCR is shared (src/arch/aarch64.S) */
#endif
}

/* ---- a process that has just parked ------------------------------------------------- */

/* With one scheduler, a process that blocks in receive hands the CPU
 * straight to the next one, and its scheduler says it is parked only at
 * the next switch. Whatever reaches it in between must still wake it. */

static _Atomic int busy_started;

/* Holds the scheduler for a while without any runtime call. */
static void busy_for_a_while(void *arg)
{
    (void)arg;
    atomic_store(&busy_started, 1);
    int64_t until = ot_now_ns() + 100 * 1000000LL;
    while (ot_now_ns() < until) {
    }
}

static void *send_once_busy(void *arg)
{
    oak_pid to = *(oak_pid *)arg;
    while (!atomic_load(&busy_started))
        usleep(1000);
    usleep(10000); /* the busy process holds the only scheduler */
    oak_send(to, OT_TAG_DATA, NULL, 0);
    return NULL;
}

static void parked_behind_busy_main(void *arg)
{
    (void)arg;
    static oak_pid me;
    me = oak_self();
    atomic_store(&busy_started, 0);
    OT_SPAWN(busy_for_a_while, NULL, 0);
    pthread_t th;
    OT_CHECK_INT_EQ(pthread_create(&th, NULL, send_once_busy, &me), 0);
    /* Blocks, and the busy process runs next, while another thread sends. */
    oak_msg_free(OT_RECV_TAG(OT_TAG_DATA, OT_LONG_MS));
    OT_CHECK_INT_EQ(atomic_load(&busy_started), 1);
    pthread_join(th, NULL);
}

static void message_from_another_thread_wakes_a_process_that_just_parked(void **state)
{
    (void)state;
    oak_config cfg = one_scheduler();
    OT_RUN_CFG(parked_behind_busy_main, NULL, &cfg);
}

/* Sends the parent an exit signal, the moment the parent blocks. */
static void exit_parent(void *arg)
{
    oak_exit_pid(*(oak_pid *)arg, oak_atom_from("from_the_next_one"));
}

/* Monitors the waiter that spawned it (which has just blocked), tells the
 * test, and reports the reason in the monitor's DOWN. */
typedef struct watch_args {
    oak_pid test, waiter;
} watch_args;

static void watch_waiter(void *arg)
{
    watch_args w = *(watch_args *)arg;
    oak_ref ref = oak_monitor(w.waiter);
    oak_send(w.test, OT_TAG_READY, NULL, 0);
    OT_SEND_U64(w.test, OT_TAG_REPORT, OT_RECV_DOWN(ref, OT_LONG_MS).reason);
}

/* Spawns its watcher, then blocks: the watcher runs next. */
static void waiter(void *arg)
{
    watch_args w = {*(oak_pid *)arg, oak_self()};
    OT_SPAWN_COPY(watch_waiter, &w, 0);
    oak_msg_free(OT_RECV_TAG(OT_TAG_STOP, OT_LONG_MS));
    oak_exit(oak_atom_from("waited"));
}

static void signals_to_just_parked_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    OT_CHECK_INT_EQ(oak_trap_exit(true), 0);
    OT_SPAWN_COPY(exit_parent, &me, 0);
    ot_signal e = OT_RECV_EXIT(OT_LONG_MS);
    OT_CHECK_ATOM_EQ(e.reason, oak_atom_from("from_the_next_one"));

    oak_pid w = OT_SPAWN_COPY(waiter, &me, 0);
    oak_msg_free(OT_RECV_TAG(OT_TAG_READY, OT_LONG_MS));
    oak_send(w, OT_TAG_STOP, NULL, 0);
    OT_CHECK_ATOM_EQ((oak_atom)OT_RECV_U64(OT_TAG_REPORT, OT_LONG_MS), oak_atom_from("waited"));
}

static void signals_reach_a_process_that_just_parked(void **state)
{
    (void)state;
    oak_config cfg = one_scheduler();
    OT_RUN_CFG(signals_to_just_parked_main, NULL, &cfg);
}

/* A ring of processes passing a token: every pass is a wake-up of a
 * blocked process, usually on another scheduler. */
static void ring_node(void *arg)
{
    oak_pid next = *(oak_pid *)arg;
    for (;;) {
        oak_msg *m = OT_RECV_ANY(OAK_INFINITY);
        if (m->tag == OT_TAG_STOP) {
            oak_send(next, OT_TAG_STOP, NULL, 0);
            oak_msg_free(m);
            return;
        }
        uint64_t v = ot_u64(m);
        oak_msg_free(m);
        OT_SEND_U64(next, OT_TAG_DATA, v + 1);
    }
}

static void ring_main(void *arg)
{
    (void)arg;
    enum { NODES = 16, LAPS = 1000 };
    oak_pid me = oak_self();
    oak_pid next = me;
    oak_ref refs[NODES];
    for (int i = 0; i < NODES; i++)
        next = OT_SPAWN_COPY_MONITOR(ring_node, &next, 0, &refs[i]);
    uint64_t v = 0;
    for (int lap = 0; lap < LAPS; lap++) {
        OT_SEND_U64(next, OT_TAG_DATA, v);
        uint64_t got = OT_RECV_U64(OT_TAG_DATA, OT_LONG_MS);
        OT_CHECK_UINT_EQ(got, v + NODES);
        v = got;
    }
    OT_SEND_U64(next, OT_TAG_STOP, 0);
    for (int i = 0; i < NODES; i++)
        OT_CHECK_ATOM_EQ(OT_RECV_DOWN(refs[i], OT_LONG_MS).reason, OAK_NORMAL);
    oak_msg_free(OT_RECV_TAG(OT_TAG_STOP, OT_LONG_MS));
}

static void token_ring_across_schedulers_never_loses_a_wakeup(void **state)
{
    (void)state;
    oak_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.schedulers = 4;
    OT_RUN_CFG(ring_main, NULL, &cfg);
}

static atomic_int finished;

static void short_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++)
        oak_yield();
    atomic_fetch_add(&finished, 1);
}

static void spread_main(void *arg)
{
    (void)arg;
    enum { N = 1000 };
    static oak_ref refs[N];
    for (int i = 0; i < N; i++)
        OT_SPAWN_MONITOR(short_worker, NULL, 0, &refs[i]);
    for (int i = 0; i < N; i++)
        OT_RECV_DOWN(refs[i], OT_LONG_MS);
    OT_CHECK_INT_EQ(atomic_load(&finished), N);
}

static void many_runnable_processes_all_finish(void **state)
{
    (void)state;
    atomic_store(&finished, 0);
    OT_RUN(spread_main, NULL);
}

/* ---- idle ----------------------------------------------------------------------------------- */

static void long_sleeper(void *arg)
{
    (void)arg;
    oak_sleep(60000);
}

static int64_t idle_cpu_ns;

static void idle_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 50; i++)
        OT_SPAWN(ot_body_forever, NULL, 0);
    for (int i = 0; i < 10; i++)
        OT_SPAWN(long_sleeper, NULL, 0);
    OT_CHECK_UINT_NE(oak_send_after(60000, oak_self(), OT_TAG_DATA, NULL, 0), 0);
    /* Let start-up settle, then measure a quiet 300 ms. */
    oak_sleep(50);
    int64_t c0 = ot_cpu_ns();
    OT_CHECK_INT_EQ(oak_sleep(300), 0);
    idle_cpu_ns = ot_cpu_ns() - c0;
}

static void idle_runtime_uses_no_cpu(void **state)
{
    (void)state;
    const unsigned scheds[] = {0, 4};
    for (size_t i = 0; i < 2; i++) {
        oak_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.schedulers = scheds[i];
        idle_cpu_ns = -1;
        OT_RUN_CFG(idle_main, NULL, &cfg);
        print_message("idle: %u schedulers used %lld us of CPU in 300 ms\n",
                      scheds[i], (long long)idle_cpu_ns / 1000);
        assert_true(idle_cpu_ns >= 0);
        assert_true(idle_cpu_ns < 100 * 1000000LL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(process_flooding_itself_does_not_starve_others),
        cmocka_unit_test(process_flooding_another_does_not_starve_others),
        cmocka_unit_test(yielding_busy_process_does_not_starve_others),
        cmocka_unit_test(fairness_holds_with_a_small_reduction_budget),
        cmocka_unit_test(processes_run_on_all_schedulers_at_once),
        cmocka_unit_test(token_ring_across_schedulers_never_loses_a_wakeup),
        cmocka_unit_test(message_from_another_thread_wakes_a_process_that_just_parked),
        cmocka_unit_test(signals_reach_a_process_that_just_parked),
        cmocka_unit_test(many_runnable_processes_all_finish),
        cmocka_unit_test(each_process_keeps_its_floating_point_control),
        cmocka_unit_test(idle_runtime_uses_no_cpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
