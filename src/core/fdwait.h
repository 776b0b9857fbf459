/* fdwait.h - waits on descriptors for the runtime's own layers. */
#ifndef OAK_CORE_FDWAIT_H
#define OAK_CORE_FDWAIT_H

#include <stdint.h>

/* oak_wait_fd() without its first look by poll(2): for a caller that has
 * just been told EAGAIN. The same results. */
int oak__wait_fd(int fd, unsigned events, int64_t timeout_ms);

#endif
