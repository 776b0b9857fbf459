/* stack.h - execution stacks: every running process has a hardware guard.
 *
 * A process runs on an execution stack (a "slot"): a stack of the process's
 * size with a large PROT_NONE gap below it. Each slot costs two kernel
 * memory mappings (the gap and the stack), so there are a bounded number of
 * them (oak_config.guarded_stacks), however many processes there are:
 *
 *   low                                                           high
 *   +---------------------------+------------------------------------+
 *   | gap: PROT_NONE, 1 MiB     |  usable stack, grows down from top |
 *   +---------------------------+------------------------------------+
 *                               ^ base                               ^ top
 *
 * A process is given a slot, its home, when it first runs, and from then on
 * it runs at that address only (its frames hold pointers into themselves).
 * Several processes may share a home; one of them, the resident, has its
 * bytes in the slot. When another one is to run there, the resident's used
 * bytes - from its saved stack pointer to the top, a few hundred bytes for
 * a process idle in receive - are copied out to the heap (it is evicted),
 * and the newcomer's saved bytes are copied back in to the same address.
 * A process that is resident runs with no copy at all, which is the common
 * case: the hot paths (a call, a ping-pong, a ring shorter than the number
 * of slots) never copy.
 *
 * Who may touch a slot: the scheduler that holds it. `holder` names the
 * holding scheduler and its era (a scheduler's era moves on each time it
 * goes to sleep, which lets go of every slot it held at once, without
 * touching them). A slot is claimed with a CAS from "nobody" or from a
 * holder whose era has passed; a holder that is awake is asked to let go
 * (it does at its next scheduling round) and the process waits meanwhile.
 * See docs/design/stacks.md.
 */
#ifndef OAK_CORE_STACK_H
#define OAK_CORE_STACK_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct oak__proc;
struct oak__sched;

typedef struct oak__slot {
    /* ---- any thread ---- */
    /* 0: held by nobody; else oak__stack_hword() of the holder: its
     * scheduler id + 1 in the top 16 bits, its era below. Claimed by CAS
     * (acquire: what the last holder wrote into the slot and into the
     * processes it evicted is seen); stored 0 by the holder (release). */
    alignas(64) _Atomic uint64_t holder;
    /* A scheduler has asked the holder to let go: set by exchange, so
     * that the slot is pushed onto the holder's request list only once. */
    _Atomic bool wanted;
    struct oak__slot *next_wanted; /* in the holder's request list        */

    /* ---- set at creation ---- */
    char *base;                    /* lowest usable byte                  */
    size_t size;                   /* usable bytes                        */
    unsigned cls;                  /* its size class                      */

    /* ---- the holder only ---- */
    struct oak__proc *resident;    /* whose bytes are in it, or NULL      */
    /* The lowest stack pointer seen at a switch since the slot was last
     * trimmed: below it, pages may have been touched. */
    char *low;
    /* Its resident ran since the clock hand last passed (CLOCK's
     * reference bit): the hand evicts the ones that did not. */
    bool used;
} oak__slot;

/* Per scheduler, per size class: slots held with no resident, and the
 * slots this scheduler made (where it looks for one to reuse). Owner only. */
typedef struct oak__stack_local {
    oak__slot **free;
    size_t nfree, capfree;
    oak__slot **made;
    size_t nmade, capmade, hand;
} oak__stack_local;

#define OAK__STACK_CLASSES 16

/* Pages of a slot's top that are kept when a slot is trimmed. */
#define OAK__STACK_KEEP_PAGES 4

int oak__stack_init(size_t default_size, size_t slots);
void oak__stack_term(void);

/* The holder word of scheduler s in its current era. */
uint64_t oak__stack_hword(const struct oak__sched *s);

/* Is p ready to run on s with no copy (resident in a slot s holds)? */
static inline bool oak__stack_resident(uint64_t hword, const struct oak__proc *p,
                                       const oak__slot *home)
{
    /* Relaxed: a holder word equal to ours can only have been stored by
     * this thread; nobody else changes it while it is ours. Only then is
     * `resident` ours to read. */
    return home && atomic_load_explicit(&home->holder, memory_order_relaxed) == hword &&
           home->resident == p;
}

/* Make p's stack ready on s, in scheduler context: give it a home on its
 * first run (the caller writes the first frame), claim its home, evict the
 * resident and copy p's bytes in. Returns 0 when p can run; -EAGAIN when
 * its home is held by another scheduler that is awake (*holder: that one,
 * which should run p) or no slot is free for a first run (*holder NULL:
 * try again after a round); -ENOMEM when no stack can be had at all. */
int oak__stack_prepare(struct oak__sched *s, struct oak__proc *p, struct oak__sched **holder);

/* A home for p on its first run that needs no copy and no wait (for a
 * hand-off on another process's stack). False: use oak__stack_prepare(). */
bool oak__stack_fresh(struct oak__sched *s, struct oak__proc *p);

/* Ask the scheduler that holds p's home to let go of it. */
void oak__stack_ask(struct oak__proc *p);

/* p left the CPU with its context saved at p->sp: note how deep it was. */
static inline void oak__stack_left(oak__slot *home, char *sp)
{
    if (sp < home->low)
        home->low = sp;
    home->used = true;
}

/* p is dead, or hibernating: its home is given up (the slot keeps no
 * bytes of it), pages beyond the first few are given back when it was
 * used deeply (always after an overflow), saved bytes are freed. On the
 * scheduler that holds p's home. */
void oak__stack_release(struct oak__sched *s, struct oak__proc *p, bool overflowed);

/* Let go of the slots other schedulers asked for, but those whose resident
 * is busy1 or busy2 (a process leaving or taking the CPU in a hand-off:
 * asked again at the next round). */
void oak__stack_answer(struct oak__sched *s, const struct oak__proc *busy1,
                       const struct oak__proc *busy2);

/* s is about to go idle (now: the clock). Once a period at most
 * (OAK__STACK_SWEEP_NS), the slots s made and can hold are swept like a
 * CLOCK hand: a resident that has not run since the last pass is evicted
 * (its used bytes go to the heap, as when another process needs the slot)
 * and every page of its slot is given back; so are the pages of a free slot
 * unused since then. An idle process thus costs its used bytes, not the
 * pages its slot had touched. While a later pass may give something back
 * (s->stk_sweep_more), s sleeps no longer than until it is due
 * (s->stk_sweep_next). Costs nothing on a busy scheduler. */
void oak__stack_sweep(struct oak__sched *s, int64_t now);

#define OAK__STACK_SWEEP_NS ((int64_t)1000 * 1000000)

/* s goes to sleep: it lets go of every slot it holds (its era moves on). */
void oak__stack_sleep(struct oak__sched *s);

/* The same for s, held by one process for long, done by the thief that
 * robs it (rob() in sched.c) while s runs that process's own code: s
 * keeps the homes of that process and of those preempted on its thread
 * (they resume there), and lets go of the others. */
void oak__stack_rob(struct oak__sched *s);

/* Is addr in the gap below p's stack? */
bool oak__stack_in_guard(const struct oak__proc *p, const void *addr);

/* Free what p's stack left on the heap (runtime teardown). */
void oak__stack_forget(struct oak__proc *p);

/* Per scheduler state. */
void oak__stack_local_term(struct oak__sched *s);

size_t oak__page_size(void);
size_t oak__stack_default_size(void);
/* Bytes of the PROT_NONE gap below every stack. */
size_t oak__stack_gap(void);

#endif
