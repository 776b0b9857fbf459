/* fd_notify.c - readiness of any descriptor as a message (oak/io.h).
 *
 * Built on the public API alone: each arming is a small watcher process
 * that monitors the caller and waits, with oak_receive_fd(), for the
 * descriptor or for the caller's DOWN (the only message it can get),
 * whichever comes first; on the first it sends the caller one message, on
 * the second it just ends. There is no link: a caller that ends normally
 * ends its watchers too, and a caller that traps exits sees no EXIT. A
 * spawn costs about as much as a few sends, which is what one readiness
 * event is worth.
 */
#include "oak/io.h"

#include <errno.h>
#include <fcntl.h>

#include "oak/message.h"
#include "oak/process.h"

typedef struct watch {
    oak_pid to;
    uint64_t tag;
    int fd;
    unsigned events;
} watch;

static void watcher(void *arg)
{
    watch w = *(const watch *)arg;
    oak_ref ref = oak_monitor(w.to);
    oak_msg *m = NULL;
    int r = oak_receive_fd(&m, w.fd, w.events, OAK_INFINITY, NULL, NULL);
    if (r == 0) {
        oak_msg_free(m); /* the caller's DOWN: nobody to tell */
        return;
    }
    oak_demonitor(ref, OAK_DEMONITOR_FLUSH);
    oak_fd_event ev = {w.fd, r};
    oak_send(w.to, w.tag, &ev, sizeof ev);
}

int oak_fd_notify(int fd, unsigned events, uint64_t tag, oak_pid *watcher_pid)
{
    if (events == 0 || (events & ~(OAK_FD_READ | OAK_FD_WRITE)))
        return -EINVAL;
    if (oak_self() == OAK_NOPID)
        return -EPERM;
    if (fd < 0 || fcntl(fd, F_GETFD) < 0)
        return -EBADF;
    watch w = {oak_self(), tag, fd, events};
    oak_spawn_opts o = {.arg_size = sizeof w};
    oak_pid pid;
    int rc = oak_spawn(watcher, &w, &o, &pid);
    if (rc < 0)
        return rc;
    if (watcher_pid)
        *watcher_pid = pid;
    return 0;
}

int oak_fd_notify_cancel(oak_pid watcher_pid)
{
    if (oak_self() == OAK_NOPID)
        return -EPERM;
    if (watcher_pid == OAK_NOPID)
        return -EINVAL;
    /* Killed and waited for: an exit signal is asynchronous, and a
     * watcher that had not run yet could still find fd ready and send.
     * After its DOWN nothing more can come from it (a pair's messages
     * keep their order). */
    if (!oak_is_alive(watcher_pid))
        return -ESRCH;
    oak_ref ref = oak_monitor(watcher_pid);
    int rc = oak_exit_pid(watcher_pid, OAK_KILL);
    if (rc < 0)
        return rc;
    oak_msg *down = NULL;
    if (ref && oak_receive_ref(&down, ref, OAK_INFINITY) == 0)
        oak_msg_free(down);
    return 0;
}
