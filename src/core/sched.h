/* sched.h - schedulers, run queues and the runtime's global state.
 *
 * One scheduler per thread. Each has run queues of its own (see
 * docs/design/scheduler.md):
 *   - runnext: the process woken last by this scheduler's running process
 *     (a message's receiver runs next, on the same core, while the sender's
 *     data is still in cache); owner only, never stolen;
 *   - the spawn deque: newly spawned processes, newest first for the owner,
 *     oldest first for thieves (a tree of spawns is walked depth first);
 *   - ring: a bounded circular FIFO of processes that yielded or were woken
 *     behind runnext; only the owner pushes, anyone may take from its head
 *     (the owner pops, idle schedulers steal half);
 *   - the global queue (a mutex-protected list) takes the overflow, and
 *     processes woken from threads that are not schedulers.
 * A process that gives up the CPU hands it directly to the next local
 * process (one context switch); the scheduler's own loop runs when there is
 * none, and at least every 64 hand-offs to look at timers, the global
 * queue and the netpoller. Idle schedulers spin a little looking for work,
 * then sleep: one of them in the netpoller's epoll_wait() when processes
 * wait on descriptors (core/netpoll.h), the others on a futex. Work is handed to a sleeping scheduler (wakep) only when there is
 * no spinning scheduler already and work was added to a deque or ring,
 * never for a runnext wake-up (the local scheduler will run it soon).
 */
#ifndef OAK_CORE_SCHED_H
#define OAK_CORE_SCHED_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/msgmem.h"
#include "core/proc.h"
#include "core/sanitizer.h"
#include "core/spinlock.h"
#include "core/stack.h"
#include "oak/runtime.h"

#define OAK__RING 512  /* run queue ring capacity (power of two)       */
#define OAK__DEQUE 1024 /* spawn deque capacity (power of two)         */
#define OAK__LAZY_WAITS 128 /* timed waits a scheduler arms at once    */
#define OAK__FAULT_FRAMES 34 /* backtrace frames kept of a fault         */

/* A process's synchronous signal: the signal, its code, the faulting
 * address and pc. */
typedef struct oak__fault {
    int sig;
    int code;
    void *addr;
    void *pc;
} oak__fault;

typedef struct oak__sched {
    /* ---- read by thieves: their own cache line ---- */
    alignas(64) _Atomic uint32_t rq_head; /* next to take; CAS by anyone   */
    _Atomic uint32_t rq_tail;             /* next free; stored by owner    */
    _Atomic(oak__proc *) rq[OAK__RING];

    /* Newly spawned processes: a work-stealing deque (Chase-Lev, all
     * operations seq_cst). The owner pushes and pops at the bottom, so
     * the newest child runs first and a tree of spawns is walked depth
     * first (few live processes, hot stacks); thieves take the oldest
     * from the top, which is the largest piece of work. */
    alignas(64) _Atomic int64_t dq_top;
    alignas(64) _Atomic int64_t dq_bottom;
    _Atomic(oak__proc *) dq[OAK__DEQUE];

    /* ---- touched by wakers ---- */
    alignas(64) _Atomic uint32_t futex;   /* bumped to wake a sleeper      */
    _Atomic bool sleeping;                /* in the idle list              */
    /* Blocked in the netpoller's epoll_wait() rather than on the futex:
     * a waker bumps the futex, then wakes it through the eventfd. Stored
     * by the owner, read by wakers, both seq_cst (see sleep_idle()). */
    _Atomic bool in_netpoll;
    _Atomic int64_t next_deadline;        /* earliest timer, INT64_MAX none */
    /* Execution stacks (core/stack.h). The era moves on (release) each
     * time this scheduler goes to sleep, which lets go of every slot it
     * held; `wanted` is a stack of slots others asked it to let go of,
     * pushed with a CAS (release), taken whole by the owner (acquire). */
    _Atomic uint64_t era;
    _Atomic(oak__slot *) wanted;
    /* Processes whose home this scheduler holds, handed over by others
     * that were to run them: a stack pushed with a CAS (release, linked by
     * gq_next), taken whole by the owner (acquire). */
    _Atomic(oak__proc *) forwarded;

    /* ---- read by the watchdog of idle schedulers ---- */
    _Atomic uint64_t dispatches;          /* processes started running      */
    /* A thief takes this scheduler's owner-only state (rob() in sched.c)
     * while it runs one process too long: set by the thief's CAS
     * (seq_cst), cleared by it (release); read by the owner each time it
     * is about to touch that state (oak__sched_own(), acquire). On the
     * owner's line: the owner reads it often, a thief writes it seldom. */
    _Atomic bool robbing;
    _Atomic uint64_t preemptions;         /* processes preempted here       */
    _Atomic oak_pid running;              /* pid running now, or 0          */
    /* Spawned here minus disposed here (either may be negative); the sum
     * over schedulers is the number of live processes. Stored by the owner
     * only, so counting costs no locked instruction on the spawn path. */
    _Atomic int64_t live;

    /* ---- timers: any thread, under tlock ---- */
    alignas(64) oak__spinlock tlock;
    oak__timer **theap;                   /* binary heap by deadline       */
    uint32_t tlen, tcap;
    oak__map tsend;                       /* ref -> SEND timer             */
    uint64_t ref_counter;                 /* owner thread only             */

    /* ---- owner thread only ---- */
    /* Above zero while this thread is in runtime code that touches the
     * owner-only state below (the scheduler loop, a switch, a send that
     * may take `parking` or fill `runnext`); 0 while a process's own code
     * runs. Stored by the owner only (release when it drops to 0), read
     * by a thief after a process-wide barrier (rob() in sched.c). */
    alignas(64) _Atomic unsigned owning;
    unsigned id;
    pthread_t thread;
    void *sp;                             /* scheduler context              */
    oak__proc *current;                   /* running process or NULL        */
    oak__proc *prev;                      /* just switched away from: to be
                                           * parked/requeued/disposed by
                                           * oak__sched_after_switch()      */
    oak__proc *parking;                   /* parked here, PARKED not yet
                                           * published (publish_park() in
                                           * sched.c)                       */
    oak__proc *runnext;
    unsigned runnext_streak;
    unsigned picks;                       /* local picks, for fairness      */
    unsigned tick;                        /* hand-offs, for periodic work   */
    unsigned rounds;                      /* scheduler loop rounds          */
    bool spinning;
    unsigned spin_misses;                 /* spins in a row that found
                                           * nothing (find_work())         */
    int64_t help_since;                   /* woken processes have waited in
                                           * the ring since (ns), no other
                                           * scheduler asked yet; 0: none
                                           * (help_check() in sched.c)     */
    uint64_t rng;
    uint64_t hword;                       /* holder word of this era       */
    oak__stack_local stk[OAK__STACK_CLASSES];
    int64_t stk_sweep_next;               /* idle sweeps of the slots      */
    bool stk_sweep_more;                  /*   (core/stack.h)              */
    oak__proc *blocked;                   /* waiting for their slot to be
                                           * let go (linked by gq_next)     */
    /* Its thread, for the preemption monitor: stored by the thread itself
     * (release) once `self` is set; the monitor reads self only after it
     * has seen the tid (acquire). */
    _Atomic pid_t tid;
    pthread_t self;
    /* A kick (oak__preempt_kick) is on its way to this thread: later ones
     * are not sent until its handler ran, so that a storm of exit signals
     * never nests handlers on one stack. */
    _Atomic bool kick_pending;
    oak__proc *pinned_head, *pinned_tail; /* preempted: run again on this
                                           * thread only (linked by gq_next;
                                           * core/preempt.h)                 */
    oak__proc *pending;                   /* taken for a hand-off that needs
                                           * the loop (a copy, a wait)      */
    struct oak__lazy_wait {               /* parked with a timer to arm:    */
        struct oak__proc *p;              /*   the process and its         */
        uint64_t arm;                     /*   wait_arm value when listed  */
    } lazy[OAK__LAZY_WAITS];
    unsigned nlazy;
    oak__blocks blocks[OAK__MSG_CLASSES]; /* small messages' memory         */
    uint64_t *free_slots;                 /* cache of free table slots      */
    size_t nfree_slots;
    struct oak__watch *watch;             /* what it saw of the others      */
    char *altstack;                       /* signal stack                   */
    char *landing;                        /* stack for leaving a fault      */
    /* The faulting process's signal and backtrace, taken by the fault
     * handler and reported by fault_exit(), both on this thread (not in
     * the control block: only a fault being reported needs them). */
    oak__fault fault;
    void *fault_bt[OAK__FAULT_FRAMES];
    int fault_nbt;
    void *tsan_fiber;                     /* this thread's own fiber        */
    void *asan_fake_stack;
    const void *asan_stack_bottom;        /* this thread's stack, for ASan  */
    size_t asan_stack_size;
} oak__sched;

typedef struct oak__runtime {
    oak__sched *scheds;
    unsigned nscheds;
    oak_config cfg;

    oak__proc *table;          /* max_processes slots, lazily touched        */
    size_t table_bytes;
    pthread_mutex_t slot_lock; /* guards free_slots and next_slot            */
    uint64_t *free_slots;
    size_t nfree, free_cap;
    uint64_t next_slot;        /* slots below this have been used           */

    pthread_mutex_t gq_lock;   /* global run queue                           */
    oak__proc *gq_head, *gq_tail;
    _Atomic size_t gq_len;

    pthread_mutex_t idle_lock; /* sleeping schedulers                        */
    oak__sched **idle;
    unsigned nidle_list;
    _Atomic unsigned nidle;
    _Atomic unsigned nspinning;
    /* The sleeper that watches busy schedulers closely (id + 1, or 0):
     * one at a time (sleep_idle() in sched.c). Relaxed: a hint. */
    _Atomic unsigned watcher;

    _Atomic int stopping;      /* oak_shutdown() called / main ended         */
    _Atomic int status;        /* oak_run()'s result                          */
    _Atomic uint64_t foreign_refs;
} oak__runtime;

/* The running runtime. Scheduler threads (and processes) use it directly;
 * other threads go through oak__rt_enter()/oak__rt_leave(). */
extern oak__runtime *oak__rt;

/* For calls that are safe from any thread: the runtime, or NULL if none is
 * running. A non-NULL result must be paired with oak__rt_leave(). */
oak__runtime *oak__rt_enter(void);
void oak__rt_leave(void);

/* The calling thread's scheduler, or NULL. A process may resume on another
 * thread after any switch, so the thread's own copy must be read anew each
 * time, never an address kept from before. On x86-64 the read goes through
 * %fs every time (initial-exec TLS, direct segment references), so it is
 * inlined; elsewhere the thread pointer itself could be kept in a register
 * across a switch, so it is a call the compiler cannot see into. (The
 * initial-exec model takes a pointer's worth of static TLS, which glibc
 * keeps spare even for a library loaded with dlopen.) */
#if defined(__x86_64__)
extern _Thread_local oak__sched *oak__tls_sched __attribute__((tls_model("initial-exec")));
static inline oak__sched *oak__sched_self(void)
{
    __asm__ volatile("" ::: "memory");
    return oak__tls_sched;
}
#else
oak__sched *oak__sched_self(void);
#endif

/* Count processes spawned (+1) or disposed (-1) by s's own thread. */
static inline void oak__sched_live_add(oak__sched *s, int64_t d)
{
    int64_t n = atomic_load_explicit(&s->live, memory_order_relaxed);
    atomic_store_explicit(&s->live, n + d, memory_order_relaxed);
}

/* The owner-only state of s (runnext, parking, the lists of waits and
 * blocked processes, the slots it holds) may be taken by an idle
 * scheduler while s runs one process for too long (rob() in sched.c).
 * Owner code that touches it from a process's context brackets the
 * touch: oak__sched_own() returns the previous level, oak__sched_disown()
 * puts it back. The pair is a Dekker handshake made asymmetric: the owner
 * stores and loads with no fence (a compiler barrier only), the thief
 * stores, then has every thread of the program pass a full barrier
 * (membarrier(2)), then loads; so either the owner sees the thief's flag
 * and waits, or the thief sees the owner inside and backs off. */
void oak__sched_robbed_wait(oak__sched *s);
static inline unsigned oak__sched_own(oak__sched *s)
{
    unsigned was = atomic_load_explicit(&s->owning, memory_order_relaxed);
    atomic_store_explicit(&s->owning, was + 1, memory_order_relaxed);
#ifdef OAK_TSAN
    /* ThreadSanitizer knows nothing of membarrier(2): a real fence here
     * keeps the handshake sound in its builds. */
    atomic_thread_fence(memory_order_seq_cst);
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
    /* Acquire: what a thief changed is seen once its flag is down. */
    if (__builtin_expect(atomic_load_explicit(&s->robbing, memory_order_acquire), 0))
        oak__sched_robbed_wait(s);
    return was;
}
static inline void oak__sched_disown(oak__sched *s, unsigned was)
{
    /* Release: a thief that reads 0 sees everything done before. */
    atomic_store_explicit(&s->owning, was, memory_order_release);
}

/* Make p runnable. From a scheduler thread p goes to runnext (if `next`)
 * or the ring; from any other thread to the global queue. */
void oak__make_runnable(oak__proc *p, bool next);
/* The same, with the caller's scheduler (NULL on another thread); with
 * `next`, under oak__sched_own(s). */
void oak__make_runnable_on(oak__sched *s, oak__proc *p, bool next);

/* Finish a switch: act on s->prev (park, requeue, dispose). Called by
 * whatever context runs after a process switched away. */
void oak__sched_after_switch(oak__sched *s);

/* Has s runnable work besides the running process (NULL: not a scheduler,
 * taken as yes)? Owner thread only. */
bool oak__sched_has_local_work(oak__sched *s);

/* Run queue operations used by spawn. */
void oak__sched_push(oak__sched *s, oak__proc *p);

/* A fresh reference. */
oak_ref oak__ref_new(void);
/* The same on scheduler s's own thread. */
static inline oak_ref oak__ref_new_on(oak__sched *s)
{
    return ((uint64_t)(s->id + 1) << 52) | ++s->ref_counter;
}

/* Stop the runtime with a status (first caller wins). */
void oak__runtime_stop(int status);

/* Monotonic clock in ns. */
int64_t oak__now_ns(void);

/* Slots of the process table. */
int oak__slot_alloc(oak__sched *s, uint64_t *slot);
void oak__slot_free(oak__sched *s, uint64_t slot);

#endif
