/* netpoll.c - see netpoll.h and docs/design/netpoll.md.
 *
 * An epoll event's data is one of:
 *   WAKE_DATA            the eventfd that wakes the blocked scheduler
 *   REC_BIT|gen<<32|fd   edge-triggered registration of fd's record gen
 *   slot<<32|seq         a one-shot wait: the waiter's token
 * (slots are below 2^28, so a token never has REC_BIT set).
 *
 * A waiter's token names its table slot and the number of its wait, which
 * lives in the top half of p->fd_wait (the bottom half gathers the events
 * seen for it). Waking a token is a CAS on that word that succeeds only
 * while the number is still the one in the token: an event of an older
 * wait, or of a dead incarnation's, changes nothing.
 */
#include "core/netpoll.h"

#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "oak/io.h"
#include "oak/log.h"
#include "oak/net.h"

#define WAKE_DATA UINT64_MAX
#define REC_BIT (UINT64_C(1) << 63)
#define GEN_MASK UINT32_C(0x7fffffff)

/* A record's reader or writer word (rg, wg): */
#define RG_NONE UINT64_C(0)  /* nobody waits, no edge kept               */
#define RG_READY UINT64_C(1) /* an edge came since the last one taken     */
/* ASYNC_BIT | pid: armed for active mode, for that owner (pids are below
 * 2^56) */
#define ASYNC_BIT (UINT64_C(1) << 63)
/* anything else: the token of the parked waiter (slot << 32 | seq, with
 * slot >= 1, so always above RG_READY) */

/* The wait record of an owned descriptor. Type-stable: records are never
 * freed while the runtime runs, so a late event may always look at one. */
typedef struct rec {
    _Atomic uint64_t rg;  /* reader: any thread, CAS/exchange (see top)  */
    _Atomic uint64_t wg;  /* writer: the same                             */
    _Atomic uint32_t gen; /* registration number, odd while registered:
                           * stored by the owner (open/close, release),
                           * read by pollers (acquire)                    */
    uint32_t unused;
    oak__fd_owner own;    /* the opener's (netpoll.h)                      */
} rec;

#define CHUNK 1024u
#define MAX_FDS (1u << 20) /* records exist for fds below this           */

static struct {
    int epfd, evfd;                 /* set at init, closed at term       */
    _Atomic(rec *) chunks[MAX_FDS / CHUNK]; /* made on first use (CAS)   */
    _Atomic int waiters;            /* waits in progress and records armed
                                     * for active mode (hint)            */
    _Atomic bool polling;           /* a non-blocking poll is running    */
    _Atomic bool blocked;           /* a scheduler has the blocking role */
    _Atomic bool wake_sig;          /* the eventfd was written, unread   */
} np = {.epfd = -1, .evfd = -1};

int oak__netpoll_init(void)
{
    np.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (np.epfd < 0)
        return -errno;
    np.evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (np.evfd < 0) {
        int e = -errno;
        close(np.epfd);
        np.epfd = -1;
        return e;
    }
    /* Level-triggered: only the blocked scheduler reads it, and a
     * non-blocking poll that sees it leaves it for that one. */
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_DATA};
    if (epoll_ctl(np.epfd, EPOLL_CTL_ADD, np.evfd, &ev) != 0) {
        int e = -errno;
        oak__netpoll_term();
        return e;
    }
    atomic_store_explicit(&np.waiters, 0, memory_order_relaxed);
    atomic_store_explicit(&np.polling, false, memory_order_relaxed);
    atomic_store_explicit(&np.blocked, false, memory_order_relaxed);
    atomic_store_explicit(&np.wake_sig, false, memory_order_relaxed);
    return 0;
}

void oak__netpoll_term(void)
{
    if (np.epfd >= 0)
        close(np.epfd);
    if (np.evfd >= 0)
        close(np.evfd);
    np.epfd = np.evfd = -1;
    for (unsigned i = 0; i < MAX_FDS / CHUNK; i++) {
        free(atomic_load_explicit(&np.chunks[i], memory_order_relaxed));
        atomic_store_explicit(&np.chunks[i], NULL, memory_order_relaxed);
    }
}

/* fd's record, or NULL; with `make`, its chunk is made if missing. */
static rec *rec_of(int fd, bool make)
{
    if (fd < 0 || (unsigned)fd >= MAX_FDS)
        return NULL;
    _Atomic(rec *) *cp = &np.chunks[(unsigned)fd / CHUNK];
    /* Acquire: pairs with the release CAS that published the chunk. */
    rec *c = atomic_load_explicit(cp, memory_order_acquire);
    if (!c && make) {
        rec *n = calloc(CHUNK, sizeof *n);
        if (!n)
            return NULL;
        if (atomic_compare_exchange_strong_explicit(cp, &c, n, memory_order_acq_rel,
                                                    memory_order_acquire))
            c = n;
        else
            free(n); /* another made it first: c is theirs */
    }
    return c ? &c[(unsigned)fd % CHUNK] : NULL;
}

/* ---- waits and tokens ---- */

uint64_t oak__netpoll_wait_begin(oak__proc *p)
{
    uint64_t w = atomic_load_explicit(&p->fd_wait, memory_order_relaxed);
    uint32_t seq = (uint32_t)(w >> 32) + 1;
    /* Release: a poller that sees this number sees the cleared events. */
    atomic_store_explicit(&p->fd_wait, (uint64_t)seq << 32, memory_order_release);
    /* Relaxed: a count that only tells schedulers whether to poll; this
     * scheduler sees its own increment before it next looks. */
    atomic_fetch_add_explicit(&np.waiters, 1, memory_order_relaxed);
    return (uint64_t)(p - oak__rt->table) << 32 | seq;
}

unsigned oak__netpoll_wait_events(oak__proc *p)
{
    /* Acquire: pairs with the waker's CAS. */
    return (unsigned)(atomic_load_explicit(&p->fd_wait, memory_order_acquire) & 0xffffffffu);
}

void oak__netpoll_wait_end(oak__proc *p)
{
    uint64_t w = atomic_load_explicit(&p->fd_wait, memory_order_relaxed);
    uint32_t seq = (uint32_t)(w >> 32) + 1;
    /* Release: the next number; a waker's CAS against the old one fails
     * from here on. */
    atomic_store_explicit(&p->fd_wait, (uint64_t)seq << 32, memory_order_release);
    atomic_fetch_sub_explicit(&np.waiters, 1, memory_order_relaxed);
}

void oak__netpoll_proc_dead(oak__proc *p)
{
    /* Numbers are odd inside a wait (begin and end each add one). */
    if ((atomic_load_explicit(&p->fd_wait, memory_order_relaxed) >> 32) & 1)
        oak__netpoll_wait_end(p);
}

bool oak__netpoll_pending(void)
{
    return atomic_load_explicit(&np.waiters, memory_order_relaxed) > 0;
}

static oak__proc *token_proc(uint64_t token)
{
    uint64_t slot = token >> 32;
    if (slot == 0 || slot >= oak__rt->cfg.max_processes)
        return NULL;
    return &oak__rt->table[slot];
}

/* Is the wait that token names over (or never was)? */
static bool token_stale(uint64_t token)
{
    oak__proc *p = token_proc(token);
    return !p || (uint32_t)(atomic_load_explicit(&p->fd_wait, memory_order_acquire) >> 32) !=
                     (uint32_t)token;
}

/* Report `ev` to the wait that token names, and wake its process the
 * first time. */
static void wake_token(oak__sched *s, uint64_t token, unsigned ev)
{
    oak__proc *p = token_proc(token);
    if (!p)
        return;
    uint64_t w = atomic_load_explicit(&p->fd_wait, memory_order_acquire);
    do {
        if ((uint32_t)(w >> 32) != (uint32_t)token)
            return; /* an older wait */
        if ((w | ev) == w)
            return; /* nothing new */
        /* Release: the woken process reads the events after the item;
         * acquire on failure: we look at the new word. */
    } while (!atomic_compare_exchange_weak_explicit(&p->fd_wait, &w, w | ev, memory_order_acq_rel,
                                                    memory_order_acquire));
    if (w & 0xffffffffu)
        return; /* woken already by an earlier event of this wait */
    oak_pid pid = atomic_load_explicit(&p->pid, memory_order_acquire);
    if (!pid)
        return;
    /* Through the inbox, like a message: whether the process is parked
     * already or about to park, it cannot miss this (docs/design/mailbox.md).
     * From a scheduler, the process joins that scheduler's run queue. */
    oak__msg *m = oak__msg_alloc(s, 0);
    if (!m)
        return; /* its timeout, if any, still ends the wait */
    m->to = pid;
    m->kind = OAK__SIG_FD_READY;
    if (oak__deliver_from(s, m) < 0)
        oak__msg_release(s, m);
}

/* `old` is a record word just taken out: wake its waiter, or count an
 * arming for active mode gone (its item, if any, is the caller's). */
static void wake_word(oak__sched *s, uint64_t old, unsigned ev)
{
    if (old & ASYNC_BIT) /* an arming taken out */
        atomic_fetch_sub_explicit(&np.waiters, 1, memory_order_relaxed);
    else if (old > RG_READY)
        wake_token(s, old, ev);
}

/* The payload of an FD_ACTIVE item. */
typedef struct active_item {
    uint32_t fd, gen;
} active_item;

/* Tell owner `pid` that fd (registration gen) is readable. */
static void send_active(oak__sched *s, oak_pid pid, int fd, uint32_t gen)
{
    oak__msg *m = oak__msg_alloc(s, sizeof(active_item));
    if (!m) {
        oak_log(OAK_LOG_ERROR, "runtime", "event=out_of_memory lost=active_socket_data fd=%d", fd);
        return;
    }
    active_item a = {(uint32_t)fd, gen};
    memcpy(m->payload, &a, sizeof a);
    m->to = pid;
    m->kind = OAK__SIG_FD_ACTIVE;
    if (oak__deliver_from(s, m) < 0)
        oak__msg_release(s, m); /* the owner is gone: its cleanup closes fd */
}

static void dispatch(oak__sched *s, const struct epoll_event *e)
{
    uint64_t d = e->data.u64;
    if (d == WAKE_DATA)
        return; /* the blocked scheduler reads it (oak__netpoll_block) */
    unsigned rd = (e->events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP | EPOLLPRI)) ? OAK_FD_READ : 0;
    unsigned wr = (e->events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) ? OAK_FD_WRITE : 0;
    if (!(d & REC_BIT)) {
        wake_token(s, d, (rd | wr) ? (rd | wr) : OAK_FD_READ);
        return;
    }
    rec *r = rec_of((int)(uint32_t)d, false);
    /* Acquire: pairs with open's release; a closed or reopened record
     * has another number. */
    if (!r || (atomic_load_explicit(&r->gen, memory_order_acquire) & GEN_MASK) !=
                  (uint32_t)(d >> 32 & GEN_MASK))
        return;
    /* Acq_rel exchange: the edge is kept for a waiter to come, or handed
     * to the one parked (whose token we take out in the same step). */
    if (rd) {
        /* An owner armed for active mode is told (the word goes back to
         * NONE: one message per arming); a parked reader is woken; with
         * nobody there, the edge is kept. Acq_rel as for the writer. */
        uint64_t old = atomic_load_explicit(&r->rg, memory_order_acquire);
        while (!atomic_compare_exchange_weak_explicit(&r->rg, &old,
                                                      (old & ASYNC_BIT) ? RG_NONE : RG_READY,
                                                      memory_order_acq_rel, memory_order_acquire))
            ;
        if (old & ASYNC_BIT)
            send_active(s, (oak_pid)(old & ~ASYNC_BIT), (int)(uint32_t)d,
                        (uint32_t)(d >> 32) & GEN_MASK);
        wake_word(s, old, OAK_FD_READ);
    }
    if (wr)
        wake_word(s, atomic_exchange_explicit(&r->wg, RG_READY, memory_order_acq_rel), OAK_FD_WRITE);
}

#define BATCH 128

int oak__netpoll_poll(oak__sched *s)
{
    if (np.epfd < 0)
        return 0;
    /* One at a time: a second poller would only find the same set empty.
     * Acquire/release: nothing is published through the flag, but the
     * pair keeps the polls of two schedulers apart. */
    if (atomic_load_explicit(&np.polling, memory_order_relaxed) ||
        atomic_exchange_explicit(&np.polling, true, memory_order_acquire))
        return 0;
    struct epoll_event ev[BATCH];
    int n = epoll_wait(np.epfd, ev, BATCH, 0);
    for (int i = 0; i < n; i++)
        dispatch(s, &ev[i]);
    atomic_store_explicit(&np.polling, false, memory_order_release);
    return n > 0 ? n : 0;
}

bool oak__netpoll_block_begin(oak__sched *s)
{
    (void)s;
    if (np.epfd < 0 || !oak__netpoll_pending() ||
        atomic_load_explicit(&np.blocked, memory_order_relaxed))
        return false;
    bool no = false;
    /* Acquire: the last blocker's reads of the eventfd come before ours. */
    return atomic_compare_exchange_strong_explicit(&np.blocked, &no, true, memory_order_acquire,
                                                   memory_order_relaxed);
}

void oak__netpoll_block(oak__sched *s, int64_t deadline)
{
    int ms = -1;
    if (deadline != INT64_MAX) {
        int64_t d = deadline - oak__now_ns();
        if (d <= 0)
            ms = 0;
        else if (d >= (int64_t)INT32_MAX * 1000000)
            ms = INT32_MAX;
        else
            ms = (int)((d + 999999) / 1000000); /* never early */
    }
    struct epoll_event ev[BATCH];
    int n = epoll_wait(np.epfd, ev, BATCH, ms);
    /* Acq_rel: a waker's write is seen, and a later waker writes anew. */
    if (atomic_exchange_explicit(&np.wake_sig, false, memory_order_acq_rel)) {
        uint64_t v;
        ssize_t r = read(np.evfd, &v, sizeof v);
        (void)r;
    }
    for (int i = 0; i < n; i++)
        dispatch(s, &ev[i]);
    /* Release: pairs with the next blocker's acquire. */
    atomic_store_explicit(&np.blocked, false, memory_order_release);
}

void oak__netpoll_wake(void)
{
    /* Acq_rel: one write per reading of the eventfd is enough. */
    if (np.evfd >= 0 && !atomic_exchange_explicit(&np.wake_sig, true, memory_order_acq_rel)) {
        uint64_t one = 1;
        ssize_t w = write(np.evfd, &one, sizeof one);
        (void)w;
    }
}

/* ---- one-shot waits ---- */

int oak__netpoll_arm_oneshot(int fd, unsigned events, uint64_t token)
{
    struct epoll_event ev = {.events = EPOLLONESHOT | EPOLLRDHUP, .data.u64 = token};
    if (events & OAK_FD_READ)
        ev.events |= EPOLLIN;
    if (events & OAK_FD_WRITE)
        ev.events |= EPOLLOUT;
    if (epoll_ctl(np.epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
        return 0;
    if (errno == ENOENT && epoll_ctl(np.epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
        return 0;
    if (errno == EPERM)
        return 1; /* a regular file: always ready, as poll(2) says */
    return -errno;
}

/* ---- records ---- */

int oak__netpoll_open(int fd)
{
    if (fd < 0)
        return -EBADF;
    rec *r = rec_of(fd, true);
    if (!r)
        return (unsigned)fd >= MAX_FDS ? -EMFILE : -ENOMEM;
    uint32_t g = atomic_load_explicit(&r->gen, memory_order_relaxed);
    if (g & 1)
        return -EEXIST; /* registered already */
    g++;
    atomic_store_explicit(&r->rg, RG_NONE, memory_order_relaxed);
    atomic_store_explicit(&r->wg, RG_NONE, memory_order_relaxed);
    /* Release: a poller that sees the new number sees the cleared words. */
    atomic_store_explicit(&r->gen, g, memory_order_release);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.u64 = REC_BIT | (uint64_t)(g & GEN_MASK) << 32 | (uint32_t)fd};
    if (epoll_ctl(np.epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        int e = -errno;
        atomic_store_explicit(&r->gen, g + 1, memory_order_release);
        return e;
    }
    return 0;
}

bool oak__netpoll_is_open(int fd)
{
    rec *r = rec_of(fd, false);
    return r && (atomic_load_explicit(&r->gen, memory_order_acquire) & 1);
}

uint32_t oak__netpoll_gen(int fd)
{
    rec *r = rec_of(fd, false);
    return r ? atomic_load_explicit(&r->gen, memory_order_acquire) : 0;
}

oak__fd_owner *oak__netpoll_owner(int fd)
{
    rec *r = rec_of(fd, false);
    return r && (atomic_load_explicit(&r->gen, memory_order_acquire) & 1) ? &r->own : NULL;
}

void oak__netpoll_close(int fd)
{
    rec *r = rec_of(fd, false);
    if (!r)
        return;
    uint32_t g = atomic_load_explicit(&r->gen, memory_order_relaxed);
    if (!(g & 1))
        return;
    /* Release: from here every event of this registration is ignored. */
    atomic_store_explicit(&r->gen, g + 1, memory_order_release);
    epoll_ctl(np.epfd, EPOLL_CTL_DEL, fd, NULL);
    /* A waiter parked by another process finds out by trying its fd. */
    oak__sched *s = oak__sched_self();
    wake_word(s, atomic_exchange_explicit(&r->rg, RG_NONE, memory_order_acq_rel), OAK_FD_READ);
    wake_word(s, atomic_exchange_explicit(&r->wg, RG_NONE, memory_order_acq_rel), OAK_FD_WRITE);
}

/* Park token in word *w, or take an edge kept there. Returns 1 (edge
 * taken), 0 (parked) or -EBUSY. */
static int park_word(_Atomic uint64_t *w, uint64_t token)
{
    uint64_t old = atomic_load_explicit(w, memory_order_acquire);
    for (;;) {
        uint64_t want;
        if (old == RG_READY)
            want = RG_NONE;
        else if (old & ASYNC_BIT)
            return -EBUSY; /* armed for active mode */
        else if (old == RG_NONE || token_stale(old))
            want = token;
        else
            return -EBUSY;
        /* Acq_rel: taking an edge orders the caller's next read after
         * the poller's exchange; parking publishes the token. */
        if (atomic_compare_exchange_weak_explicit(w, &old, want, memory_order_acq_rel,
                                                  memory_order_acquire))
            return old == RG_READY ? 1 : 0;
    }
}

int oak__netpoll_rec_begin(int fd, unsigned events, uint64_t token)
{
    rec *r = rec_of(fd, false);
    if (!r || !(atomic_load_explicit(&r->gen, memory_order_acquire) & 1))
        return -EBADF;
    int ready = 0;
    if (events & OAK_FD_READ) {
        int rc = park_word(&r->rg, token);
        if (rc < 0)
            return rc;
        if (rc)
            ready |= OAK_FD_READ;
    }
    if (events & OAK_FD_WRITE) {
        int rc = park_word(&r->wg, token);
        if (rc < 0) {
            oak__netpoll_rec_end(fd, events & OAK_FD_READ);
            return rc;
        }
        if (rc)
            ready |= OAK_FD_WRITE;
    }
    return ready;
}

/* Take token (or a kept edge) out of *w. */
static bool unpark_word(_Atomic uint64_t *w, uint64_t token)
{
    uint64_t old = atomic_load_explicit(w, memory_order_acquire);
    while (old == token || old == RG_READY) {
        /* Acq_rel: as in park_word(). */
        if (atomic_compare_exchange_weak_explicit(w, &old, RG_NONE, memory_order_acq_rel,
                                                  memory_order_acquire))
            return old == RG_READY;
    }
    return false;
}

unsigned oak__netpoll_rec_end(int fd, unsigned events)
{
    rec *r = rec_of(fd, false);
    oak__proc *p = oak__proc_self();
    if (!r || !p)
        return 0;
    uint64_t w = atomic_load_explicit(&p->fd_wait, memory_order_relaxed);
    uint64_t token = (uint64_t)(p - oak__rt->table) << 32 | (uint32_t)(w >> 32);
    unsigned ready = 0;
    if ((events & OAK_FD_READ) && unpark_word(&r->rg, token))
        ready |= OAK_FD_READ;
    if ((events & OAK_FD_WRITE) && unpark_word(&r->wg, token))
        ready |= OAK_FD_WRITE;
    return ready;
}

/* ---- active mode ---- */

int oak__netpoll_active_once(oak_pid owner, int fd)
{
    rec *r = rec_of(fd, false);
    uint32_t g = r ? atomic_load_explicit(&r->gen, memory_order_acquire) : 0;
    if (!(g & 1))
        return -EBADF;
    atomic_store_explicit(&r->own.active, true, memory_order_relaxed);
    uint64_t armed = ASYNC_BIT | owner;
    uint64_t old = atomic_load_explicit(&r->rg, memory_order_acquire);
    for (;;) {
        uint64_t want;
        if (old == RG_READY)
            want = RG_NONE; /* an edge is here: deliver at once */
        else if (old == RG_NONE || (old & ASYNC_BIT) || token_stale(old))
            want = armed;
        else
            return -EBUSY;
        /* Release: a poller that takes the armed word sees the tag. */
        if (atomic_compare_exchange_weak_explicit(&r->rg, &old, want, memory_order_acq_rel,
                                                  memory_order_acquire))
            break;
    }
    if (old == RG_READY)
        send_active(oak__sched_self(), owner, fd, g & GEN_MASK);
    else if (!(old & ASYNC_BIT)) /* newly armed: pollers must look */
        atomic_fetch_add_explicit(&np.waiters, 1, memory_order_relaxed);
    return 0;
}

void oak__netpoll_passive(int fd)
{
    rec *r = rec_of(fd, false);
    if (!r)
        return;
    atomic_store_explicit(&r->own.active, false, memory_order_relaxed);
    uint64_t old = atomic_load_explicit(&r->rg, memory_order_acquire);
    /* Acq_rel: as in park_word(). Armed -> NONE; an edge taken by the
     * poller meanwhile stays as its item (dropped, as inactive). */
    while (old & ASYNC_BIT) {
        if (atomic_compare_exchange_weak_explicit(&r->rg, &old, RG_NONE, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            atomic_fetch_sub_explicit(&np.waiters, 1, memory_order_relaxed);
            break;
        }
    }
}

#define ACTIVE_MAX 65536

oak__msg *oak__netpoll_active_data(oak__proc *p, oak__msg *m)
{
    active_item a;
    memcpy(&a, m->payload, sizeof a);
    rec *r = rec_of((int)a.fd, false);
    if (!r || (atomic_load_explicit(&r->gen, memory_order_acquire) & GEN_MASK) != a.gen)
        return NULL; /* closed meanwhile */
    int fd = (int)a.fd;
    oak_pid owner = atomic_load_explicit(&r->own.pid, memory_order_relaxed);
    if (owner != p->self) {
        /* Handed over after the poller looked: the news is the new
         * owner's. */
        send_active(p->sched, owner, fd, a.gen);
        return NULL;
    }
    if (!atomic_load_explicit(&r->own.active, memory_order_relaxed))
        return NULL;
    int avail = 0;
    if (ioctl(fd, FIONREAD, &avail) != 0 || avail <= 0)
        avail = 1; /* an end of stream or an error, or a stale edge */
    bool capped = avail > ACTIVE_MAX; /* more is there than one message takes */
    if (capped)
        avail = ACTIVE_MAX;
    oak__msg *d = oak__msg_alloc(p->sched, sizeof(oak_sock_data) + (size_t)avail);
    if (!d) {
        oak_log(OAK_LOG_ERROR, "runtime", "event=out_of_memory lost=active_socket_data fd=%d", fd);
        return NULL;
    }
    ssize_t n;
    do
        n = recv(fd, d->payload + sizeof(oak_sock_data), (size_t)avail, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        oak__msg_release(p->sched, d);
        oak__netpoll_active_once(p->self, fd); /* nothing there: armed again */
        return NULL;
    }
    if (capped && n == avail) {
        /* The rest is still there, and edge-triggered readiness makes no
         * new edge for bytes already there (bytes that come after the
         * FIONREAD do make one). Keep an edge (NONE -> READY, acq_rel as
         * a poller's), so that the next arming reads at once. */
        uint64_t none = RG_NONE;
        atomic_compare_exchange_strong_explicit(&r->rg, &none, RG_READY, memory_order_acq_rel,
                                                memory_order_acquire);
    }
    oak_sock_data h = {fd, n >= 0 ? (int32_t)n : -errno};
    memcpy(d->payload, &h, sizeof h);
    d->pub.size = sizeof h + (n > 0 ? (size_t)n : 0);
    d->pub.tag = r->own.tag;
    d->to = p->self;
    atomic_store_explicit(&r->own.active, false, memory_order_relaxed);
    if (n > 0 && r->own.count == OAK__ACTIVE_ALWAYS) {
        oak__netpoll_active_once(p->self, fd); /* {active, true}: again */
    } else if (n > 0 && r->own.count > 1) {
        r->own.count--; /* {active, N}: N - 1 more */
        oak__netpoll_active_once(p->self, fd);
    } else if (n > 0 && r->own.count == 1 && r->own.counted) {
        /* {active, N} ran out: the owner is told, after this message (the
         * notice is pushed to our own inbox, drained after this item). */
        r->own.count = 0;
        oak__msg *note = oak__msg_alloc(p->sched, sizeof(oak_sock_data));
        if (note) {
            oak_sock_data ph = {fd, OAK_SOCK_PASSIVE};
            memcpy(note->payload, &ph, sizeof ph);
            note->pub.tag = r->own.tag;
            note->to = p->self;
            if (oak__deliver_from(p->sched, note) < 0)
                oak__msg_release(p->sched, note);
        } else {
            oak_log(OAK_LOG_ERROR, "runtime", "event=out_of_memory lost=tcp_passive fd=%d", fd);
        }
    }
    return d;
}
