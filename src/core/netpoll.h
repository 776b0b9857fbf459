/* netpoll.h - the netpoller: one epoll set per runtime, read by the
 * schedulers themselves (docs/design/netpoll.md).
 *
 * No thread of its own. A scheduler looking for work polls it without
 * blocking (one at a time, behind an atomic flag); one idle scheduler at a
 * time blocks in epoll_wait() until its next timer instead of sleeping on
 * its futex, and is woken through an eventfd. Readiness wakes the waiting
 * process with an FD_READY item in its inbox, pushed from the polling
 * scheduler, so the process lands in that scheduler's own run queue.
 *
 * Two kinds of wait:
 *   - one-shot: oak_wait_fd() on a descriptor the runtime does not own.
 *     Each wait (re)arms the fd EPOLLONESHOT with the waiter's token (its
 *     slot and the number of its wait); a late event of an older wait is
 *     ignored by the number.
 *   - records: a descriptor the runtime owns (a socket of oak/net.h) is
 *     registered once, edge-triggered, with a wait record holding its
 *     parked reader and writer (or the news that an edge came while none
 *     waited). oak_wait_fd() on such an fd waits through its record.
 */
#ifndef OAK_CORE_NETPOLL_H
#define OAK_CORE_NETPOLL_H

#include "core/sched.h"

/* Create the epoll set and its eventfd (oak_run(), before the first
 * process). Returns 0 or a negative errno. */
int oak__netpoll_init(void);
/* Close them (after every process is gone). */
void oak__netpoll_term(void);

/* ---- the scheduler's side ---- */

/* Are processes waiting on descriptors? A hint (relaxed): the scheduler
 * of a process that starts a wait sees its own count. */
bool oak__netpoll_pending(void);
/* Poll without blocking, if no other scheduler is doing so, and make the
 * processes whose descriptors are ready runnable on s. Returns how many
 * events were handled. Scheduler s's own thread. */
int oak__netpoll_poll(oak__sched *s);
/* Become the one scheduler blocked in the netpoller (true), or not
 * (another is, or nothing waits). */
bool oak__netpoll_block_begin(oak__sched *s);
/* Block in epoll_wait() until `deadline` (absolute ns, INT64_MAX: none),
 * a descriptor is ready, or oak__netpoll_wake() is called; then make the
 * ready processes runnable on s and leave the blocking role. Only after
 * oak__netpoll_block_begin() returned true. */
void oak__netpoll_block(oak__sched *s, int64_t deadline);
/* Wake the scheduler blocked in epoll_wait(), if any. Any thread. */
void oak__netpoll_wake(void);

/* ---- waits ---- */

/* Start a wait of p (the running process): a new wait number, no events
 * seen. Returns the waiter's token. Ends with oak__netpoll_wait_end(). */
uint64_t oak__netpoll_wait_begin(oak__proc *p);
/* The events the poller has reported for p's current wait so far. */
unsigned oak__netpoll_wait_events(oak__proc *p);
/* End p's current wait: later events of it are ignored. */
void oak__netpoll_wait_end(oak__proc *p);

/* In p's disposal: a wait it was killed in ends. */
void oak__netpoll_proc_dead(oak__proc *p);

/* Arm a one-shot wait of `token` on fd for `events` (OAK_FD_*). Returns
 * 0, 1 when the fd cannot be polled because it is always ready (a
 * regular file), or a negative errno. */
int oak__netpoll_arm_oneshot(int fd, unsigned events, uint64_t token);

/* ---- records: descriptors the runtime owns ---- */

/* What the layer that opened a descriptor keeps with it (oak/net.h). */
typedef struct oak__fd_owner {
    _Atomic oak_pid pid; /* the owner: stored by the owner (open, handover),
                          * read by anyone (relaxed: a non-owner only
                          * learns that it is not the owner; a new owner
                          * learns it through the handover's item)       */
    _Atomic bool active; /* armed for active mode: stored by the owner,
                          * read (relaxed) by its own calls only          */
    uint64_t tag;        /* active mode's message tag: owner only         */
    int32_t count;       /* active mode's messages left: 1 for once, N for
                          * {active, N}, OAK__ACTIVE_ALWAYS for {active,
                          * true}; owner only (its calls and its drain)  */
    bool counted;        /* {active, N}: an OAK_SOCK_PASSIVE notice follows
                          * the last message (not for once); owner only   */
} oak__fd_owner;

/* oak__fd_owner.count of {active, true}. */
#define OAK__ACTIVE_ALWAYS (-1)

/* Register fd (non-blocking) edge-triggered with a fresh wait record.
 * Returns 0, -EBADF, -EMFILE (beyond the records' table) or another
 * negative errno of epoll_ctl(). */
int oak__netpoll_open(int fd);
/* Deregister fd before it is closed; a parked waiter is woken (it finds
 * the descriptor gone). */
void oak__netpoll_close(int fd);
/* Is fd registered with a record? */
bool oak__netpoll_is_open(int fd);
/* fd's registration number (odd while registered, 0 for no record). */
uint32_t oak__netpoll_gen(int fd);
/* What the opener keeps with fd, or NULL when fd has no open record. */
oak__fd_owner *oak__netpoll_owner(int fd);
/* Active mode (oak/net.h): the next time fd is readable, `owner` (fd's
 * owner) gets what is there as a message with the owner area's tag (set
 * first): an oak_sock_data header and the bytes. The owner area's count
 * (set first) says how many messages follow before the socket is passive
 * again: after the last, the owner also gets an OAK_SOCK_PASSIVE notice;
 * OAK__ACTIVE_ALWAYS never ends. Returns 0, -EBADF or -EBUSY (another
 * process waits to read). */
int oak__netpoll_active_once(oak_pid owner, int fd);
/* Take active mode back: returns 0; a message already queued stays. */
void oak__netpoll_passive(int fd);
/* In p's drain: the FD_ACTIVE item m came. Returns the message to queue,
 * or NULL (m is then dropped: fd closed, or nothing to read and active
 * mode armed again, or handed on to the socket's new owner). */
oak__msg *oak__netpoll_active_data(oak__proc *p, oak__msg *m);

/* Park `token` as fd's reader and/or writer (events). Returns the events
 * already known ready (consumed, the token not parked for them), 0 when
 * parked for all, -EBUSY when another live wait is parked there, -EBADF
 * when fd has no record. */
int oak__netpoll_rec_begin(int fd, unsigned events, uint64_t token);
/* Take the token back from fd's reader/writer (events). Returns the
 * events that were reported ready meanwhile (consumed). */
unsigned oak__netpoll_rec_end(int fd, unsigned events);

#endif
