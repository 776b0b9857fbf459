/* fdwait.c - see fdwait.h and oak/io.h.
 *
 * A waiting process registers its fd in the epoll set, one-shot, with a
 * token naming its slot and the number of its wait, then parks like a
 * receive. The poller thread, on an event, checks that the token's wait is
 * still the process's current one, records the events, and wakes the process
 * if it is parked (PARKED -> EMPTY, as a timer does). A process woken by a
 * message instead drains it into its mailbox and parks again; one that times
 * out moves to the next wait number, so a late event is ignored.
 */
#include "core/fdwait.h"

#include <signal.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/timer.h"
#include "oak/io.h"
#include "oak/log.h"

#define WAKE_TOKEN UINT64_MAX

static uint64_t token(uint64_t slot, uint32_t seq) { return slot << 32 | seq; }

static void *poller_main(void *arg)
{
    oak__runtime *rt = arg;
    struct epoll_event ev[64];
    for (;;) {
        int n = epoll_wait(rt->epfd, ev, 64, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            oak_log(OAK_LOG_ERROR, "runtime", "event=fd_poller_stopped error=%s", strerror(errno));
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            uint64_t t = ev[i].data.u64;
            if (t == WAKE_TOKEN)
                return NULL; /* the runtime is ending */
            uint64_t slot = t >> 32;
            if (slot == 0 || slot >= rt->cfg.max_processes)
                continue;
            oak__proc *p = &rt->table[slot];
            if (atomic_load_explicit(&p->fd_seq, memory_order_acquire) != (uint32_t)t)
                continue; /* an older wait */
            unsigned got = 0;
            if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
                got |= OAK_FD_READ;
            if (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                got |= OAK_FD_WRITE;
            atomic_store_explicit(&p->fd_revents, got ? got : OAK_FD_READ, memory_order_release);
            /* Wake it through its inbox, like a message: whether it is
             * parked already or about to park, it cannot miss this. */
            oak_pid pid = atomic_load_explicit(&p->pid, memory_order_acquire);
            oak__msg *m = pid ? oak__msg_new(0) : NULL;
            if (m) {
                m->to = pid;
                m->kind = OAK__SIG_FD_READY;
                if (oak__deliver(m) < 0)
                    oak__msg_delete(m);
            }
        }
    }
}

void oak__fdwait_init(oak__runtime *rt)
{
    pthread_mutex_init(&rt->poll_lock, NULL);
    rt->epfd = rt->evfd = -1;
    rt->poller_started = false;
}

static int start_poller(oak__runtime *rt)
{
    int rc = 0;
    pthread_mutex_lock(&rt->poll_lock);
    if (rt->poller_started)
        goto out;
    rt->epfd = epoll_create1(EPOLL_CLOEXEC);
    rt->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (rt->epfd < 0 || rt->evfd < 0) {
        rc = -errno;
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_TOKEN};
    if (epoll_ctl(rt->epfd, EPOLL_CTL_ADD, rt->evfd, &ev) != 0) {
        rc = -errno;
        goto fail;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* the poller takes no signals */
    int e = pthread_create(&rt->poller, NULL, poller_main, rt);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        rc = -e;
        goto fail;
    }
    rt->poller_started = true;
    goto out;
fail:
    if (rt->epfd >= 0)
        close(rt->epfd);
    if (rt->evfd >= 0)
        close(rt->evfd);
    rt->epfd = rt->evfd = -1;
out:
    pthread_mutex_unlock(&rt->poll_lock);
    return rc;
}

void oak__fdwait_term(oak__runtime *rt)
{
    if (rt->poller_started) {
        uint64_t one = 1;
        ssize_t w = write(rt->evfd, &one, sizeof one);
        (void)w;
        pthread_join(rt->poller, NULL);
        close(rt->epfd);
        close(rt->evfd);
        rt->poller_started = false;
    }
    pthread_mutex_destroy(&rt->poll_lock);
}

int oak_wait_fd(int fd, unsigned events, int64_t timeout_ms)
{
    oak__proc *p = oak__proc_self();
    if (!p || p->in_cleanup)
        return -EPERM;
    if (fd < 0)
        return -EBADF;
    if (!events || (events & ~(OAK_FD_READ | OAK_FD_WRITE)) ||
        (timeout_ms < 0 && timeout_ms != OAK_INFINITY))
        return -EINVAL;
    /* Ready already? One poll(2) answers without the poller. */
    struct pollfd pfd = {.fd = fd,
                         .events = (short)(((events & OAK_FD_READ) ? POLLIN : 0) |
                                           ((events & OAK_FD_WRITE) ? POLLOUT : 0))};
    int n = poll(&pfd, 1, 0);
    if (n < 0)
        return -errno;
    if (n > 0) {
        if (pfd.revents & POLLNVAL)
            return -EBADF;
        unsigned got = 0;
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
            got |= OAK_FD_READ;
        if (pfd.revents & (POLLOUT | POLLERR | POLLHUP))
            got |= OAK_FD_WRITE;
        got &= events;
        if (got)
            return (int)got;
    }
    if (timeout_ms == 0)
        return -ETIMEDOUT;
    oak__runtime *rt = oak__rt;
    int rc = start_poller(rt);
    if (rc < 0)
        return rc;

    uint64_t slot = (uint64_t)(p - rt->table);
    uint32_t seq = atomic_load_explicit(&p->fd_seq, memory_order_relaxed) + 1;
    atomic_store_explicit(&p->fd_revents, 0, memory_order_relaxed);
    /* Release: the poller that sees this number sees the cleared events. */
    atomic_store_explicit(&p->fd_seq, seq, memory_order_release);
    struct epoll_event ev = {.events = EPOLLONESHOT | EPOLLRDHUP, .data.u64 = token(slot, seq)};
    if (events & OAK_FD_READ)
        ev.events |= EPOLLIN;
    if (events & OAK_FD_WRITE)
        ev.events |= EPOLLOUT;
    if (epoll_ctl(rt->epfd, EPOLL_CTL_MOD, fd, &ev) != 0) {
        if (errno == ENOENT && epoll_ctl(rt->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
            ;
        else if (errno == EPERM)
            return (int)events; /* a regular file: always ready, as poll(2) says */
        else
            return -errno;
    }

    int64_t rel = oak__timeout_ns(timeout_ms);
    int64_t deadline = rel ? oak__now_ns() + rel : 0;
    int result = -ETIMEDOUT;
    for (;;) {
        /* Messages go to the mailbox (the inbox must be empty to park);
         * an exit signal ends the process here. */
        oak__drain(p);
        unsigned got = atomic_exchange_explicit(&p->fd_revents, 0, memory_order_acquire);
        if (got) {
            result = (int)got;
            break;
        }
        if (timeout_ms == 0 || (deadline && oak__now_ns() >= deadline))
            break;
        bool expired = oak__park(p, &deadline, deadline ? rel : 0);
        if (expired) {
            got = atomic_exchange_explicit(&p->fd_revents, 0, memory_order_acquire);
            result = got ? (int)got : -ETIMEDOUT;
            break;
        }
    }
    /* Leave this wait: a late event of it is ignored. */
    atomic_store_explicit(&p->fd_seq, seq + 1, memory_order_release);
    return result;
}
