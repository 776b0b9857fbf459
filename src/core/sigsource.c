/* sigsource.c - asynchronous signals as messages (oak/signal.h).
 *
 *   kill(2) --> signal thread, the only runtime thread with the six
 *               unblocked (or a thread of the program's own)
 *                 |  the handler: write(2) one record, keep errno
 *                 v
 *               record pipe (O_CLOEXEC, O_NONBLOCK both ends)
 *                 |  the signal thread reads it (poll(2))
 *                 v
 *               oak_send(subscriber, OAK_SIGNAL_TAG, info) for each
 *
 * Why a thread: every thread of the runtime blocks the six signals, so
 * that none of them is taken in the middle of a process switch, and a
 * blocked signal with nobody to take it would stay pending for ever: a
 * program with no subscriber would no longer stop on Ctrl-C. The signal
 * thread keeps them unblocked, so a signal nobody subscribed to acts under
 * the program's own disposition exactly as before. Since the thread is
 * there, it also reads the pipe; sending from a foreign thread is part of
 * the public API, and no process is added to the table.
 *
 * The handler is installed for a signal while it has subscribers and the
 * program's disposition is put back when the last one leaves. Subscribers
 * are kept under one mutex (short critical sections, never across a
 * send); each subscription registers a cleanup in its process (oak_defer),
 * so a subscriber that dies is dropped at once.
 */
#include "core/sigsource.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "oak/message.h"
#include "oak/process.h"
#include "oak/signal.h"

static const int sources[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2};
#define NSOURCES (sizeof sources / sizeof sources[0])

/* What the handler writes: 16 bytes, below PIPE_BUF, so a write is whole. */
typedef struct record {
    int32_t signo;
    int32_t pid;
    uint32_t uid;
    int32_t code;
} record;

typedef struct subscriber {
    oak_pid pid;
    int cleanup; /* its oak_defer() handle, dropped by unsubscribe */
} subscriber;

typedef struct source {
    subscriber *subs; /* lock */
    size_t n, cap;    /* lock */
    bool installed;   /* our handler is in place: lock */
    struct sigaction program; /* the disposition we replaced: lock */
} source;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool active;               /* between init and term: lock */
static source table[NSOURCES];    /* lock */
/* Written by init and term only, while no handler of ours is installed
 * (term removes them first), read by the handler and the signal thread. */
static int rec_pipe[2] = {-1, -1};
static int stop_fd = -1; /* eventfd: term asks the signal thread to end */
static pthread_t thread;
static sigset_t taken; /* the six less those the caller of oak_run() blocked */

static int index_of(int signo)
{
    for (size_t i = 0; i < NSOURCES; i++)
        if (sources[i] == signo)
            return (int)i;
    return -1;
}

static void source_set(sigset_t *set)
{
    sigemptyset(set);
    for (size_t i = 0; i < NSOURCES; i++)
        sigaddset(set, sources[i]);
}

/* ---- the handler and the signal thread --------------------------------------- */

static void on_signal(int signo, siginfo_t *si, void *uc)
{
    (void)uc;
    int saved = errno;
    record r = {signo, si ? si->si_pid : 0, si ? si->si_uid : 0, si ? si->si_code : 0};
    ssize_t w = write(rec_pipe[1], &r, sizeof r); /* a full pipe drops it */
    (void)w;
    errno = saved;
}

/* Put the program's disposition of source i back. lock held. */
static void uninstall(size_t i)
{
    if (table[i].installed) {
        sigaction(sources[i], &table[i].program, NULL);
        table[i].installed = false;
    }
}

static void deliver(const record *r)
{
    int i = index_of(r->signo);
    if (i < 0)
        return;
    oak_signal_info info = {r->signo, r->pid, r->uid, r->code};
    pthread_mutex_lock(&lock);
    size_t n = table[i].n;
    oak_pid *to = n ? malloc(n * sizeof *to) : NULL;
    for (size_t k = 0; to && k < n; k++)
        to[k] = table[i].subs[k].pid;
    bool orphan = n == 0 && active;
    pthread_mutex_unlock(&lock);
    if (orphan) {
        /* It came after the last subscriber left: raise it again, now
         * under the program's disposition (this thread has it unblocked,
         * so a default action is taken here, at once). */
        kill(getpid(), r->signo);
        return;
    }
    for (size_t k = 0; to && k < n; k++)
        oak_send(to[k], OAK_SIGNAL_TAG, &info, sizeof info);
    free(to);
}

static void *signal_thread(void *arg)
{
    (void)arg;
    pthread_sigmask(SIG_UNBLOCK, &taken, NULL);
    for (;;) {
        /* poll(2), not a read that blocks: sanitizers that defer signal
         * handlers to a safe point run them at once in a blocking call. */
        struct pollfd p[2] = {{rec_pipe[0], POLLIN, 0}, {stop_fd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0)
            continue; /* EINTR: a handler ran here */
        if (p[1].revents)
            break;
        record r[64];
        ssize_t got = read(rec_pipe[0], r, sizeof r);
        for (ssize_t k = 0; got > 0 && k < got / (ssize_t)sizeof r[0]; k++)
            deliver(&r[k]);
    }
    return NULL;
}

/* ---- start and stop ------------------------------------------------------------ */

int oak__sigsource_init(void)
{
    if (pipe2(rec_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return -errno;
    stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd < 0) {
        int e = -errno;
        close(rec_pipe[0]);
        close(rec_pipe[1]);
        rec_pipe[0] = rec_pipe[1] = -1;
        return e;
    }
    /* The caller (scheduler 0) and every thread it starts from now on
     * block the six; the signal thread starts with everything blocked and
     * unblocks only them. */
    /* A signal the caller blocked itself (to take it with its own
     * signalfd or sigwait) stays blocked in the signal thread too. */
    sigset_t set, all, old, caller;
    source_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, &caller);
    sigemptyset(&taken);
    for (size_t i = 0; i < NSOURCES; i++)
        if (!sigismember(&caller, sources[i]))
            sigaddset(&taken, sources[i]);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024); /* as the schedulers: room for TLS */
    int e = pthread_create(&thread, &attr, signal_thread, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        close(stop_fd);
        close(rec_pipe[0]);
        close(rec_pipe[1]);
        stop_fd = rec_pipe[0] = rec_pipe[1] = -1;
        return -e;
    }
    pthread_mutex_lock(&lock);
    active = true;
    pthread_mutex_unlock(&lock);
    return 0;
}

void oak__sigsource_term(void)
{
    pthread_mutex_lock(&lock);
    active = false;
    for (size_t i = 0; i < NSOURCES; i++) {
        uninstall(i);
        free(table[i].subs);
        table[i].subs = NULL;
        table[i].n = table[i].cap = 0;
    }
    pthread_mutex_unlock(&lock);
    uint64_t one = 1;
    while (write(stop_fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
    pthread_join(thread, NULL);
    /* Records still in the pipe are signals that came while the runtime
     * stopped: they had subscribers, and nobody is left to tell. */
    close(stop_fd);
    close(rec_pipe[0]);
    close(rec_pipe[1]);
    stop_fd = rec_pipe[0] = rec_pipe[1] = -1;
}

/* ---- subscriptions ------------------------------------------------------------- */

/* Remove pid from source i. Returns its cleanup handle, or 0 when it was
 * not there. lock held. */
static int remove_sub(size_t i, oak_pid pid)
{
    source *s = &table[i];
    for (size_t k = 0; k < s->n; k++) {
        if (s->subs[k].pid == pid) {
            int h = s->subs[k].cleanup;
            s->subs[k] = s->subs[--s->n];
            if (s->n == 0)
                uninstall(i);
            return h ? h : -1;
        }
    }
    return 0;
}

/* A subscriber's cleanup: it is dying. */
static void on_subscriber_exit(void *arg)
{
    size_t i = (size_t)(uintptr_t)arg;
    oak_pid self = oak_self();
    pthread_mutex_lock(&lock);
    if (active)
        remove_sub(i, self);
    pthread_mutex_unlock(&lock);
}

/* The table index of signo for the calling process (*self), or -EINVAL
 * for a signal that is not a source, -EPERM outside a process. */
static int source_for_caller(int signo, oak_pid *self)
{
    int i = index_of(signo);
    if (i < 0)
        return -EINVAL;
    *self = oak_self();
    return *self == OAK_NOPID ? -EPERM : i;
}

int oak_signal_subscribe(int signo)
{
    oak_pid self;
    int i = source_for_caller(signo, &self);
    if (i < 0)
        return i;
    pthread_mutex_lock(&lock);
    source *s = &table[i];
    int r = 0;
    for (size_t k = 0; k < s->n; k++)
        if (s->subs[k].pid == self)
            goto out; /* already: a no-op */
    if (!active) {
        r = -EPERM;
        goto out;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 4;
        subscriber *grown = realloc(s->subs, cap * sizeof *grown);
        if (!grown) {
            r = -ENOMEM;
            goto out;
        }
        s->subs = grown;
        s->cap = cap;
    }
    /* oak_defer() neither blocks nor takes our lock: safe under it. */
    int h = oak_defer(on_subscriber_exit, (void *)(uintptr_t)i);
    if (h < 0) {
        r = h;
        goto out;
    }
    s->subs[s->n++] = (subscriber){self, h};
    if (!s->installed) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_signal;
        sigfillset(&sa.sa_mask);
        sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK | (signo == SIGCHLD ? SA_NOCLDSTOP : 0);
        if (sigaction(signo, &sa, &s->program) < 0) {
            r = -errno;
            s->n--;
            oak_undefer(h, false);
            goto out;
        }
        s->installed = true;
    }
out:
    pthread_mutex_unlock(&lock);
    return r;
}

int oak_signal_unsubscribe(int signo)
{
    oak_pid self;
    int i = source_for_caller(signo, &self);
    if (i < 0)
        return i;
    pthread_mutex_lock(&lock);
    int h = remove_sub((size_t)i, self);
    pthread_mutex_unlock(&lock);
    if (h == 0)
        return -ENOENT;
    if (h > 0)
        oak_undefer(h, false);
    return 0;
}
