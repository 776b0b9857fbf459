/* oak/message.h - messages, selective receive and timers.
 *
 * A message is a tag, an optional reference and a byte payload. Sending
 * copies the payload into the receiver's mailbox: nothing is shared.
 * Messages from one process to another arrive in the order they were sent.
 *
 * Tags are the caller's to choose: atoms or any integers below 2^63. Tags
 * with the top bit set belong to the runtime (OAK_TAG_EXIT, OAK_TAG_DOWN).
 */
#ifndef OAK_MESSAGE_H
#define OAK_MESSAGE_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Tags of the messages the runtime sends. */
#define OAK_TAG_EXIT ((uint64_t)1 << 63 | 1) /* {'EXIT', From, Reason} */
#define OAK_TAG_DOWN ((uint64_t)1 << 63 | 2) /* {'DOWN', Ref, process, From, Reason} */

/* A received message. The fields are read-only; the message belongs to the
 * process that received it until it calls oak_msg_free() (or dies: then it is
 * freed with the process). */
typedef struct oak_msg {
    uint64_t tag;
    oak_ref ref;  /* a reference the sender attached, or 0 */
    oak_pid from; /* the sender, or OAK_NOPID (another thread, a timer) */
    size_t size;  /* payload bytes */
    void *data;   /* the payload (size bytes, aligned to 16); NULL if 0 */
} oak_msg;

/* The payload of OAK_TAG_EXIT and OAK_TAG_DOWN messages. `detail` points
 * into the same message, after the struct (NUL-terminated, counted in the
 * message's size), or is NULL. For DOWN, `name` is the
 * registered name the monitor was set on, or 0. */
typedef struct oak_down {
    oak_atom reason;
    oak_atom name;
    const char *detail;
} oak_down;

/* Send a copy of size bytes at data (data may be NULL when size is 0) with
 * tag to pid. Sending to a dead process is a silent no-op that returns 0, as
 * in Erlang. Returns 0, -EINVAL (pid 0, data NULL with size > 0, a runtime
 * tag), -ENOMEM. May yield after many sends (fairness). Any thread: from
 * outside a process the message's `from` is OAK_NOPID. Outside a running
 * runtime no process is alive and it returns -ESRCH. */
OAK_API int oak_send(oak_pid to, uint64_t tag, const void *data, size_t size);

/* The same, attaching a reference (e.g. the ref of a call being replied). */
OAK_API int oak_send_ref(oak_pid to, oak_ref ref, uint64_t tag,
                         const void *data, size_t size);

/* Send to an alias of process `to` (see oak_alias()): the message carries
 * ref = alias and is delivered only if the alias is still active when the
 * receiver takes it from its inbox; otherwise it is dropped. Returns as
 * oak_send(), and -EINVAL for alias 0. Any thread. */
OAK_API int oak_send_alias(oak_pid to, oak_ref alias, uint64_t tag, const void *data,
                           size_t size);

/* Send the reply of a call: as oak_send_alias(), and moreover, when `to`
 * monitors the caller with `alias` (oak_monitor_alias()), that monitor ends
 * at both ends once the reply is taken from the inbox, without a demonitor
 * signal: the caller's oak_demonitor() then finds it gone (returns 0 with
 * OAK_DEMONITOR_INFO). A reply from any other process is plain
 * oak_send_alias(). Any thread. */
OAK_API int oak_send_reply(oak_pid to, oak_ref alias, uint64_t tag, const void *data,
                           size_t size);

/* Send a request: monitor `to` with an alias, as oak_monitor_alias(), and
 * send it a message with tag and a copy of data whose ref is that alias,
 * in one signal (`to` takes the monitor, then the message, as if the two
 * had been sent one after the other). The reference is stored in *ref;
 * the answer is awaited with oak_receive_ref(*ref, ...) and sent with
 * oak_send_reply(). If `to` is not alive, the DOWN (noproc) for *ref is
 * queued at once and the message is dropped. Returns 0, -EINVAL (no ref,
 * pid 0, data NULL with size > 0, a runtime tag), -ENOMEM, -EPERM (not
 * in a process). */
OAK_API int oak_send_request(oak_pid to, uint64_t tag, const void *data, size_t size,
                             oak_ref *ref);

/* Send to the process registered under name. Returns -ESRCH if no process
 * has that name (Erlang raises badarg). Any thread. */
OAK_API int oak_send_name(oak_atom name, uint64_t tag, const void *data,
                          size_t size);

/* A match function for oak_receive(): return true to take the message. It
 * runs in the receiving process and must not block or receive. */
typedef bool (*oak_match_fn)(const oak_msg *msg, void *arg);

/* Selective receive. Takes the first message in the mailbox, oldest first,
 * for which match(msg, arg) is true (match NULL takes any message); messages
 * that do not match stay where they are, in order. Waits up to timeout_ms
 * (OAK_INFINITY: forever; 0: only looks). Stores the message in *msg.
 * Returns 0, -ETIMEDOUT, -EINVAL (msg NULL, or a negative timeout_ms other
 * than OAK_INFINITY), -EPERM (not in a process, or in a cleanup). Every
 * timeout >= 0 is valid; one too long for the clock (beyond about 146
 * years) waits forever. May block. Exit signals that reach the caller while it waits
 * take effect here. */
OAK_API int oak_receive(oak_msg **msg, int64_t timeout_ms, oak_match_fn match,
                        void *arg);

/* Receive the first message whose ref equals ref (a reply or a DOWN for a
 * monitor). Only messages that arrived after ref was made are looked at, so
 * a long queue of other messages does not slow it down (Erlang's receive
 * marker): make ref with oak_make_ref() or oak_monitor() in this process
 * right before the send that causes the reply. Same returns as
 * oak_receive(), and -EINVAL for ref 0 (never a reference). */
OAK_API int oak_receive_ref(oak_msg **msg, oak_ref ref, int64_t timeout_ms);

/* Give a received message back to the runtime. NULL does nothing. */
OAK_API void oak_msg_free(oak_msg *msg);

/* A new unique reference. In a process it also marks the current end of the
 * mailbox for oak_receive_ref(). Any thread inside a running runtime;
 * outside one (before oak_run() or after it returned) it returns 0, which is
 * never a reference. */
OAK_API oak_ref oak_make_ref(void);

/* Messages waiting in the caller's mailbox. */
OAK_API size_t oak_message_count(void);

/* ---- timers -------------------------------------------------------------- */

/* Suspend the caller for ms milliseconds (messages stay queued). Returns 0,
 * -EINVAL (negative ms other than OAK_INFINITY), -EPERM. A time too long
 * for the clock sleeps forever, as OAK_INFINITY. */
OAK_API int oak_sleep(int64_t ms);

/* Send the message to `to` after ms milliseconds. The message carries the
 * timer's reference in its `ref` field. Returns the reference, or 0 on error
 * (ms < 0, pid 0, out of memory, outside a running runtime). The timer is
 * not tied to the caller: it fires even if the caller dies. A delay too
 * long for the clock never fires (it can be cancelled). Any thread inside a
 * running runtime. */
OAK_API oak_ref oak_send_after(int64_t ms, oak_pid to, uint64_t tag,
                               const void *data, size_t size);

/* Cancel a timer from oak_send_after(). Returns the milliseconds that were
 * left (>= 0), or -ENOENT if it already fired or was cancelled. */
OAK_API int64_t oak_cancel_timer(oak_ref timer);

/* Milliseconds on the runtime's monotonic clock. Any thread. */
OAK_API int64_t oak_now_ms(void);

#ifdef __cplusplus
}
#endif
#endif
