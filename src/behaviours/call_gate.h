/* call_gate.h - drops late call replies (internal to the behaviours).
 *
 * OTP 24+ sends call replies to a process alias that the caller deactivates
 * when it stops waiting, so a reply that comes after a timeout never lands
 * in the caller's mailbox. The core has no aliases yet, so calls with a
 * finite timeout register their reference here; a replier passes the gate
 * before it sends and a caller that times out closes it. The state machine
 * of one entry:
 *
 *   OPEN --replier passes--> SENDING --send done--> SENT
 *     |                         |                     |
 *     +-- caller abandons:      +-- caller waits      +-- caller takes the
 *         entry removed, any        until SENT (or        reply that is in
 *         later reply dropped       the replier died)     its mailbox
 *
 * The caller removes its entry on every path; entries of callers that died
 * in a call are swept when a shard grows. See docs/design/call-replies.md.
 */
#ifndef OAK_BEHAVIOURS_CALL_GATE_H
#define OAK_BEHAVIOURS_CALL_GATE_H

#include "oak.h"

enum oak__gate_state {
    OAK__GATE_GONE = 0, /* no entry: never opened, or already closed */
    OAK__GATE_OPEN,
    OAK__GATE_SENDING,
    OAK__GATE_SENT,
};

/* Caller: open the gate for ref. 0 or -ENOMEM. */
int oak__gate_open(oak_ref ref, oak_pid caller);
/* Caller: forget ref (reply or DOWN received). */
void oak__gate_close(oak_ref ref);
/* Caller on timeout: removes the entry unless a reply is being sent; returns
 * the state it found (OPEN means: abandoned, no reply will come). With
 * SENDING the entry stays and *replier says who is sending. */
int oak__gate_abandon(oak_ref ref, oak_pid *replier);
/* Replier: may I send the reply for ref? Marks it SENDING when yes. */
bool oak__gate_pass(oak_ref ref);
/* Replier: the reply for ref has been sent. */
void oak__gate_sent(oak_ref ref);

#endif
