/* oak/signal.h - asynchronous signals as messages.
 *
 * SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1 and SIGUSR2 can be delivered to
 * oak processes as messages, so that modules never fight over a signal
 * handler: every process that subscribes to a signal gets one message per
 * delivery, tag OAK_SIGNAL_TAG, payload oak_signal_info.
 *
 * While a runtime runs, none of its threads takes these six signals except
 * one thread of its own, the signal thread (docs/design/signals.md). While
 * a signal has no subscriber its disposition is the program's (the default
 * action, SIG_IGN, or a handler the program installed itself), and it acts
 * on the signal thread as it would have on any thread. From the first
 * subscription until the last one ends (by oak_signal_unsubscribe() or the
 * subscriber's death), the runtime's handler is installed instead; it does
 * nothing but write a record to a close-on-exec pipe, and the signal
 * thread sends the messages. A signal delivered after its last subscriber
 * went (it was already on its way, or the subscriber died without
 * unsubscribing) is raised again under the program's disposition.
 *
 * Threads that the program starts itself before oak_run() keep their own
 * signal masks: block these signals in them (pthread_sigmask) or a
 * signal may be taken there. Threads started from inside processes
 * inherit the runtime's mask and take none of them.
 *
 * Standard signals are not queued by the kernel: two deliveries of one
 * signal close together may come as one message. When 4,096 messages'
 * worth of signals are waiting to be sent, further ones are dropped.
 */
#ifndef OAK_SIGNAL_H
#define OAK_SIGNAL_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The tag of a signal message (from = OAK_NOPID). */
#define OAK_SIGNAL_TAG ((uint64_t)0x6f737369676e616c) /* "ossignal" */

/* The payload of a signal message: the signal and, as siginfo_t tells it,
 * who sent it (sender_pid 0 when the kernel sent it, e.g. SIGCHLD's
 * child pid is in sender_pid; code is si_code: SI_USER for kill(2),
 * CLD_EXITED for SIGCHLD, ...). */
typedef struct oak_signal_info {
    int signo;
    int sender_pid;
    unsigned sender_uid;
    int code;
} oak_signal_info;

/* Subscribe the calling process to signo (one of the six above). A
 * process subscribes once per signal: a second subscription is a no-op.
 * Several processes may subscribe to the same signal; each gets every
 * message. Returns 0, -EINVAL (another signal), -ENOMEM, or -EPERM outside
 * a process. Does not block. */
OAK_API int oak_signal_subscribe(int signo);

/* End the calling process's subscription to signo. Once it returns, no
 * further message for signo is sent to the caller (one already sent stays
 * in its mailbox; one for a signal that was being delivered as this
 * returned may still come). Returns 0, -ENOENT (not subscribed), -EINVAL (another
 * signal), or -EPERM outside a process. A process that dies is
 * unsubscribed from everything. Does not block. */
OAK_API int oak_signal_unsubscribe(int signo);

#ifdef __cplusplus
}
#endif
#endif
