/* oak/io.h - processes that wait on file descriptors without blocking a
 * scheduler thread.
 */
#ifndef OAK_IO_H
#define OAK_IO_H

#include "message.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OAK_FD_READ 0x1u  /* readable, or end of file, or an error      */
#define OAK_FD_WRITE 0x2u /* writable, or an error                      */

/* Suspend the calling process until fd is ready for what `events` asks
 * (OAK_FD_READ and/or OAK_FD_WRITE, as poll(2) reports it), or until
 * timeout_ms passes (OAK_INFINITY: no limit; 0: only looks). The scheduler
 * runs other processes meanwhile. Messages that arrive stay queued; exit
 * signals take effect.
 *
 * Returns the ready events (> 0), -ETIMEDOUT, -EINVAL (bad events or
 * timeout), -EBADF, -ENOMEM, -EBUSY (an oak socket, oak/net.h, that
 * another process is waiting on for the same events, or armed for active
 * mode), or -EPERM outside a process. A regular file
 * is always ready. Readiness can be stale by the time the caller acts on it
 * (another reader took the data): use non-blocking descriptors and wait
 * again on EAGAIN. May block. */
OAK_API int oak_wait_fd(int fd, unsigned events, int64_t timeout_ms);

/* A receive that also ends when fd is ready: the first message that match
 * accepts (match NULL: any), as oak_receive() takes it, or fd ready for
 * `events` as oak_wait_fd() reports it, whichever comes first, or
 * timeout_ms (OAK_INFINITY: no limit; 0: only looks). A matching message
 * already queued wins over a ready fd. Messages that do not match stay
 * queued in order; exit signals take effect.
 *
 * Returns 0 with *msg set (free it with oak_msg_free()), the ready events
 * (> 0) with *msg NULL, -ETIMEDOUT, -EINVAL (msg NULL, bad events or
 * timeout), -EBADF, or -EPERM outside a process. May block. */
OAK_API int oak_receive_fd(oak_msg **msg, int fd, unsigned events, int64_t timeout_ms,
                           oak_match_fn match, void *arg);

/* The data of an oak_fd_notify() message. */
typedef struct oak_fd_event {
    int32_t fd;
    int32_t events; /* the ready events (> 0), or a negative errno of
                     * oak_wait_fd() (-EBADF, -ENOMEM, -EBUSY)         */
} oak_fd_event;

/* Readiness as a message: when fd is ready for `events` (OAK_FD_READ
 * and/or OAK_FD_WRITE, as oak_wait_fd() reports it), the caller gets one
 * message with `tag` whose data is an oak_fd_event. Once: call it again
 * for the next one. Meanwhile the caller runs and receives as usual, so a
 * gen_server can watch a pipe, an eventfd or a pidfd in handle_info. For
 * oak sockets (oak/net.h) prefer active mode.
 *
 * The wait is made by a small watcher process (its pid in *watcher if not
 * NULL) that monitors the caller and ends with it, however it ends; it is
 * not linked, so a caller trapping exits gets no EXIT from it. Only
 * one wait per descriptor at a time (as oak_wait_fd() on the same fd from
 * two processes): arm again after the message came or after
 * oak_fd_notify_cancel(). Cancel before closing fd: a wait on a closed
 * descriptor never ends (until the caller does).
 *
 * Returns 0, -EINVAL (bad events), -EBADF (fd not open), -EPERM outside a
 * process, or an error of oak_spawn(). If it returns an error, no message
 * comes. Does not block. */
OAK_API int oak_fd_notify(int fd, unsigned events, uint64_t tag, oak_pid *watcher);

/* Take back an oak_fd_notify() arming: its watcher is killed, and the
 * call returns once it has ended, so no message comes from it afterwards;
 * one it sent just before may be queued already (as after Erlang's
 * cancel_timer, flush it if that matters). Returns 0, -ESRCH (it had
 * ended: its message is in the mailbox), -EINVAL (OAK_NOPID), -EPERM
 * outside a process. Blocks the caller briefly (for the watcher's end). */
OAK_API int oak_fd_notify_cancel(oak_pid watcher);

#ifdef __cplusplus
}
#endif
#endif
