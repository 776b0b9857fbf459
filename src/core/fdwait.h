/* fdwait.h - the fd poller: one epoll set per runtime, read by a thread of
 * its own that makes waiting processes runnable. Started by the first
 * oak_wait_fd(), stopped when the runtime ends. */
#ifndef OAK_CORE_FDWAIT_H
#define OAK_CORE_FDWAIT_H

#include "core/sched.h"

void oak__fdwait_init(oak__runtime *rt);
void oak__fdwait_term(oak__runtime *rt);

#endif
