/* fdwait.c - see oak/io.h. Waiting on a descriptor, alone or together with
 * the mailbox, on the netpoller (core/netpoll.h).
 *
 * A wait takes a new wait number (its token), parks the token with the
 * netpoller - in the fd's wait record when the runtime owns the fd, else
 * as a one-shot registration - and parks the process like a receive, with
 * a timer for the timeout. The poller that sees the fd ready records the
 * events in the process and pushes an FD_READY item into its inbox, which
 * wakes it as a message would. A process woken by a message drains it into
 * its mailbox (and, in oak_receive_fd(), returns it if it matches) and
 * parks again. Leaving the wait moves the number on, so a late event of it
 * is ignored.
 */
#include <poll.h>

#include "core/fdwait.h"
#include "core/netpoll.h"
#include "core/timer.h"
#include "oak/io.h"

/* Ready now, by one poll(2)? Returns the events of `events` that are
 * ready, 0, or -EBADF / another negative errno. */
static int poll_now(int fd, unsigned events)
{
    struct pollfd pfd = {.fd = fd,
                         .events = (short)(((events & OAK_FD_READ) ? POLLIN : 0) |
                                           ((events & OAK_FD_WRITE) ? POLLOUT : 0))};
    int n = poll(&pfd, 1, 0);
    if (n < 0)
        return -errno;
    if (n == 0)
        return 0;
    if (pfd.revents & POLLNVAL)
        return -EBADF;
    unsigned got = 0;
    if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
        got |= OAK_FD_READ;
    if (pfd.revents & (POLLOUT | POLLERR | POLLHUP))
        got |= OAK_FD_WRITE;
    return (int)(got & events);
}

static int check_args(int fd, unsigned events, int64_t timeout_ms)
{
    if (fd < 0)
        return -EBADF;
    if (!events || (events & ~(OAK_FD_READ | OAK_FD_WRITE)) ||
        (timeout_ms < 0 && timeout_ms != OAK_INFINITY))
        return -EINVAL;
    return 0;
}

/* The wait of both calls. With msg, a message that match accepts ends it
 * too (returns 0, *msg set). */
static int wait_fd(oak__proc *p, int fd, unsigned events, int64_t timeout_ms, oak_msg **msg,
                   oak_match_fn match, void *arg, bool look)
{
    int rc;
    if (msg && oak_receive(msg, 0, match, arg) == 0)
        return 0;
    if (look && (rc = poll_now(fd, events)) != 0)
        return rc;
    if (timeout_ms == 0)
        return -ETIMEDOUT;

    uint64_t token = oak__netpoll_wait_begin(p);
    bool owned = oak__netpoll_is_open(fd);
    if (owned) {
        rc = oak__netpoll_rec_begin(fd, events, token);
        if (rc != 0) {
            if (rc > 0)
                rc |= (int)oak__netpoll_rec_end(fd, events);
            oak__netpoll_wait_end(p);
            return rc;
        }
    } else {
        rc = oak__netpoll_arm_oneshot(fd, events, token);
        if (rc != 0) {
            oak__netpoll_wait_end(p);
            return rc > 0 ? (int)events : rc;
        }
    }

    int64_t rel = oak__timeout_ns(timeout_ms);
    int64_t deadline = 0;
    bool waited = false;
    int result = -ETIMEDOUT;
    for (;;) {
        /* Messages go to the mailbox (the inbox must be empty to park);
         * an exit signal ends the process here. */
        if (msg) {
            if (oak_receive(msg, 0, match, arg) == 0) {
                result = 0;
                break;
            }
        } else {
            oak__drain(p);
        }
        unsigned got = oak__netpoll_wait_events(p);
        if (got) {
            result = (int)got;
            break;
        }
        if (rel && waited) {
            int64_t now = oak__now_ns();
            if (!deadline)
                deadline = now + rel;
            else if (now >= deadline)
                break;
        }
        bool expired = oak__park(p, &deadline, rel);
        waited = true;
        if (expired) {
            got = oak__netpoll_wait_events(p);
            if (got)
                result = (int)got;
            else if (msg && oak_receive(msg, 0, match, arg) == 0)
                result = 0;
            break;
        }
    }
    if (owned) {
        unsigned late = oak__netpoll_rec_end(fd, events);
        if (result == -ETIMEDOUT && late)
            result = (int)late;
        else if (result > 0)
            result |= (int)late;
    }
    oak__netpoll_wait_end(p);
    if (result > 0 && (result & (int)events))
        result &= (int)events;
    return result;
}

int oak_wait_fd(int fd, unsigned events, int64_t timeout_ms)
{
    oak__proc *p = oak__proc_self();
    if (!p || p->in_cleanup)
        return -EPERM;
    int rc = check_args(fd, events, timeout_ms);
    return rc < 0 ? rc : wait_fd(p, fd, events, timeout_ms, NULL, NULL, NULL, true);
}

int oak_receive_fd(oak_msg **msg, int fd, unsigned events, int64_t timeout_ms,
                   oak_match_fn match, void *arg)
{
    if (!msg)
        return -EINVAL;
    *msg = NULL;
    oak__proc *p = oak__proc_self();
    if (!p || p->in_cleanup)
        return -EPERM;
    int rc = check_args(fd, events, timeout_ms);
    return rc < 0 ? rc : wait_fd(p, fd, events, timeout_ms, msg, match, arg, true);
}

int oak__wait_fd(int fd, unsigned events, int64_t timeout_ms)
{
    oak__proc *p = oak__proc_self();
    if (!p || p->in_cleanup)
        return -EPERM;
    int rc = check_args(fd, events, timeout_ms);
    return rc < 0 ? rc : wait_fd(p, fd, events, timeout_ms, NULL, NULL, NULL, false);
}
