/* test_spawn.c - spawning processes, self, exit, is_alive, the spawn
 * options (link, monitor, trap_exit, argument copy, stack size), the process
 * table limit, and pids that never reach a new process once dead.
 */
#include "oak_test.h"

#include <sys/resource.h>

static oak_atom boom(void) { return oak_atom_from("boom"); }

/* ---- spawn and self ------------------------------------------------------------- */

typedef struct hello_arg {
    oak_pid parent;
    uint64_t cookie;
} hello_arg;

static void hello(void *arg)
{
    hello_arg *a = arg; /* not copied: the parent's struct, alive meanwhile */
    uint64_t v[2] = {oak_self(), a->cookie};
    OT_SEND(a->parent, OT_TAG_DATA, v, sizeof v);
}

static void spawn_main(void *arg)
{
    (void)arg;
    static hello_arg ha;
    ha.parent = oak_self();
    ha.cookie = 0xC00C1E;
    OT_CHECK_UINT_NE(oak_self(), OAK_NOPID);
    OT_CHECK(oak_is_alive(oak_self()));

    oak_pid p = OAK_NOPID;
    OT_CHECK_INT_EQ(oak_spawn(hello, &ha, NULL, &p), 0);
    OT_CHECK_UINT_NE(p, OAK_NOPID);
    OT_CHECK_UINT_NE(p, oak_self());
    oak_msg *m = OT_RECV_TAG(OT_TAG_DATA, OT_LONG_MS);
    uint64_t v[2];
    memcpy(v, m->data, sizeof v);
    OT_CHECK_UINT_EQ(m->from, p);
    OT_CHECK_UINT_EQ(v[0], p);
    OT_CHECK_UINT_EQ(v[1], 0xC00C1E);
    oak_msg_free(m);

    /* pid out-parameter may be NULL. */
    OT_CHECK_INT_EQ(oak_spawn(hello, &ha, NULL, NULL), 0);
    m = OT_RECV_TAG(OT_TAG_DATA, OT_LONG_MS);
    memcpy(v, m->data, sizeof v);
    OT_CHECK_UINT_EQ(m->from, v[0]);
    OT_CHECK_UINT_NE(v[0], p);
    oak_msg_free(m);
}

static void spawn_runs_entry_with_arg_and_self_is_the_new_pid(void **state)
{
    (void)state;
    OT_RUN(spawn_main, NULL);
}

static void outside_a_process_self_is_nopid_and_spawn_is_eperm(void **state)
{
    (void)state;
    assert_int_equal(oak_self(), OAK_NOPID);
    oak_pid p = 77;
    assert_int_equal(oak_spawn(ot_body_return, NULL, NULL, &p), -EPERM);
    assert_false(oak_is_alive(OAK_NOPID));
    assert_int_equal(oak_process_count(), 0);
    assert_int_equal(oak_scheduler_count(), 0);
    oak_process_info info;
    assert_int_equal(oak_process_info_self(&info), -EPERM);
    assert_int_equal(oak_trap_exit(true), -EPERM);
    assert_int_equal(oak_link((oak_pid)1), -EPERM);
}

/* ---- ending ------------------------------------------------------------------------ */

static atomic_int after_exit_ran;

static void exits_with_reason(void *arg)
{
    (void)arg;
    oak_exit_detail(boom(), "{reason,1}");
    atomic_store(&after_exit_ran, 1); /* never reached */
}

static void ending_main(void *arg)
{
    (void)arg;
    oak_ref r1 = 0, r2 = 0;
    oak_pid p1 = OT_SPAWN_MONITOR(ot_body_return, NULL, 0, &r1);
    oak_pid p2 = OT_SPAWN_MONITOR(exits_with_reason, NULL, 0, &r2);
    ot_signal d1 = OT_RECV_DOWN(r1, OT_LONG_MS);
    ot_signal d2 = OT_RECV_DOWN(r2, OT_LONG_MS);
    OT_CHECK_ATOM_EQ(d1.reason, OAK_NORMAL);
    OT_CHECK(!d1.has_detail);
    OT_CHECK_ATOM_EQ(d2.reason, boom());
    OT_CHECK_STR_EQ(d2.detail, "{reason,1}");
    OT_CHECK(!oak_is_alive(p1));
    OT_CHECK(!oak_is_alive(p2));
    OT_CHECK(!oak_is_alive(OAK_NOPID));
}

static void process_ends_normal_on_return_and_with_reason_on_exit(void **state)
{
    (void)state;
    atomic_store(&after_exit_ran, 0);
    OT_RUN(ending_main, NULL);
    assert_int_equal(atomic_load(&after_exit_ran), 0);
}

/* ---- options ------------------------------------------------------------------------ */

typedef struct big_arg {
    oak_pid parent;
    unsigned char bytes[1000];
} big_arg;

static void check_copy(void *arg)
{
    big_arg *a = arg;
    /* Tell the parent where the copy lives, then (on GO, after the parent
     * scribbled over its own buffer) check the bytes. */
    uint64_t where = (uint64_t)(uintptr_t)a;
    OT_SEND_U64(a->parent, OT_TAG_READY, where);
    oak_msg_free(OT_RECV_TAG(OT_TAG_GO, OAK_INFINITY));
    for (int i = 0; i < 1000; i++)
        OT_CHECK_INT_EQ(a->bytes[i], (unsigned char)(i * 7));
    /* The copy is ours to write. */
    memset(a->bytes, 0xEE, sizeof a->bytes);
}

static void arg_copy_main(void *arg)
{
    (void)arg;
    static big_arg a; /* parent's buffer */
    a.parent = oak_self();
    for (int i = 0; i < 1000; i++)
        a.bytes[i] = (unsigned char)(i * 7);
    oak_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.arg_size = sizeof a;
    o.flags = OAK_SPAWN_MONITOR;
    oak_pid p;
    OT_CHECK_INT_EQ(oak_spawn(check_copy, &a, &o, &p), 0);
    uint64_t where = OT_RECV_U64(OT_TAG_READY, OT_LONG_MS);
    OT_CHECK_UINT_NE(where, (uint64_t)(uintptr_t)&a);
    memset(a.bytes, 0x55, sizeof a.bytes);
    OT_SEND_U64(p, OT_TAG_GO, 0);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(o.monitor_ref, OT_LONG_MS).reason, OAK_NORMAL);
    for (int i = 0; i < 1000; i++)
        OT_CHECK_INT_EQ(a.bytes[i], 0x55);
}

static void spawn_arg_is_copied_into_the_new_process(void **state)
{
    (void)state;
    OT_RUN(arg_copy_main, NULL);
}

static void trap_flag_reporter(void *arg)
{
    oak_pid parent = *(oak_pid *)arg;
    oak_process_info info;
    OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
    OT_SEND_U64(parent, OT_TAG_REPORT, info.trap_exit ? 1 : 0);
}

static void trap_option_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    OT_SPAWN_COPY(trap_flag_reporter, &me, OAK_SPAWN_TRAP_EXIT);
    OT_CHECK_INT_EQ(OT_RECV_U64(OT_TAG_REPORT, OT_LONG_MS), 1);
    OT_SPAWN_COPY(trap_flag_reporter, &me, 0);
    OT_CHECK_INT_EQ(OT_RECV_U64(OT_TAG_REPORT, OT_LONG_MS), 0);
}

static void spawn_trap_exit_option_starts_the_process_trapping(void **state)
{
    (void)state;
    OT_RUN(trap_option_main, NULL);
}

/* A process killed before it ever ran still gives its link and monitor
 * their signal: both are set up together with the spawn. */
static void atomic_link_main(void *arg)
{
    (void)arg;
    oak_trap_exit(true);
    for (int i = 0; i < 100; i++) {
        oak_spawn_opts o;
        memset(&o, 0, sizeof o);
        o.flags = OAK_SPAWN_LINK | OAK_SPAWN_MONITOR;
        oak_pid p;
        OT_CHECK_INT_EQ(oak_spawn(ot_body_forever, NULL, &o, &p), 0);
        OT_CHECK_INT_EQ(oak_exit_pid(p, OAK_KILL), 0);
        ot_signal d = OT_RECV_DOWN(o.monitor_ref, OT_LONG_MS);
        OT_CHECK_ATOM_EQ(d.reason, OAK_KILLED);
        ot_signal e = OT_RECV_EXIT(OT_LONG_MS);
        OT_CHECK_UINT_EQ(e.from, p);
        OT_CHECK_ATOM_EQ(e.reason, OAK_KILLED);
    }
    oak_process_info info;
    OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
    OT_CHECK_INT_EQ(info.links, 0);
    OT_CHECK_INT_EQ(info.monitors, 0);
}

static void spawn_link_and_monitor_hold_even_if_the_child_dies_at_once(void **state)
{
    (void)state;
    OT_RUN(atomic_link_main, NULL);
}

static void link_count_main(void *arg)
{
    (void)arg;
    oak_pid a = OT_SPAWN(ot_body_until_stop, NULL, OAK_SPAWN_LINK);
    oak_pid b = OT_SPAWN(ot_body_until_stop, NULL, OAK_SPAWN_LINK);
    oak_process_info info;
    OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
    OT_CHECK_INT_EQ(info.links, 2);
    OT_CHECK_INT_EQ(oak_unlink(a), 0);
    OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
    OT_CHECK_INT_EQ(info.links, 1);
    OT_SEND_U64(a, OT_TAG_STOP, 0);
    OT_CHECK_INT_EQ(oak_unlink(b), 0);
    OT_SEND_U64(b, OT_TAG_STOP, 0);
}

static void spawn_link_option_links_the_child(void **state)
{
    (void)state;
    OT_RUN(link_count_main, NULL);
}

/* ---- stacks -------------------------------------------------------------------------- */

/* Use about `bytes` of stack in frames of 4 KiB. */
static OT_NOINLINE int use_stack(size_t bytes)
{
    volatile unsigned char frame[4096];
    for (size_t i = 0; i < sizeof frame; i += 512)
        frame[i] = (unsigned char)i;
    if (bytes <= sizeof frame)
        return frame[512];
    return use_stack(bytes - sizeof frame) + frame[0];
}

static void stack_user(void *arg)
{
    size_t bytes = *(size_t *)arg;
    (void)use_stack(bytes);
}

static void stacks_main(void *arg)
{
    (void)arg;
    /* The default stack holds half its size of frames. */
    size_t half = OAK_DEFAULT_STACK_SIZE / 2;
    oak_ref r = 0;
    OT_SPAWN_COPY_MONITOR(stack_user, &half, 0, &r);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, OAK_NORMAL);

    /* A 2 MiB stack holds 1 MiB of frames. */
    size_t mib = 1024 * 1024;
    oak_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.flags = OAK_SPAWN_MONITOR;
    o.stack_size = 2 * mib;
    o.arg_size = sizeof mib;
    OT_CHECK_INT_EQ(oak_spawn(stack_user, &mib, &o, NULL), 0);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(o.monitor_ref, OT_LONG_MS).reason, OAK_NORMAL);
}

static void spawn_stack_size_option_gives_a_usable_stack_of_that_size(void **state)
{
    (void)state;
    OT_RUN(stacks_main, NULL);
}

static void config_stack_main(void *arg)
{
    (void)arg;
    size_t want = 512 * 1024;
    oak_ref r = 0;
    OT_SPAWN_COPY_MONITOR(stack_user, &want, 0, &r);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, OAK_NORMAL);
}

static void config_stack_size_is_the_default_for_spawned_processes(void **state)
{
    (void)state;
    oak_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.stack_size = 1024 * 1024;
    OT_RUN_CFG(config_stack_main, NULL, &cfg);
}

/* A process gets its stack when it first runs. When none can be mapped
 * then, it exits at once with system_limit, without running, and its
 * monitor hears of it; the runtime goes on. (Not under the sanitizers:
 * their shadow memory does not fit under an address-space limit.) */
static _Atomic int big_stack_ran;

static void big_stack_child(void *arg)
{
    (void)arg;
    atomic_store(&big_stack_ran, 1);
}

static void no_stack_main(void *arg)
{
    (void)arg;
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    OT_CHECK(f != NULL);
    OT_CHECK_INT_EQ(fscanf(f, "%ld", &pages), 1);
    fclose(f);
    struct rlimit old, lim;
    OT_CHECK_INT_EQ(getrlimit(RLIMIT_AS, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + ((rlim_t)256 << 20);
    OT_CHECK_INT_EQ(setrlimit(RLIMIT_AS, &lim), 0);

    oak_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.flags = OAK_SPAWN_MONITOR;
    o.stack_size = (size_t)512 << 20; /* more than the limit leaves */
    oak_pid pid = OAK_NOPID;
    int rc = oak_spawn(big_stack_child, NULL, &o, &pid);
    ot_signal down = {0};
    if (rc == 0)
        down = OT_RECV_DOWN(o.monitor_ref, OT_LONG_MS);
    setrlimit(RLIMIT_AS, &old);
    OT_CHECK_INT_EQ(rc, 0);
    OT_CHECK_UINT_EQ(down.from, pid);
    OT_CHECK_ATOM_EQ(down.reason, OAK_SYSTEM_LIMIT);
    OT_CHECK_INT_EQ(atomic_load(&big_stack_ran), 0);

    /* The same spawn works once there is room. */
    oak_ref r = 0;
    OT_SPAWN_MONITOR(big_stack_child, NULL, 0, &r);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, OAK_NORMAL);
    OT_CHECK_INT_EQ(atomic_load(&big_stack_ran), 1);
}

static void process_without_a_stack_exits_with_system_limit(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    skip();
#else
    atomic_store(&big_stack_ran, 0);
    OT_RUN(no_stack_main, NULL);
#endif
}

static void einval_main(void *arg)
{
    (void)arg;
    oak_pid p = 12345;
    OT_CHECK_INT_EQ(oak_spawn(NULL, NULL, NULL, &p), -EINVAL);
    oak_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.stack_size = SIZE_MAX;
    OT_CHECK_INT_EQ(oak_spawn(ot_body_return, NULL, &o, &p), -EINVAL);
    /* A failed spawn made no process, link or monitor. */
    o.stack_size = SIZE_MAX;
    o.flags = OAK_SPAWN_LINK | OAK_SPAWN_MONITOR;
    OT_CHECK_INT_EQ(oak_spawn(ot_body_return, NULL, &o, &p), -EINVAL);
    oak_process_info info;
    OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
    OT_CHECK_INT_EQ(info.links, 0);
    OT_CHECK_INT_EQ(info.monitors, 0);
    OT_CHECK_INT_EQ(oak_process_count(), 1);
    OT_NO_MSG(0, OT_SETTLE_MS);
}

static void spawn_rejects_null_entry_and_absurd_stack_size(void **state)
{
    (void)state;
    OT_RUN(einval_main, NULL);
}

/* ---- the process table ------------------------------------------------------------- */

static void table_full_main(void *arg)
{
    (void)arg;
    enum { TRY = 5000 };
    static oak_pid pids[TRY];
    int n = 0, rc = 0;
    while (n < TRY) {
        rc = oak_spawn(ot_body_until_stop, NULL, NULL, &pids[n]);
        if (rc != 0)
            break;
        n++;
    }
    OT_CHECK_INT_EQ(rc, -EAGAIN);
    OT_CHECK_INT_GT(n, 0);
    /* oak_process_count() counts us too. */
    OT_CHECK_INT_EQ(oak_process_count(), (size_t)n + 1);
    /* Free one slot: spawning works again. */
    oak_ref r = oak_monitor(pids[0]);
    OT_SEND_U64(pids[0], OT_TAG_STOP, 0);
    OT_RECV_DOWN(r, OT_LONG_MS);
    OT_EVENTUALLY(oak_process_count() == (size_t)n, OT_LONG_MS);
    oak_pid again = OAK_NOPID;
    OT_EVENTUALLY(oak_spawn(ot_body_until_stop, NULL, NULL, &again) == 0,
                  OT_LONG_MS);
    OT_SEND_U64(again, OT_TAG_STOP, 0);
    for (int i = 1; i < n; i++)
        OT_SEND_U64(pids[i], OT_TAG_STOP, 0);
}

static void full_process_table_gives_eagain_until_a_slot_is_free(void **state)
{
    (void)state;
    oak_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_processes = 100;
    OT_RUN_CFG(table_full_main, NULL, &cfg);
}

/* ---- dead pids stay dead ------------------------------------------------------------- */

/* Each of these must see STOP as its first message: anything else was meant
 * for a dead process. */
static void strict_listener(void *arg)
{
    (void)arg;
    oak_msg *m = OT_RECV_ANY(OAK_INFINITY);
    if (m->tag != OT_TAG_STOP)
        OT_FAIL("a new process got tag %#llx meant for a dead pid",
                (unsigned long long)m->tag);
    oak_msg_free(m);
}

static int cmp_pid(const void *a, const void *b)
{
    oak_pid x = *(const oak_pid *)a, y = *(const oak_pid *)b;
    return x < y ? -1 : x > y;
}

static void dead_pid_main(void *arg)
{
    (void)arg;
    enum { ROUNDS = 20, WIDE = 200 };
    static oak_pid old[ROUNDS];
    static oak_pid fresh[WIDE];
    static oak_ref refs[WIDE];
    /* Spawn and let die, several times, so that slots are reused. */
    for (int i = 0; i < ROUNDS; i++)
        old[i] = OT_DEAD_PID();
    for (int i = 0; i < ROUNDS; i++)
        OT_CHECK(!oak_is_alive(old[i]));
    for (int i = 0; i < WIDE; i++)
        fresh[i] = OT_SPAWN_MONITOR(strict_listener, NULL, 0, &refs[i]);
    for (int i = 0; i < ROUNDS; i++) {
        OT_CHECK(!oak_is_alive(old[i]));
        OT_CHECK_INT_EQ(oak_send(old[i], OT_TAG_STRAY, "x", 1), 0);
        OT_CHECK_INT_EQ(oak_exit_pid(old[i], oak_atom_from("stray")), 0);
        for (int j = 0; j < WIDE; j++)
            OT_CHECK_UINT_NE(fresh[j], old[i]);
    }
    oak_sleep(20);
    for (int i = 0; i < WIDE; i++)
        OT_SEND_U64(fresh[i], OT_TAG_STOP, 0);
    for (int i = 0; i < WIDE; i++)
        OT_CHECK_ATOM_EQ(OT_RECV_DOWN(refs[i], OT_LONG_MS).reason, OAK_NORMAL);
}

static void pid_of_dead_process_never_reaches_a_new_process(void **state)
{
    (void)state;
    OT_RUN(dead_pid_main, NULL);
}

static void unique_pids_main(void *arg)
{
    (void)arg;
    enum { N = 20000 };
    static oak_pid pids[N];
    /* Few alive at a time: slots are reused over and over. */
    for (int i = 0; i < N; i += 10) {
        oak_ref r[10];
        for (int j = 0; j < 10; j++)
            pids[i + j] = OT_SPAWN_MONITOR(ot_body_return, NULL, 0, &r[j]);
        for (int j = 0; j < 10; j++)
            OT_RECV_DOWN(r[j], OT_LONG_MS);
    }
    qsort(pids, N, sizeof pids[0], cmp_pid);
    for (int i = 1; i < N; i++)
        if (pids[i] == pids[i - 1])
            OT_FAIL("pid %#llx was given twice", (unsigned long long)pids[i]);
    for (int i = 0; i < N; i++)
        OT_CHECK_UINT_NE(pids[i], oak_self());
}

static void pids_are_never_given_twice_while_slots_are_reused(void **state)
{
    (void)state;
    OT_RUN(unique_pids_main, NULL);
}

/* ---- yield and counting ----------------------------------------------------------------- */

static atomic_int flag;

static void setter(void *arg)
{
    (void)arg;
    atomic_store(&flag, 1);
}

static void yield_main(void *arg)
{
    (void)arg;
    OT_SPAWN(setter, NULL, 0);
    /* One scheduler: the setter only runs when we give the scheduler up. */
    int64_t t0 = ot_now_ns();
    while (!atomic_load(&flag)) {
        oak_yield();
        if (ot_ms_since(t0) > OT_LONG_MS)
            OT_FAIL("the other process never ran while we yielded");
    }
}

static void yield_lets_other_processes_run(void **state)
{
    (void)state;
    atomic_store(&flag, 0);
    oak_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.schedulers = 1;
    OT_RUN_CFG(yield_main, NULL, &cfg);
}

static void count_main(void *arg)
{
    (void)arg;
    enum { N = 50 };
    oak_pid p[N];
    oak_ref r[N];
    OT_CHECK_INT_EQ(oak_process_count(), 1);
    for (int i = 0; i < N; i++)
        p[i] = OT_SPAWN_MONITOR(ot_body_until_stop, NULL, 0, &r[i]);
    OT_CHECK_INT_EQ(oak_process_count(), N + 1);
    for (int i = 0; i < N; i++)
        OT_CHECK(oak_is_alive(p[i]));
    for (int i = 0; i < N; i++)
        OT_SEND_U64(p[i], OT_TAG_STOP, 0);
    for (int i = 0; i < N; i++)
        OT_RECV_DOWN(r[i], OT_LONG_MS);
    OT_EVENTUALLY(oak_process_count() == 1, OT_LONG_MS);
    for (int i = 0; i < N; i++)
        OT_CHECK(!oak_is_alive(p[i]));
}

static void process_count_and_is_alive_follow_spawns_and_deaths(void **state)
{
    (void)state;
    OT_RUN(count_main, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spawn_runs_entry_with_arg_and_self_is_the_new_pid),
        cmocka_unit_test(outside_a_process_self_is_nopid_and_spawn_is_eperm),
        cmocka_unit_test(process_ends_normal_on_return_and_with_reason_on_exit),
        cmocka_unit_test(spawn_arg_is_copied_into_the_new_process),
        cmocka_unit_test(spawn_trap_exit_option_starts_the_process_trapping),
        cmocka_unit_test(spawn_link_and_monitor_hold_even_if_the_child_dies_at_once),
        cmocka_unit_test(spawn_link_option_links_the_child),
        cmocka_unit_test(spawn_stack_size_option_gives_a_usable_stack_of_that_size),
        cmocka_unit_test(config_stack_size_is_the_default_for_spawned_processes),
        cmocka_unit_test(process_without_a_stack_exits_with_system_limit),
        cmocka_unit_test(spawn_rejects_null_entry_and_absurd_stack_size),
        cmocka_unit_test(full_process_table_gives_eagain_until_a_slot_is_free),
        cmocka_unit_test(pid_of_dead_process_never_reaches_a_new_process),
        cmocka_unit_test(pids_are_never_given_twice_while_slots_are_reused),
        cmocka_unit_test(yield_lets_other_processes_run),
        cmocka_unit_test(process_count_and_is_alive_follow_spawns_and_deaths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
