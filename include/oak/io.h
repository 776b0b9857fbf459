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

#ifdef __cplusplus
}
#endif
#endif
