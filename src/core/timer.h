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

/* Every timeout >= 0 is valid, but only those up to OAK__TIMEOUT_MAX_MS
 * (about 146 years) get a deadline: with it, now + timeout in nanoseconds
 * cannot overflow. Longer ones are beyond what the clock can hold and wait
 * forever, as OAK_INFINITY does. */
#define OAK__TIMEOUT_MAX_MS (INT64_MAX / 1000000 / 2)

/* A relative timeout of ms milliseconds in nanoseconds, or 0 (no deadline)
 * for OAK_INFINITY, any other negative value and timeouts beyond
 * OAK__TIMEOUT_MAX_MS. The callers look at ms == 0 (poll) themselves. */
static inline int64_t oak__timeout_ns(int64_t ms)
{
    return ms < 0 || ms > OAK__TIMEOUT_MAX_MS ? 0 : ms * 1000000;
}

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
