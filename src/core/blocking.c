/* blocking.c - the blocking-call pool (oak/blocking.h).
 *
 * A call is a job in a FIFO served by helper threads, started as calls
 * need them up to oak_config.blocking_threads. The caller first looks for
 * the end of a short call a little while (SPINNING: nothing to send, the
 * caller sees DONE itself); then it registers its cleanup and waits for a
 * message with the job's reference (PARKED), so it waits as in receive:
 * exit signals act, and its scheduler runs others. The job's state decides
 * who frees it when caller and helper part:
 *
 *   SPINNING --helper finished (CAS)--> DONE, no message: the caller sees it and frees
 *      |
 *      +--caller stops looking (CAS)--> PARKED
 *   PARKED --helper finished (CAS)--> DONE + message --caller took the result--> freed by the caller
 *      |                                 |
 *      |                                 +--caller died first: its cleanup
 *      |                                    discards the result, frees
 *      +--caller died (its cleanup, CAS)--> ABANDONED --helper finished:
 *                                            it discards the result, frees
 *
 * A spinning caller cannot die meanwhile: it is in the runtime's code,
 * which is never preempted, so it needs no cleanup until it parks.
 */
#include "core/blocking.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/proc.h"
#include "core/sched.h"
#include "oak/message.h"
#include "oak/process.h"

enum { SPINNING, PARKED, DONE, ABANDONED };

/* The caller waits for the job's reference; the tag says nothing. */
#define WAKE_TAG 0
#define HELPER_STACK ((size_t)1 << 20)
#define SPIN_NS 50000
#define CALLER_SPIN_NS 20000

typedef struct job {
    struct job *next;                 /* in the queue, under the lock     */
    oak_blocking_fn fn;
    void *arg;
    oak_blocking_discard_fn discard;
    void *result;                     /* written by the helper before DONE */
    oak_pid caller;
    oak_ref ref;                      /* written by the caller before PARKED */
    _Atomic int state;                /* see the picture above            */
    alignas(16) unsigned char bytes[]; /* the copied argument             */
} job;

typedef struct pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    job *head, *tail;                 /* under lock                       */
    size_t queued, threads;           /* under lock                       */
    _Atomic size_t busy;              /* relaxed: a count for the stats   */
    size_t sleeping;                  /* helpers in cond_wait; under lock */
    /* Jobs queued, for helpers that look before they sleep (relaxed: a
     * stale zero only sends them to the lock). */
    _Atomic size_t ready;
    /* Relaxed, counted before the caller hears of its call (the CAS to
     * DONE releases it). */
    _Atomic uint64_t calls;
    size_t max;
    bool stopping;                    /* under lock                       */
    pthread_t *tids;                  /* max entries; under lock          */
} pool;

static pool *the_pool; /* between oak__blocking_init and _term */

int oak__blocking_init(unsigned max)
{
    pool *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->max = max ? max : 64;
    p->tids = calloc(p->max, sizeof *p->tids);
    if (!p->tids) {
        free(p);
        return -ENOMEM;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    the_pool = p;
    return 0;
}

/* Finish a job on the helper's side. */
static void complete(job *j, void *r)
{
    j->result = r;
    int expect = SPINNING;
    /* Release: the caller that sees DONE (or its cleanup) sees result.
     * Acquire on failure: a parked caller's ref is seen. */
    if (atomic_compare_exchange_strong_explicit(&j->state, &expect, DONE, memory_order_acq_rel,
                                                memory_order_acquire))
        return; /* the caller is still looking: it sees DONE */
    if (expect == PARKED &&
        atomic_compare_exchange_strong_explicit(&j->state, &expect, DONE, memory_order_acq_rel,
                                                memory_order_acquire)) {
        /* The caller takes it from here. If it has just died, its cleanup
         * (which saw DONE or will) frees the job. */
        oak_send_ref(j->caller, j->ref, WAKE_TAG, NULL, 0);
        return;
    }
    /* ABANDONED: the caller is gone. */
    if (j->discard)
        j->discard(r, j->arg);
    free(j);
}

/* Look at done(arg) until it is true or ns have passed. */
static void spin_until(bool (*done)(const void *), const void *arg, int64_t ns)
{
    int64_t until = oak__now_ns() + ns;
    while (!done(arg) && oak__now_ns() < until) {
    }
}

/* Relaxed: a stale zero only sends the helper to the lock. */
static bool job_ready(const void *pool_)
{
    const pool *p = pool_;
    return atomic_load_explicit(&p->ready, memory_order_relaxed) != 0;
}

/* Acquire: the result written before DONE is seen. */
static bool job_done(const void *job_)
{
    const job *j = job_;
    return atomic_load_explicit(&j->state, memory_order_acquire) == DONE;
}

static void *helper_main(void *arg)
{
    pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        if (!p->head && !p->stopping) {
            /* Waking a sleeping thread costs tens of microseconds: look
             * for the next job a little while first. */
            pthread_mutex_unlock(&p->lock);
            spin_until(job_ready, p, SPIN_NS);
            pthread_mutex_lock(&p->lock);
        }
        while (!p->head && !p->stopping) {
            p->sleeping++;
            pthread_cond_wait(&p->cond, &p->lock);
            p->sleeping--;
        }
        if (!p->head)
            break; /* stopping, nothing left */
        job *j = p->head;
        if (!(p->head = j->next))
            p->tail = NULL;
        p->queued--;
        atomic_store_explicit(&p->ready, p->queued, memory_order_relaxed);
        if (p->stopping && atomic_load_explicit(&j->state, memory_order_acquire) == ABANDONED) {
            free(j); /* its caller died with the runtime; fn never ran */
            continue;
        }
        atomic_fetch_add_explicit(&p->busy, 1, memory_order_relaxed);
        pthread_mutex_unlock(&p->lock);
        void *r = j->fn(j->arg);
        /* Counted before the caller hears of it; the lock is taken once
         * per job, after the caller has its result. */
        atomic_fetch_sub_explicit(&p->busy, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&p->calls, 1, memory_order_relaxed);
        complete(j, r);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Under lock: one more helper if every one is taken. */
static void grow(pool *p)
{
    if (p->threads >= p->max ||
        atomic_load_explicit(&p->busy, memory_order_relaxed) + p->queued <= p->threads)
        return;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, HELPER_STACK);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* helpers take no signals */
    if (pthread_create(&p->tids[p->threads], &attr, helper_main, p) == 0)
        p->threads++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
}

/* The caller's cleanup: it died while parked. */
static void abandon(void *arg)
{
    job *j = arg;
    /* PARKED, or (were it ever killed before it said so) SPINNING. */
    int expect = atomic_load_explicit(&j->state, memory_order_acquire);
    while (expect != DONE)
        if (atomic_compare_exchange_weak_explicit(&j->state, &expect, ABANDONED,
                                                  memory_order_acq_rel, memory_order_acquire))
            return; /* the helper frees it when fn returns */
    /* DONE: the result came, the caller never took it. */
    if (j->discard)
        j->discard(j->result, j->arg);
    free(j);
}

/* Wait for j's message, with the cleanup that frees j if the caller dies
 * meanwhile. Returns once j is DONE. */
static void park_for(job *j)
{
    int handle = oak_defer(abandon, j);
    if (handle < 0) {
        /* No memory for the cleanup: keep the scheduler (this thread
         * yields the core to the helper) until the call is done, since
         * it cannot be taken back. */
        while (!job_done(j))
            sched_yield();
        return;
    }
    j->ref = oak_make_ref();
    int expect = SPINNING;
    /* Release: the helper that sees PARKED sees the ref. Acquire on
     * failure: the result written before DONE. */
    if (atomic_compare_exchange_strong_explicit(&j->state, &expect, PARKED, memory_order_acq_rel,
                                                memory_order_acquire)) {
        oak_msg *m = NULL;
        while (oak_receive_ref(&m, j->ref, OAK_INFINITY) != 0) {
        }
        oak_msg_free(m);
    }
    oak_undefer(handle, false);
}

int oak_blocking(oak_blocking_fn fn, const void *arg, size_t arg_size, void **result,
                 oak_blocking_discard_fn discard)
{
    oak__proc *self = oak__proc_self();
    if (!self || self->in_cleanup)
        return -EPERM;
    if (!fn || (arg_size && !arg) || arg_size > SIZE_MAX - sizeof(job))
        return -EINVAL;
    pool *p = the_pool;
    job *j = malloc(sizeof *j + arg_size);
    if (!j)
        return -ENOMEM;
    j->next = NULL;
    j->fn = fn;
    j->arg = arg_size ? memcpy(j->bytes, arg, arg_size) : (void *)arg;
    j->discard = discard;
    j->result = NULL;
    j->caller = oak_self();
    j->ref = 0;
    atomic_init(&j->state, SPINNING);
    pthread_mutex_lock(&p->lock);
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->queued++;
    atomic_store_explicit(&p->ready, p->queued, memory_order_relaxed);
    grow(p);
    bool none = p->threads == 0;
    if (none) {
        /* Not one helper could be started: take the job back. */
        p->head = p->tail = NULL;
        p->queued = 0;
    } else if (p->sleeping > 0 &&
               p->queued > p->threads - atomic_load_explicit(&p->busy, memory_order_relaxed) -
                               p->sleeping) {
        /* More jobs than helpers awake to take them. */
        pthread_cond_signal(&p->cond);
    }
    pthread_mutex_unlock(&p->lock);
    if (none) {
        free(j);
        return -EAGAIN;
    }
    /* A short call is over before a sleeping scheduler could be woken:
     * when nothing else waits to run here, look for its end a little
     * while before parking. */
    if (!oak__sched_has_local_work(oak__sched_self()))
        spin_until(job_done, j, CALLER_SPIN_NS);
    if (atomic_load_explicit(&j->state, memory_order_acquire) != DONE)
        park_for(j);
    if (result)
        *result = j->result;
    free(j);
    return 0;
}

int oak_blocking_stats_get(oak_blocking_stats *out)
{
    if (!out)
        return -EINVAL;
    /* The pool lives as long as the runtime that a non-NULL enter holds. */
    if (!oak__rt_enter())
        return -ESRCH;
    pool *p = the_pool;
    pthread_mutex_lock(&p->lock);
    out->threads = p->threads;
    out->busy = atomic_load_explicit(&p->busy, memory_order_relaxed);
    out->queued = p->queued;
    out->calls = atomic_load_explicit(&p->calls, memory_order_relaxed);
    pthread_mutex_unlock(&p->lock);
    oak__rt_leave();
    return 0;
}

void oak__blocking_term(void)
{
    pool *p = the_pool;
    if (!p)
        return;
    the_pool = NULL;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    size_t n = p->threads;
    pthread_mutex_unlock(&p->lock);
    /* A helper still inside a call that never returns cannot be waited
     * for: after a second it is left running, and the pool with it. */
    bool all = true;
    for (size_t i = 0; i < n; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        if (pthread_timedjoin_np(p->tids[i], NULL, &ts) != 0) {
            pthread_detach(p->tids[i]);
            all = false;
        }
    }
    if (!all)
        return;
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->tids);
    free(p);
}
