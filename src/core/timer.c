/* timer.c - see timer.h. A binary heap ordered by deadline; each timer
 * knows its index so that cancelling is O(log n). */
#include "core/timer.h"

#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void publish_next(oak__sched *s)
{
    /* Relaxed: read without the lock only as a hint (find_work, sleep). */
    atomic_store_explicit(&s->next_deadline, s->tlen ? s->theap[0]->deadline : INT64_MAX,
                          memory_order_relaxed);
}

static void put(oak__sched *s, uint32_t i, oak__timer *t)
{
    s->theap[i] = t;
    t->index = i;
}

static void sift_up(oak__sched *s, uint32_t i)
{
    oak__timer *t = s->theap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (s->theap[parent]->deadline <= t->deadline)
            break;
        put(s, i, s->theap[parent]);
        i = parent;
    }
    put(s, i, t);
}

static void sift_down(oak__sched *s, uint32_t i)
{
    oak__timer *t = s->theap[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= s->tlen)
            break;
        if (c + 1 < s->tlen && s->theap[c + 1]->deadline < s->theap[c]->deadline)
            c++;
        if (t->deadline <= s->theap[c]->deadline)
            break;
        put(s, i, s->theap[c]);
        i = c;
    }
    put(s, i, t);
}

static void remove_at(oak__sched *s, uint32_t i)
{
    oak__timer *t = s->theap[i];
    t->index = OAK__TIMER_IDLE;
    s->tlen--;
    if (i == s->tlen)
        return;
    put(s, i, s->theap[s->tlen]);
    sift_down(s, i);
    sift_up(s, s->theap[i]->index);
}

/* Room for n more timers. Under the lock. */
static int reserve(oak__sched *s, uint32_t n)
{
    if (s->tlen + n <= s->tcap)
        return 0;
    uint32_t cap = s->tcap ? s->tcap : 64;
    while (cap < s->tlen + n)
        cap *= 2;
    oak__timer **h = realloc(s->theap, cap * sizeof *h);
    if (!h)
        return -ENOMEM;
    s->theap = h;
    s->tcap = cap;
    return 0;
}

/* Into s's heap (t->owner is s already). */
static void insert(oak__sched *s, oak__timer *t)
{
    put(s, s->tlen++, t);
    sift_up(s, t->index);
}

int oak__timer_add(oak__sched *s, oak__timer *t)
{
    oak__spin_lock(&s->tlock);
    if (reserve(s, 1) < 0 ||
        (t->kind == OAK__TIMER_SEND && oak__map_put(&s->tsend, t->ref, (uint64_t)(uintptr_t)t) < 0)) {
        oak__spin_unlock(&s->tlock);
        return -ENOMEM;
    }
    t->owner = s;
    insert(s, t);
    publish_next(s);
    oak__spin_unlock(&s->tlock);
    return 0;
}

bool oak__timers_arm_waits(oak__sched *s, int64_t now)
{
    unsigned n = s->nlazy;
    if (n == 0)
        return true;
    oak__spin_lock(&s->tlock);
    if (reserve(s, n) < 0) {
        oak__spin_unlock(&s->tlock);
        return false;
    }
    for (unsigned i = 0; i < n; i++) {
        oak__proc *p = s->lazy[i].p;
        uint64_t pending = s->lazy[i].arm;
        uint64_t armed = (pending & ~(uint64_t)OAK__WAIT_STATE) | OAK__WAIT_ARMED;
        /* Most listed waits are over by now (a reply ended them): a plain
         * look skips those without a locked instruction. A wait that
         * looks pending may still end meanwhile, so the CAS decides. */
        if (atomic_load_explicit(&p->wait_arm, memory_order_relaxed) != pending ||
            !atomic_compare_exchange_strong_explicit(&p->wait_arm, &pending, armed,
                                                     memory_order_relaxed, memory_order_relaxed))
            continue; /* that wait is over */
        oak__timer *t = &p->wait;
        if (!t->deadline)
            t->deadline = now + p->wait.rel;
        t->kind = OAK__TIMER_WAKE;
        t->proc = p;
        insert(s, t);
    }
    s->nlazy = 0;
    publish_next(s);
    oak__spin_unlock(&s->tlock);
    return true;
}

bool oak__timer_cancel(oak__timer *t)
{
    oak__sched *s = t->owner;
    if (!s)
        return false;
    oak__spin_lock(&s->tlock);
    bool removed = t->index != OAK__TIMER_IDLE;
    if (removed) {
        remove_at(s, t->index);
        if (t->kind == OAK__TIMER_SEND)
            oak__map_del(&s->tsend, t->ref, NULL);
        publish_next(s);
    }
    oak__spin_unlock(&s->tlock);
    return removed;
}

void oak__timers_run(oak__sched *s, int64_t now)
{
    oak__msg *due = NULL; /* SEND timers' messages, delivered unlocked */
    oak__spin_lock(&s->tlock);
    while (s->tlen && s->theap[0]->deadline <= now) {
        oak__timer *t = s->theap[0];
        remove_at(s, 0);
        if (t->kind == OAK__TIMER_WAKE) {
            oak__proc *p = t->proc;
            oak__msg *parked = OAK__INBOX_PARKED;
            /* Wake it only if it still waits; under the lock, so that a
             * process that cancels its timer is never woken by it later. */
            if (atomic_compare_exchange_strong_explicit(&p->inbox, &parked, OAK__INBOX_EMPTY,
                                                        memory_order_acq_rel,
                                                        memory_order_relaxed)) {
                p->timed_out = true;
                oak__make_runnable(p, false);
            }
        } else {
            oak__map_del(&s->tsend, t->ref, NULL);
            t->msg->next = due;
            due = t->msg;
            free(t);
        }
    }
    publish_next(s);
    oak__spin_unlock(&s->tlock);
    /* Deliver in deadline order. */
    oak__msg *fifo = oak__msg_reverse(due);
    while (fifo) {
        oak__msg *n = fifo->next;
        if (oak__deliver(fifo) < 0)
            oak__msg_delete(fifo);
        fifo = n;
    }
}

void oak__timers_term(oak__sched *s)
{
    oak__spin_lock(&s->tlock);
    for (uint32_t i = 0; i < s->tlen; i++) {
        oak__timer *t = s->theap[i];
        t->index = OAK__TIMER_IDLE;
        if (t->kind == OAK__TIMER_SEND) {
            oak__msg_delete(t->msg);
            free(t);
        }
    }
    s->tlen = 0;
    free(s->theap);
    s->theap = NULL;
    s->tcap = 0;
    oak__map_free(&s->tsend);
    oak__spin_unlock(&s->tlock);
}

/* ---- the public timer calls ---------------------------------------------------- */

static oak__sched *ref_owner(oak_ref ref)
{
    uint64_t id = ref >> 52;
    oak__runtime *rt = oak__rt;
    if (id == 0)
        return &rt->scheds[0];
    return id - 1 < rt->nscheds ? &rt->scheds[id - 1] : NULL;
}

static oak_ref oak_send_after_in_runtime(int64_t ms, oak_pid to, uint64_t tag, const void *data, size_t size)
{
    oak__runtime *rt = oak__rt;
    if (!rt || ms < 0 || to == OAK_NOPID || (tag >> 63) || (size && !data))
        return 0;
    oak__sched *self = oak__sched_self();
    oak__sched *s = self ? self : &rt->scheds[0];
    oak__timer *t = calloc(1, sizeof *t);
    oak__msg *m = oak__msg_new(size);
    if (!t || !m) {
        free(t);
        oak__msg_delete(m);
        return 0;
    }
    if (size)
        memcpy(m->payload, data, size);
    oak_ref ref = oak__ref_new();
    m->to = to;
    m->pub.tag = tag;
    m->pub.ref = ref;
    m->pub.from = OAK_NOPID;
    t->kind = OAK__TIMER_SEND;
    /* A timeout too long for the clock never fires (but may be cancelled). */
    int64_t rel = oak__timeout_ns(ms);
    t->deadline = rel || ms == 0 ? oak__now_ns() + rel : INT64_MAX;
    t->msg = m;
    t->ref = ref;
    t->index = OAK__TIMER_IDLE;
    if (oak__timer_add(s, t) < 0) {
        free(t);
        oak__msg_delete(m);
        return 0;
    }
    if (!self)
        atomic_fetch_add_explicit(&s->futex, 1, memory_order_release),
            syscall(SYS_futex, (uint32_t *)&s->futex, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    return ref;
}

oak_ref oak_send_after(int64_t ms, oak_pid to, uint64_t tag, const void *data, size_t size)
{
    if (!oak__rt_enter())
        return 0;
    oak_ref r = oak_send_after_in_runtime(ms, to, tag, data, size);
    oak__rt_leave();
    return r;
}

static int64_t oak_cancel_timer_in_runtime(oak_ref ref)
{
    if (!oak__rt || ref == 0)
        return -ENOENT;
    oak__sched *s = ref_owner(ref);
    if (!s)
        return -ENOENT;
    oak__spin_lock(&s->tlock);
    uint64_t v;
    int64_t left = -ENOENT;
    if (oak__map_del(&s->tsend, ref, &v)) {
        oak__timer *t = (oak__timer *)(uintptr_t)v;
        remove_at(s, t->index);
        publish_next(s);
        left = (t->deadline - oak__now_ns()) / 1000000;
        if (left < 0)
            left = 0;
        oak__msg_delete(t->msg);
        free(t);
    }
    oak__spin_unlock(&s->tlock);
    return left;
}

int64_t oak_cancel_timer(oak_ref ref)
{
    if (!oak__rt_enter())
        return -ENOENT;
    int64_t r = oak_cancel_timer_in_runtime(ref);
    oak__rt_leave();
    return r;
}
