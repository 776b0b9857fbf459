/* sched.c - scheduler threads, run queues, idling, and oak_run().
 *
 * See sched.h for the shape of the run queues. The data path of a message
 * between two processes on one scheduler:
 *
 *   A: oak_send -> copy into a new item -> CAS onto B's inbox
 *      (the inbox was PARKED) -> B into this scheduler's runnext
 *   A: oak_receive -> nothing for A -> park: switch to the scheduler
 *   scheduler: CAS A's inbox EMPTY -> PARKED; pick runnext = B
 *   B: resumes in oak_receive -> exchange the inbox -> match -> returns
 *
 * No lock, no system call, one context switch each way.
 */
#include "core/sched.h"
#include "core/file.h"

#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <sched.h>
#include <unistd.h>

#include "core/blocking.h"
#include "core/ctx.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/name.h"
#include "core/netpoll.h"
#include "core/sigsource.h"
#include "core/preempt.h"
#include "core/sanitizer.h"
#include "core/symbol.h"
#include "core/timer.h"
#include "oak/log.h"

oak__runtime *oak__rt;

/* Threads that are not schedulers reach the runtime through this pointer
 * and the count of those inside a call: oak_run() clears the pointer, then
 * waits for the count to drop to zero before it frees anything. */
static _Atomic(oak__runtime *) rt_public;
static _Atomic unsigned foreign_users;

oak__runtime *oak__rt_enter(void)
{
    if (oak__sched_self())
        return oak__rt;
    /* Seq_cst, with the store and load in oak_run(): either teardown sees
     * our count, or we see the cleared pointer. */
    atomic_fetch_add_explicit(&foreign_users, 1, memory_order_seq_cst);
    oak__runtime *rt = atomic_load_explicit(&rt_public, memory_order_seq_cst);
    if (!rt)
        atomic_fetch_sub_explicit(&foreign_users, 1, memory_order_release);
    return rt;
}

void oak__rt_leave(void)
{
    if (!oak__sched_self())
        atomic_fetch_sub_explicit(&foreign_users, 1, memory_order_release);
}

_Thread_local oak__sched *oak__tls_sched __attribute__((tls_model("initial-exec")));
static atomic_flag running = ATOMIC_FLAG_INIT;

#if !defined(__x86_64__)
/* Not inlined, with a compiler barrier: a process may resume on another
 * thread, so a thread-local's address must not be kept across a switch
 * (see sched.h). */
__attribute__((noinline)) oak__sched *oak__sched_self(void)
{
    __asm__ volatile("" ::: "memory");
    return oak__tls_sched;
}
#endif

int64_t oak__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t oak_now_ms(void) { return oak__now_ns() / 1000000; }

unsigned oak_scheduler_count(void)
{
    oak__runtime *rt = oak__rt_enter();
    if (!rt)
        return 0;
    unsigned n = rt->nscheds;
    oak__rt_leave();
    return n;
}

size_t oak_process_count(void)
{
    oak__runtime *rt = oak__rt_enter();
    if (!rt)
        return 0;
    int64_t n = 0;
    for (unsigned i = 0; i < rt->nscheds; i++)
        n += atomic_load_explicit(&rt->scheds[i].live, memory_order_relaxed);
    oak__rt_leave();
    return n > 0 ? (size_t)n : 0;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__)
    __asm__ volatile("pause");
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* ---- futex ---------------------------------------------------------------- */

static void futex_wait(_Atomic uint32_t *w, uint32_t old, int64_t deadline)
{
    struct timespec ts, *tp = NULL;
    if (deadline != INT64_MAX) {
        int64_t d = deadline - oak__now_ns();
        if (d <= 0)
            return;
        ts.tv_sec = d / 1000000000;
        ts.tv_nsec = d % 1000000000;
        tp = &ts;
    }
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, old, tp, NULL, 0);
}

/* Wake scheduler w from its sleep: on its futex, or in the netpoller. */
static void wake_sched(oak__sched *w)
{
    /* Release: whatever the waker did before is seen by the woken one.
     * Seq_cst with the load below, against the sleeper's store of
     * in_netpoll and load of the futex (sleep_idle()): either it sees the
     * bump and does not block, or we see it in the netpoller. */
    atomic_fetch_add_explicit(&w->futex, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&w->in_netpoll, memory_order_seq_cst))
        oak__netpoll_wake();
    syscall(SYS_futex, (uint32_t *)&w->futex, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* ---- references ------------------------------------------------------------ */

/* A reference names the scheduler that made it in its top bits (0 for other
 * threads), so that a timer's reference leads to the heap it lives in. */
oak_ref oak__ref_new(void)
{
    oak__sched *s = oak__sched_self();
    if (s)
        return oak__ref_new_on(s);
    return atomic_fetch_add_explicit(&oak__rt->foreign_refs, 1, memory_order_relaxed) + 1;
}

/* ---- process table slots --------------------------------------------------- */

#define SLOT_BATCH 64
#define SLOT_CACHE 128

int oak__slot_alloc(oak__sched *s, uint64_t *slot)
{
    oak__runtime *rt = oak__rt;
    if (s->nfree_slots == 0) {
        pthread_mutex_lock(&rt->slot_lock);
        while (s->nfree_slots < SLOT_BATCH) {
            if (rt->nfree > 0)
                s->free_slots[s->nfree_slots++] = rt->free_slots[--rt->nfree];
            else if (rt->next_slot < rt->cfg.max_processes)
                s->free_slots[s->nfree_slots++] = rt->next_slot++;
            else
                break;
        }
        pthread_mutex_unlock(&rt->slot_lock);
        if (s->nfree_slots == 0)
            return -EAGAIN;
        /* Hand out the lowest slots first: pids read in spawn order. */
        for (size_t i = 0, j = s->nfree_slots - 1; i < j; i++, j--) {
            uint64_t t = s->free_slots[i];
            s->free_slots[i] = s->free_slots[j];
            s->free_slots[j] = t;
        }
    }
    *slot = s->free_slots[--s->nfree_slots];
    if (s->nfree_slots > 0) {
        /* The next spawn's control block was most likely freed on another
         * core: ask for its lines now, so that the spawn after this one
         * does not wait for them (a spawn writes all of them). */
        const char *next = (const char *)&rt->table[s->free_slots[s->nfree_slots - 1]];
        /* Five lines (proc.h holds the size), spelled out: the loop was
         * not unrolled. */
        _Static_assert(sizeof(oak__proc) <= 5 * 64 + 64, "prefetch every line of a block");
        __builtin_prefetch(next, 1);
        __builtin_prefetch(next + 64, 1);
        __builtin_prefetch(next + 128, 1);
        __builtin_prefetch(next + 192, 1);
        __builtin_prefetch(next + 256, 1);
        if (sizeof(oak__proc) > 5 * 64) /* the sanitizers' fields */
            __builtin_prefetch(next + 320, 1);
    }
    return 0;
}

static void slots_return(oak__sched *s, size_t keep)
{
    oak__runtime *rt = oak__rt;
    pthread_mutex_lock(&rt->slot_lock);
    while (s->nfree_slots > keep) {
        if (rt->nfree == rt->free_cap) {
            size_t cap = rt->free_cap ? rt->free_cap * 2 : 1024;
            uint64_t *n = realloc(rt->free_slots, cap * sizeof *n);
            if (!n)
                break; /* the slot stays in the local cache */
            rt->free_slots = n;
            rt->free_cap = cap;
        }
        rt->free_slots[rt->nfree++] = s->free_slots[--s->nfree_slots];
    }
    pthread_mutex_unlock(&rt->slot_lock);
}

void oak__slot_free(oak__sched *s, uint64_t slot)
{
    if (s->nfree_slots == SLOT_CACHE)
        slots_return(s, SLOT_CACHE / 2);
    if (s->nfree_slots < SLOT_CACHE)
        s->free_slots[s->nfree_slots++] = slot;
}

/* ---- run queues -------------------------------------------------------------- */

static void gq_push_list(oak__proc *head, oak__proc *tail, size_t n)
{
    oak__runtime *rt = oak__rt;
    tail->gq_next = NULL;
    pthread_mutex_lock(&rt->gq_lock);
    if (rt->gq_tail)
        rt->gq_tail->gq_next = head;
    else
        rt->gq_head = head;
    rt->gq_tail = tail;
    atomic_fetch_add_explicit(&rt->gq_len, n, memory_order_relaxed);
    pthread_mutex_unlock(&rt->gq_lock);
}

static void wakep(void);
static void take_forwarded_from(oak__sched *s, oak__sched *o);

/* Push to the owner's ring; when it is full, move half of it and p to the
 * global queue. Owner thread only. Returns how many entries were there
 * before. */
static uint32_t ring_push(oak__sched *s, oak__proc *p)
{
    for (;;) {
        uint32_t h = atomic_load_explicit(&s->rq_head, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&s->rq_tail, memory_order_relaxed);
        if (t - h < OAK__RING) {
            atomic_store_explicit(&s->rq[t % OAK__RING], p, memory_order_relaxed);
            /* Release: a thief that reads the new tail sees the entry. */
            atomic_store_explicit(&s->rq_tail, t + 1, memory_order_release);
            return t - h;
        }
        uint32_t n = (t - h) / 2;
        oak__proc *batch[OAK__RING / 2 + 1];
        for (uint32_t i = 0; i < n; i++)
            batch[i] = atomic_load_explicit(&s->rq[(h + i) % OAK__RING], memory_order_relaxed);
        if (!atomic_compare_exchange_strong_explicit(&s->rq_head, &h, h + n, memory_order_acq_rel,
                                                     memory_order_relaxed))
            continue; /* thieves took some: retry the fast path */
        batch[n] = p;
        for (uint32_t i = 0; i < n; i++)
            batch[i]->gq_next = batch[i + 1];
        gq_push_list(batch[0], p, n + 1);
        return OAK__RING;
    }
}

static oak__proc *ring_pop(oak__sched *s)
{
    for (;;) {
        uint32_t h = atomic_load_explicit(&s->rq_head, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&s->rq_tail, memory_order_relaxed);
        if (t == h)
            return NULL;
        oak__proc *p = atomic_load_explicit(&s->rq[h % OAK__RING], memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&s->rq_head, &h, h + 1, memory_order_acq_rel,
                                                  memory_order_relaxed))
            return p;
    }
}

static uint32_t ring_len(oak__sched *s)
{
    uint32_t h = atomic_load_explicit(&s->rq_head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&s->rq_tail, memory_order_acquire);
    return t - h;
}

/* Steal half of v's ring into s's (empty) ring; return one of them. */
static oak__proc *ring_steal(oak__sched *s, oak__sched *v)
{
    for (int tries = 0; tries < 4; tries++) {
        uint32_t h = atomic_load_explicit(&v->rq_head, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&v->rq_tail, memory_order_acquire);
        uint32_t n = t - h;
        if (n == 0 || n > OAK__RING)
            return NULL;
        n -= n / 2;
        uint32_t mt = atomic_load_explicit(&s->rq_tail, memory_order_relaxed);
        for (uint32_t i = 0; i < n; i++) {
            oak__proc *p = atomic_load_explicit(&v->rq[(h + i) % OAK__RING], memory_order_relaxed);
            atomic_store_explicit(&s->rq[(mt + i) % OAK__RING], p, memory_order_relaxed);
        }
        if (!atomic_compare_exchange_strong_explicit(&v->rq_head, &h, h + n, memory_order_acq_rel,
                                                     memory_order_relaxed))
            continue;
        oak__proc *p = atomic_load_explicit(&s->rq[(mt + n - 1) % OAK__RING], memory_order_relaxed);
        if (n > 1)
            atomic_store_explicit(&s->rq_tail, mt + n - 1, memory_order_release);
        return p;
    }
    return NULL;
}

static oak__proc *gq_take(oak__sched *s)
{
    oak__runtime *rt = oak__rt;
    if (atomic_load_explicit(&rt->gq_len, memory_order_relaxed) == 0)
        return NULL;
    oak__proc *batch[OAK__RING / 2];
    size_t taken = 0;
    pthread_mutex_lock(&rt->gq_lock);
    size_t len = atomic_load_explicit(&rt->gq_len, memory_order_relaxed);
    size_t n = len / rt->nscheds + 1;
    if (n > OAK__RING / 2)
        n = OAK__RING / 2;
    while (taken < n && rt->gq_head) {
        batch[taken++] = rt->gq_head;
        rt->gq_head = rt->gq_head->gq_next;
    }
    if (!rt->gq_head)
        rt->gq_tail = NULL;
    atomic_fetch_sub_explicit(&rt->gq_len, taken, memory_order_relaxed);
    pthread_mutex_unlock(&rt->gq_lock);
    /* The ring is pushed outside the lock: an overflow goes back to it. */
    for (size_t i = 1; i < taken; i++)
        ring_push(s, batch[i]);
    return taken ? batch[0] : NULL;
}

/* ---- the spawn deque ------------------------------------------------------------ */

/* Returns how many entries were there before, or -1 when it is full. */
static int64_t deque_push(oak__sched *s, oak__proc *p)
{
    int64_t b = atomic_load_explicit(&s->dq_bottom, memory_order_relaxed);
    int64_t t = atomic_load_explicit(&s->dq_top, memory_order_acquire);
    if (b - t >= OAK__DEQUE)
        return -1;
    atomic_store_explicit(&s->dq[b & (OAK__DEQUE - 1)], p, memory_order_relaxed);
    /* Release: a thief that sees the new bottom sees the entry and the
     * process it points to. */
    atomic_store_explicit(&s->dq_bottom, b + 1, memory_order_release);
    return b > t ? b - t : 0;
}

static oak__proc *deque_pop(oak__sched *s)
{
    int64_t b = atomic_load_explicit(&s->dq_bottom, memory_order_relaxed) - 1;
    /* Seq_cst store then load: a thief and the owner racing for the last
     * entry cannot both miss each other's claim. */
    atomic_store_explicit(&s->dq_bottom, b, memory_order_seq_cst);
    int64_t t = atomic_load_explicit(&s->dq_top, memory_order_seq_cst);
    if (t > b) {
        atomic_store_explicit(&s->dq_bottom, b + 1, memory_order_relaxed);
        return NULL;
    }
    oak__proc *p = atomic_load_explicit(&s->dq[b & (OAK__DEQUE - 1)], memory_order_relaxed);
    if (t == b) {
        /* The last one: win it against thieves with the top's CAS. */
        if (!atomic_compare_exchange_strong_explicit(&s->dq_top, &t, t + 1, memory_order_seq_cst,
                                                     memory_order_relaxed))
            p = NULL;
        atomic_store_explicit(&s->dq_bottom, b + 1, memory_order_relaxed);
    }
    return p;
}

static oak__proc *deque_steal(oak__sched *v)
{
    int64_t t = atomic_load_explicit(&v->dq_top, memory_order_seq_cst);
    int64_t b = atomic_load_explicit(&v->dq_bottom, memory_order_seq_cst);
    if (t >= b)
        return NULL;
    oak__proc *p = atomic_load_explicit(&v->dq[t & (OAK__DEQUE - 1)], memory_order_relaxed);
    if (!atomic_compare_exchange_strong_explicit(&v->dq_top, &t, t + 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return NULL;
    return p;
}

static int64_t deque_len(oak__sched *s)
{
    int64_t b = atomic_load_explicit(&s->dq_bottom, memory_order_acquire);
    int64_t t = atomic_load_explicit(&s->dq_top, memory_order_acquire);
    return b > t ? b - t : 0;
}

/* Local work waiting (not counting runnext)? */
static bool local_waiting(oak__sched *s)
{
    return ring_len(s) > 0 || deque_len(s) > 0;
}

bool oak__sched_has_local_work(oak__sched *s)
{
    if (!s)
        return true;
    unsigned was = oak__sched_own(s); /* from a process: runnext may be robbed */
    bool yes = s->runnext || s->pinned_head || local_waiting(s) ||
               atomic_load_explicit(&s->forwarded, memory_order_relaxed);
    oak__sched_disown(s, was);
    return yes;
}


/* Processes woken by a message or a ready descriptor, queued behind the one
 * that runs next, do not wake a sleeping scheduler at once: another
 * scheduler is asked (wakep) only when they have waited HELP_AFTER_NS (1 ms)
 * without the ring running dry. Waking a sleeping thread costs tens of
 * microseconds and takes a core from whatever else runs on the machine,
 * and a woken process usually has its stack held by this scheduler, which
 * takes it back (make_ready()); where the work comes from descriptors one
 * batch at a time - a server whose clients share the machine - one
 * scheduler keeps up, and a second one woken for every batch costs more
 * than it gives. New processes and yields still ask at once: they are
 * where parallel work comes from. Looked at on each hand-off while
 * something waits, and in the scheduler loop; a scheduler that runs one
 * process for long is watched by a sleeper (sleep_idle()), which takes
 * the queued ones within ROB_AFTER_NS. */
#define HELP_AFTER_NS ((int64_t)1000 * 1000)

/* Woken processes wait in s's ring from now (alone, there is nobody to
 * ask). `now`: the time if the caller has just read it, else 0. */
static inline void help_later(oak__sched *s, int64_t now)
{
    if (oak__rt->nscheds > 1)
        s->help_since = now ? now : oak__now_ns();
}

/* Ask another scheduler if woken processes have waited long enough. `now`:
 * the time if the caller has just read it, else 0. */
static inline void help_check(oak__sched *s, int64_t now)
{
    if (!s->help_since)
        return;
    if (ring_len(s) == 0) {
        s->help_since = 0;
        return;
    }
    if ((now ? now : oak__now_ns()) - s->help_since >= HELP_AFTER_NS) {
        s->help_since = 0;
        wakep();
    }
}

/* Wake-ups for local work. A scheduler that goes to sleep first looks at
 * every queue (after a fence), so work that was already queued when it
 * looked keeps it awake. Only a push to an empty queue needs the fenced
 * look at the idle list (wakep): a push behind other entries finds the
 * queue already announced. The one race left, a thief emptying the queue
 * and going to sleep just as the owner pushes behind its stale view, is
 * closed by the scheduler loop, which calls wakep whenever more local work
 * waits than it takes next (at least every 64 hand-offs), and the owner
 * runs the work itself in any case. This keeps the fence off the path of
 * a burst of spawns. */
void oak__sched_push(oak__sched *s, oak__proc *p)
{
    int64_t had = deque_push(s, p);
    if (had < 0)
        had = ring_push(s, p);
    if (had == 0)
        wakep();
}

void oak__make_runnable(oak__proc *p, bool next) { oak__make_runnable_on(oak__sched_self(), p, next); }

void oak__make_runnable_on(oak__sched *s, oak__proc *p, bool next)
{
    if (!s) {
        gq_push_list(p, p, 1);
        wakep();
        return;
    }
    if (next) {
        /* It runs next: fetch the top of its saved stack (what the switch
         * to it reads first) while the waker finishes its turn. Among
         * thousands of processes that line is seldom in cache. */
        char *sp = p->sp;
        if (sp) {
            __builtin_prefetch(sp);
            __builtin_prefetch(sp + 64);
            __builtin_prefetch(sp + 128);
        }
        oak__proc *old = s->runnext;
        s->runnext = p;
        if (!old)
            return;
        /* A woken process behind the next one: another scheduler is
         * asked only if it waits long (help_check()). */
        if (ring_push(s, old) == 0)
            help_later(s, 0);
        return;
    }
    if (ring_push(s, p) == 0)
        wakep();
}

/* ---- idling ------------------------------------------------------------------- */

/* Hand work to a sleeping scheduler if none is spinning already. */
static void wakep(void)
{
    oak__runtime *rt = oak__rt;
    /* Pairs with the fence a scheduler makes after joining the idle list:
     * either it sees our new work, or we see it idle. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&rt->nidle, memory_order_relaxed) == 0 ||
        atomic_load_explicit(&rt->nspinning, memory_order_relaxed) != 0)
        return;
    unsigned zero = 0;
    if (!atomic_compare_exchange_strong_explicit(&rt->nspinning, &zero, 1, memory_order_acq_rel,
                                                 memory_order_relaxed))
        return;
    oak__sched *w = NULL;
    pthread_mutex_lock(&rt->idle_lock);
    if (rt->nidle_list > 0) {
        w = rt->idle[--rt->nidle_list];
        atomic_store_explicit(&w->sleeping, false, memory_order_relaxed);
        atomic_fetch_sub_explicit(&rt->nidle, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&rt->idle_lock);
    if (!w) {
        atomic_fetch_sub_explicit(&rt->nspinning, 1, memory_order_relaxed);
        return;
    }
    wake_sched(w); /* w starts as a spinner: counted above */
}

static bool work_visible(oak__sched *s)
{
    oak__runtime *rt = oak__rt;
    if (atomic_load_explicit(&rt->stopping, memory_order_relaxed) ||
        atomic_load_explicit(&rt->gq_len, memory_order_relaxed) > 0 || s->runnext ||
        s->pinned_head || atomic_load_explicit(&s->forwarded, memory_order_seq_cst))
        return true;
    for (unsigned i = 0; i < rt->nscheds; i++)
        if (local_waiting(&rt->scheds[i]))
            return true;
    return atomic_load_explicit(&s->next_deadline, memory_order_relaxed) <= oak__now_ns();
}

static void stop_spinning(oak__sched *s)
{
    if (s->spinning) {
        s->spinning = false;
        /* The last spinner to find work wakes another, in case there is
         * more work than one scheduler can take. */
        if (atomic_fetch_sub_explicit(&oak__rt->nspinning, 1, memory_order_acq_rel) == 1)
            wakep();
    }
}

/* ---- the watchdog ------------------------------------------------------------- */

/* What one scheduler last saw of another. */
typedef struct oak__watch {
    uint64_t dispatches;
    int64_t since;
    bool reported;
} oak__watch;

#define WATCH_PERIOD_NS ((int64_t)250 * 1000000)
/* A sleeper holding chunks of message memory beyond its spare wakes this
 * often to take back what other threads freed (oak__msgmem_held()). */
#define BLOCKS_SWEEP_NS ((int64_t)1000 * 1000000)

/* Is any other scheduler running a process, or awake and so about to? Then
 * a sleeper wakes now and then to look at it. (A scheduler that has just
 * taken a process may not have said so yet: its first run can take a while,
 * mapping a stack. Once all the others sleep too, the last sleeper sees it
 * and the watch stops.) */
static bool others_busy(oak__sched *s)
{
    oak__runtime *rt = oak__rt;
    for (unsigned i = 0; i < rt->nscheds; i++) {
        oak__sched *o = &rt->scheds[i];
        if (o != s && (atomic_load_explicit(&o->running, memory_order_relaxed) ||
                       !atomic_load_explicit(&o->sleeping, memory_order_relaxed)))
            return true;
    }
    return false;
}

/* Is every other scheduler asleep? Only then does a scheduler going to
 * sleep block in the netpoller: while another is awake, that one polls
 * the descriptors itself (in its loop, and before it sleeps), and a
 * sleeper in epoll_wait() would be woken by the kernel for every ready
 * descriptor, only to run on another core what the awake scheduler runs
 * next anyway. Seq_cst, after the fence that follows joining the idle
 * list (sleep_idle()): of two schedulers going to sleep at once, the one
 * that joined the list last sees the other asleep (the list's lock orders
 * them), so one of them takes the role. A scheduler whose thread has not
 * started yet (no tid) counts as asleep: it looks for itself when it goes
 * to sleep. */
static bool others_asleep(oak__sched *s)
{
    oak__runtime *rt = oak__rt;
    for (unsigned i = 0; i < rt->nscheds; i++) {
        oak__sched *o = &rt->scheds[i];
        if (o != s && !atomic_load_explicit(&o->sleeping, memory_order_seq_cst) &&
            atomic_load_explicit(&o->tid, memory_order_relaxed))
            return false;
    }
    return true;
}

/* Where scheduler o's thread is: in a system call, the call's place in
 * its library (from /proc/self/task/TID/syscall: the last field is the
 * user pc); else "running" (its own code, or a library's). */
static void thread_where(oak__sched *o, char *buf, size_t size)
{
    snprintf(buf, size, "running");
    pid_t tid = atomic_load_explicit(&o->tid, memory_order_acquire);
    if (!tid)
        return;
    char path[64], text[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    if (oak__read_text(path, text, sizeof text) < 0 || text[0] < '0' || text[0] > '9')
        return; /* "running", or nothing known */
    const char *last = strrchr(text, ' ');
    unsigned long long pc = 0;
    if (!last || sscanf(last + 1, "%llx", &pc) != 1 || !pc)
        return;
    size_t len = (size_t)snprintf(buf, size, "syscall:");
    if (len < size)
        oak__symbolize((const void *)(uintptr_t)pc, buf + len, size - len);
}

/* ---- robbing a busy scheduler ---------------------------------------------- */

/* A scheduler that runs one process for ROB_AFTER_NS (a loop with
 * preemption off, a raw blocking system call) has its owner-only state
 * taken by an idle one: the process it parked last (not yet published),
 * the timed waits it listed but has not armed, its runnext, the processes
 * blocked on a slot or forwarded to it; and its era moves on, so every
 * slot it holds but the running process's (and the preempted ones', which
 * resume on its thread) may be claimed: what was stolen from its ring and
 * deque can run elsewhere instead of being forwarded back. Its due timers
 * are fired by idle schedulers in any case (fire_others_timers()). */
#define ROB_AFTER_NS ((int64_t)2 * 1000000)
/* A busy scheduler fires its own timers at its next round, well within
 * this; an idle one fires them only when they are later than that. */
#define STEAL_TIMERS_LATE_NS ((int64_t)1000000)

/* membarrier(2) with MEMBARRIER_CMD_PRIVATE_EXPEDITED, registered at start;
 * false where the kernel has none (then nothing is robbed). */
static bool can_rob;

static void rob_init(void)
{
    can_rob = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

void oak__sched_robbed_wait(oak__sched *s)
{
    /* Acquire: what the thief did to s is seen from here. */
    while (atomic_load_explicit(&s->robbing, memory_order_acquire))
        cpu_relax();
}

/* A process taken from a robbed scheduler goes to the thief's own ring:
 * only the owner pushes to a ring, and the robbed one may be pushing to
 * its own right now (a spawn from the process it runs). */
static void rob_push(oak__sched *s, oak__proc *p)
{
    if (p)
        ring_push(s, p);
}

/* s takes o's owner-only state while o runs the process it ran when the
 * caller saw `dispatches`. False when o is in the runtime's code (it is
 * not stuck there for long) or moved on. */
static bool rob(oak__sched *s, oak__sched *o, uint64_t dispatches)
{
    oak__runtime *rt = oak__rt;
    bool no = false;
    if (!can_rob || atomic_load_explicit(&rt->stopping, memory_order_relaxed) ||
        !atomic_compare_exchange_strong_explicit(&o->robbing, &no, true, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return false;
    /* Every thread passes a full barrier: o's owning level as read below
     * is no older than our flag as o will read it (sched.h). */
    syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    /* Acquire: pairs with the owner's release when its level dropped to
     * 0, so what it wrote before is seen. */
    bool stuck = atomic_load_explicit(&o->owning, memory_order_acquire) == 0 &&
                 atomic_load_explicit(&o->dispatches, memory_order_relaxed) == dispatches &&
                 o->current;
    if (stuck) {
        /* Its last parked process first (publish_park(), which the arming
         * must follow: a timer may fire only for a published wait). */
        oak__proc *p = o->parking;
        o->parking = NULL;
        oak__msg *expect = OAK__INBOX_EMPTY;
        if (p && !atomic_compare_exchange_strong_explicit(&p->inbox, &expect, OAK__INBOX_PARKED,
                                                          memory_order_acq_rel,
                                                          memory_order_acquire))
            rob_push(s, p);
        oak__timers_arm_waits(o, oak__now_ns()); /* into o's heap */
        rob_push(s, o->runnext);
        o->runnext = NULL;
        for (p = o->blocked, o->blocked = NULL; p;) {
            oak__proc *n = p->gq_next;
            rob_push(s, p);
            p = n;
        }
        /* Its slots may be claimed from here, but those it still uses. */
        oak__stack_rob(o);
        take_forwarded_from(s, o);
    }
    /* Release: what we did to o is seen by the owner (its acquire in
     * oak__sched_robbed_wait() or oak__sched_own()). */
    atomic_store_explicit(&o->robbing, false, memory_order_release);
    return stuck;
}

/* Fire the timers of busy schedulers that are late: their woken processes
 * come here. `now`: the time if the caller has just read it, else 0. */
static void fire_others_timers(oak__sched *s, int64_t now)
{
    oak__runtime *rt = oak__rt;
    for (unsigned i = 0; i < rt->nscheds; i++) {
        oak__sched *o = &rt->scheds[i];
        /* Relaxed: hints; the heap's lock decides. */
        int64_t d = atomic_load_explicit(&o->next_deadline, memory_order_relaxed);
        if (o == s || d == INT64_MAX || !atomic_load_explicit(&o->running, memory_order_relaxed))
            continue;
        if (!now)
            now = oak__now_ns();
        if (d <= now - STEAL_TIMERS_LATE_NS)
            oak__timers_run(o, now);
    }
}

/* The earliest moment a sleeper must look at the busy schedulers' timers. */
static int64_t others_deadline(oak__sched *s)
{
    oak__runtime *rt = oak__rt;
    int64_t min = INT64_MAX;
    for (unsigned i = 0; i < rt->nscheds; i++) {
        oak__sched *o = &rt->scheds[i];
        int64_t d = atomic_load_explicit(&o->next_deadline, memory_order_relaxed);
        if (o != s && d != INT64_MAX && atomic_load_explicit(&o->running, memory_order_relaxed) &&
            d + STEAL_TIMERS_LATE_NS < min)
            min = d + STEAL_TIMERS_LATE_NS;
    }
    return min;
}

/* Report processes that have held another scheduler too long, and rob the
 * schedulers they hold. */
static void watch_others(oak__sched *s)
{
    oak__runtime *rt = oak__rt;
    if (!s->watch)
        return;
    int64_t now = oak__now_ns();
    int64_t limit = (int64_t)rt->cfg.long_schedule_ms * 1000000;
    for (unsigned i = 0; i < rt->nscheds; i++) {
        oak__sched *o = &rt->scheds[i];
        oak__watch *w = &s->watch[i];
        if (o == s)
            continue;
        uint64_t d = atomic_load_explicit(&o->dispatches, memory_order_relaxed);
        oak_pid pid = atomic_load_explicit(&o->running, memory_order_relaxed);
        if (d != w->dispatches || !pid) {
            w->dispatches = d;
            w->since = now;
            w->reported = false;
            continue;
        }
        if (now - w->since >= ROB_AFTER_NS)
            rob(s, o, d);
        if (!w->reported && now - w->since >= limit) {
            w->reported = true;
            char who[OAK_ATOM_MAX_LEN + 64], where[160];
            thread_where(o, where, sizeof where);
            oak_log(OAK_LOG_WARNING, "long_schedule", "%s scheduler=%u held_ms=%lld where=%s",
                    oak__report_who(pid, who, sizeof who), o->id,
                    (long long)((now - w->since) / 1000000), where);
        }
    }
}

static void sleep_idle(oak__sched *s)
{
    oak__runtime *rt = oak__rt;
    uint32_t seq = atomic_load_explicit(&s->futex, memory_order_acquire);
    pthread_mutex_lock(&rt->idle_lock);
    rt->idle[rt->nidle_list++] = s;
    atomic_store_explicit(&s->sleeping, true, memory_order_relaxed);
    atomic_fetch_add_explicit(&rt->nidle, 1, memory_order_relaxed);
    pthread_mutex_unlock(&rt->idle_lock);
    if (s->spinning) {
        s->spinning = false;
        atomic_fetch_sub_explicit(&rt->nspinning, 1, memory_order_acq_rel);
    }
    atomic_thread_fence(memory_order_seq_cst);
    if (!work_visible(s)) {
        /* Asleep, it uses no slot: others may take them without asking. */
        oak__stack_sleep(s);
        int64_t deadline = atomic_load_explicit(&s->next_deadline, memory_order_relaxed);
        int64_t late = others_deadline(s);
        if (late < deadline)
            deadline = late;
        bool watching = s->watch && others_busy(s);
        /* One sleeper at a time watches closely enough to rob a
         * scheduler held by one process (watch_others()). */
        int64_t period = WATCH_PERIOD_NS;
        unsigned none = 0;
        if (watching && atomic_compare_exchange_strong_explicit(&rt->watcher, &none, s->id + 1,
                                                                memory_order_relaxed,
                                                                memory_order_relaxed))
            period = ROB_AFTER_NS;
        if (watching && deadline - oak__now_ns() > period)
            deadline = oak__now_ns() + period;
        if (oak__msgmem_held(s->blocks) && deadline - oak__now_ns() > BLOCKS_SWEEP_NS)
            deadline = oak__now_ns() + BLOCKS_SWEEP_NS;
        if (s->stk_sweep_more && deadline > s->stk_sweep_next)
            deadline = s->stk_sweep_next;
        if (others_asleep(s) && oak__netpoll_block_begin(s)) {
            /* The one scheduler blocked in the netpoller: descriptors
             * that become ready wake it, and wakers write its eventfd.
             * Seq_cst: see wake_sched(). */
            atomic_store_explicit(&s->in_netpoll, true, memory_order_seq_cst);
            if (atomic_load_explicit(&s->futex, memory_order_seq_cst) == seq)
                oak__netpoll_block(s, deadline);
            else
                oak__netpoll_block(s, 0); /* woken already: only a look */
            atomic_store_explicit(&s->in_netpoll, false, memory_order_relaxed);
        } else {
            futex_wait(&s->futex, seq, deadline);
        }
        if (watching)
            watch_others(s);
        if (period == ROB_AFTER_NS) /* the next sleeper takes the watch */
            atomic_store_explicit(&rt->watcher, 0, memory_order_relaxed);
        fire_others_timers(s, 0);
    }
    pthread_mutex_lock(&rt->idle_lock);
    if (atomic_load_explicit(&s->sleeping, memory_order_relaxed)) {
        /* Woke by itself (timer, or work seen): leave the idle list. */
        for (unsigned i = 0; i < rt->nidle_list; i++) {
            if (rt->idle[i] == s) {
                rt->idle[i] = rt->idle[--rt->nidle_list];
                break;
            }
        }
        atomic_store_explicit(&s->sleeping, false, memory_order_relaxed);
        atomic_fetch_sub_explicit(&rt->nidle, 1, memory_order_relaxed);
    } else {
        s->spinning = true; /* a waker took us off the list and counted us */
    }
    pthread_mutex_unlock(&rt->idle_lock);
}

/* ---- finding work -------------------------------------------------------------- */

#define RUNNEXT_STREAK 16
/* An idle scheduler looks at the others for up to SPIN_ROUNDS rounds (a
 * steal, the global queue, 64 pauses: 20-40 µs in all) before it sleeps,
 * since waking a sleeping thread costs tens of microseconds. Rounds, not
 * time: the clock is not read while spinning. The descriptors are polled
 * every SPIN_POLL_EVERY rounds (a system call each). A spin that found
 * nothing halves the next one, down to none after SPIN_SHIFT_MAX misses in
 * a row; one that found work spins in full again: where the other
 * schedulers' work comes one at a time (a server whose client shares the
 * machine), the idle scheduler gives its core back at once instead of
 * spinning on it. */
#define SPIN_ROUNDS 32
#define SPIN_POLL_EVERY 4
#define SPIN_SHIFT_MAX 6

/* A parked process is published (its inbox EMPTY -> PARKED, after which
 * any sender may wake it) only when its scheduler next switches or enters
 * its loop. Until then it is s->parking, and only this thread can resume
 * it: a sender running here takes it back without a locked instruction
 * (oak__deliver_from()), so two processes that answer each other on one
 * scheduler - a call and its reply - hand the CPU back and forth without
 * any. A sender on another thread meanwhile finds the inbox EMPTY and just
 * pushes; the publishing CAS then fails, and the process is queued to run.
 * The delay is bounded the way runnext's is: the process running now
 * switches, or yields after its reductions. The wait's timer cannot fire
 * meanwhile: timers fire in the loop, after the publishing. */
static void publish_park(oak__sched *s)
{
    oak__proc *p = s->parking;
    if (!p)
        return;
    s->parking = NULL;
    oak__msg *expect = OAK__INBOX_EMPTY;
    /* Release: the process's saved state is written before anyone who
     * sees PARKED may resume it elsewhere. */
    if (!atomic_compare_exchange_strong_explicit(&p->inbox, &expect, OAK__INBOX_PARKED,
                                                 memory_order_acq_rel, memory_order_acquire)) {
        /* Messages arrived meanwhile: it stays runnable (and ends its
         * wait itself, in oak__park). */
        ring_push(s, p);
    }
}

/* Preempted processes wait here for their turn; owner only, never stolen
 * (core/preempt.h: they resume on this thread). */
static void pinned_push(oak__sched *s, oak__proc *p)
{
    p->gq_next = NULL;
    if (s->pinned_tail)
        s->pinned_tail->gq_next = p;
    else
        s->pinned_head = p;
    s->pinned_tail = p;
}

static oak__proc *pinned_pop(oak__sched *s)
{
    oak__proc *p = s->pinned_head;
    if (p && !(s->pinned_head = p->gq_next))
        s->pinned_tail = NULL;
    return p;
}


static oak__proc *local_take(oak__sched *s)
{
    /* Relaxed: a late look finds them at the next pick. */
    if (atomic_load_explicit(&s->forwarded, memory_order_relaxed))
        take_forwarded_from(s, s);
    if (s->runnext) {
        oak__proc *p = s->runnext;
        /* Every RUNNEXT_STREAK picks, look whether others wait. */
        if (++s->runnext_streak % RUNNEXT_STREAK != 0 || !local_waiting(s)) {
            s->runnext = NULL;
            return p;
        }
        /* Two processes passing messages back and forth would keep the
         * rest of the queue waiting: send this one to the back. */
        s->runnext = NULL;
        ring_push(s, p);
    }
    s->runnext_streak = 0;
    /* New processes first (depth first), but the ring's turn comes at
     * least every 16 picks, so that spawning cannot starve it. */
    oak__proc *p = NULL;
    if ((++s->picks & 15) == 0 && !(p = ring_pop(s)))
        p = pinned_pop(s);
    if (!p)
        p = deque_pop(s);
    if (!p)
        p = ring_pop(s);
    if (!p)
        p = pinned_pop(s);
    return p;
}

/* Arm the timed waits listed since the last look, then fire what is due:
 * one clock read for both, none when there is nothing to do. Returns the
 * time read, or 0. */
static int64_t check_timers(oak__sched *s)
{
    int64_t d = atomic_load_explicit(&s->next_deadline, memory_order_relaxed);
    if (d == INT64_MAX && s->nlazy == 0)
        return 0;
    int64_t now = oak__now_ns();
    if (s->nlazy > 0) {
        oak__timers_arm_waits(s, now);
        d = atomic_load_explicit(&s->next_deadline, memory_order_relaxed);
    }
    if (d <= now)
        oak__timers_run(s, now);
    return now;
}

static oak__proc *steal_any(oak__sched *s)
{
    oak__runtime *rt = oak__rt;
    unsigned n = rt->nscheds;
    if (n < 2)
        return NULL;
    s->rng = s->rng * 6364136223846793005ull + 1442695040888963407ull;
    unsigned start = (unsigned)(s->rng >> 33) % n;
    for (unsigned i = 0; i < n; i++) {
        oak__sched *v = &rt->scheds[(start + i) % n];
        if (v == s)
            continue;
        oak__proc *p = ring_steal(s, v);
        if (!p)
            p = deque_steal(v);
        if (p)
            return p;
    }
    return NULL;
}

/* Blocked processes go back to the ring, to try again. */
static void unblock(oak__sched *s)
{
    oak__proc *p = s->blocked;
    s->blocked = NULL;
    cpu_relax(); /* what they wait for is another scheduler's next round */
    while (p) {
        oak__proc *n = p->gq_next;
        ring_push(s, p);
        p = n;
    }
}

static oak__proc *find_work(oak__sched *s)
{
    oak__runtime *rt = oak__rt;
    publish_park(s); /* before timers run, stealing or sleep */
    if (s->pending) {
        oak__proc *p = s->pending;
        s->pending = NULL;
        return p;
    }
    for (;;) {
        if (atomic_load_explicit(&rt->stopping, memory_order_relaxed))
            return NULL;
        /* Slots asked for by other schedulers are let go of here, between
         * two processes, at least every 64 hand-offs. Relaxed: a late look
         * only delays the answer to the next round. */
        if (atomic_load_explicit(&s->wanted, memory_order_relaxed))
            oak__stack_answer(s, NULL, NULL);
        if (s->blocked)
            unblock(s);
        /* The loop runs at least every 64 hand-offs (next_direct), so
         * looking at the clock and the global queue here is cheap enough
         * and keeps timers and foreign wake-ups from starving. */
        int64_t now = check_timers(s);
        /* More local work than the one this loop takes next: make sure
         * another scheduler looks - at once when new processes wait (see
         * oak__sched_push()), when they have waited a while for woken
         * ones (help_check()). */
        uint32_t queued = ring_len(s);
        int64_t spawned = deque_len(s);
        if (spawned > 0 && queued + spawned > 1) {
            wakep();
        } else if (queued > 1) {
            if (!s->help_since)
                help_later(s, now);
            else
                help_check(s, now);
        }
        oak__proc *p = NULL;
        if ((++s->rounds & 3) == 0)
            p = gq_take(s);
        if (!p)
            p = local_take(s);
        if (!p)
            p = gq_take(s);
        if (p) {
            stop_spinning(s);
            /* Busy: still look at the descriptors now and then, so that
             * ready ones are not left waiting behind a long queue. */
            if ((s->rounds & 15) == 0 && oak__netpoll_pending())
                oak__netpoll_poll(s);
            return p;
        }
        fire_others_timers(s, check_timers(s));
        /* Nothing local: ready descriptors make their processes runnable
         * here (one scheduler at a time polls). */
        if (oak__netpoll_pending() && oak__netpoll_poll(s) > 0)
            continue;
        if (s->runnext || s->pinned_head || local_waiting(s))
            continue;
        /* Spin: look at the others for a while before sleeping, since
         * waking a sleeping thread costs tens of microseconds. Spin only
         * if not too many others do already. */
        unsigned spinners = atomic_load_explicit(&rt->nspinning, memory_order_relaxed);
        unsigned idle = atomic_load_explicit(&rt->nidle, memory_order_relaxed);
        if (s->spinning || 2 * spinners < rt->nscheds - idle) {
            if (!s->spinning) {
                s->spinning = true;
                atomic_fetch_add_explicit(&rt->nspinning, 1, memory_order_acq_rel);
            }
            unsigned rounds = SPIN_ROUNDS >> s->spin_misses, round = 0;
            /* Even with no spin, one look at the others' queues. */
            do {
                /* A spinner holds slots too: answer while looking. */
                if (atomic_load_explicit(&s->wanted, memory_order_relaxed))
                    oak__stack_answer(s, NULL, NULL);
                p = steal_any(s);
                if (!p)
                    p = gq_take(s);
                if (p) {
                    s->spin_misses = 0;
                    stop_spinning(s);
                    return p;
                }
                /* A descriptor that becomes ready while we spin is work
                 * too (Go's spinning Ms poll the same way): without this,
                 * a reply on a socket waits for a busy scheduler's next
                 * look or for the end of the spin. */
                if (round % SPIN_POLL_EVERY == SPIN_POLL_EVERY - 1 && oak__netpoll_pending() &&
                    oak__netpoll_poll(s) > 0) {
                    s->spin_misses = 0;
                    break;
                }
                for (int i = 0; i < 64; i++)
                    cpu_relax();
            } while (++round < rounds && !atomic_load_explicit(&rt->stopping, memory_order_relaxed));
            if (round == rounds && s->spin_misses < SPIN_SHIFT_MAX)
                s->spin_misses++;
        }
        check_timers(s);
        if (s->runnext || s->pinned_head || local_waiting(s))
            continue;
        /* Going idle: give back the message memory that has come home,
         * and the stack pages of processes that stay idle. */
        oak__msgmem_sweep(s->blocks);
        oak__stack_sweep(s, oak__now_ns());
        sleep_idle(s);
    }
}

/* ---- running a process -------------------------------------------------------- */

/* Switching. A process that gives up the CPU hands it straight to the next
 * runnable process of its scheduler when there is one (one context switch,
 * not two), and to the scheduler's own context otherwise. Whatever must
 * happen to the process that left - park it, requeue it, dispose of it - is
 * done by whoever runs next, once that process's context is saved: see
 * after_switch(). So a parked process can never be resumed by another
 * scheduler while its registers are still being saved. */

static void fault_exit(oak__sched *s, oak__proc *p)
{
    oak_atom reason;
    char detail[160];
    oak__fault_reason(p, &s->fault, &reason, detail, sizeof detail);
    char who[OAK_ATOM_MAX_LEN + 64];
    /* Where: the faulting function, and the frames that called it (the
     * handler's own frames and the signal trampoline come first in the
     * walk: they are skipped up to the faulting pc). */
    char where[160], bt[1536];
    oak__symbolize(s->fault.pc, where, sizeof where);
    size_t len = 0;
    bt[0] = '\0';
    int first = 0;
    for (int i = 0; i < s->fault_nbt; i++)
        if (s->fault_bt[i] == s->fault.pc)
            first = i + 1;
    int depth = oak__rt->cfg.backtrace_depth;
    for (int i = first; i < s->fault_nbt && i - first < depth && len + 2 < sizeof bt; i++) {
        if (len)
            bt[len++] = ';';
        len += oak__symbolize_return(s->fault_bt[i], bt + len, sizeof bt - len);
    }
    s->fault_nbt = 0;
    oak_log(OAK_LOG_ERROR, "crash_report", "%s class=error where=%s%s%s reason={%s,%s}",
            oak__report_who(p->self, who, sizeof who), where, len ? " backtrace=" : "", bt,
            oak_atom_name(reason), detail);
    free(p->exit_detail);
    p->exit_reason = reason;
    p->exit_detail = strdup(detail);
}

/* Finish the switch away from s->prev. Runs in the context that took over:
 * the next process, or the scheduler. Inline in the hand-off between
 * processes, which is on every message's path. */
static inline __attribute__((always_inline)) void after_switch(oak__sched *s)
{
    oak__proc *p = s->prev;
    if (!p)
        return;
    s->prev = NULL;
    int was_in_process = oak__in_process;
    oak__in_process = 0; /* a fault here is the runtime's, not a process's */
    switch (p->switch_reason) {
    case OAK__SW_YIELD:
        oak__stack_left(p->home, p->sp);
        if (ring_push(s, p) > 0) /* more than this one waits */
            wakep();
        break;
    case OAK__SW_PREEMPT:
        oak__stack_left(p->home, p->sp);
        pinned_push(s, p);
        break;
    case OAK__SW_HIBERNATE_NOW:
        /* Its frames are given up; it starts again in fn(arg) at once. */
        oak__stack_release(s, p, false);
        ring_push(s, p);
        break;
    case OAK__SW_HIBERNATE:
        oak__stack_release(s, p, false);
        publish_park(s);
        s->parking = p;
        break;
    case OAK__SW_PARK:
        oak__stack_left(p->home, p->sp);
        if (p->wait.rel) {
            if (s->nlazy == OAK__LAZY_WAITS && !oak__timers_arm_waits(s, oak__now_ns())) {
                p->timed_out = true; /* cannot wait: time out at once */
                ring_push(s, p);
                break;
            }
            /* Listed before it can be seen parked: whoever resumes it
             * finds its wait pending or armed. Only the process and its
             * scheduler of the moment write wait_arm outside the CAS. */
            uint64_t n = atomic_load_explicit(&p->wait_arm, memory_order_relaxed);
            n = ((n | OAK__WAIT_STATE) + 1) | OAK__WAIT_PENDING;
            atomic_store_explicit(&p->wait_arm, n, memory_order_relaxed);
            p->wait.owner = s; /* the heap it will be armed in */
            s->lazy[s->nlazy].p = p;
            s->lazy[s->nlazy++].arm = n;
        }
        /* Parked, but not yet said so: see publish_park(). */
        publish_park(s);
        s->parking = p;
        break;
    case OAK__SW_FAULT:
        fault_exit(s, p);
        oak__proc_dispose(p, true);
        break;
    case OAK__SW_EXIT:
        oak__proc_dispose(p, true);
        break;
    default:
        abort();
    }
    oak__in_process = was_in_process;
}

void oak__sched_after_switch(oak__sched *s) { after_switch(s); }

/* The next process to hand the CPU to directly, or NULL to go through the
 * scheduler loop (which also looks at timers, the global queue and
 * stopping, every 64 hand-offs at least). */
static oak__proc *next_direct(oak__sched *s)
{
    if ((++s->tick & 63) == 0 || atomic_load_explicit(&oak__rt->stopping, memory_order_relaxed))
        return NULL;
    /* Every 8th hand-off: the clock is read for it (a few hand-offs are
     * nothing beside HELP_AFTER_NS). */
    if ((s->tick & 7) == 0)
        help_check(s, 0);
    oak__proc *p = local_take(s);
    /* Another scheduler waits for a slot held here: answer at this
     * hand-off (not only every 64th), but for the two processes it moves. */
    if (atomic_load_explicit(&s->wanted, memory_order_relaxed))
        oak__stack_answer(s, s->prev, p);
    if (!p || oak__stack_resident(s->hword, p, p->home))
        return p;
    if (!p->home && oak__stack_fresh(s, p)) {
        oak__proc_first_frame(p);
        return p;
    }
    /* Its bytes must be copied in (on the scheduler's stack, not on the
     * leaving process's), or its slot is held elsewhere. */
    s->pending = p;
    return NULL;
}

static void start_running(oak__sched *s, oak__proc *p)
{
    /* Relaxed: the watchdog only needs to see the counter move. */
    atomic_store_explicit(&s->dispatches,
                          atomic_load_explicit(&s->dispatches, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_store_explicit(&s->running, p->self, memory_order_relaxed);
    s->current = p;
    p->sched = s;
    p->reductions = oak__rt->cfg.reductions;
}

void oak__proc_switch_out(oak__proc *p, enum oak__switch why)
{
    oak__sched *s = p->sched;
    /* The scheduler's state from here until the next process's own code
     * (sched.h): that one drops the level (below, or in proc_main()). */
    oak__sched_own(s);
    p->switch_reason = (uint8_t)why;
    s->prev = p;
    /* A preempted process goes through the loop, which fires timers and
     * looks at the global queue: a run of preemptions never starves them. */
    oak__proc *next = why == OAK__SW_FAULT || why == OAK__SW_PREEMPT ? NULL : next_direct(s);
    /* A dead or hibernating process's fake stack (ASan) is released: its
     * frames never resume. */
    void **fake_save = why == OAK__SW_EXIT || why == OAK__SW_HIBERNATE ||
                               why == OAK__SW_HIBERNATE_NOW
                           ? NULL
                           : OAK__PROC_FAKE_STACK(p);
    if (next) {
        start_running(s, next);
        oak__switch(&p->sp, next->sp, OAK__PROC_TSAN_FIBER(next), fake_save, next->home->base,
                    next->home->size);
    } else {
        s->current = NULL;
        oak__switch(&p->sp, s->sp, s->tsan_fiber, fake_save, s->asan_stack_bottom,
                    s->asan_stack_size);
    }
    /* Resumed, perhaps by another scheduler: p->sched is the new one. */
    s = p->sched;
#ifdef OAK_ASAN
    __sanitizer_finish_switch_fiber(p->asan_fake_stack, NULL, NULL);
#endif
    after_switch(s);
    oak__sched_disown(s, 0); /* back in p's own code */
}

/* Scheduler context -> p. Returns when some process switches back to the
 * scheduler (not necessarily p). */
static void run(oak__sched *s, oak__proc *p)
{
    start_running(s, p);
    oak__in_process = 1;
    oak__switch(&s->sp, p->sp, OAK__PROC_TSAN_FIBER(p), &s->asan_fake_stack, p->home->base,
                p->home->size);
    oak__in_process = 0;
    atomic_store_explicit(&s->running, 0, memory_order_relaxed);
#ifdef OAK_ASAN
    const void *bottom;
    size_t size;
    __sanitizer_finish_switch_fiber(s->asan_fake_stack, &bottom, &size);
#endif
    oak__sched_after_switch(s);
    s->current = NULL;
}

/* Hand p to scheduler o, which holds its home and is awake. A sleeper
 * looks at its forwarded list after the fence in sleep_idle(); the
 * seq_cst CAS here and the look at `sleeping` after it pair with that, so
 * either it sees p or this sees it asleep and wakes it. */
static void forward(oak__sched *o, oak__proc *p)
{
    oak__proc *head = atomic_load_explicit(&o->forwarded, memory_order_relaxed);
    do
        p->gq_next = head;
    while (!atomic_compare_exchange_weak_explicit(&o->forwarded, &head, p, memory_order_seq_cst,
                                                  memory_order_relaxed));
    if (atomic_load_explicit(&o->sleeping, memory_order_seq_cst))
        wake_sched(o);
}

/* Take what others forwarded to o into s's ring, oldest first. */
static void take_forwarded_from(oak__sched *s, oak__sched *o)
{
    oak__proc *p = atomic_exchange_explicit(&o->forwarded, NULL, memory_order_acquire);
    oak__proc *fifo = NULL;
    while (p) {
        oak__proc *n = p->gq_next;
        p->gq_next = fifo;
        fifo = p;
        p = n;
    }
    while (fifo) {
        oak__proc *n = fifo->gq_next;
        ring_push(s, fifo);
        fifo = n;
    }
}

/* In scheduler context: get p's stack ready (core/stack.h). False when p
 * cannot run now: its slot is held by a scheduler that is awake (p waits in
 * s->blocked until the next round) or, on a first run, no stack can be had
 * at all (p is gone). */
static bool make_ready(oak__sched *s, oak__proc *p)
{
    if (oak__stack_resident(s->hword, p, p->home))
        return true;
    oak__sched *holder;
    int rc = oak__stack_prepare(s, p, &holder);
    if (rc == 0) {
        if (!p->sp)
            oak__proc_first_frame(p);
        return true;
    }
    if (rc == -EAGAIN && holder) {
        /* A holder busy with a process: it runs p next (its bytes are
         * there). An idle one lets go of the slot at once when asked (it
         * answers while it spins), so p moves here with its slot: the
         * processes that work together gather on one scheduler, as before
         * slots. */
        if (atomic_load_explicit(&holder->running, memory_order_relaxed)) {
            forward(holder, p);
        } else {
            oak__stack_ask(p);
            p->gq_next = s->blocked;
            s->blocked = p;
        }
        return false;
    }
    if (rc == -EAGAIN) {
        p->gq_next = s->blocked;
        s->blocked = p;
        return false;
    }
    oak__proc_no_stack(p);
    return false;
}

static void sched_loop(oak__sched *s)
{
    oak__tls_sched = s;
#ifdef OAK_TSAN
    s->tsan_fiber = __tsan_get_current_fiber();
#endif
#ifdef OAK_ASAN
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *addr;
        size_t size;
        pthread_attr_getstack(&attr, &addr, &size);
        s->asan_stack_bottom = addr;
        s->asan_stack_size = size;
        pthread_attr_destroy(&attr);
    }
#endif
    oak__fault_thread_init(s);
    oak__preempt_thread_init(s);
    atomic_store_explicit(&s->owning, 1, memory_order_relaxed); /* its loop's */
    oak__proc *p;
    while ((p = find_work(s)) != NULL)
        if (make_ready(s, p))
            run(s, p);
    oak__fault_thread_term(s);
}

static void *thread_main(void *arg)
{
    oak__sched *s = arg;
    /* Scheduler threads take no asynchronous signals: they belong to the
     * program's other threads. */
    sigset_t all;
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    sched_loop(s);
    oak__tls_sched = NULL;
    return NULL;
}

/* ---- start and stop ------------------------------------------------------------- */

void oak__runtime_stop(int status)
{
    oak__runtime *rt = oak__rt;
    int zero = 0;
    if (!atomic_compare_exchange_strong_explicit(&rt->stopping, &zero, 1, memory_order_acq_rel,
                                                 memory_order_relaxed))
        return;
    atomic_store_explicit(&rt->status, status, memory_order_relaxed);
    for (unsigned i = 0; i < rt->nscheds; i++)
        wake_sched(&rt->scheds[i]);
}

int oak_shutdown(int status)
{
    if (!oak__rt_enter())
        return -ESRCH;
    oak__runtime_stop(status);
    oak__rt_leave();
    return 0;
}

static size_t default_guarded(void)
{
    long max = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        if (fscanf(f, "%ld", &max) != 1)
            max = 65530;
        fclose(f);
    }
    return (size_t)(max / 4);
}

static void teardown(oak__runtime *rt)
{
    oak__sched *s0 = &rt->scheds[0];
    oak__tls_sched = s0;
    /* Every process still alive is killed: its cleanups run, its memory
     * is freed; no signals are sent (everyone goes). */
    for (uint64_t slot = 1; slot < rt->next_slot; slot++) {
        oak__proc *p = &rt->table[slot];
        if (atomic_load_explicit(&p->pid, memory_order_relaxed) != 0) {
            p->exit_reason = OAK_KILLED;
            oak__proc_dispose(p, false);
        }
    }
    /* From here no scheduler is current: a freed item goes back to its
     * chunk as another thread's would, and the chunks go last. */
    oak__tls_sched = NULL;
    for (unsigned i = 0; i < rt->nscheds; i++)
        oak__timers_term(&rt->scheds[i]); /* frees pending timed sends */
    /* No message is left: unmap the chunks. */
    for (unsigned i = 0; i < rt->nscheds; i++) {
        oak__sched *s = &rt->scheds[i];
        oak__msgmem_term(s->blocks);
        oak__stack_local_term(s);
        free(s->free_slots);
        free(s->watch);
    }
    oak__names_term();
    oak__stack_term();
    munmap(rt->table, rt->table_bytes);
    free(rt->free_slots);
    free(rt->idle);
    free(rt->scheds);
    pthread_mutex_destroy(&rt->slot_lock);
    pthread_mutex_destroy(&rt->gq_lock);
    pthread_mutex_destroy(&rt->idle_lock);
}

int oak_run(oak_entry main, void *arg, const oak_config *cfg)
{
    if (!main)
        return -EINVAL;
    if (oak__sched_self())
        return -EBUSY;
    oak_config c = cfg ? *cfg : (oak_config){0};
    if (c.schedulers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        c.schedulers = n > 0 ? (unsigned)n : 1;
    }
    if (c.schedulers > 1024)
        return -EINVAL;
    if (c.stack_size == 0)
        c.stack_size = OAK_DEFAULT_STACK_SIZE;
    if (c.stack_size < 16 * 1024 || c.stack_size > ((size_t)1 << 30))
        return -EINVAL;
    if (c.max_processes == 0)
        c.max_processes = OAK_DEFAULT_MAX_PROCESSES;
    if (c.max_processes < 2 || c.max_processes > OAK__SLOT_MASK)
        return -EINVAL;
    c.max_processes += 1; /* slot 0 is never used */
    if (c.guarded_stacks == 0)
        c.guarded_stacks = default_guarded();
    if (c.reductions == 0)
        c.reductions = 2000;
    if (c.long_schedule_ms == 0)
        c.long_schedule_ms = 1000;
    if (c.time_slice_ms == 0)
        c.time_slice_ms = 10;
    if (c.backtrace_depth == 0)
        c.backtrace_depth = 16;
    if (c.backtrace_depth > OAK__FAULT_FRAMES - 2)
        c.backtrace_depth = OAK__FAULT_FRAMES - 2;
    if (atomic_flag_test_and_set(&running))
        return -EBUSY;

    int rc = -ENOMEM;
    oak__runtime *rt = calloc(1, sizeof *rt);
    if (!rt)
        goto fail;
    rt->cfg = c;
    rt->nscheds = c.schedulers;
    rt->next_slot = 1;
    rt->table_bytes = c.max_processes * sizeof(oak__proc);
    rt->table = mmap(NULL, rt->table_bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (rt->table == MAP_FAILED)
        goto fail_rt;
    rt->scheds = aligned_alloc(64, sizeof(oak__sched) * c.schedulers);
    rt->idle = calloc(c.schedulers, sizeof *rt->idle);
    if (!rt->scheds || !rt->idle)
        goto fail_table;
    memset(rt->scheds, 0, sizeof(oak__sched) * c.schedulers);
    pthread_mutex_init(&rt->slot_lock, NULL);
    pthread_mutex_init(&rt->gq_lock, NULL);
    pthread_mutex_init(&rt->idle_lock, NULL);
    for (unsigned i = 0; i < c.schedulers; i++) {
        oak__sched *s = &rt->scheds[i];
        s->id = i;
        s->rng = 0x9E3779B97F4A7C15ull * (i + 1);
        atomic_store_explicit(&s->next_deadline, INT64_MAX, memory_order_relaxed);
        s->hword = oak__stack_hword(s);
        oak__msgmem_init(s->blocks);
        s->free_slots = malloc(SLOT_CACHE * sizeof *s->free_slots);
        s->watch = c.schedulers > 1 ? calloc(c.schedulers, sizeof *s->watch) : NULL;
        if (!s->free_slots || (c.schedulers > 1 && !s->watch))
            goto fail_scheds;
    }
    if ((rc = oak__blocking_init(c.blocking_threads)) < 0)
        goto fail_scheds;
    oak__stack_init(c.stack_size, c.guarded_stacks);
    oak__names_init();
    rob_init();
    if ((rc = oak__netpoll_init()) < 0) {
        oak__names_term();
        oak__stack_term();
        goto fail_scheds;
    }
    oak__rt = rt;
    atomic_store_explicit(&rt_public, rt, memory_order_seq_cst);
    if ((rc = oak__fault_install()) < 0)
        goto fail_installed;
    if ((rc = oak__preempt_init(rt)) < 0)
        goto fail_faults;
    /* This thread is scheduler 0 until oak_run returns: it takes the
     * preemption signal (oak__preempt_thread_init); its mask comes back. */
    sigset_t caller_mask;
    pthread_sigmask(SIG_SETMASK, NULL, &caller_mask);
    /* The signal source blocks its signals here, before the other
     * threads inherit this mask (core/sigsource.h). */
    if ((rc = oak__sigsource_init()) < 0)
        goto fail_preempt;

    oak_pid first;
    rc = oak__spawn_on(&rt->scheds[0], NULL, main, arg, NULL, &first);
    if (rc < 0) {
        oak__sigsource_term();
        pthread_sigmask(SIG_SETMASK, &caller_mask, NULL);
        goto fail_preempt;
    }
    rt->table[oak__pid_slot(first)].is_main = true;

    /* nscheds stays c.schedulers: a scheduler whose thread could not be
     * started has an empty ring that nobody pushes to, and is never idle. */
    unsigned started = 1;
    for (; started < c.schedulers; started++) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        int e = pthread_create(&rt->scheds[started].thread, &attr, thread_main,
                               &rt->scheds[started]);
        pthread_attr_destroy(&attr);
        if (e != 0) {
            oak_log(OAK_LOG_WARNING, "runtime", "event=scheduler_not_started scheduler=%u error=%s",
                    started, strerror(e));
            break; /* run with the schedulers we have */
        }
    }
    sched_loop(&rt->scheds[0]);
    oak__tls_sched = NULL;
    oak__sigsource_term();
    pthread_sigmask(SIG_SETMASK, &caller_mask, NULL);
    for (unsigned i = 1; i < started; i++)
        pthread_join(rt->scheds[i].thread, NULL);
    oak__preempt_term(rt);

    rc = atomic_load_explicit(&rt->status, memory_order_relaxed);
    atomic_store_explicit(&rt_public, NULL, memory_order_seq_cst);
    while (atomic_load_explicit(&foreign_users, memory_order_acquire) != 0)
        sched_yield();
    teardown(rt);
    oak__netpoll_term(); /* after the processes, whose cleanups may use it */
    oak__blocking_term(); /* every caller is gone: helpers finish alone */
    oak__fault_uninstall();
    oak__rt = NULL;
    free(rt);
    atomic_flag_clear(&running);
    return rc;

fail_preempt:
    oak__preempt_term(rt);
fail_faults:
    oak__fault_uninstall();
fail_installed:
    oak__netpoll_term();
    atomic_store_explicit(&rt_public, NULL, memory_order_seq_cst);
    while (atomic_load_explicit(&foreign_users, memory_order_acquire) != 0)
        sched_yield();
    oak__rt = NULL;
    oak__stack_term();
    oak__blocking_term();
fail_scheds:
    for (unsigned i = 0; i < c.schedulers; i++) {
        free(rt->scheds[i].free_slots);
        free(rt->scheds[i].watch);
    }
fail_table:
    free(rt->scheds);
    free(rt->idle);
    munmap(rt->table, rt->table_bytes);
fail_rt:
    free(rt);
fail:
    atomic_flag_clear(&running);
    return rc;
}
