/* proc.c - processes: spawn, messages and signals, receive, exits, links,
 * monitors, cleanups.
 *
 * The rule for links and monitors (as in BEAM): a process changes only its
 * own tables, and tells the other side with a signal pushed to that side's
 * inbox. Signals travel in the same queue as messages, so everything from
 * one process to another arrives in the order it was sent. The receiver acts
 * on signals when it takes them from its inbox (oak__drain), which happens
 * in receive, yield and the calls that need an up-to-date view.
 *
 * A signal may reach a control block whose incarnation is no longer the one
 * it was sent to (the sender saw the pid alive, then the process died and
 * its slot was reused). Every item carries the pid it was sent to; the
 * receiver answers such a stale item as the dead incarnation would have:
 * a link gets an exit signal `noproc`, a monitor gets a DOWN `noproc`,
 * anything else is dropped.
 */
#include "core/proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctx.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/name.h"
#include "core/netpoll.h"
#include "core/msgmem.h"
#include "core/sanitizer.h"
#include "core/sched.h"
#include "core/timer.h"
#include "core/preempt.h"
#include "core/remote.h"
#include "oak/log.h"

/* ---- lookups ----------------------------------------------------------- */

oak__proc *oak__proc_of(oak_pid pid)
{
    oak__runtime *rt = oak__rt;
    uint64_t slot = oak__pid_slot(pid);
    if (!rt || pid >> (OAK__SLOT_BITS + OAK__GEN_BITS) || slot == 0 ||
        slot >= rt->cfg.max_processes)
        return NULL;
    return &rt->table[slot];
}

oak__proc *oak__proc_self(void)
{
    oak__sched *s = oak__sched_self();
    return s ? s->current : NULL;
}

/* The running process, when the caller may block. */
static oak__proc *self_blocking(void)
{
    oak__proc *p = oak__proc_self();
    return p && !p->in_cleanup ? p : NULL;
}

static oak_pid self_pid(oak__proc *p)
{
    return p ? p->self : OAK_NOPID;
}

oak_pid oak_self(void) { return self_pid(oak__proc_self()); }

static bool oak_is_alive_in_runtime(oak_pid pid)
{
    oak__proc *p = oak__proc_of(pid);
    return p && atomic_load_explicit(&p->pid, memory_order_acquire) == pid;
}

bool oak_is_alive(oak_pid pid)
{
    if (!oak__rt_enter())
        return false;
    bool r = oak_is_alive_in_runtime(pid);
    oak__rt_leave();
    return r;
}

/* ---- messages ------------------------------------------------------------ */

oak__msg *oak__msg_new(size_t size) { return oak__msg_alloc(oak__sched_self(), size); }

oak__msg *oak__msg_alloc(oak__sched *s, size_t size)
{
    oak__msg *m;
    if (size <= OAK__MSG_SMALL_MAX && s) {
        m = oak__block_alloc(&s->blocks[oak__msg_class(size)]);
        if (!m)
            return NULL;
        m->pooled = 1;
    } else {
        /* Large, or from a thread that is not a scheduler. */
        if (size > SIZE_MAX - sizeof(oak__msg))
            return NULL;
        m = malloc(sizeof *m + size);
        if (!m)
            return NULL;
        m->pooled = 0;
    }
    m->next = m->prev = NULL;
    m->kind = OAK__MSG;
    m->ends_monitor = 0;
    m->pub.tag = 0;
    m->pub.ref = 0;
    m->pub.from = OAK_NOPID;
    m->pub.size = size;
    m->pub.data = size ? m->payload : NULL;
    return m;
}

void oak__msg_delete(oak__msg *m) { oak__msg_release(oak__sched_self(), m); }

void oak__msg_release(oak__sched *s, oak__msg *m)
{
    if (m->pooled)
        oak__block_free(s ? s->blocks : NULL, m);
    else
        free(m);
}

static oak__msg *msg_of(oak_msg *pub)
{
    return (oak__msg *)((char *)pub - offsetof(oak__msg, pub));
}

int oak__deliver(oak__msg *m) { return oak__deliver_from(oak__sched_self(), m); }

static void deliver_parked(oak__sched *s, oak__proc *p, oak__msg *m);

/* Items a sender may take into a waiting receiver's mailbox itself: the
 * ones the receiver's drain would only append (after the alias check or
 * the request's monitor). Signals that act on the process go through its
 * inbox. */
static inline bool direct_kind(const oak__msg *m)
{
    return m->kind == OAK__MSG || m->kind == OAK__ALIAS_MSG || m->kind == OAK__SIG_REQUEST;
}

static inline __attribute__((always_inline)) int deliver_owned(oak__sched *s, oak__msg *m)
{
    oak__proc *p = oak__proc_of(m->to);
    if (!p) /* not a local pid: maybe one of another node (core/remote.h) */
        return m->to >> OAK__NODE_SHIFT ? oak__remote_deliver(m) : -ESRCH;
    if (atomic_load_explicit(&p->pid, memory_order_acquire) != m->to)
        return -ESRCH;
    oak__msg *old = atomic_load_explicit(&p->inbox, memory_order_relaxed);
    /* p parked on this thread and its scheduler has not published it yet
     * (see publish_park() in sched.c): nobody else can resume it, so this
     * sender takes it back, with no locked instruction when the message
     * can go straight into its mailbox. */
    bool take = s && s->parking == p;
    if (take) {
        s->parking = NULL;
        if (old == OAK__INBOX_EMPTY && direct_kind(m)) {
            deliver_parked(s, p, m);
            oak__make_runnable_on(s, p, true);
            return 0;
        }
    }
    for (;;) {
        if (old == OAK__INBOX_CLOSED) /* never when take: p cannot die unrun */
            return -ESRCH;
        if (old == OAK__INBOX_PARKED && s && direct_kind(m)) {
            /* A message for a waiting process: whoever replaces PARKED owns
             * its wake-up, and this sender takes the message into the
             * mailbox itself, sparing the receiver the inbox. */
            if (atomic_compare_exchange_weak_explicit(&p->inbox, &old, OAK__INBOX_EMPTY,
                                                      memory_order_acq_rel, memory_order_relaxed)) {
                deliver_parked(s, p, m);
                oak__make_runnable_on(s, p, true);
                return 0;
            }
            continue;
        }
        m->next = old == OAK__INBOX_PARKED ? NULL : old;
        /* Release: the receiver's exchange (acquire) sees the message's
         * contents. Acquire: when we replace PARKED we take over the
         * process as its scheduler left it. Relaxed on failure: we retry. */
        if (atomic_compare_exchange_weak_explicit(&p->inbox, &old, m, memory_order_acq_rel,
                                                  memory_order_relaxed))
            break;
    }
    if (old == OAK__INBOX_PARKED || take)
        oak__make_runnable_on(s, p, true);
    return 0;
}

int oak__deliver_from(oak__sched *s, oak__msg *m)
{
    if (!s)
        return deliver_owned(NULL, m);
    /* It may take s->parking and fill s->runnext (sched.h). */
    unsigned was = oak__sched_own(s);
    int rc = deliver_owned(s, m);
    oak__sched_disown(s, was);
    return rc;
}

/* A new item with a copy of the payload, from scheduler s's pool (s NULL:
 * malloc). NULL when out of memory. */
static oak__msg *new_item(oak__sched *s, oak_pid from, oak_pid to, oak_ref ref, uint64_t tag,
                          const void *data, size_t size, enum oak__kind kind)
{
    oak__msg *m = oak__msg_alloc(s, size);
    if (!m)
        return NULL;
    if (size)
        memcpy(m->payload, data, size);
    m->to = to;
    m->kind = (uint16_t)kind;
    m->pub.tag = tag;
    m->pub.ref = ref;
    m->pub.from = from;
    return m;
}

/* Send from scheduler s (NULL: another thread, inside oak__rt_enter()). */
static int send_kind(oak__sched *s, oak_pid to, oak_ref ref, uint64_t tag, const void *data,
                     size_t size, enum oak__kind kind, bool reply)
{
    if (to == OAK_NOPID || (tag >> 63) || (size && !data))
        return -EINVAL;
    oak__proc *self = s ? s->current : NULL;
    oak__msg *m = new_item(s, self ? self->self : OAK_NOPID, to, ref, tag, data, size, kind);
    if (!m)
        return -ENOMEM;
    if (reply && self && !self->in_cleanup) {
        /* The caller monitors us with this ref: drop our side now, and
         * the caller drops its side when it takes the reply, with no
         * demonitor signal between us. */
        if (oak__map_del_if(&self->monitors_in, ref, to))
            m->ends_monitor = 1;
    }
    /* A dead receiver: a no-op, as in Erlang. */
    if (oak__deliver_from(s, m) < 0)
        oak__msg_release(s, m);
    if (self && !self->in_cleanup && --self->reductions == 0)
        oak_yield();
    return 0;
}

static int send_any_thread(oak_pid to, oak_ref ref, uint64_t tag, const void *data, size_t size,
                           enum oak__kind kind, bool reply)
{
    oak__sched *s = oak__sched_self();
    if (s)
        return send_kind(s, to, ref, tag, data, size, kind, reply);
    if (!oak__rt_enter())
        return -ESRCH;
    int r = send_kind(NULL, to, ref, tag, data, size, kind, reply);
    oak__rt_leave();
    return r;
}

int oak_send_ref(oak_pid to, oak_ref ref, uint64_t tag, const void *data, size_t size)
{
    return send_any_thread(to, ref, tag, data, size, OAK__MSG, false);
}

int oak_send_alias(oak_pid to, oak_ref alias, uint64_t tag, const void *data, size_t size)
{
    if (alias == 0)
        return -EINVAL;
    return send_any_thread(to, alias, tag, data, size, OAK__ALIAS_MSG, false);
}

int oak_send_reply(oak_pid to, oak_ref alias, uint64_t tag, const void *data, size_t size)
{
    if (alias == 0)
        return -EINVAL;
    return send_any_thread(to, alias, tag, data, size, OAK__ALIAS_MSG, true);
}

int oak_send(oak_pid to, uint64_t tag, const void *data, size_t size)
{
    return oak_send_ref(to, 0, tag, data, size);
}

int oak_send_name(oak_atom name, uint64_t tag, const void *data, size_t size)
{
    oak_pid pid = oak_whereis(name);
    if (pid == OAK_NOPID)
        return -ESRCH;
    return oak_send(pid, tag, data, size);
}

/* Build an EXIT or DOWN item in its message form. */
static oak__msg *exit_item(oak_pid to, oak_pid from, enum oak__kind kind, oak_ref ref,
                           oak_atom reason, const char *detail, oak_atom name)
{
    size_t dlen = detail ? strlen(detail) + 1 : 0;
    oak__msg *m = oak__msg_new(sizeof(oak_down) + dlen);
    if (!m)
        return NULL;
    oak_down *d = (oak_down *)m->payload;
    d->reason = reason;
    d->name = name;
    d->detail = NULL;
    if (dlen) {
        char *t = (char *)m->payload + sizeof(oak_down);
        memcpy(t, detail, dlen);
        d->detail = t;
    }
    m->to = to;
    m->kind = kind;
    m->pub.tag = kind == OAK__SIG_DOWN ? OAK_TAG_DOWN : OAK_TAG_EXIT;
    m->pub.ref = ref;
    m->pub.from = from;
    return m;
}

/* Deliver an item of exit_item(); false (m deleted) when its target is
 * dead. An exit signal that may end a target running on another scheduler
 * makes it take the signal now, not at its next yield. */
static bool deliver_exit_item(oak__msg *m, oak_atom reason)
{
    oak_pid to = m->to;
    bool exit = m->kind != OAK__SIG_DOWN;
    if (oak__deliver(m) < 0) {
        oak__msg_delete(m);
        return false;
    }
    if (exit && reason != OAK_NORMAL)
        oak__preempt_kick(to);
    return true;
}

void oak__send_exit_signal(oak_pid to, oak_pid from, enum oak__kind kind, oak_ref ref,
                           oak_atom reason, const char *detail, oak_atom name)
{
    oak__msg *m = exit_item(to, from, kind, ref, reason, detail, name);
    if (!m) {
        /* Out of memory on a signal that must not be lost: log it. */
        oak_log(OAK_LOG_ERROR, "runtime", "event=out_of_memory lost=exit_signal");
        return;
    }
    deliver_exit_item(m, reason);
}

/* A control signal; tag is 0 but for a monitor of a name on another node
 * (core/remote.h), where it carries the name. */
static int send_control_tagged(oak_pid to, oak_pid from, enum oak__kind kind, oak_ref ref,
                               uint64_t tag)
{
    oak__msg *m = oak__msg_new(0);
    if (!m)
        return -ENOMEM;
    m->to = to;
    m->kind = kind;
    m->pub.from = from;
    m->pub.ref = ref;
    m->pub.tag = tag;
    int rc = oak__deliver(m);
    if (rc < 0)
        oak__msg_delete(m);
    return rc;
}

static int send_control(oak_pid to, oak_pid from, enum oak__kind kind, oak_ref ref)
{
    return send_control_tagged(to, from, kind, ref, 0);
}

/* ---- the private queue ---------------------------------------------------- */

static void queue_append(oak__proc *p, oak__msg *m)
{
    m->kind = OAK__MSG;
    m->next = NULL;
    m->prev = p->q_tail;
    if (p->q_tail)
        p->q_tail->next = m;
    else
        p->q_head = m;
    p->q_tail = m;
    p->q_len++;
}

void oak__queue_remove(oak__proc *p, oak__msg *m)
{
    if (p->q_mark == m)
        p->q_mark = m->prev;
    if (m->prev)
        m->prev->next = m->next;
    else
        p->q_head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    else
        p->q_tail = m->prev;
    m->next = m->prev = NULL;
    p->q_len--;
}

static void hold(oak__proc *p, oak__msg *m)
{
    m->prev = NULL;
    m->next = p->held;
    if (p->held)
        p->held->prev = m;
    p->held = m;
}

void oak_msg_free(oak_msg *pub)
{
    if (!pub)
        return;
    oak__msg *m = msg_of(pub);
    oak__sched *s = oak__sched_self();
    oak__proc *p = s ? s->current : NULL;
    if (p) {
        if (m->prev)
            m->prev->next = m->next;
        else if (p->held == m)
            p->held = m->next;
        if (m->next)
            m->next->prev = m->prev;
    }
    oak__msg_release(s, m);
}

/* ---- signals -------------------------------------------------------------- */

/* A cleanup handed to a process that is gone by the time it would take
 * it over runs now. */
static void run_adopted(oak__msg *m)
{
    oak__adopt a;
    memcpy(&a, m->payload, sizeof a);
    a.fn(a.arg);
}

/* Answer an item that reached a dead incarnation `dead`. */
static void answer_dead(oak__msg *m, oak_pid dead)
{
    if (m->kind == OAK__SIG_ADOPT)
        run_adopted(m);
    if (m->kind == OAK__SIG_LINK)
        oak__send_exit_signal(m->pub.from, dead, OAK__SIG_EXIT_LINK, 0, OAK_NOPROC, NULL, 0);
    else if (m->kind == OAK__SIG_MONITOR || m->kind == OAK__SIG_REQUEST)
        oak__send_exit_signal(m->pub.from, dead, OAK__SIG_DOWN, m->pub.ref, OAK_NOPROC, NULL, 0);
    oak__msg_delete(m);
}

/* Items left over when the process dies while draining: kept in order in
 * the private queue, where dispose() answers them; any for an earlier
 * incarnation are answered now, while they still say which. */
static void keep_rest(oak__proc *p, oak__msg *rest)
{
    while (rest) {
        oak__msg *n = rest->next;
        if (rest->to != p->self) {
            answer_dead(rest, rest->to); /* an earlier incarnation's */
        } else {
            uint32_t kind = rest->kind;
            queue_append(p, rest);
            rest->kind = kind; /* queue_append marks it a message */
        }
        rest = n;
    }
}

/* An exit signal reached p. Returns true if it ends p (reason set). */
static bool exit_signal(oak__proc *p, oak__msg *m, bool via_link, oak_atom *reason,
                        const char **detail)
{
    oak_down *d = (oak_down *)m->payload;
    oak_pid me = self_pid(p);
    if (!via_link && d->reason == OAK_KILL) {
        *reason = OAK_KILLED; /* untrappable */
        *detail = NULL;
        return true;
    }
    if (p->trap_exit) {
        queue_append(p, m);
        return false;
    }
    if (d->reason == OAK_NORMAL) {
        if (!via_link && m->pub.from == me) {
            *reason = OAK_NORMAL;
            *detail = NULL;
            return true;
        }
        oak__msg_delete(m);
        return false;
    }
    *reason = d->reason;
    *detail = d->detail;
    return true;
}

/* A monitor made with oak_monitor_alias() keeps this bit in the value of
 * its monitors_out entry: the monitor's reference is then also an alias,
 * which ends with the entry. */
#define MONITOR_ALIAS ((uint64_t)1 << 63)

/* ---- the extension block: name monitors and aliases ---- */

oak__proc_ext *oak__proc_ext_get(oak__proc *p)
{
    if (!p->ext)
        p->ext = calloc(1, sizeof *p->ext);
    return p->ext;
}

static void ext_free(oak__proc *p)
{
    if (!p->ext)
        return;
    oak__map_free(&p->ext->monitor_names);
    oak__map_free(&p->ext->aliases);
    free(p->ext);
    p->ext = NULL;
}

/* A monitor by name remembers the name for its DOWN. Without memory for
 * the note, the DOWN comes with no name (as when the map is full). */
static void name_monitor_put(oak__proc *p, oak_ref ref, oak_atom name)
{
    oak__proc_ext *e = oak__proc_ext_get(p);
    if (e)
        oak__map_put(&e->monitor_names, ref, name);
}

/* The name monitor ref was made for (and the note is gone), or 0. Most
 * processes never monitor a name: no call then. */
static oak_atom name_monitor_take(oak__proc *p, oak_ref ref)
{
    uint64_t name = 0;
    if (p->ext && p->ext->monitor_names.len)
        oak__map_del(&p->ext->monitor_names, ref, &name);
    return (oak_atom)name;
}

static bool alias_active(oak__proc *p, oak_ref ref)
{
    uint64_t v;
    return (p->ext && oak__map_get(&p->ext->aliases, ref, NULL)) ||
           (oak__map_get(&p->monitors_out, ref, &v) && (v & MONITOR_ALIAS));
}

/* The receiver's side of a message that is not plain: a request (the
 * monitor first, then the message) or a message to an alias. Returns
 * whether it joins the mailbox. Run by p as it drains its inbox, or by the
 * sender that woke p (deliver_parked()); either way nobody else touches p's
 * tables meanwhile. */
static bool accept_message(oak__proc *p, oak__msg *m)
{
    if (m->kind == OAK__SIG_REQUEST) {
        if (oak__map_add(&p->monitors_in, m->pub.ref, m->pub.from) < 0)
            oak_log(OAK_LOG_ERROR, "runtime", "event=out_of_memory lost=monitor");
        return true;
    }
    /* A reply from the process we monitor with this ref, which has dropped
     * its side: the monitor (and alias) end here. Any other message to an
     * alias no longer active is dropped, so it never reaches the mailbox
     * (Erlang's process aliases). */
    return (m->ends_monitor &&
            oak__map_del_if(&p->monitors_out, m->pub.ref, m->pub.from | MONITOR_ALIAS)) ||
           alias_active(p, m->pub.ref);
}

/* m for p, whose wake-up this sender has just won (PARKED -> EMPTY): p is
 * not running and nobody else may resume it, so its mailbox and tables are
 * the sender's until it makes p runnable. p's inbox was empty, so nothing
 * sent earlier is still on its way: m goes to the end of the mailbox, as
 * p's own drain would put it. The slot may hold a newer incarnation than
 * m was sent to (it died and was reused between the sender's look at its
 * pid and the wake-up): m is then answered as the dead one would, and the
 * new one just wakes and waits again. */
static void deliver_parked(oak__sched *s, oak__proc *p, oak__msg *m)
{
    if (m->to != p->self)
        answer_dead(m, m->to);
    else if (m->kind == OAK__MSG || accept_message(p, m))
        queue_append(p, m);
    else
        oak__msg_release(s, m);
}

/* Act on one item that is not a plain message; `rest` is what follows it
 * in the batch (kept if the item ends the process). Returns the number of
 * messages it added to the mailbox (0 or 1). Out of line: the message path
 * in oak__drain() stays short. */
__attribute__((noinline)) static size_t drain_other(oak__proc *p, oak__msg *m, oak__msg *rest)
{
    oak_pid from = m->pub.from;
    oak_atom reason;
    const char *detail;
    switch (m->kind) {
    case OAK__ALIAS_MSG:
    case OAK__SIG_REQUEST:
        if (accept_message(p, m)) {
            queue_append(p, m);
            return 1;
        }
        break;
    case OAK__SIG_LINK:
        if (oak__map_put(&p->links, from, 0) < 0)
            oak_log(OAK_LOG_ERROR, "runtime", "event=out_of_memory lost=link");
        break;
    case OAK__SIG_UNLINK:
        oak__map_del(&p->links, from, NULL);
        break;
    case OAK__SIG_MONITOR:
        if (oak__map_put(&p->monitors_in, m->pub.ref, from) < 0)
            oak_log(OAK_LOG_ERROR, "runtime", "event=out_of_memory lost=monitor");
        break;
    case OAK__SIG_FD_READY:
        break; /* only a wake-up: fd_wait holds the news */
    case OAK__SIG_FD_ACTIVE: {
        oak__msg *data = oak__netpoll_active_data(p, m);
        if (data) {
            queue_append(p, data);
            oak__msg_release(p->sched, m);
            return 1;
        }
        break;
    }
    case OAK__SIG_ADOPT: {
        oak__defer *d = malloc(sizeof *d);
        if (!d) {
            oak_log(OAK_LOG_ERROR, "runtime", "event=out_of_memory lost=adopted_cleanup");
            run_adopted(m); /* cannot keep it: release the resource now */
            break;
        }
        oak__adopt a;
        memcpy(&a, m->payload, sizeof a);
        d->fn = a.fn;
        d->arg = a.arg;
        d->handle = ++p->next_defer;
        d->next = p->defers;
        p->defers = d;
        break;
    }
    case OAK__SIG_DEMONITOR:
        oak__map_del(&p->monitors_in, m->pub.ref, NULL);
        break;
    case OAK__SIG_DOWN: {
        if (!oak__map_del(&p->monitors_out, m->pub.ref, NULL))
            break; /* demonitored meanwhile */
        ((oak_down *)m->payload)->name = name_monitor_take(p, m->pub.ref);
        queue_append(p, m);
        return 1;
    }
    case OAK__SIG_EXIT_LINK:
    case OAK__SIG_EXIT: {
        bool via_link = m->kind == OAK__SIG_EXIT_LINK;
        /* A link's signal counts only while the link exists. */
        if (via_link && !oak__map_del(&p->links, from, NULL))
            break;
        if (exit_signal(p, m, via_link, &reason, &detail)) {
            char *copy = detail ? strdup(detail) : NULL;
            oak__msg_release(p->sched, m);
            keep_rest(p, rest);
            oak__proc_exit(p, reason, copy);
        }
        /* Trapped: exit_signal() made it an EXIT message, or dropped it. */
        return p->trap_exit ? 1 : 0;
    }
    default:
        break;
    }
    oak__msg_release(p->sched, m);
    return 0;
}

size_t oak__drain(oak__proc *p)
{
    if (atomic_load_explicit(&p->inbox, memory_order_relaxed) == OAK__INBOX_EMPTY)
        return 0;
    /* Acquire: pairs with the senders' release CAS. */
    oak__msg *list = atomic_exchange_explicit(&p->inbox, OAK__INBOX_EMPTY, memory_order_acquire);
    if (list == OAK__INBOX_EMPTY || list == OAK__INBOX_PARKED)
        return 0;
    /* The inbox is a stack: reverse it to get the sending order. */
    oak__msg *fifo = oak__msg_reverse(list);
    oak_pid me = p->self;
    size_t appended = 0;
    while (fifo) {
        oak__msg *m = fifo;
        fifo = m->next;
        if (m->to == me && m->kind == OAK__MSG) {
            queue_append(p, m);
            appended++;
        } else if (m->to != me) {
            answer_dead(m, m->to);
        } else {
            appended += drain_other(p, m, fifo);
        }
    }
    return appended;
}

/* ---- switching and exiting ------------------------------------------------ */

/* End p's timed wait, if any, on scheduler s's thread: it can no longer be
 * armed. Returns the state it had; if ARMED the caller cancels the timer,
 * under its heap's lock. On the scheduler that listed the wait (the usual
 * case: a reply hands the CPU straight back) only this thread could arm it,
 * so a plain store does; elsewhere it takes an atomic read-modify-write. */
static uint64_t end_wait(oak__proc *p, oak__sched *s)
{
    if (p->wait.owner == s) {
        uint64_t was = atomic_load_explicit(&p->wait_arm, memory_order_relaxed);
        atomic_store_explicit(&p->wait_arm, was & ~(uint64_t)OAK__WAIT_STATE,
                              memory_order_relaxed);
        return was;
    }
    return atomic_fetch_and_explicit(&p->wait_arm, ~(uint64_t)OAK__WAIT_STATE,
                                     memory_order_acquire);
}

void oak__proc_exit(oak__proc *p, oak_atom reason, const char *detail)
{
    /* detail is already a heap copy owned by p (or NULL). */
    free(p->exit_detail);
    p->exit_reason = reason;
    p->exit_detail = (char *)detail;
    oak__proc_switch_out(p, OAK__SW_EXIT);
    abort(); /* a dead process is never resumed */
}

void oak_exit(oak_atom reason) { oak_exit_detail(reason, NULL); }

void oak_exit_detail(oak_atom reason, const char *detail)
{
    oak__proc *p = oak__proc_self();
    if (!p || p->in_cleanup) {
        oak_log(OAK_LOG_ERROR, "runtime", "event=oak_exit_outside_a_process");
        abort();
    }
    if (!oak_atom_name(reason))
        reason = OAK_BADARG;
    oak__proc_exit(p, reason, detail ? strdup(detail) : NULL);
}

oak_atom oak_exit_reason_in_cleanup(const char **detail)
{
    oak__proc *p = oak__proc_self();
    if (!p || !p->in_cleanup) {
        if (detail)
            *detail = NULL;
        return OAK_ATOM_NONE;
    }
    if (detail)
        *detail = p->exit_detail;
    return p->exit_reason ? p->exit_reason : OAK_KILLED;
}

void oak_yield(void)
{
    oak__proc *p = self_blocking();
    if (!p)
        return;
    oak__proc_switch_out(p, OAK__SW_YIELD);
    oak__drain(p);
}

/* Hibernation gives back what an idle process keeps without need: the
 * slots of its empty tables (a compact table keeps its slots when it
 * empties, as a call's monitor comes and goes), and an extension block
 * with nothing in it. A server started with a monitor by its starter
 * keeps 80 bytes of it otherwise. Not when it hibernates again straight
 * from a wake (p->rewoken, a server hibernating after every request):
 * it would allocate the slots again on each wake, 30-60 ns of a 250 ns
 * call. A wake by signals alone, a wait (hibernate_after) and the first
 * hibernation trim. */
static void trim_tables(oak__proc *p)
{
    oak__map *maps[] = {&p->links, &p->monitors_out, &p->monitors_in};
    for (size_t i = 0; i < sizeof maps / sizeof *maps; i++)
        if (maps[i]->len == 0)
            oak__map_free(maps[i]);
    if (p->ext && p->ext->monitor_names.len == 0 && p->ext->aliases.len == 0)
        ext_free(p);
}

int oak_hibernate(oak_entry fn, void *arg)
{
    oak__proc *p = self_blocking();
    if (!p)
        return -EPERM;
    if (!fn)
        return -EINVAL;
    oak__drain(p); /* signals act now; messages already here wake at once */
    if (!p->rewoken)
        trim_tables(p);
    p->fn = fn;
    p->arg = arg;
    p->hibernated = true;
    /* The frames below are given up in after_switch (core/sched.c): the
     * process comes back in proc_main(), on whatever slot its next
     * scheduler gives it. */
    oak__proc_switch_out(p, p->q_head ? OAK__SW_HIBERNATE_NOW : OAK__SW_HIBERNATE);
    abort(); /* never resumed here */
}

/* ---- spawn ------------------------------------------------------------------ */

static void proc_main(void *arg)
{
    oak__proc *p = arg;
#ifdef OAK_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
    oak__sched_after_switch(p->sched);
    oak__sched_disown(p->sched, 0); /* its own code from here */
    /* Its spawner wrote the inbox line on another core, most likely;
     * a short-lived process closes it at exit soon. */
    __builtin_prefetch(&p->inbox, 1);
    /* Signals that came before the first run, or during hibernation, act
     * before fn runs, as they would in a receive: a process killed right
     * after its spawn never runs its function (BEAM, too, handles a
     * process's signals before it executes). One load when none came. */
    oak__drain(p);
    if (p->hibernated) {
        /* Only a message ends the hibernation: after a signal that leaves
         * none (a demonitor, an unlink, an exit signal that was trapped
         * into nothing) the process gives its new stack up again at once. */
        if (!p->q_head) {
            trim_tables(p); /* a demonitor may have emptied one */
            oak__proc_switch_out(p, OAK__SW_HIBERNATE);
            abort(); /* resumes in proc_main, never here */
        }
        p->hibernated = false;
        p->rewoken = true;
    }
    p->fn(p->arg);
    oak__proc_exit(p, OAK_NORMAL, NULL);
}

static void *alloc_owned(oak__proc *p, size_t size)
{
    if (size > SIZE_MAX - sizeof(oak__alloc))
        return NULL;
    oak__alloc *a = malloc(sizeof *a + size);
    if (!a)
        return NULL;
    a->prev = NULL;
    a->next = p->allocs;
    if (p->allocs)
        p->allocs->prev = a;
    p->allocs = a;
    return a->data;
}

/* Create a process on scheduler s. parent is NULL for the first one. */
int oak__spawn_on(oak__sched *s, oak__proc *parent, oak_entry fn, void *arg,
                  oak_spawn_opts *opts, oak_pid *out)
{
    oak__runtime *rt = oak__rt;
    unsigned flags = opts ? opts->flags : 0;
    size_t stack_size = opts ? opts->stack_size : 0;
    if (!fn || (flags & ~(OAK_SPAWN_LINK | OAK_SPAWN_MONITOR | OAK_SPAWN_TRAP_EXIT)))
        return -EINVAL;
    if (stack_size && (stack_size < 16 * 1024 || stack_size > ((size_t)1 << 30)))
        return -EINVAL;
    if (opts && opts->arg_size && !arg)
        return -EINVAL;
    uint64_t slot;
    int rc = oak__slot_alloc(s, &slot);
    if (rc < 0)
        return rc;
    oak__proc *p = &rt->table[slot];
    uint32_t gen = p->gen;
    /* The wait numbers go on across incarnations: an entry a scheduler
     * still holds for the previous one cannot match. */
    /* Everything but wait_arm, which another scheduler's list of waits
     * to arm may still read (atomically) for the previous incarnation. */
    const size_t arm_at = offsetof(oak__proc, wait_arm);
    const size_t after_arm = arm_at + sizeof p->wait_arm;
    memset(&p->sp, 0, arm_at - offsetof(oak__proc, sp));
    if (sizeof *p > after_arm) /* the sanitizers' fields */
        memset((char *)p + after_arm, 0, sizeof *p - after_arm);
    p->gen = gen;
    p->wait.index = OAK__TIMER_IDLE;
    /* The first line's own fields (exit_detail is NULL since the last
     * death freed it). */
    p->fn = fn;
    p->arg = arg;
    p->exit_reason = 0;
    /* The stack comes when the process first runs (core/stack.h): only
     * its size is kept until then (at most 1 GiB, checked above). */
    p->stack_size = (uint32_t)stack_size;
    if (opts && opts->arg_size) {
        p->arg = alloc_owned(p, opts->arg_size);
        if (!p->arg) {
            rc = -ENOMEM;
            goto fail_slot;
        }
        memcpy(p->arg, arg, opts->arg_size);
    }
    oak_pid pid = oak__pid_make(slot, gen);
    oak_pid ppid = self_pid(parent);
    p->self = pid;
    if (flags & OAK_SPAWN_LINK) {
        if (oak__map_put(&p->links, ppid, 0) < 0 || oak__map_put(&parent->links, pid, 0) < 0) {
            rc = -ENOMEM;
            goto fail_maps;
        }
    }
    if (flags & OAK_SPAWN_MONITOR) {
        oak_ref ref = oak__ref_new();
        if (oak__map_put(&p->monitors_in, ref, ppid) < 0 ||
            oak__map_put(&parent->monitors_out, ref, pid) < 0) {
            oak__map_del(&parent->monitors_out, ref, NULL);
            rc = -ENOMEM;
            goto fail_maps;
        }
        opts->monitor_ref = ref;
    }
    p->trap_exit = (flags & OAK_SPAWN_TRAP_EXIT) != 0;
#ifdef OAK_TSAN
    p->tsan_fiber = __tsan_create_fiber(0);
#endif
    /* Open the inbox, then publish the pid (release): a sender that sees
     * the pid finds an open inbox. */
    atomic_store_explicit(&p->inbox, OAK__INBOX_EMPTY, memory_order_relaxed);
    atomic_store_explicit(&p->pid, pid, memory_order_release);
    oak__sched_live_add(s, 1);
    if (out)
        *out = pid;
    oak__sched_push(s, p);
    return 0;

fail_maps:
    if (parent)
        oak__map_del(&parent->links, pid, NULL);
    oak__map_free(&p->links);
    oak__map_free(&p->monitors_in);
    while (p->allocs) {
        oak__alloc *a = p->allocs;
        p->allocs = a->next;
        free(a);
    }
fail_slot:
    oak__slot_free(s, slot);
    return rc;
}

void oak__proc_first_frame(oak__proc *p)
{
    p->sp = oak__ctx_make(p->home->base + p->home->size, proc_main, p);
}

void oak__proc_no_stack(oak__proc *p)
{
    char who[OAK_ATOM_MAX_LEN + 64];
    oak_log(OAK_LOG_ERROR, "crash_report", "%s class=exit reason=system_limit cause=no_stack",
            oak__report_who(p->self, who, sizeof who));
    p->exit_reason = OAK_SYSTEM_LIMIT;
    oak__proc_dispose(p, true);
}

/* A spawn costs this many reductions: a process that spawns in a loop
 * yields now and then, so its children run (and their control blocks and
 * messages come back) instead of piling up. */
#define SPAWN_REDUCTIONS 10

int oak_spawn(oak_entry fn, void *arg, oak_spawn_opts *opts, oak_pid *pid)
{
    oak__proc *parent = self_blocking();
    if (!parent)
        return -EPERM;
    int rc = oak__spawn_on(parent->sched, parent, fn, arg, opts, pid);
    if (parent->reductions <= SPAWN_REDUCTIONS) {
        parent->reductions = 1;
        oak_yield();
    } else {
        parent->reductions -= SPAWN_REDUCTIONS;
    }
    return rc;
}

/* ---- death ------------------------------------------------------------------- */

static void free_list(oak__msg *m)
{
    while (m) {
        oak__msg *n = m->next;
        if (m->kind == OAK__SIG_ADOPT)
            run_adopted(m);
        oak__msg_delete(m);
        m = n;
    }
}

void oak__proc_dispose(oak__proc *p, bool notify)
{
    oak__runtime *rt = oak__rt;
    oak__sched *s = oak__sched_self();
    uint64_t slot = (uint64_t)(p - rt->table);
    oak_pid pid = p->self;
    oak_atom reason = p->exit_reason ? p->exit_reason : OAK_KILLED;
    const char *detail = p->exit_detail;

    /* Dead from now on for every lookup. */
    atomic_store_explicit(&p->pid, 0, memory_order_release);
    if (atomic_load_explicit(&p->name, memory_order_relaxed))
        oak__name_release(p, pid);

    /* Cleanups, newest first, in scheduler context with oak_self() = p. */
    oak__proc *was = s->current;
    s->current = p;
    p->in_cleanup = true;
    while (p->defers) {
        oak__defer *d = p->defers;
        p->defers = d->next;
        d->fn(d->arg);
        free(d);
    }
    s->current = was;
    while (p->allocs) {
        oak__alloc *a = p->allocs;
        p->allocs = a->next;
        free(a);
    }
    free_list(p->held);
    p->held = NULL;
    /* Killed in a wait on a descriptor: the wait ends here. */
    oak__netpoll_proc_dead(p);
    /* Teardown of a parked process: its wait's timer goes too. A process
     * that never waited with a timeout (no owner) has none, and skips the
     * locked instruction. */
    if (p->wait.owner && (end_wait(p, s) & OAK__WAIT_STATE) == OAK__WAIT_ARMED)
        oak__timer_cancel(&p->wait);

    /* Close the inbox: later pushes fail and their senders see `dead`. */
    oak__msg *list = atomic_exchange_explicit(&p->inbox, OAK__INBOX_CLOSED, memory_order_acquire);
    if (list == OAK__INBOX_PARKED)
        list = NULL;
    oak__msg *fifo = oak__msg_reverse(list);

    if (notify) {
        for (uint32_t i = 0; i < p->links.cap; i++)
            if (oak__map_live(&p->links, i))
                oak__send_exit_signal(p->links.slots[2 * i], pid, OAK__SIG_EXIT_LINK, 0, reason,
                                      detail, 0);
        for (uint32_t i = 0; i < p->monitors_in.cap; i++)
            if (oak__map_live(&p->monitors_in, i))
                oak__send_exit_signal(p->monitors_in.slots[2 * i + 1], pid, OAK__SIG_DOWN,
                                      p->monitors_in.slots[2 * i], reason, detail, 0);
        for (uint32_t i = 0; i < p->monitors_out.cap; i++)
            if (oak__map_live(&p->monitors_out, i))
                send_control(p->monitors_out.slots[2 * i + 1] & ~MONITOR_ALIAS, pid,
                             OAK__SIG_DEMONITOR, p->monitors_out.slots[2 * i]);
        /* Signals that were never acted on: links and monitors made to a
         * process that was already dying get `noproc`. */
        for (oak__msg *m = p->q_head; m;) {
            oak__msg *n = m->next;
            answer_dead(m, pid); /* all sent to this incarnation */
            m = n;
        }
        while (fifo) {
            oak__msg *n = fifo->next;
            answer_dead(fifo, fifo->to);
            fifo = n;
        }
    } else {
        free_list(p->q_head);
        free_list(fifo);
    }
    p->q_head = p->q_tail = p->q_mark = NULL;
    p->q_len = 0;
    /* Most short-lived processes have no tables: no calls then. */
    if (p->links.slots)
        oak__map_free(&p->links);
    if (p->monitors_in.slots)
        oak__map_free(&p->monitors_in);
    if (p->monitors_out.slots)
        oak__map_free(&p->monitors_out);
    ext_free(p);

    /* Its stack goes back to its slot's free list (at teardown, when the
     * slots are about to be unmapped, only its saved bytes are freed). */
    if (notify)
        oak__stack_release(s, p, reason == OAK_STACK_OVERFLOW);
    else
        oak__stack_forget(p);
#ifdef OAK_TSAN
    __tsan_destroy_fiber(p->tsan_fiber);
    p->tsan_fiber = NULL;
#endif
    bool is_main = p->is_main;
    if (p->exit_detail) {
        free(p->exit_detail);
        p->exit_detail = NULL;
    }
    p->gen = (p->gen + 1) & (uint32_t)OAK__GEN_MASK;
    oak__slot_free(s, slot);
    oak__sched_live_add(s, -1);
    if (is_main && notify)
        oak__runtime_stop(reason == OAK_NORMAL ? 0 : 1);
}

/* ---- receive ------------------------------------------------------------------ */

static inline __attribute__((always_inline)) bool park(oak__proc *p, int64_t *deadline,
                                                      int64_t rel_ns)
{
    p->wait.rel = rel_ns;
    p->rewoken = false; /* beside switch_reason, written next */
    p->wait.deadline = rel_ns ? *deadline : 0;
    oak__proc_switch_out(p, OAK__SW_PARK);
    if (!rel_ns)
        return false;
    /* End the wait: a pending one can no longer be armed; an armed timer
     * is taken out under its heap's lock (its index may be changing under
     * that lock right now, so only the lock may look at it). The wait's
     * fields are touched only after that: the arming reads them under the
     * same lock. */
    uint64_t was = end_wait(p, p->sched);
    bool expired = p->timed_out;
    p->timed_out = false;
    if ((was & OAK__WAIT_STATE) == OAK__WAIT_ARMED) {
        if (!expired)
            oak__timer_cancel(&p->wait);
        *deadline = p->wait.deadline;
    }
    p->wait.deadline = 0;
    p->wait.rel = 0;
    return expired;
}

bool oak__park(oak__proc *p, int64_t *deadline, int64_t rel_ns) { return park(p, deadline, rel_ns); }

/* A match function is the user's code, called in the middle of receive's
 * scan: it is not preempted (core/preempt.h). */
static bool matches(oak__msg *m, oak_match_fn match, void *arg)
{
    oak__preempt_off++;
    bool yes = match(&m->pub, arg);
    oak__preempt_off--;
    return yes;
}

/* Receive the first message that match accepts (match NULL: any), or with
 * ref != 0 the first that carries ref. Six arguments, all in registers, so
 * that oak_receive() and oak_receive_ref() end in a jump to it: a process
 * resumed here then returns straight to its caller, and a return whose
 * prediction the switch spoiled (the return stack is the previous
 * process's) costs one frame fewer. */
static int receive(oak__proc *p, oak_msg **out, int64_t timeout_ms, oak_match_fn match, void *arg,
                   oak_ref ref)
{
    bool by_ref = ref != 0;
    if (timeout_ms < 0 && timeout_ms != OAK_INFINITY)
        return -EINVAL;
    /* The deadline is fixed when the wait's timer is armed (lazily, by the
     * scheduler), or by a second wait in this receive when the first ended
     * unarmed: a receive that a message ends soon never reads the clock. */
    int64_t deadline = 0;
    bool waited = false;
    oak__msg *scan = p->q_head;
    if (by_ref && p->q_mark_ref == ref)
        scan = p->q_mark ? p->q_mark->next : p->q_head;
    bool expired = false;
    for (;;) {
        for (oak__msg *m = scan; m; m = m->next) {
            if (by_ref ? m->pub.ref == ref : (!match || matches(m, match, arg))) {
                oak__queue_remove(p, m);
                hold(p, m);
                *out = &m->pub;
                return 0;
            }
        }
        oak__msg *last = p->q_tail;
        if (oak__drain(p) > 0) {
            scan = last ? last->next : p->q_head;
            continue;
        }
        scan = NULL;
        if (expired || timeout_ms == 0)
            return -ETIMEDOUT;
        int64_t rel = oak__timeout_ns(timeout_ms);
        if (rel && waited) {
            int64_t now = oak__now_ns();
            if (!deadline)
                deadline = now + rel;
            else if (now >= deadline)
                return -ETIMEDOUT;
        }
        /* A sender that wakes the process may have put the message
         * straight into the mailbox (deliver_parked): look from here. */
        oak__msg *before = p->q_tail;
        expired = park(p, &deadline, rel);
        waited = true;
        scan = before ? before->next : p->q_head;
    }
}

int oak_receive(oak_msg **msg, int64_t timeout_ms, oak_match_fn match, void *arg)
{
    if (!msg)
        return -EINVAL;
    oak__proc *p = self_blocking();
    if (!p)
        return -EPERM;
    return receive(p, msg, timeout_ms, match, arg, 0);
}

int oak_receive_ref(oak_msg **msg, oak_ref ref, int64_t timeout_ms)
{
    if (!msg || ref == 0)
        return -EINVAL;
    oak__proc *p = self_blocking();
    if (!p)
        return -EPERM;
    return receive(p, msg, timeout_ms, NULL, NULL, ref);
}

static bool match_none(const oak_msg *m, void *arg)
{
    (void)m;
    (void)arg;
    return false;
}

int oak_sleep(int64_t ms)
{
    if (ms < 0 && ms != OAK_INFINITY)
        return -EINVAL;
    oak__proc *p = self_blocking();
    if (!p)
        return -EPERM;
    oak_msg *m;
    receive(p, &m, ms, match_none, NULL, 0);
    return 0;
}

/* A new reference made by the running process p, which also becomes its
 * receive marker: a message carrying it can only be sent after this, so
 * it can only come after the current end of the queue. */
static oak_ref make_ref(oak__proc *p)
{
    oak_ref ref = oak__ref_new_on(p->sched);
    p->q_mark = p->q_tail;
    p->q_mark_ref = ref;
    return ref;
}

static oak_ref oak_make_ref_in_runtime(void)
{
    oak__proc *p = oak__proc_self();
    return p ? make_ref(p) : oak__ref_new();
}

oak_ref oak_make_ref(void)
{
    if (!oak__rt_enter())
        return 0;
    oak_ref r = oak_make_ref_in_runtime();
    oak__rt_leave();
    return r;
}

size_t oak_message_count(void)
{
    oak__proc *p = self_blocking();
    if (!p)
        return 0;
    oak__drain(p);
    return p->q_len;
}

/* ---- exit signals, links, monitors ------------------------------------------- */

int oak_trap_exit(bool on)
{
    oak__proc *p = oak__proc_self();
    if (!p)
        return -EPERM;
    int old = p->trap_exit;
    p->trap_exit = on;
    return old;
}

static int oak_exit_pid_detail_in_runtime(oak_pid pid, oak_atom reason, const char *detail)
{
    if (pid == OAK_NOPID || !oak_atom_name(reason))
        return -EINVAL;
    if (!oak__rt)
        return -ESRCH;
    oak__proc *self = self_blocking();
    oak_pid me = self_pid(self);
    oak__msg *m = exit_item(pid, me, OAK__SIG_EXIT, 0, reason, detail, 0);
    if (!m)
        return -ENOMEM;
    if (deliver_exit_item(m, reason) && pid == me)
        oak__drain(self); /* a signal to oneself takes effect at once */
    return 0;
}

int oak_exit_pid_detail(oak_pid pid, oak_atom reason, const char *detail)
{
    if (!oak__rt_enter())
        return -ESRCH;
    int r = oak_exit_pid_detail_in_runtime(pid, reason, detail);
    oak__rt_leave();
    return r;
}

int oak_exit_pid(oak_pid pid, oak_atom reason) { return oak_exit_pid_detail(pid, reason, NULL); }

int oak_link(oak_pid pid)
{
    oak__proc *p = self_blocking();
    if (!p)
        return -EPERM;
    if (pid == OAK_NOPID)
        return -EINVAL;
    oak_pid me = self_pid(p);
    if (pid == me || oak__map_get(&p->links, pid, NULL))
        return 0;
    if (oak__map_put(&p->links, pid, 0) < 0)
        return -ENOMEM;
    int rc = send_control(pid, me, OAK__SIG_LINK, 0);
    if (rc == -ENOMEM) {
        oak__map_del(&p->links, pid, NULL);
        return rc;
    }
    if (rc == 0)
        return 0;
    oak__map_del(&p->links, pid, NULL);
    if (!p->trap_exit)
        return -ESRCH;
    oak__drain(p);
    oak__msg *m = exit_item(me, pid, OAK__SIG_EXIT_LINK, 0, OAK_NOPROC, NULL, 0);
    if (!m)
        return -ENOMEM;
    queue_append(p, m);
    return 0;
}

int oak_unlink(oak_pid pid)
{
    oak__proc *p = self_blocking();
    if (!p)
        return -EPERM;
    if (oak__map_del(&p->links, pid, NULL))
        send_control(pid, self_pid(p), OAK__SIG_UNLINK, 0);
    return 0;
}

/* pid was dead when p began to monitor it with ref: the DOWN (noproc)
 * comes at once, after whatever is in the inbox. */
static void down_noproc(oak__proc *p, oak_pid pid, oak_ref ref, oak_atom name)
{
    oak__drain(p);
    oak__msg *m = exit_item(self_pid(p), pid, OAK__SIG_DOWN, ref, OAK_NOPROC, NULL, name);
    if (m)
        queue_append(p, m);
}

/* Monitor pid (or name's pid); with `alias` the reference is also an alias
 * that ends with the monitor. */
static oak_ref monitor(oak__proc *p, oak_pid pid, oak_atom name, bool alias)
{
    oak_ref ref = make_ref(p);
    oak_pid me = self_pid(p);
    uint64_t value = pid | (alias ? MONITOR_ALIAS : 0);
    if (pid == me) {
        /* Monitoring oneself: Erlang allows it; the DOWN would come at
         * death, when nobody can receive it. Keep the monitor. */
        if (oak__map_put(&p->monitors_out, ref, value) == 0 &&
            oak__map_put(&p->monitors_in, ref, me) == 0) {
            if (name)
                name_monitor_put(p, ref, name);
            return ref;
        }
        oak__map_del(&p->monitors_out, ref, NULL);
    } else if (pid != OAK_NOPID && oak__map_put(&p->monitors_out, ref, value) == 0) {
        uint64_t remote_name = pid >> OAK__NODE_SHIFT ? name : 0;
        if (send_control_tagged(pid, me, OAK__SIG_MONITOR, ref, remote_name) == 0) {
            if (name)
                name_monitor_put(p, ref, name);
            return ref;
        }
        oak__map_del(&p->monitors_out, ref, NULL);
    }
    down_noproc(p, pid, ref, name);
    return ref;
}

int oak_send_request(oak_pid to, uint64_t tag, const void *data, size_t size, oak_ref *ref)
{
    oak__proc *p = self_blocking();
    if (!p)
        return -EPERM;
    if (!ref || to == OAK_NOPID || (tag >> 63) || (size && !data))
        return -EINVAL;
    oak_pid me = self_pid(p);
    if (to == me) {
        /* To oneself: the monitor (kept, see monitor()), then the message. */
        *ref = monitor(p, to, 0, true);
        return oak_send_ref(to, *ref, tag, data, size);
    }
    oak__sched *s = p->sched;
    oak_ref r = make_ref(p); /* also the receive marker */
    oak__msg *m = new_item(s, me, to, r, tag, data, size, OAK__SIG_REQUEST);
    if (!m)
        return -ENOMEM;
    if (oak__map_add(&p->monitors_out, r, to | MONITOR_ALIAS) < 0) {
        oak__msg_release(s, m);
        return -ENOMEM;
    }
    if (oak__deliver_from(s, m) < 0) {
        oak__msg_release(s, m);
        oak__map_del(&p->monitors_out, r, NULL);
        down_noproc(p, to, r, 0);
    }
    *ref = r;
    if (--p->reductions == 0)
        oak_yield();
    return 0;
}

oak_ref oak_monitor(oak_pid pid)
{
    oak__proc *p = self_blocking();
    return p ? monitor(p, pid, 0, false) : 0;
}

oak_ref oak_monitor_alias(oak_pid pid)
{
    oak__proc *p = self_blocking();
    return p ? monitor(p, pid, 0, true) : 0;
}

oak_ref oak_alias(void)
{
    oak__proc *p = self_blocking();
    if (!p)
        return 0;
    oak__proc_ext *e = oak__proc_ext_get(p);
    if (!e)
        return 0;
    oak_ref ref = make_ref(p);
    if (oak__map_put(&e->aliases, ref, 1) < 0)
        return 0;
    return ref;
}

int oak_unalias(oak_ref alias)
{
    oak__proc *p = self_blocking();
    if (!p)
        return -EPERM;
    if (p->ext && oak__map_del(&p->ext->aliases, alias, NULL))
        return 0;
    uint64_t v;
    if (oak__map_get(&p->monitors_out, alias, &v) && (v & MONITOR_ALIAS)) {
        oak__map_put(&p->monitors_out, alias, v & ~MONITOR_ALIAS); /* the monitor stays */
        return 0;
    }
    return -ENOENT;
}

oak_ref oak__remote_monitor_name(oak_pid node, oak_atom name)
{
    oak__proc *p = self_blocking();
    if (!p || !name || !(node >> OAK__NODE_SHIFT))
        return 0;
    return monitor(p, node, name, false);
}

oak_ref oak_monitor_name(oak_atom name)
{
    oak__proc *p = self_blocking();
    if (!p || !oak_atom_name(name))
        return 0;
    return monitor(p, oak_whereis(name), name, false);
}

int oak_demonitor(oak_ref ref, unsigned flags)
{
    oak__proc *p = self_blocking();
    if (!p)
        return -EPERM;
    if (flags & ~(OAK_DEMONITOR_FLUSH | OAK_DEMONITOR_INFO))
        return -EINVAL;
    uint64_t target = 0;
    /* Empty tables are common here (a call's reply has ended its monitor
     * already): no call for them. */
    bool active = p->monitors_out.len && oak__map_del(&p->monitors_out, ref, &target);
    target &= ~MONITOR_ALIAS; /* the alias, if any, ends with the monitor */
    name_monitor_take(p, ref);
    if (active) {
        oak_pid me = self_pid(p);
        if (target == me)
            oak__map_del(&p->monitors_in, ref, NULL);
        else
            send_control(target, me, OAK__SIG_DEMONITOR, ref);
    }
    if (flags & OAK_DEMONITOR_FLUSH) {
        /* A monitor that had already ended left its DOWN (if any) in the
         * private queue when it was drained; only an active one can have
         * a DOWN still in the inbox. */
        if (active)
            oak__drain(p);
        /* A DOWN for ref cannot be older than the mark made with ref. */
        oak__msg *from = p->q_head;
        if (p->q_mark_ref == ref)
            from = p->q_mark ? p->q_mark->next : p->q_head;
        for (oak__msg *m = from; m;) {
            oak__msg *n = m->next;
            if (m->pub.tag == OAK_TAG_DOWN && m->pub.ref == ref) {
                oak__queue_remove(p, m);
                oak__msg_delete(m);
            }
            m = n;
        }
    }
    return (flags & OAK_DEMONITOR_INFO) ? (active ? 1 : 0) : 0;
}

/* ---- resources ------------------------------------------------------------------ */

int oak_defer(void (*fn)(void *), void *arg)
{
    oak__proc *p = self_blocking();
    if (!p)
        return -EPERM;
    if (!fn)
        return -EINVAL;
    oak__defer *d = malloc(sizeof *d);
    if (!d)
        return -ENOMEM;
    d->fn = fn;
    d->arg = arg;
    d->handle = ++p->next_defer;
    d->next = p->defers;
    p->defers = d;
    return d->handle;
}

int oak_undefer(int handle, bool run)
{
    oak__proc *p = self_blocking();
    if (!p)
        return -EPERM;
    for (oak__defer **dp = &p->defers; *dp; dp = &(*dp)->next) {
        oak__defer *d = *dp;
        if (d->handle == handle) {
            *dp = d->next;
            if (run)
                d->fn(d->arg);
            free(d);
            return 0;
        }
    }
    return -ENOENT;
}

int oak__undefer_arg(oak__proc *p, void (*fn)(void *), void *arg)
{
    for (oak__defer **dp = &p->defers; *dp; dp = &(*dp)->next) {
        oak__defer *d = *dp;
        if (d->fn == fn && d->arg == arg) {
            *dp = d->next;
            free(d);
            return 0;
        }
    }
    return -ENOENT;
}

int oak__proc_adopt(oak_pid to, void (*fn)(void *), void *arg)
{
    oak__adopt a = {fn, arg};
    oak__msg *m = oak__msg_new(sizeof a);
    if (!m)
        return -ENOMEM;
    memcpy(m->payload, &a, sizeof a);
    m->to = to;
    m->kind = OAK__SIG_ADOPT;
    m->pub.from = oak_self();
    int rc = oak__deliver(m);
    if (rc < 0)
        oak__msg_delete(m);
    return rc;
}

void *oak_alloc(size_t size)
{
    oak__proc *p = oak__proc_self();
    return p ? alloc_owned(p, size) : NULL;
}

void oak_free(void *ptr)
{
    if (!ptr)
        return;
    oak__alloc *a = (oak__alloc *)((char *)ptr - offsetof(oak__alloc, data));
    oak__proc *p = oak__proc_self();
    if (p) {
        if (a->prev)
            a->prev->next = a->next;
        else if (p->allocs == a)
            p->allocs = a->next;
        if (a->next)
            a->next->prev = a->prev;
    }
    free(a);
}

int oak_process_info_self(oak_process_info *info)
{
    oak__proc *p = self_blocking();
    if (!p)
        return -EPERM;
    if (!info)
        return -EINVAL;
    oak__drain(p);
    info->name = atomic_load_explicit(&p->name, memory_order_relaxed);
    info->message_queue = p->q_len;
    info->links = p->links.len;
    info->monitors = p->monitors_out.len;
    info->monitored_by = p->monitors_in.len;
    info->trap_exit = p->trap_exit;
    return 0;
}
