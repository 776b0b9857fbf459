/* test_preemption.c - a process that never yields cannot take a scheduler
 * hostage: kill kills it, a supervisor stops it, its neighbours' timers
 * fire and their messages are answered, and busy loops that call into libc
 * are preempted safely. With preemption off, scheduling is cooperative as
 * before.
 *
 * Times here are bounds for "it happened at all" (seconds), never
 * measurements: bench/ measures how fast.
 */
#include "oak_test.h"

#include <oak/supervisor.h>

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>

#include "../src/core/preempt.h"

/* ThreadSanitizer builds are cooperative (docs/design/preemption.md). */
#if defined(__SANITIZE_THREAD__)
#define SKIP_UNDER_TSAN() skip()
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SKIP_UNDER_TSAN() skip()
#endif
#endif
#ifndef SKIP_UNDER_TSAN
#define SKIP_UNDER_TSAN() ((void)0)
#endif

static _Atomic bool stop_spinning;
static _Atomic int spinners_started;
static _Atomic int cleanups_ran;
static oak_pid t_main;

static OT_NOINLINE uint64_t spin_forever(volatile uint64_t *n)
{
    while (!atomic_load_explicit(&stop_spinning, memory_order_relaxed))
        (*n)++;
    return *n;
}

static OT_NOINLINE uint64_t nested(int depth, volatile uint64_t *n)
{
    volatile char pad[128];
    pad[0] = (char)depth;
    if (depth > 0)
        return nested(depth - 1, n) + pad[0];
    return spin_forever(n);
}

static void note_cleanup(void *arg)
{
    (void)arg;
    atomic_fetch_add(&cleanups_ran, 1);
}

typedef struct spin_opts {
    bool trap;
    int depth;
    bool with_cleanup;
} spin_opts;

static void spinner(void *arg)
{
    spin_opts *o = arg;
    if (o->trap)
        oak_trap_exit(true);
    if (o->with_cleanup)
        OT_CHECK_INT_GE(oak_defer(note_cleanup, NULL), 0);
    atomic_fetch_add(&spinners_started, 1);
    volatile uint64_t n = 0;
    nested(o->depth, &n);
    oak_yield(); /* acts on signals that waited for the loop to end */
}

static void wait_started(int n)
{
    for (int i = 0; i < 5000 && atomic_load(&spinners_started) < n; i++)
        oak_sleep(1);
    OT_CHECK_INT_GE(atomic_load(&spinners_started), n);
}

static void reset(void)
{
    atomic_store(&stop_spinning, false);
    atomic_store(&spinners_started, 0);
    atomic_store(&cleanups_ran, 0);
    t_main = oak_self();
}

/* ---- kill ---------------------------------------------------------------- */

static void kill_main(void *arg)
{
    (void)arg;
    reset();
    spin_opts kinds[] = {
        {.trap = false, .depth = 0, .with_cleanup = false},
        {.trap = true, .depth = 0, .with_cleanup = true},
        {.trap = false, .depth = 40, .with_cleanup = true},
        {.trap = true, .depth = 40, .with_cleanup = true},
    };
    int cleanups = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        oak_ref r = 0;
        oak_pid p = ot_spawn_(spinner, &kinds[k], sizeof kinds[k], OAK_SPAWN_MONITOR, &r,
                              __FILE__, __LINE__);
        wait_started((int)k + 1);
        oak_sleep(20); /* it is deep in its loop now */
        int64_t t0 = ot_now_ns();
        OT_CHECK_INT_EQ(oak_exit_pid(p, OAK_KILL), 0);
        ot_signal d = OT_RECV_DOWN(r, OT_LONG_MS);
        OT_CHECK_ATOM_EQ(d.reason, OAK_KILLED);
        OT_CHECK_INT_LT(ot_ms_since(t0), 5000);
        if (kinds[k].with_cleanup)
            cleanups++;
        OT_CHECK_INT_EQ(atomic_load(&cleanups_ran), cleanups);
    }
}

/* exit(kill) ends a process that never yields - trapping exits or not,
 * deep in nested calls, with cleanups, which run. */
static void kill_ends_a_spinning_process(void **state)
{
    (void)state;
    SKIP_UNDER_TSAN();
    oak_config cfg = {.schedulers = 2};
    OT_RUN_CFG(kill_main, NULL, &cfg);
}

static void exit_main(void *arg)
{
    (void)arg;
    reset();
    spin_opts o = {0};
    oak_ref r = 0;
    oak_pid p = OT_SPAWN_COPY_MONITOR(spinner, &o, 0, &r);
    wait_started(1);
    OT_CHECK_INT_EQ(oak_exit_pid(p, oak_atom_from("go_away")), 0);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, oak_atom_from("go_away"));
    /* A linked spinner dies of an exit signal; its link hears why. */
    oak_trap_exit(true);
    oak_pid q = OT_SPAWN_COPY(spinner, &o, OAK_SPAWN_LINK);
    wait_started(2);
    OT_CHECK_INT_EQ(oak_exit_pid(q, oak_atom_from("linked_death")), 0);
    ot_signal x;
    OT_TAKE_SIGNAL(OT_RECV_TAG(OAK_TAG_EXIT, OT_LONG_MS), &x);
    OT_CHECK_UINT_EQ(x.from, q);
    OT_CHECK_ATOM_EQ(x.reason, oak_atom_from("linked_death"));
}

/* Any exit signal reaches a spinner, on one scheduler as on two. */
static void exit_signals_reach_a_spinning_process(void **state)
{
    (void)state;
    SKIP_UNDER_TSAN();
    oak_config one = {.schedulers = 1};
    OT_RUN_CFG(exit_main, NULL, &one);
}

/* ---- supervisors -------------------------------------------------------- */

static int start_spinner(const oak_child_args *args, oak_pid *pid, oak_reason *why)
{
    (void)why;
    oak_spawn_opts so = {.flags = OAK_SPAWN_LINK, .arg_size = args->arg_size};
    return oak_spawn(spinner, (void *)args->arg, &so, pid);
}

static void sup_main(void *arg)
{
    (void)arg;
    reset();
    spin_opts plain = {0}, trapping = {.trap = true};
    oak_child_spec kids[] = {
        {.id = oak_atom_from("brutal"), .start = start_spinner, .arg = &plain,
         .arg_size = sizeof plain, .shutdown = OAK_BRUTAL_KILL},
        {.id = oak_atom_from("timeout"), .start = start_spinner, .arg = &trapping,
         .arg_size = sizeof trapping, .shutdown = 100},
        {.id = oak_atom_from("polite"), .start = start_spinner, .arg = &plain,
         .arg_size = sizeof plain, .shutdown = 5000},
    };
    oak_supervisor_def def = {.flags = {OAK_ONE_FOR_ONE, 10, 5, OAK_AUTO_SHUTDOWN_NEVER},
                              .children = kids, .count = 3};
    oak_pid sup = OAK_NOPID;
    oak_reason why;
    OT_CHECK_INT_EQ(oak_supervisor_start(&def, OAK_GEN_LINK, &sup, &why), 0);
    wait_started(3);
    /* Each is stopped, and restarted (a crash of a permanent child). */
    for (size_t i = 0; i < 3; i++) {
        int64_t t0 = ot_now_ns();
        OT_CHECK_INT_EQ(oak_supervisor_terminate_child(sup, kids[i].id), 0);
        OT_CHECK_INT_LT(ot_ms_since(t0), 5000);
        oak_pid np = OAK_NOPID;
        OT_CHECK_INT_EQ(oak_supervisor_restart_child(sup, kids[i].id, &np, &why), 0);
        OT_CHECK(np != OAK_NOPID);
    }
    wait_started(6);
    /* The whole tree stops in order, spinners and all. */
    oak_trap_exit(true);
    OT_CHECK_INT_EQ(oak_exit_pid(sup, OAK_SHUTDOWN), 0);
    ot_signal x;
    OT_TAKE_SIGNAL(OT_RECV_TAG(OAK_TAG_EXIT, OT_LONG_MS), &x);
    OT_CHECK_UINT_EQ(x.from, sup);
    OT_CHECK_ATOM_EQ(x.reason, OAK_SHUTDOWN);
}

/* A supervisor stops children stuck in loops: by brutal_kill, by its
 * shutdown exit signal, and by the kill after the shutdown timeout. */
static void supervisor_stops_children_stuck_in_loops(void **state)
{
    (void)state;
    SKIP_UNDER_TSAN();
    oak_config cfg = {.schedulers = 2};
    OT_RUN_CFG(sup_main, NULL, &cfg);
}

/* ---- neighbours: timers, messages --------------------------------------- */

static void sleeper(void *arg)
{
    (void)arg;
    int64_t t0 = ot_now_ns();
    oak_sleep(50);
    OT_SEND_U64(t_main, OT_TAG_DONE, (uint64_t)ot_ms_since(t0));
    oak_msg *m = NULL;
    t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_receive(&m, 50, NULL, NULL), -ETIMEDOUT);
    OT_SEND_U64(t_main, OT_TAG_DONE, (uint64_t)ot_ms_since(t0));
}

static void ponger(void *arg)
{
    (void)arg;
    for (;;) {
        oak_msg *m = OT_RECV_ANY(OAK_INFINITY);
        if (m->tag == OT_TAG_STOP) {
            oak_msg_free(m);
            return;
        }
        OT_SEND(m->from, OT_TAG_PONG, m->data, m->size);
        oak_msg_free(m);
    }
}

static void neighbours_main(void *arg)
{
    unsigned nspin = *(unsigned *)arg;
    reset();
    spin_opts o = {0};
    oak_ref refs[8];
    for (unsigned i = 0; i < nspin; i++)
        OT_SPAWN_COPY_MONITOR(spinner, &o, 0, &refs[i]);
    wait_started((int)nspin);
    /* Timers beside the spinners fire (late by a time slice at most;
     * checked here only as "within seconds"). */
    OT_SPAWN(sleeper, NULL, 0);
    OT_CHECK_INT_LT(OT_RECV_U64(OT_TAG_DONE, OT_LONG_MS), 5000);
    OT_CHECK_INT_LT(OT_RECV_U64(OT_TAG_DONE, OT_LONG_MS), 5000);
    /* A ping-pong pair keeps answering. */
    oak_pid pong = OT_SPAWN(ponger, NULL, 0);
    for (uint64_t i = 0; i < 200; i++) {
        OT_SEND_U64(pong, OT_TAG_PING, i);
        OT_CHECK_UINT_EQ(OT_RECV_U64(OT_TAG_PONG, OT_LONG_MS), i);
    }
    OT_SEND(pong, OT_TAG_STOP, NULL, 0);
    atomic_store(&stop_spinning, true);
    for (unsigned i = 0; i < nspin; i++)
        OT_CHECK_ATOM_EQ(OT_RECV_DOWN(refs[i], OT_LONG_MS).reason, OAK_NORMAL);
}

/* One spinner per scheduler (and one more): sleepers wake, receives time
 * out, and a ping-pong pair goes on. */
static void timers_and_messages_go_on_beside_spinners(void **state)
{
    (void)state;
    SKIP_UNDER_TSAN();
    oak_config cfg = {.schedulers = 2};
    unsigned n = 3;
    OT_RUN_CFG(neighbours_main, &n, &cfg);
    oak_config one = {.schedulers = 1};
    n = 1;
    OT_RUN_CFG(neighbours_main, &n, &one);
}

/* ---- libc inside busy loops ------------------------------------------------- */

static FILE *dev_null; /* opened by the test's main process */

/* malloc/free and stdio in a loop. With *killable, its buffers are
 * oak_alloc()'d (freed with the process when it is killed) instead. */
static void libc_looper(void *arg)
{
    bool killable = *(bool *)arg;
    atomic_fetch_add(&spinners_started, 1);
    uint64_t i = 0;
    while (!atomic_load_explicit(&stop_spinning, memory_order_relaxed)) {
        size_t n = 16 + i % 4000;
        char *b = killable ? oak_alloc(n) : malloc(n);
        OT_CHECK(b != NULL);
        int len = snprintf(b, 16, "%llu", (unsigned long long)i);
        fprintf(dev_null, "%s %d\n", b, len);
        if (killable)
            oak_free(b);
        else
            free(b);
        i++;
    }
}

static void libc_main(void *arg)
{
    (void)arg;
    reset();
    dev_null = fopen("/dev/null", "w");
    OT_CHECK(dev_null != NULL);
    bool killable = false;
    oak_ref refs[6];
    for (int i = 0; i < 6; i++)
        ot_spawn_(libc_looper, &killable, sizeof killable, OAK_SPAWN_MONITOR, &refs[i],
                  __FILE__, __LINE__);
    wait_started(6);
    /* Messages go around meanwhile, and the loopers are preempted often. */
    oak_pid pong = OT_SPAWN(ponger, NULL, 0);
    int64_t t0 = ot_now_ns();
    uint64_t i = 0;
    while (ot_ms_since(t0) < 500) {
        OT_SEND_U64(pong, OT_TAG_PING, i);
        OT_CHECK_UINT_EQ(OT_RECV_U64(OT_TAG_PONG, OT_LONG_MS), i);
        i++;
    }
    OT_SEND(pong, OT_TAG_STOP, NULL, 0);
    atomic_store(&stop_spinning, true);
    for (int k = 0; k < 6; k++)
        OT_CHECK_ATOM_EQ(OT_RECV_DOWN(refs[k], OT_LONG_MS).reason, OAK_NORMAL);
    /* And killing such loopers is safe too. */
    atomic_store(&stop_spinning, false);
    killable = true;
    for (int k = 0; k < 6; k++) {
        oak_pid p = ot_spawn_(libc_looper, &killable, sizeof killable, OAK_SPAWN_MONITOR,
                              &refs[k], __FILE__, __LINE__);
        oak_sleep(5);
        OT_CHECK_INT_EQ(oak_exit_pid(p, OAK_KILL), 0);
        OT_CHECK_ATOM_EQ(OT_RECV_DOWN(refs[k], OT_LONG_MS).reason, OAK_KILLED);
    }
    fclose(dev_null);
}

/* Busy loops that malloc, free and printf are preempted and killed
 * without a deadlock (never inside libc). */
static void busy_loops_in_libc_are_preempted_safely(void **state)
{
    (void)state;
    SKIP_UNDER_TSAN();
    oak_config cfg = {.schedulers = 2, .time_slice_ms = 1};
    OT_RUN_CFG(libc_main, NULL, &cfg);
}

/* ---- preemption off -------------------------------------------------------------- */

static void off_main(void *arg)
{
    (void)arg;
    reset();
    spin_opts o = {0};
    oak_ref r = 0;
    oak_pid p = OT_SPAWN_COPY_MONITOR(spinner, &o, 0, &r);
    /* Without yielding (cooperative: a spinner that got this scheduler
     * would keep it), until the other scheduler has taken the spinner. */
    int64_t t0 = ot_now_ns();
    while (atomic_load(&spinners_started) < 1 && ot_ms_since(t0) < OT_LONG_MS) {
    }
    OT_CHECK_INT_EQ(atomic_load(&spinners_started), 1);
    OT_CHECK_INT_EQ(oak_exit_pid(p, OAK_KILL), 0);
    /* The spinner goes on until it gives the CPU up. */
    t0 = ot_now_ns();
    while (ot_ms_since(t0) < 200)
        OT_CHECK(oak_is_alive(p));
    atomic_store(&stop_spinning, true);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, OAK_KILLED);
}

/* time_slice_ms < 0: no preemption; a kill waits for the spinner to yield
 * (here: to end its loop and exit, which acts on the signal). */
static void preemption_off_is_cooperative(void **state)
{
    (void)state;
    oak_config cfg = {.schedulers = 2, .time_slice_ms = -1};
    OT_RUN_CFG(off_main, NULL, &cfg);
}

/* ---- beside a busy scheduler, preemption off ------------------------------------- */

/* A spinner that holds its scheduler for good, a timed wait parked on that
 * same scheduler just before, and a process the spinner wakes there: an
 * idle scheduler takes them over (docs/design/scheduler.md, "Robbing a
 * busy scheduler"). */

enum { TAG_READY = 0x7101, TAG_GO, TAG_WOKE, TAG_RAN };

/* Taking over a held scheduler needs membarrier(2) (Linux 4.14 and
 * later); where the kernel has none the runtime only fires the held
 * scheduler's timers, and these tests say so. */
static void skip_without_membarrier(void)
{
    long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) {
        fprintf(stderr, "skipped: the kernel has no private expedited membarrier\n");
        skip();
    }
}

static _Atomic pid_t busy_tid; /* the spinner's thread, once it spins */

typedef struct busy_opts {
    oak_pid parent;
    oak_pid wake; /* a parked process to wake before spinning, or OAK_NOPID */
} busy_opts;

static void busy_spinner(void *arg)
{
    busy_opts *o = arg;
    OT_SEND_U64(o->parent, TAG_READY, 0);
    oak_msg_free(OT_RECV_TAG(TAG_GO, OT_LONG_MS));
    atomic_store(&busy_tid, gettid());
    if (o->wake != OAK_NOPID)
        OT_SEND_U64(o->wake, TAG_GO, 0); /* into this scheduler's runnext */
    volatile uint64_t n = 0;
    spin_forever(&n);
}

typedef struct waiter_opts {
    bool by_receive; /* a receive with a timeout, else oak_sleep */
} waiter_opts;

typedef struct waiter_report {
    int64_t took_ms;
    bool same_thread; /* the spinner took the waiter's scheduler */
    oak_pid spinner;
} waiter_report;

/* Wakes the spinner into runnext, then waits 50 ms: the spinner runs next
 * on this very scheduler and never gives it up. */
static void timed_waiter(void *arg)
{
    waiter_opts *o = arg;
    busy_opts b = {.parent = oak_self(), .wake = OAK_NOPID};
    oak_pid sp = OT_SPAWN_COPY(busy_spinner, &b, 0);
    oak_msg_free(OT_RECV_TAG(TAG_READY, OT_LONG_MS));
    atomic_store(&busy_tid, 0);
    OT_SEND_U64(sp, TAG_GO, 0);
    pid_t me = gettid();
    int64_t t0 = ot_now_ns();
    if (o->by_receive) {
        oak_msg *m = NULL;
        OT_CHECK_INT_EQ(oak_receive(&m, 50, NULL, NULL), -ETIMEDOUT);
    } else {
        OT_CHECK_INT_EQ(oak_sleep(50), 0);
    }
    waiter_report r = {.took_ms = ot_ms_since(t0), .spinner = sp};
    r.same_thread = atomic_load(&busy_tid) == me;
    OT_SEND(t_main, TAG_WOKE, &r, sizeof r);
}

static void neighbour_main(void *arg)
{
    waiter_opts *o = arg;
    reset();
    int held = 0;
    /* Whether the spinner lands on the waiter's scheduler is up to the
     * schedulers; it does nearly every time, and the test needs it once. */
    for (int trial = 0; trial < 20 && held < 3; trial++) {
        atomic_store(&stop_spinning, false);
        OT_SPAWN_COPY(timed_waiter, o, 0);
        oak_msg *m = OT_RECV_TAG(TAG_WOKE, OT_LONG_MS);
        waiter_report r;
        memcpy(&r, m->data, sizeof r);
        oak_msg_free(m);
        OT_CHECK_INT_GE(r.took_ms, 49);
        OT_CHECK_INT_LT(r.took_ms, 3000);
        held += r.same_thread;
        oak_ref mr = oak_monitor(r.spinner);
        atomic_store(&stop_spinning, true);
        OT_RECV_DOWN(mr, OT_LONG_MS);
    }
    OT_CHECK_INT_GE(held, 1);
}

/* time_slice_ms < 0: a sleeper whose scheduler a spinner took right after
 * it parked still wakes on time: an idle scheduler arms and fires its
 * timer and runs it. */
static void sleep_beside_a_spinner_wakes_without_preemption(void **state)
{
    (void)state;
    skip_without_membarrier();
    waiter_opts o = {.by_receive = false};
    oak_config cfg = {.schedulers = 2, .time_slice_ms = -1};
    OT_RUN_CFG(neighbour_main, &o, &cfg);
}

static void receive_timeout_beside_a_spinner_fires_without_preemption(void **state)
{
    (void)state;
    skip_without_membarrier();
    waiter_opts o = {.by_receive = true};
    oak_config cfg = {.schedulers = 2, .time_slice_ms = -1};
    OT_RUN_CFG(neighbour_main, &o, &cfg);
}

static void woken_by_spinner(void *arg)
{
    (void)arg;
    oak_msg_free(OT_RECV_TAG(TAG_GO, OT_LONG_MS));
    pid_t me = gettid();
    OT_SEND(t_main, TAG_RAN, &me, sizeof me);
}

static void woken_main(void *arg)
{
    (void)arg;
    reset();
    for (int trial = 0; trial < 3; trial++) {
        atomic_store(&stop_spinning, false);
        atomic_store(&busy_tid, 0);
        oak_pid w = OT_SPAWN(woken_by_spinner, NULL, 0);
        oak_sleep(5); /* parked in its receive */
        busy_opts b = {.parent = oak_self(), .wake = w};
        oak_ref mr = 0;
        oak_pid sp = OT_SPAWN_COPY_MONITOR(busy_spinner, &b, 0, &mr);
        oak_msg_free(OT_RECV_TAG(TAG_READY, OT_LONG_MS));
        OT_SEND_U64(sp, TAG_GO, 0);
        oak_msg *m = OT_RECV_TAG(TAG_RAN, OT_LONG_MS);
        pid_t ran_on;
        memcpy(&ran_on, m->data, sizeof ran_on);
        oak_msg_free(m);
        /* Woken into the spinner's runnext, it ran on the other thread. */
        OT_CHECK_INT_NE(ran_on, atomic_load(&busy_tid));
        atomic_store(&stop_spinning, true);
        OT_RECV_DOWN(mr, OT_LONG_MS);
    }
}

/* A process that a spinner makes runnable on its own scheduler (runnext,
 * never stolen otherwise) is taken over by the idle one and runs. */
static void process_woken_by_a_spinner_runs_without_preemption(void **state)
{
    (void)state;
    skip_without_membarrier();
    oak_config cfg = {.schedulers = 2, .time_slice_ms = -1};
    OT_RUN_CFG(woken_main, NULL, &cfg);
}

/* ---- safe points ---------------------------------------------------------- */

typedef struct code_range {
    uintptr_t lo, hi;
} code_range;

/* The program's stub sections (.plt, .plt.sec, .plt.got), from its own
 * section headers, at the addresses they are loaded at. */
static int program_stubs(code_range *out, int max)
{
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    OT_CHECK(fd >= 0);
    ElfW(Ehdr) eh;
    OT_CHECK(pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh);
    ElfW(Shdr) *sh = calloc(eh.e_shnum, sizeof *sh);
    OT_CHECK(sh != NULL);
    OT_CHECK(pread(fd, sh, eh.e_shnum * sizeof *sh, (off_t)eh.e_shoff) ==
             (ssize_t)(eh.e_shnum * sizeof *sh));
    const ElfW(Shdr) *st = &sh[eh.e_shstrndx];
    char *names = calloc(1, st->sh_size + 1);
    OT_CHECK(names != NULL);
    OT_CHECK(pread(fd, names, st->sh_size, (off_t)st->sh_offset) == (ssize_t)st->sh_size);
    close(fd);
    /* The program is the first object dl_iterate_phdr lists; _r_debug's
     * first link map is the program too, with its load address. */
    uintptr_t base = (uintptr_t)_r_debug.r_map->l_addr;
    int n = 0;
    for (unsigned i = 0; i < eh.e_shnum && n < max; i++)
        if (strncmp(names + sh[i].sh_name, ".plt", 4) == 0 && sh[i].sh_size > 0)
            out[n++] = (code_range){base + sh[i].sh_addr, base + sh[i].sh_addr + sh[i].sh_size};
    free(names);
    free(sh);
    return n;
}

static OT_NOINLINE int user_code(int x) { return x * 3 + 1; }

static void safe_points_main(void *arg)
{
    (void)arg;
    code_range stubs[8];
    int n = program_stubs(stubs, 8);
    if (n == 0) {
        fprintf(stderr, "the program has no stub sections (-fno-plt?): only code is checked\n");
    }
    /* liboak's calls into libc go through the program's stubs (the static
     * library is part of the program): a signal that lands there comes
     * from the middle of the runtime's code. */
    for (int i = 0; i < n; i++) {
        OT_CHECK(!oak__preempt_safe_pc((const void *)stubs[i].lo));
        OT_CHECK(!oak__preempt_safe_pc((const void *)(stubs[i].hi - 1)));
    }
    OT_CHECK(oak__preempt_safe_pc((const void *)(uintptr_t)&user_code));
    OT_CHECK(oak__preempt_safe_pc((const void *)(uintptr_t)&spin_forever));
    OT_CHECK(!oak__preempt_safe_pc((const void *)(uintptr_t)&oak_send));
    OT_CHECK(!oak__preempt_safe_pc((const void *)(uintptr_t)&oak_receive));
    OT_CHECK(!oak__preempt_safe_pc((const void *)(uintptr_t)&memcpy));
    OT_CHECK_INT_EQ(user_code(1), 4);
}

/* Safe points are the program's own code: never liboak's, never libc's,
 * never the program's stubs into other modules. */
static void safe_points_are_the_programs_code_but_its_stubs(void **state)
{
    (void)state;
    SKIP_UNDER_TSAN(); /* no preemption: the ranges are never listed */
    OT_RUN(safe_points_main, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kill_ends_a_spinning_process),
        cmocka_unit_test(exit_signals_reach_a_spinning_process),
        cmocka_unit_test(supervisor_stops_children_stuck_in_loops),
        cmocka_unit_test(timers_and_messages_go_on_beside_spinners),
        cmocka_unit_test(busy_loops_in_libc_are_preempted_safely),
        cmocka_unit_test(preemption_off_is_cooperative),
        cmocka_unit_test(sleep_beside_a_spinner_wakes_without_preemption),
        cmocka_unit_test(receive_timeout_beside_a_spinner_fires_without_preemption),
        cmocka_unit_test(process_woken_by_a_spinner_runs_without_preemption),
        cmocka_unit_test(safe_points_are_the_programs_code_but_its_stubs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
