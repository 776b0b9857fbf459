/* spinlock.h - a small test-and-test-and-set lock for critical sections of
 * a few dozen instructions (a timer heap's insert or removal), where an
 * uncontended pthread mutex costs more than the work it guards. Spins with
 * a pause, then yields the thread. Not for sections that may block. */
#ifndef OAK_CORE_SPINLOCK_H
#define OAK_CORE_SPINLOCK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef struct oak__spinlock {
    _Atomic bool held;
} oak__spinlock;

static inline void oak__spin_lock(oak__spinlock *l)
{
    for (unsigned spins = 0;; spins++) {
        /* Acquire: the section sees what the last holder wrote. */
        if (!atomic_exchange_explicit(&l->held, true, memory_order_acquire))
            return;
        while (atomic_load_explicit(&l->held, memory_order_relaxed)) {
            if (spins++ > 1000) {
                sched_yield();
                spins = 0;
            }
#if defined(__x86_64__)
            __asm__ volatile("pause");
#elif defined(__aarch64__)
            __asm__ volatile("yield");
#endif
        }
    }
}

static inline void oak__spin_unlock(oak__spinlock *l)
{
    /* Release: the next holder sees this section's writes. */
    atomic_store_explicit(&l->held, false, memory_order_release);
}

#endif
