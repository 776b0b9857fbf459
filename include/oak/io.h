/* oak/io.h - processes that wait on file descriptors without blocking a
 * scheduler thread.
 */
#ifndef OAK_IO_H
#define OAK_IO_H

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
 * timeout), -EBADF, -ENOMEM, or -EPERM outside a process. A regular file
 * is always ready. Readiness can be stale by the time the caller acts on it
 * (another reader took the data): use non-blocking descriptors and wait
 * again on EAGAIN. May block. */
OAK_API int oak_wait_fd(int fd, unsigned events, int64_t timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
