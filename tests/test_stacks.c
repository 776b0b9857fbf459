/* test_stacks.c - execution stacks: every overflow ends its own process
 * only, whatever the number of processes; stacks shared by several
 * processes keep each one's frames intact at their own addresses; deep
 * stacks give their pages back; hibernation gives the whole stack up.
 *
 * ctest groups: overflow eviction memory hibernate
 *
 * Each group is its own CTest test (the program takes the group's name as
 * its argument; without one it runs them all).
 */
#include "oak_test.h"

#include <alloca.h>

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* TSan counts every process as a thread, with a limit of 8128. */
#if defined(UNDER_TSAN)
#define N_LIVE 2000
#define N_OVERFLOWS 1000
#elif defined(UNDER_ASAN)
#define N_LIVE 20000
#define N_OVERFLOWS 10000
#else
#define N_LIVE 100000
#define N_OVERFLOWS 10000
#endif

#define BIG_FRAME ((size_t)256 * 1024) /* four times the default stack */

static _Atomic int sink; /* keeps frames from being optimised away */

/* ---- the overflows ---------------------------------------------------------- */

typedef enum {
    O_RECURSION,  /* deep recursion, small frames                    */
    O_FRAME_LOW,  /* one huge frame, written from its far (low) end  */
    O_FRAME_HIGH, /* one huge frame, written from its near end down  */
    O_FRAME_FAR,  /* one huge frame, touched only at its far end     */
    O_ALLOCA,     /* a huge alloca, written from its start           */
    O_FAR_WRITE,  /* a single write far below the stack              */
    O_KINDS
} overflow_kind;

static const char *const kind_names[O_KINDS] = {
    "recursion", "frame_low", "frame_high", "frame_far", "alloca", "far_write",
};

static OT_NOINLINE int recurse(int n)
{
    volatile char buf[256];
    buf[0] = (char)n;
    buf[255] = (char)n;
    return recurse(n + 1) + buf[0] + buf[255];
}

static OT_NOINLINE void frame_low(void)
{
    char buf[BIG_FRAME];
    memset(buf, 1, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
    sink = buf[BIG_FRAME / 2];
}

static OT_NOINLINE void frame_high(void)
{
    volatile char buf[BIG_FRAME];
    for (size_t i = BIG_FRAME; i-- > 0;)
        buf[i] = 2;
    sink = buf[0];
}

static OT_NOINLINE void frame_far(void)
{
    volatile char buf[BIG_FRAME];
    buf[0] = 3;
    sink = buf[0];
}

static OT_NOINLINE void big_alloca(size_t n)
{
    volatile char *p = alloca(n);
    p[0] = 4;
    sink = p[0];
}

static OT_NOINLINE void far_write(void)
{
    volatile char *p = (volatile char *)__builtin_frame_address(0) - 512 * 1024;
    *p = 5;
}

static void overflower(void *arg)
{
    overflow_kind k = *(overflow_kind *)arg;
    switch (k) {
    case O_RECURSION:
        sink = recurse(0);
        break;
    case O_FRAME_LOW:
        frame_low();
        break;
    case O_FRAME_HIGH:
        frame_high();
        break;
    case O_FRAME_FAR:
        frame_far();
        break;
    case O_ALLOCA:
        big_alloca(BIG_FRAME + (size_t)sink);
        break;
    case O_FAR_WRITE:
        far_write();
        break;
    default:
        break;
    }
    oak_exit(oak_atom_from("did_not_overflow"));
}

/* Spawn n overflowers of kind k at once, monitored; each must end with
 * stack_overflow, a detail that names an address and a pc. */
static void overflow_batch(overflow_kind k, int n)
{
    for (int i = 0; i < n; i++)
        OT_SPAWN_COPY(overflower, &k, OAK_SPAWN_MONITOR);
    for (int i = 0; i < n; i++) {
        ot_signal d;
        OT_TAKE_SIGNAL(OT_RECV_TAG(OAK_TAG_DOWN, OT_LONG_MS), &d);
        if (d.reason != OAK_STACK_OVERFLOW)
            OT_FAIL("%s: reason %s (%s), want stack_overflow", kind_names[k],
                    ot_atom_text(d.reason), d.detail);
        if (!strstr(d.detail, "pc 0x"))
            OT_FAIL("%s: detail \"%s\" names no pc", kind_names[k], d.detail);
        if (!strstr(d.detail, "at address 0x"))
            OT_FAIL("%s: detail \"%s\" names no address", kind_names[k], d.detail);
    }
}

/* ---- canaries: live processes whose frames must stay intact ------------------ */

#define CANARY_WORDS 48

static uint64_t canary_word(uint64_t id, int j)
{
    uint64_t x = id * 0x9E3779B97F4A7C15ull + (uint64_t)j * 0xBF58476D1CE4E5B9ull;
    return x ^ (x >> 29);
}

/* Fills a frame of its own, then answers each CHECK with whether the frame
 * (and the stack pointer it kept) is as it left it; ends on STOP. */
static void canary(void *arg)
{
    uint64_t id = *(uint64_t *)arg;
    oak_pid owner = 0;
    volatile uint64_t words[CANARY_WORDS];
    for (int j = 0; j < CANARY_WORDS; j++)
        words[j] = canary_word(id, j);
    volatile uint64_t *self_ref = words; /* a pointer into its own frame */
    oak_msg *m = OT_RECV_TAG(OT_TAG_GO, OT_LONG_MS);
    owner = m->from;
    oak_msg_free(m);
    OT_SEND_U64(owner, OT_TAG_READY, id);
    for (;;) {
        m = OT_RECV_ANY(OAK_INFINITY);
        uint64_t tag = m->tag;
        oak_msg_free(m);
        uint64_t bad = 0;
        for (int j = 0; j < CANARY_WORDS; j++)
            if (self_ref[j] != canary_word(id, j))
                bad++;
        if (tag == OT_TAG_STOP)
            return;
        OT_SEND_U64(owner, bad ? OT_TAG_OTHER : OT_TAG_PONG, id);
    }
}

static oak_pid *spawn_canaries_running(oak_entry fn, int n)
{
    oak_pid *pids = malloc((size_t)n * sizeof *pids);
    OT_CHECK(pids != NULL);
    for (int i = 0; i < n; i++) {
        uint64_t id = (uint64_t)i;
        pids[i] = OT_SPAWN_COPY(fn, &id, 0);
        OT_SEND(pids[i], OT_TAG_GO, NULL, 0);
    }
    for (int i = 0; i < n; i++)
        OT_RECV_U64(OT_TAG_READY, OT_LONG_MS);
    return pids;
}

static oak_pid *spawn_canaries(int n) { return spawn_canaries_running(canary, n); }

/* Ask every canary to look at its frame; count those that found it changed. */
static int check_canaries(const oak_pid *pids, int n)
{
    for (int i = 0; i < n; i++)
        OT_SEND(pids[i], OT_TAG_PING, NULL, 0);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        oak_msg *m = OT_RECV_ANY(OT_LONG_MS);
        if (m->tag == OT_TAG_OTHER)
            bad++;
        else if (m->tag != OT_TAG_PONG)
            OT_FAIL("canary answer with tag %#llx", (unsigned long long)m->tag);
        oak_msg_free(m);
    }
    return bad;
}

static void stop_canaries(oak_pid *pids, int n)
{
    for (int i = 0; i < n; i++)
        OT_SEND(pids[i], OT_TAG_STOP, NULL, 0);
    free(pids);
}

/* ---- overflow group ------------------------------------------------------------ */

static void overflow_main(void *arg)
{
    (void)arg;
    oak_pid *pids = spawn_canaries(N_LIVE);
    OT_CHECK_INT_GE(oak_process_count(), (size_t)N_LIVE);
    for (overflow_kind k = 0; k < O_KINDS; k++) {
        overflow_batch(k, 50);
        OT_CHECK_INT_EQ(check_canaries(pids, N_LIVE), 0);
    }
    stop_canaries(pids, N_LIVE);
}

/* Far more live processes than execution stacks (16,382 on a stock
 * kernel; 100,000 here), then 50 of each overflow kind at once: each ends
 * with stack_overflow, address and pc, and every other process's frame is
 * intact. */
static void every_overflow_kind_among_many_live_processes_kills_only_its_process(void **state)
{
    (void)state;
    ot_run_limit_s = 240;
    OT_RUN(overflow_main, NULL);
}

static void few_slots_main(void *arg)
{
    (void)arg;
    oak_pid *pids = spawn_canaries(2000);
    for (overflow_kind k = 0; k < O_KINDS; k++) {
        overflow_batch(k, 20);
        OT_CHECK_INT_EQ(check_canaries(pids, 2000), 0);
    }
    stop_canaries(pids, 2000);
}

/* The same with only 16 execution stacks for 2,000 processes: every
 * overflow happens on a stack that others have their bytes saved from. */
static void overflows_on_shared_stacks_leave_the_others_intact(void **state)
{
    (void)state;
    oak_config cfg = {.guarded_stacks = 16};
    OT_RUN_CFG(few_slots_main, NULL, &cfg);
}

/* ---- eviction group ------------------------------------------------------------ */

#define E_WORKERS 300
#define E_TOKENS 16
#define E_HOPS 2000
#define E_LEVEL_WORDS 24

typedef struct hop {
    uint64_t token;
    uint64_t left;
    uint64_t rng;
} hop;

static oak_pid e_workers[E_WORKERS];
static oak_pid e_main;

static void e_fill(volatile uint64_t *w, uint64_t id, int level)
{
    for (int j = 0; j < E_LEVEL_WORDS; j++)
        w[j] = canary_word(id * 64 + (uint64_t)level, j);
}

static bool e_intact(volatile uint64_t *const *levels, int depth, uint64_t id)
{
    for (int l = 0; l < depth; l++)
        for (int j = 0; j < E_LEVEL_WORDS; j++)
            if (levels[l][j] != canary_word(id * 64 + (uint64_t)l, j))
                return false;
    return true;
}

/* At the bottom of its nested frames, pass tokens on to random workers. */
static void e_serve(uint64_t id, volatile uint64_t *const *levels, int depth)
{
    for (;;) {
        oak_msg *m = OT_RECV_ANY(OAK_INFINITY);
        if (m->tag == OT_TAG_STOP) {
            oak_msg_free(m);
            OT_CHECK(e_intact(levels, depth, id));
            return;
        }
        OT_CHECK_UINT_EQ(m->tag, OT_TAG_DATA);
        hop h;
        memcpy(&h, m->data, sizeof h);
        oak_msg_free(m);
        if (!e_intact(levels, depth, id))
            OT_FAIL("worker %llu: a frame changed while it waited", (unsigned long long)id);
        if (--h.left == 0) {
            OT_SEND_U64(e_main, OT_TAG_DONE, h.token);
            continue;
        }
        h.rng ^= h.rng << 13;
        h.rng ^= h.rng >> 7;
        h.rng ^= h.rng << 17;
        OT_SEND(e_workers[h.rng % E_WORKERS], OT_TAG_DATA, &h, sizeof h);
        if (h.rng % 7 == 0)
            oak_yield(); /* leave the CPU runnable too, not only parked */
    }
}

static OT_NOINLINE void e_nest(uint64_t id, volatile uint64_t **levels, int level, int depth)
{
    volatile uint64_t words[E_LEVEL_WORDS];
    e_fill(words, id, level);
    levels[level] = words;
    if (level + 1 < depth)
        e_nest(id, levels, level + 1, depth);
    else
        e_serve(id, (volatile uint64_t *const *)levels, depth);
    sink = (int)words[0];
}

static void e_worker(void *arg)
{
    uint64_t id = *(uint64_t *)arg;
    volatile uint64_t *levels[8];
    e_nest(id, levels, 0, 1 + (int)(id % 8));
}

static void eviction_main(void *arg)
{
    (void)arg;
    e_main = oak_self();
    oak_ref refs[E_WORKERS];
    for (int i = 0; i < E_WORKERS; i++) {
        uint64_t id = (uint64_t)i;
        e_workers[i] = ot_spawn_(e_worker, &id, sizeof id, OAK_SPAWN_MONITOR, &refs[i],
                                 __FILE__, __LINE__);
    }
    for (int t = 0; t < E_TOKENS; t++) {
        hop h = {.token = (uint64_t)t, .left = E_HOPS, .rng = 88172645463325252ull + (uint64_t)t};
        OT_SEND(e_workers[t * 7 % E_WORKERS], OT_TAG_DATA, &h, sizeof h);
    }
    for (int t = 0; t < E_TOKENS; t++)
        OT_RECV_U64(OT_TAG_DONE, OT_LONG_MS * 3);
    for (int i = 0; i < E_WORKERS; i++)
        OT_SEND(e_workers[i], OT_TAG_STOP, NULL, 0);
    for (int i = 0; i < E_WORKERS; i++)
        OT_CHECK_ATOM_EQ(OT_RECV_DOWN(refs[i], OT_LONG_MS).reason, OAK_NORMAL);
}

/* 300 processes, each several frames deep with pointers into its own
 * frames, share 8 execution stacks on two schedulers while 16 tokens hop
 * between them at random: every process finds its frames, at the same
 * addresses, as it left them, through thousands of copies out and in and
 * slots passed between the schedulers. */
static void processes_sharing_few_stacks_keep_their_frames(void **state)
{
    (void)state;
    oak_config cfg = {.schedulers = 2, .guarded_stacks = 8};
    ot_run_limit_s = 180;
    OT_RUN_CFG(eviction_main, NULL, &cfg);
}

/* The same with a single execution stack for everyone. */
static void processes_sharing_one_stack_keep_their_frames(void **state)
{
    (void)state;
    oak_config cfg = {.schedulers = 2, .guarded_stacks = 1};
    ot_run_limit_s = 180;
    OT_RUN_CFG(eviction_main, NULL, &cfg);
}

/* ---- memory group ----------------------------------------------------------------- */

static void waiting_overflower(void *arg)
{
    (void)arg;
    oak_msg *m = OT_RECV_TAG(OT_TAG_GO, OAK_INFINITY);
    oak_msg_free(m);
    sink = recurse(0);
}

static void memory_main(void *arg)
{
    (void)arg;
    /* Warm up: the runtime's own memory (tables, message chunks) first. */
    overflow_batch(O_RECURSION, 100);
    oak_pid *pids = malloc(N_OVERFLOWS * sizeof *pids);
    OT_CHECK(pids != NULL);
    /* Each waits on a stack of its own (fewer than the execution stacks),
     * so that the overflows below go through thousands of stacks. */
    for (int i = 0; i < N_OVERFLOWS; i++)
        pids[i] = OT_SPAWN(waiting_overflower, NULL, OAK_SPAWN_MONITOR);
    oak_sleep(OT_SETTLE_MS);
    long before = ot_resident_kib();
    for (int i = 0; i < N_OVERFLOWS; i++)
        OT_SEND(pids[i], OT_TAG_GO, NULL, 0);
    for (int i = 0; i < N_OVERFLOWS; i++) {
        ot_signal d;
        OT_TAKE_SIGNAL(OT_RECV_TAG(OAK_TAG_DOWN, OT_LONG_MS), &d);
        OT_CHECK_ATOM_EQ(d.reason, OAK_STACK_OVERFLOW);
    }
    long after = ot_resident_kib();
    free(pids);
    /* Each overflow touched its whole 64 KiB stack: 640 MB if kept. */
    fprintf(stderr, "resident: %ld KiB before %d overflows, %ld KiB after\n", before,
            N_OVERFLOWS, after);
    OT_CHECK_INT_LE(after, before + before / 4 + 32 * 1024);
    /* And the runtime goes on. */
    overflow_batch(O_FRAME_LOW, 10);
}

static void normal_child(void *arg) { (void)arg; }

static void memory_main_wrapper(void *arg)
{
    memory_main(arg);
    oak_ref r = 0;
    OT_SPAWN_MONITOR(normal_child, NULL, 0, &r);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, OAK_NORMAL);
}

/* 10,000 overflows, each on a stack of its own: the runtime lives on, and
 * its resident memory comes back near where it was (the pages each
 * overflow touched are given back). */
static void ten_thousand_overflows_give_their_memory_back(void **state)
{
    (void)state;
    ot_run_limit_s = 240;
    OT_RUN(memory_main_wrapper, NULL);
}

/* A process that went deep once and then waits gives back the deep pages
 * when it dies: 2,000 such processes in a row cost no more than one. */
static OT_NOINLINE void go_deep(int n)
{
    volatile char buf[1024];
    buf[0] = (char)n;
    buf[1023] = 1;
    if (n > 0)
        go_deep(n - 1);
    sink = buf[0];
}

static void deep_then_exit(void *arg)
{
    (void)arg;
    go_deep(48); /* about 50 KiB */
}

static void deep_main(void *arg)
{
    (void)arg;
    for (int round = 0; round < 2; round++) {
        long before = ot_resident_kib();
        for (int i = 0; i < 2000; i++) {
            oak_ref r[8];
            for (int j = 0; j < 8; j++)
                OT_SPAWN_MONITOR(deep_then_exit, NULL, 0, &r[j]);
            for (int j = 0; j < 8; j++)
                OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r[j], OT_LONG_MS).reason, OAK_NORMAL);
        }
        long after = ot_resident_kib();
        if (round == 1)
            OT_CHECK_INT_LE(after, before + 8 * 1024);
    }
}

static void deep_stacks_give_their_pages_back(void **state)
{
    (void)state;
    OT_RUN(deep_main, NULL);
}

/* Processes that went deep once and then wait, idle, give back the pages
 * their stacks touched (the idle sweep evicts them: they keep only their
 * used bytes), and wake with their frames intact. */
#define N_IDLE_DEEP 2000

static void deep_canary(void *arg)
{
    go_deep(40); /* about 40 KiB touched, then a shallow wait */
    canary(arg);
}

static void idle_main(void *arg)
{
    (void)arg;
    long before = ot_resident_kib();
    oak_pid *pids = spawn_canaries_running(deep_canary, N_IDLE_DEEP);
    long peak = ot_resident_kib();
#if defined(UNDER_TSAN)
    /* TSan's shadow of the stacks is not given back with their pages:
     * only that the swept processes wake intact is checked. */
    (void)before;
    for (int i = 0; i < 30; i++)
        oak_sleep(100);
#else
    /* 2,000 x 40 KiB = 80 MB touched: at least half of it shows. */
    OT_CHECK_INT_GE(peak - before, N_IDLE_DEEP * 20);
    /* Two sweeps, a second apart, once the schedulers are idle: wait for
     * the pages to go (bounded). */
    long now = peak;
    for (int i = 0; i < 100 && now - before > (peak - before) / 4; i++) {
        oak_sleep(100);
        now = ot_resident_kib();
    }
    fprintf(stderr, "resident: %ld KiB before, %ld KiB with %d deep processes, %ld KiB idle\n",
            before, peak, N_IDLE_DEEP, now);
    OT_CHECK_INT_LE(now - before, (peak - before) / 4);
#endif
    OT_CHECK_INT_EQ(check_canaries(pids, N_IDLE_DEEP), 0);
    /* Awake again and idle again: swept again, still intact. */
    for (int i = 0; i < 40; i++)
        oak_sleep(100);
    OT_CHECK_INT_EQ(check_canaries(pids, N_IDLE_DEEP), 0);
    stop_canaries(pids, N_IDLE_DEEP);
}

static void idle_processes_give_back_the_pages_their_stacks_touched(void **state)
{
    (void)state;
    OT_RUN(idle_main, NULL);
}

/* ---- hibernate group ------------------------------------------------------------ */

static _Atomic int cleanup_ran;
static oak_pid h_main;

static void set_cleanup_ran(void *arg)
{
    (void)arg;
    atomic_fetch_add(&cleanup_ran, 1);
}

typedef struct h_state {
    uint64_t woken;  /* times fn ran after a wake */
    uint64_t next;   /* the value it expects next */
} h_state;

static void h_wake(void *arg);

/* Each wake takes one message, checks the order, and hibernates again. */
static void h_wake(void *arg)
{
    h_state *st = arg;
    st->woken++;
    oak_msg *m = OT_RECV_ANY(OT_LONG_MS);
    if (m->tag == OT_TAG_STOP) {
        oak_msg_free(m);
        OT_SEND_U64(h_main, OT_TAG_DONE, st->woken);
        return;
    }
    uint64_t v = ot_u64(m);
    oak_msg_free(m);
    OT_CHECK_UINT_EQ(v, st->next);
    st->next++;
    OT_CHECK_UINT_EQ(oak_whereis(oak_atom_from("sleeper")), oak_self());
    OT_SEND_U64(h_main, OT_TAG_PONG, v);
    OT_CHECK_INT_EQ(oak_hibernate(h_wake, st), 0); /* never returns */
}

static void h_sleeper(void *arg)
{
    (void)arg;
    OT_CHECK_INT_EQ(oak_register(oak_atom_from("sleeper"), oak_self()), 0);
    OT_CHECK_INT_GE(oak_defer(set_cleanup_ran, NULL), 0);
    h_state *st = oak_alloc(sizeof *st);
    OT_CHECK(st != NULL);
    st->woken = 0;
    st->next = 1;
    OT_SEND(h_main, OT_TAG_READY, NULL, 0);
    oak_hibernate(h_wake, st);
    OT_FAIL("oak_hibernate returned");
}

static void hibernate_main(void *arg)
{
    (void)arg;
    h_main = oak_self();
    atomic_store(&cleanup_ran, 0);
    oak_ref r = 0;
    oak_pid p = OT_SPAWN_MONITOR(h_sleeper, NULL, 0, &r);
    oak_msg *m = OT_RECV_TAG(OT_TAG_READY, OT_LONG_MS);
    oak_msg_free(m);
    /* Some sent while it sleeps, some in a burst before it wakes. */
    for (uint64_t v = 1; v <= 5; v++) {
        OT_SEND_U64(p, OT_TAG_DATA, v);
        OT_CHECK_UINT_EQ(OT_RECV_U64(OT_TAG_PONG, OT_LONG_MS), v);
    }
    for (uint64_t v = 6; v <= 50; v++)
        OT_SEND_U64(p, OT_TAG_DATA, v);
    for (uint64_t v = 6; v <= 50; v++)
        OT_CHECK_UINT_EQ(OT_RECV_U64(OT_TAG_PONG, OT_LONG_MS), v);
    OT_SEND(p, OT_TAG_STOP, NULL, 0);
    OT_CHECK_UINT_EQ(OT_RECV_U64(OT_TAG_DONE, OT_LONG_MS), 51);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, OAK_NORMAL);
    OT_CHECK_INT_EQ(atomic_load(&cleanup_ran), 1);
    OT_CHECK_UINT_EQ(oak_whereis(oak_atom_from("sleeper")), OAK_NOPID);
}

/* A hibernating process keeps its name, cleanups and oak_alloc() memory;
 * each message wakes it in the function it named, in sending order, and
 * messages queued before it hibernates wake it at once. */
static void hibernated_process_wakes_in_its_function_for_each_message(void **state)
{
    (void)state;
    OT_RUN(hibernate_main, NULL);
}

static void h_forever(void *arg);
static void h_forever(void *arg)
{
    oak_hibernate(h_forever, arg);
}

static void h_trapper_wake(void *arg)
{
    (void)arg;
    oak_msg *m = OT_RECV_ANY(OT_LONG_MS);
    ot_signal s;
    OT_CHECK_UINT_EQ(m->tag, OAK_TAG_EXIT);
    OT_TAKE_SIGNAL(m, &s);
    OT_SEND_U64(h_main, OT_TAG_REPORT, s.reason);
}

static void h_trapper(void *arg)
{
    (void)arg;
    oak_trap_exit(true);
    OT_CHECK_INT_GE(oak_defer(set_cleanup_ran, NULL), 0);
    OT_SEND(h_main, OT_TAG_READY, NULL, 0);
    oak_hibernate(h_trapper_wake, NULL);
}

static void h_with_cleanup(void *arg)
{
    OT_CHECK_INT_GE(oak_defer(set_cleanup_ran, NULL), 0);
    OT_SEND(h_main, OT_TAG_READY, NULL, 0);
    oak_hibernate(h_forever, arg);
}

static void signals_main(void *arg)
{
    (void)arg;
    h_main = oak_self();
    atomic_store(&cleanup_ran, 0);
    oak_atom boom = oak_atom_from("boom");

    /* kill */
    oak_ref r = 0;
    oak_pid p = OT_SPAWN_MONITOR(h_with_cleanup, NULL, 0, &r);
    oak_msg_free(OT_RECV_TAG(OT_TAG_READY, OT_LONG_MS));
    oak_sleep(10);
    OT_CHECK_INT_EQ(oak_exit_pid(p, OAK_KILL), 0);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, OAK_KILLED);
    OT_CHECK_INT_EQ(atomic_load(&cleanup_ran), 1);

    /* an exit signal, not trapped: the process dies before fn runs */
    p = OT_SPAWN_MONITOR(h_with_cleanup, NULL, 0, &r);
    oak_msg_free(OT_RECV_TAG(OT_TAG_READY, OT_LONG_MS));
    oak_sleep(10);
    OT_CHECK_INT_EQ(oak_exit_pid(p, boom), 0);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, boom);
    OT_CHECK_INT_EQ(atomic_load(&cleanup_ran), 2);

    /* trapped: it wakes with the EXIT message */
    p = OT_SPAWN_MONITOR(h_trapper, NULL, 0, &r);
    oak_msg_free(OT_RECV_TAG(OT_TAG_READY, OT_LONG_MS));
    oak_sleep(10);
    OT_CHECK_INT_EQ(oak_exit_pid(p, boom), 0);
    OT_CHECK_ATOM_EQ(OT_RECV_U64(OT_TAG_REPORT, OT_LONG_MS), boom);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, OAK_NORMAL);
    OT_CHECK_INT_EQ(atomic_load(&cleanup_ran), 3);

    /* a link: a hibernating process linked to one that dies dies too */
    p = OT_SPAWN_MONITOR(h_with_cleanup, NULL, 0, &r);
    oak_msg_free(OT_RECV_TAG(OT_TAG_READY, OT_LONG_MS));
    OT_CHECK_INT_EQ(oak_link(p), 0);
    oak_trap_exit(true);
    oak_sleep(10);
    OT_CHECK_INT_EQ(oak_exit_pid(p, boom), 0);
    ot_signal s;
    OT_TAKE_SIGNAL(OT_RECV_TAG(OAK_TAG_EXIT, OT_LONG_MS), &s);
    OT_CHECK_UINT_EQ(s.from, p);
    OT_CHECK_ATOM_EQ(s.reason, boom);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, boom);
    oak_trap_exit(false);

    /* a monitor made while it hibernates sees its death */
    p = OT_SPAWN(h_with_cleanup, NULL, 0);
    oak_msg_free(OT_RECV_TAG(OT_TAG_READY, OT_LONG_MS));
    oak_sleep(10);
    r = oak_monitor(p);
    OT_CHECK(r != 0);
    OT_CHECK_INT_EQ(oak_exit_pid(p, OAK_KILL), 0);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, OAK_KILLED);
    OT_CHECK_INT_EQ(atomic_load(&cleanup_ran), 5);

    /* bad calls */
    OT_CHECK_INT_EQ(oak_hibernate(NULL, NULL), -EINVAL);
}

static void *hibernate_from_thread(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)oak_hibernate(h_forever, NULL);
}

/* Exit signals, kill, links and monitors act on a hibernating process as
 * on one waiting in receive; its cleanups run however it ends. */
static void hibernated_process_obeys_exit_signals_links_and_monitors(void **state)
{
    (void)state;
    OT_RUN(signals_main, NULL);
    pthread_t t;
    void *rc;
    assert_int_equal(pthread_create(&t, NULL, hibernate_from_thread, NULL), 0);
    pthread_join(t, &rc);
    assert_int_equal((int)(intptr_t)rc, -EPERM);
}

/* A hibernating process gives back the slots of its empty tables and its
 * extension block when nothing is in it; what is in use stays. */
typedef struct h_tables {
    oak_ref alias;     /* made before the first hibernation */
    oak_ref watch;     /* monitor of the name "watched" */
    oak_pid watched;
    int wakes;
} h_tables;

static void h_tables_wake(void *arg)
{
    h_tables *t = arg;
    t->wakes++;
    oak_msg *m = OT_RECV_ANY(OT_LONG_MS);
    if (t->wakes == 1) {
        /* sent to the alias: it lived through the hibernations */
        OT_CHECK_UINT_EQ(m->tag, OT_TAG_DATA);
        OT_CHECK_UINT_EQ(m->ref, t->alias);
        oak_msg_free(m);
        /* tables trimmed while it slept work again */
        OT_CHECK_INT_EQ(oak_link(h_main), 0);
        OT_CHECK_INT_EQ(oak_unlink(h_main), 0);
        oak_ref r = oak_monitor(h_main);
        OT_CHECK(r != 0);
        OT_CHECK_INT_EQ(oak_demonitor(r, OAK_DEMONITOR_FLUSH), 0);
        OT_SEND(h_main, OT_TAG_PONG, NULL, 0);
        oak_hibernate(h_tables_wake, t);
        OT_FAIL("oak_hibernate returned");
    }
    /* the name monitor's DOWN still names what it watched */
    ot_signal s;
    OT_CHECK_UINT_EQ(m->tag, OAK_TAG_DOWN);
    OT_TAKE_SIGNAL(m, &s);
    OT_CHECK_UINT_EQ(s.ref, t->watch);
    OT_CHECK_ATOM_EQ(s.name, oak_atom_from("watched"));
    OT_CHECK_INT_EQ(oak_unalias(t->alias), 0);
    OT_CHECK_INT_EQ(oak_unalias(t->alias), -ENOENT);
    OT_SEND(h_main, OT_TAG_DONE, NULL, 0);
}

static void h_tables_start(void *arg)
{
    h_tables *t = arg;
    /* a link and a monitor that come and go leave empty tables */
    OT_CHECK_INT_EQ(oak_link(h_main), 0);
    OT_CHECK_INT_EQ(oak_unlink(h_main), 0);
    oak_ref r = oak_monitor(h_main);
    OT_CHECK(r != 0);
    OT_CHECK_INT_EQ(oak_demonitor(r, OAK_DEMONITOR_FLUSH), 0);
    /* an alias and a name monitor stay */
    t->alias = oak_alias();
    OT_CHECK(t->alias != 0);
    t->watch = oak_monitor_name(oak_atom_from("watched"));
    OT_CHECK(t->watch != 0);
    OT_SEND(h_main, OT_TAG_READY, NULL, 0);
    oak_hibernate(h_tables_wake, t);
    OT_FAIL("oak_hibernate returned");
}

static void tables_main(void *arg)
{
    (void)arg;
    h_main = oak_self();
    static h_tables t;
    memset(&t, 0, sizeof t);
    t.watched = OT_SPAWN(h_forever, NULL, 0);
    OT_CHECK_INT_EQ(oak_register(oak_atom_from("watched"), t.watched), 0);
    oak_ref r = 0;
    oak_pid p = OT_SPAWN_MONITOR(h_tables_start, &t, 0, &r);
    oak_msg_free(OT_RECV_TAG(OT_TAG_READY, OT_LONG_MS));
    /* a wake by signals alone: it hibernates again at once */
    for (int i = 0; i < 3; i++) {
        oak_sleep(5);
        oak_ref w = oak_monitor(p);
        OT_CHECK(w != 0);
        OT_CHECK_INT_EQ(oak_demonitor(w, OAK_DEMONITOR_FLUSH), 0);
    }
    oak_sleep(5);
    OT_CHECK_INT_EQ(oak_send_alias(p, t.alias, OT_TAG_DATA, NULL, 0), 0);
    oak_msg_free(OT_RECV_TAG(OT_TAG_PONG, OT_LONG_MS));
    oak_sleep(5);
    OT_CHECK_INT_EQ(oak_exit_pid(t.watched, OAK_KILL), 0);
    oak_msg_free(OT_RECV_TAG(OT_TAG_DONE, OT_LONG_MS));
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, OAK_NORMAL);
    OT_CHECK_INT_EQ(t.wakes, 2);
}

static void hibernated_process_keeps_its_aliases_and_name_monitors(void **state)
{
    (void)state;
    OT_RUN(tables_main, NULL);
}

#define N_HIBERNATED 10000

static void many_main(void *arg)
{
    (void)arg;
    h_main = oak_self();
    oak_pid *pids = malloc(N_HIBERNATED * sizeof *pids);
    OT_CHECK(pids != NULL);
    atomic_store(&cleanup_ran, 0);
    for (int i = 0; i < N_HIBERNATED; i++)
        pids[i] = OT_SPAWN(h_with_cleanup, NULL, 0);
    for (int i = 0; i < N_HIBERNATED; i++)
        oak_msg_free(OT_RECV_TAG(OT_TAG_READY, OT_LONG_MS));
    for (int i = 0; i < N_HIBERNATED; i++)
        OT_CHECK_INT_EQ(oak_exit_pid(pids[i], OAK_KILL), 0);
    for (int i = 0; i < 1000 && atomic_load(&cleanup_ran) < N_HIBERNATED; i++)
        oak_sleep(10);
    OT_CHECK_INT_EQ(atomic_load(&cleanup_ran), N_HIBERNATED);
    free(pids);
}

/* 10,000 hibernating processes on 4 execution stacks: none needs one while
 * it sleeps, and all can be killed. */
static void hibernated_processes_hold_no_stack(void **state)
{
    (void)state;
    oak_config cfg = {.guarded_stacks = 4};
#if defined(UNDER_TSAN)
    skip(); /* more processes than TSan's thread limit */
#else
    OT_RUN_CFG(many_main, NULL, &cfg);
#endif
}

/* ---- groups ---------------------------------------------------------------------- */

typedef struct group {
    const char *name;
    const struct CMUnitTest *tests;
    size_t count;
} group;

int main(int argc, char **argv)
{
    static const struct CMUnitTest overflow[] = {
        cmocka_unit_test(every_overflow_kind_among_many_live_processes_kills_only_its_process),
        cmocka_unit_test(overflows_on_shared_stacks_leave_the_others_intact),
    };
    static const struct CMUnitTest eviction[] = {
        cmocka_unit_test(processes_sharing_few_stacks_keep_their_frames),
        cmocka_unit_test(processes_sharing_one_stack_keep_their_frames),
    };
    static const struct CMUnitTest memory[] = {
        cmocka_unit_test(ten_thousand_overflows_give_their_memory_back),
        cmocka_unit_test(deep_stacks_give_their_pages_back),
        cmocka_unit_test(idle_processes_give_back_the_pages_their_stacks_touched),
    };
    static const struct CMUnitTest hibernate[] = {
        cmocka_unit_test(hibernated_process_wakes_in_its_function_for_each_message),
        cmocka_unit_test(hibernated_process_obeys_exit_signals_links_and_monitors),
        cmocka_unit_test(hibernated_processes_hold_no_stack),
        cmocka_unit_test(hibernated_process_keeps_its_aliases_and_name_monitors),
    };
#define GROUP(n, v) {n, v, sizeof v / sizeof v[0]}
    static const group groups[] = {
        GROUP("overflow", overflow),
        GROUP("eviction", eviction),
        GROUP("memory", memory),
        GROUP("hibernate", hibernate),
    };
    int failed = 0, ran = 0;
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        if (argc > 1 && strcmp(argv[1], groups[i].name) != 0)
            continue;
        failed += _cmocka_run_group_tests(groups[i].name, groups[i].tests, groups[i].count,
                                          NULL, NULL);
        ran++;
    }
    if (!ran) {
        fprintf(stderr, "test_stacks: fatal: unable to run: no group %s\n", argv[1]);
        return 100;
    }
    return failed;
}
