/* timer.h - per-scheduler timer heaps.
 *
 * Each scheduler keeps a binary heap of timers under its own spinlock. A timer
 * is added to the heap of the scheduler it was made on and fires there;
 * anyone may cancel it by taking that heap's lock. Firing and cancelling are
 * serialised by the lock, so once oak__timer_cancel() returns, the timer
 * cannot wake or send anything any more.
 */
#ifndef OAK_CORE_TIMER_H
#define OAK_CORE_TIMER_H

#include "core/sched.h"

/* Arm t (its deadline and kind set) in s's heap. Returns 0 or -ENOMEM. */
int oak__timer_add(oak__sched *s, oak__timer *t);
/* Remove t if it has not fired. Returns true if it was removed. */
bool oak__timer_cancel(oak__timer *t);
/* Arm the timers of the waits parked on s since the last call (s->lazy),
 * those still pending, with deadlines counted from `now`. Scheduler s's own
 * thread. Returns false if the heap could not grow (the waits stay listed,
 * for the next call). */
bool oak__timers_arm_waits(oak__sched *s, int64_t now);
/* Fire every timer of s due at `now`. */
void oak__timers_run(oak__sched *s, int64_t now);
/* Free all timers of s (runtime teardown). */
void oak__timers_term(oak__sched *s);

#endif
