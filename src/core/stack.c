/* stack.c - execution stacks; see stack.h for the scheme and
 * docs/design/stacks.md for why.
 *
 * The life of a slot:
 *
 *        made (held by its maker, in its free and made lists)
 *          |
 *          v
 *   +-> free (no resident) --first run / hibernated wakes--> resident P
 *   |      ^                                                    |
 *   |      +---- P dies or hibernates (trim if used deeply) ----+
 *   |                                                           |
 *   +---- Q homed here must run: P's bytes copied out, Q's in --+
 *
 * and, across all of that, the holder: claimed by CAS when nobody holds it
 * or its holder's era has passed, let go by the holder when asked or when
 * it goes to sleep.
 */
#include "core/stack.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/proc.h"
#include "core/sanitizer.h"
#include "core/sched.h"

/* A mapping of slots of one size class. Chunks are pushed onto a list
 * that is only ever added to while the runtime runs: schedulers that have
 * no slot of their own to reuse walk it without a lock. */
typedef struct chunk {
    struct chunk *next;
    void *addr;
    size_t len;
    unsigned cls;
    size_t n;
    oak__slot *slots;
} chunk;

#define GAP_BYTES ((size_t)1 << 20)
#define CHUNK_SLOTS 64
#define ERA_BITS 48
#define ERA_MASK ((UINT64_C(1) << ERA_BITS) - 1)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static size_t class_size[OAK__STACK_CLASSES]; /* under lock; read after */
static _Atomic unsigned nclasses;
static _Atomic(chunk *) chunks;                /* pushed under lock        */
static size_t slots_max;                       /* under lock               */
static size_t slots_made;                      /* under lock               */
static size_t class_slots[OAK__STACK_CLASSES]; /* under lock: made per class */
static size_t page;
static size_t default_size;

size_t oak__page_size(void) { return page; }
size_t oak__stack_default_size(void) { return default_size; }
size_t oak__stack_gap(void) { return GAP_BYTES; }

int oak__stack_init(size_t dflt, size_t slots)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    default_size = (dflt + page - 1) & ~(page - 1);
    slots_max = slots;
    slots_made = 0;
    memset(class_slots, 0, sizeof class_slots);
    class_size[0] = default_size;
    atomic_store_explicit(&nclasses, 1, memory_order_relaxed);
    atomic_store_explicit(&chunks, NULL, memory_order_relaxed);
    return 0;
}

void oak__stack_term(void)
{
    pthread_mutex_lock(&lock);
    chunk *c = atomic_exchange_explicit(&chunks, NULL, memory_order_relaxed);
    while (c) {
        chunk *n = c->next;
        /* Forget the stack frames' poison: the addresses may be mapped
         * again, for anything. */
        oak__asan_unpoison(c->addr, c->len);
        munmap(c->addr, c->len);
        free(c->slots);
        free(c);
        c = n;
    }
    atomic_store_explicit(&nclasses, 0, memory_order_relaxed);
    pthread_mutex_unlock(&lock);
}

void oak__stack_local_term(oak__sched *s)
{
    for (unsigned k = 0; k < OAK__STACK_CLASSES; k++) {
        free(s->stk[k].free);
        free(s->stk[k].made);
    }
    memset(s->stk, 0, sizeof s->stk);
}

uint64_t oak__stack_hword(const oak__sched *s)
{
    uint64_t era = atomic_load_explicit(&s->era, memory_order_relaxed);
    return ((uint64_t)(s->id + 1) << ERA_BITS) | (era & ERA_MASK);
}

/* ---- size classes ------------------------------------------------------- */

static int class_of(size_t size)
{
    if (size == 0)
        return 0;
    size = (size + page - 1) & ~(page - 1);
    unsigned n = atomic_load_explicit(&nclasses, memory_order_acquire);
    for (unsigned k = 0; k < n; k++)
        if (class_size[k] == size)
            return (int)k;
    pthread_mutex_lock(&lock);
    int k = -1;
    n = atomic_load_explicit(&nclasses, memory_order_relaxed);
    for (unsigned i = 0; i < n; i++)
        if (class_size[i] == size)
            k = (int)i;
    if (k < 0 && n < OAK__STACK_CLASSES) {
        class_size[n] = size;
        /* Release: a reader that sees the count sees the size. */
        atomic_store_explicit(&nclasses, n + 1, memory_order_release);
        k = (int)n;
    }
    pthread_mutex_unlock(&lock);
    return k;
}

/* ---- lists ----------------------------------------------------------------- */

static bool list_push(oak__slot ***items, size_t *len, size_t *cap, oak__slot *e)
{
    if (*len == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        oak__slot **n = realloc(*items, ncap * sizeof *n);
        if (!n)
            return false;
        *items = n;
        *cap = ncap;
    }
    (*items)[(*len)++] = e;
    return true;
}

/* A slot onto s's free list of its class. The list is a stack: the slot
 * given back last is handed out first, its top lines still in this core's
 * cache. Inline, since a process's death and each hibernation come here;
 * only a full list calls out to grow it. */
static inline void free_push(oak__stack_local *L, oak__slot *e)
{
    if (L->nfree < L->capfree)
        L->free[L->nfree++] = e;
    else /* on ENOMEM the slot is still found by the clock or the chunk walk */
        list_push(&L->free, &L->nfree, &L->capfree, e);
}

/* ---- holding ----------------------------------------------------------------- */

static oak__sched *holder_sched(uint64_t h) { return &oak__rt->scheds[(h >> ERA_BITS) - 1]; }

/* Has the holder h gone to sleep since it took the slot? Acquire: then
 * everything it wrote before it moved its era on is seen. */
static bool stale(uint64_t h)
{
    oak__sched *o = holder_sched(h);
    return (atomic_load_explicit(&o->era, memory_order_acquire) & ERA_MASK) != (h & ERA_MASK);
}

/* Push e, whose `wanted` flag the caller holds, onto o's request list. */
static void push_wanted(oak__sched *o, oak__slot *e)
{
    oak__slot *head = atomic_load_explicit(&o->wanted, memory_order_relaxed);
    do
        e->next_wanted = head;
    /* Release: the holder that takes the list sees next_wanted. */
    while (!atomic_compare_exchange_weak_explicit(&o->wanted, &head, e, memory_order_release,
                                                  memory_order_relaxed));
}

/* Ask the holder of e to let go of it (at its next scheduling round). */
static void ask(oak__slot *e, uint64_t h)
{
    /* Acquire: pairs with the holder's release when it answered the last
     * request, so its read of next_wanted came before our write. */
    if (atomic_exchange_explicit(&e->wanted, true, memory_order_acquire))
        return; /* already asked, not yet answered */
    push_wanted(holder_sched(h), e);
}

/* Try to hold e. When `asking`, a holder that is awake is asked to let go. */
static bool claim(oak__sched *s, oak__slot *e, bool asking)
{
    uint64_t h = atomic_load_explicit(&e->holder, memory_order_acquire);
    for (int tries = 0; tries < 2; tries++) {
        if (h == s->hword)
            return true;
        if (h != 0 && !stale(h)) {
            if (asking)
                ask(e, h);
            return false;
        }
        /* Acquire: the last holder's writes (the slot's bytes, the
         * resident's saved copy) are seen. */
        if (atomic_compare_exchange_strong_explicit(&e->holder, &h, s->hword, memory_order_acq_rel,
                                                    memory_order_acquire))
            return true;
    }
    return false;
}

void oak__stack_answer(oak__sched *s, const oak__proc *busy1, const oak__proc *busy2)
{
    /* Acquire: pairs with the pushes' release (next_wanted). */
    oak__slot *e = atomic_exchange_explicit(&s->wanted, NULL, memory_order_acquire);
    oak__slot *later = NULL;
    while (e) {
        oak__slot *next = e->next_wanted;
        bool mine = atomic_load_explicit(&e->holder, memory_order_relaxed) == s->hword;
        if (mine && (e->resident == busy1 || e->resident == busy2) && e->resident) {
            /* Its resident is leaving or coming onto the CPU right now:
             * the next round answers. */
            e->next_wanted = later;
            later = e;
            e = next;
            continue;
        }
        /* Release: next_wanted was read before a new request may write it. */
        atomic_store_explicit(&e->wanted, false, memory_order_release);
        /* Release: what this scheduler wrote into the slot, and into the
         * process whose bytes are there, is seen by the next claimer. The
         * slot's resident is not running. */
        if (mine)
            atomic_store_explicit(&e->holder, 0, memory_order_release);
        e = next;
    }
    while (later) {
        oak__slot *n = later->next_wanted;
        push_wanted(s, later); /* still wanted: the flag stays set */
        later = n;
    }
}

void oak__stack_sleep(oak__sched *s)
{
    uint64_t era = atomic_load_explicit(&s->era, memory_order_relaxed);
    /* Release: a scheduler that sees the new era sees everything this one
     * wrote into the slots it held (see stale()). */
    atomic_store_explicit(&s->era, era + 1, memory_order_release);
    s->hword = oak__stack_hword(s);
}

void oak__stack_rob(oak__sched *s)
{
    uint64_t era = atomic_load_explicit(&s->era, memory_order_relaxed) + 1;
    uint64_t h = ((uint64_t)(s->id + 1) << ERA_BITS) | (era & ERA_MASK);
    /* Held under the new era before the old one passes, so that nobody
     * can claim them in between. Relaxed: only the holder changes a
     * holder word that is not stale, and s is the holder. */
    if (s->current && s->current->home)
        atomic_store_explicit(&s->current->home->holder, h, memory_order_relaxed);
    for (oak__proc *p = s->pinned_head; p; p = p->gq_next)
        if (p->home)
            atomic_store_explicit(&p->home->holder, h, memory_order_relaxed);
    /* Release: as in oak__stack_sleep(), with what the owner wrote before
     * the thief took over (the thief acquired it, sched.h). */
    atomic_store_explicit(&s->era, era, memory_order_release);
    s->hword = h;
    /* Answer the requests that piled up meanwhile: the slots let go of
     * need none (a flag left set would keep the next holder from ever
     * being asked); those kept stay asked. */
    oak__slot *e = atomic_exchange_explicit(&s->wanted, NULL, memory_order_acquire);
    while (e) {
        oak__slot *next = e->next_wanted;
        if (atomic_load_explicit(&e->holder, memory_order_relaxed) == h)
            push_wanted(s, e);
        else
            atomic_store_explicit(&e->wanted, false, memory_order_release);
        e = next;
    }
}

/* ---- copying ------------------------------------------------------------------ */

static char *slot_top(const oak__slot *e) { return e->base + e->size; }

/* The bytes of a stack hold other frames' ASan redzones (poisoned), so the
 * copy is not instrumented. */
#ifdef OAK_ASAN
__attribute__((no_sanitize_address))
#endif
static void copy_bytes(char *dst, const char *src, size_t n)
{
#ifdef OAK_ASAN
    for (size_t i = 0; i < n; i += sizeof(uint64_t)) {
        uint64_t w;
        __builtin_memcpy(&w, src + i, sizeof w);
        __builtin_memcpy(dst + i, &w, sizeof w);
    }
#else
    memcpy(dst, src, n);
#endif
}

/* Copy the resident r of e out to the heap. Returns false on ENOMEM. */
static bool evict(oak__slot *e, oak__proc *r)
{
    char *sp = r->sp;
    size_t n = (size_t)(slot_top(e) - sp);
    void *buf = malloc(n ? n : 1);
    if (!buf)
        return false;
    copy_bytes(buf, sp, n);
    r->saved = buf;
    e->resident = NULL;
    return true;
}

/* Bring p's bytes back into e, at the address they were copied from. */
static void copy_in(oak__slot *e, oak__proc *p)
{
    char *sp = p->sp;
    /* The slot's shadow holds the redzones of whoever ran there last. */
    oak__asan_unpoison(e->base, e->size);
    copy_bytes(sp, p->saved, (size_t)(slot_top(e) - sp));
    free(p->saved);
    p->saved = NULL;
    e->resident = p;
}

/* ---- making slots ---------------------------------------------------------- */

/* Map up to CHUNK_SLOTS slots of class k, held by s, into its lists.
 * Returns how many were made (0: the budget is spent, or the kernel said
 * no). */
static size_t make_slots(oak__sched *s, unsigned k)
{
    pthread_mutex_lock(&lock);
    size_t size = class_size[k];
    size_t n = slots_max > slots_made ? slots_max - slots_made : 0;
    /* Every class gets a few slots, whatever the budget: a process with a
     * stack size of its own can always run. */
    if (n == 0 && class_slots[k] < 4)
        n = 4 - class_slots[k];
    if (n > CHUNK_SLOTS)
        n = CHUNK_SLOTS;
    /* Big stacks come a few at a time. */
    if (n > 1 && size > ((size_t)4 << 20))
        n = 1;
    chunk *c = NULL;
    void *addr = MAP_FAILED;
    size_t stride = GAP_BYTES + size;
    if (n == 0)
        goto out;
    addr = mmap(NULL, n * stride, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (addr == MAP_FAILED) {
        n = 0;
        goto out;
    }
    c = calloc(1, sizeof *c);
    oak__slot *slots = aligned_alloc(64, n * sizeof *slots);
    if (!c || !slots) {
        free(c);
        free(slots);
        munmap(addr, n * stride);
        c = NULL;
        n = 0;
        goto out;
    }
    memset(slots, 0, n * sizeof *slots);
    size_t made = 0;
    for (; made < n; made++) {
        char *base = (char *)addr + made * stride + GAP_BYTES;
        if (mprotect(base, size, PROT_READ | PROT_WRITE) != 0) {
            /* The kernel's mapping limit: no more slots than this. */
            slots_max = slots_made + made;
            break;
        }
#ifdef MADV_NOHUGEPAGE
        /* A huge page would make a stack's first touch cost 2 MiB. */
        madvise(base, size, MADV_NOHUGEPAGE);
#endif
        oak__slot *e = &slots[made];
        e->base = base;
        e->size = size;
        e->cls = k;
        e->low = base + size;
        atomic_init(&e->holder, s->hword);
        atomic_init(&e->wanted, false);
    }
    if (made == 0) {
        free(c);
        free(slots);
        munmap(addr, n * stride);
        n = 0;
        goto out;
    }
    n = made;
    slots_made += n;
    class_slots[k] += n;
    c->addr = addr;
    c->len = n * stride; /* what could not be made stays PROT_NONE */
    c->cls = k;
    c->n = n;
    c->slots = slots;
    c->next = atomic_load_explicit(&chunks, memory_order_relaxed);
    /* Release: a walker that sees the chunk sees its slots. */
    atomic_store_explicit(&chunks, c, memory_order_release);
out:
    pthread_mutex_unlock(&lock);
    oak__stack_local *L = &s->stk[k];
    size_t added = 0;
    for (size_t i = 0; c && i < n; i++) {
        /* A slot that cannot be listed is still found by the chunk walk. */
        if (list_push(&L->made, &L->nmade, &L->capmade, &c->slots[i]) &&
            list_push(&L->free, &L->nfree, &L->capfree, &c->slots[i]))
            added++;
    }
    return added;
}

/* ---- homes ----------------------------------------------------------------- */

/* Take e (held by s) for r's eviction or as it is; true when it is free. */
static bool vacate(oak__slot *e)
{
    oak__proc *r = e->resident;
    return !r || evict(e, r);
}

/* e becomes p's home, p its resident, with a first frame still to write. */
static inline void settle(oak__slot *e, oak__proc *p)
{
    oak__asan_unpoison(e->base, e->size);
    e->resident = p;
    p->home = e;
    p->sp = NULL; /* the caller writes the first frame */
}

/* The common first run, and wake from hibernation: a process of the
 * default size takes the slot on top of its scheduler's free list, which
 * is still held here and empty (the last one given back here, most
 * often). Inline in the callers, with no frame to set up: assign() is
 * for everything else. */
static inline bool take_top(oak__sched *s, oak__proc *p)
{
    oak__stack_local *L = &s->stk[0];
    if (p->stack_size || L->nfree == 0)
        return false;
    oak__slot *e = L->free[L->nfree - 1];
    /* Relaxed, as in oak__stack_resident(): a holder word equal to ours
     * was stored by this thread. */
    if (atomic_load_explicit(&e->holder, memory_order_relaxed) != s->hword || e->resident)
        return false;
    L->nfree--;
    settle(e, p);
    return true;
}

/* A home for p on its first run (or after it hibernated). Without
 * `may_evict`, only a slot that needs no copy. */
static int assign(oak__sched *s, oak__proc *p, bool may_evict)
{
    int k = p->stack_size ? class_of(p->stack_size) : 0; /* 0: the default size */
    if (k < 0)
        return -ENOMEM; /* too many different stack sizes */
    oak__stack_local *L = &s->stk[k];
    oak__slot *e;
    while (L->nfree > 0) {
        e = L->free[--L->nfree];
        /* Most often still ours (it was given back here): a relaxed load,
         * as in oak__stack_resident(), instead of claim()'s call. */
        if (atomic_load_explicit(&e->holder, memory_order_relaxed) == s->hword) {
            if (!e->resident)
                goto got;
        } else if (claim(s, e, false) && !e->resident) {
            goto got;
        }
    }
    if (make_slots(s, (unsigned)k) > 0) {
        e = L->free[--L->nfree];
        goto got;
    }
    if (!may_evict)
        return -EAGAIN;
    /* The budget is spent: reuse one of the slots made here that this
     * scheduler can hold, by the CLOCK rule: an empty one, or one whose
     * resident has not run since the hand last passed (two turns at
     * most: the first clears the bits). */
    for (size_t i = 0; i < 2 * L->nmade; i++) {
        e = L->made[L->hand++ % L->nmade];
        if (!claim(s, e, false))
            continue;
        if (e->resident && e->used) {
            e->used = false;
            continue;
        }
        if (vacate(e))
            goto got;
    }
    /* None of those: any slot of the class that nobody awake holds. */
    oak__slot *held = NULL;
    uint64_t held_by = 0;
    for (chunk *c = atomic_load_explicit(&chunks, memory_order_acquire); c; c = c->next) {
        if (c->cls != (unsigned)k)
            continue;
        for (size_t i = 0; i < c->n; i++) {
            e = &c->slots[i];
            if (claim(s, e, false) && vacate(e)) {
                list_push(&L->made, &L->nmade, &L->capmade, e);
                goto got;
            }
            uint64_t h = atomic_load_explicit(&e->holder, memory_order_relaxed);
            if (!held && h != s->hword && h != 0) {
                held = e;
                held_by = h;
            }
        }
    }
    if (held)
        ask(held, held_by); /* the next try may find it let go */
    return -EAGAIN;
got:
    settle(e, p);
    return 0;
}

int oak__stack_prepare(oak__sched *s, oak__proc *p, oak__sched **holder)
{
    oak__slot *e = p->home;
    *holder = NULL;
    if (!e) {
        if (take_top(s, p))
            return 0;
        int rc = assign(s, p, true);
        if (rc == -EAGAIN) {
            /* No slot of its size exists, and none can be mapped: the
             * first run fails for good. */
            int k = class_of(p->stack_size);
            pthread_mutex_lock(&lock);
            if (k >= 0 && class_slots[k] == 0)
                rc = -ENOMEM;
            pthread_mutex_unlock(&lock);
        }
        return rc;
    }
    if (!claim(s, e, false)) {
        /* Held by a scheduler that is awake: that one runs p (the caller
         * forwards it there), where p's bytes are already. */
        uint64_t h = atomic_load_explicit(&e->holder, memory_order_relaxed);
        if (h && h != s->hword)
            *holder = holder_sched(h);
        return -EAGAIN;
    }
    if (e->resident != p) {
        if (!vacate(e))
            return -EAGAIN; /* no memory for the copy: try again later */
        copy_in(e, p);
    }
    return 0;
}

bool oak__stack_fresh(oak__sched *s, oak__proc *p)
{
    return take_top(s, p) || assign(s, p, false) == 0;
}

void oak__stack_ask(oak__proc *p)
{
    oak__slot *e = p->home;
    uint64_t h = e ? atomic_load_explicit(&e->holder, memory_order_relaxed) : 0;
    if (h)
        ask(e, h);
}

/* ---- giving back ---------------------------------------------------------- */

/* Has anything been written to the page just below the kept top? Not
 * instrumented: the word may lie in another frame's redzone. */
#ifdef OAK_ASAN
__attribute__((no_sanitize_address))
#endif
static bool touched_below_keep(const oak__slot *e)
{
    const char *keep = slot_top(e) - OAK__STACK_KEEP_PAGES * page;
    if (keep <= e->base)
        return false;
    if (e->low < keep)
        return true;
    /* A frame that went deeper and came back before any switch leaves no
     * low-water mark; its data (a return address, a saved register) is
     * seldom all zero. An untouched page reads as the zero page. */
    const volatile uint64_t *w = (const volatile uint64_t *)(keep - 64);
    /* Spelled out: a loop over volatile words is not unrolled (this is
     * on every death and every hibernation). */
    return (w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) != 0;
}

/* Out of line: rare, and its call would make every release save registers. */
__attribute__((noinline)) static void trim(oak__slot *e, size_t pages)
{
    char *keep = slot_top(e) - pages * page;
    if (keep > e->base)
        madvise(e->base, (size_t)(keep - e->base), MADV_DONTNEED);
    e->low = slot_top(e);
}

__attribute__((noinline)) static void drop_saved(oak__proc *p)
{
    free(p->saved);
    p->saved = NULL;
}

void oak__stack_release(oak__sched *s, oak__proc *p, bool overflowed)
{
    oak__slot *e = p->home;
    if (p->saved) /* evicted, and not run since */
        drop_saved(p);
    p->home = NULL;
    if (!e || e->resident != p)
        return;
    e->resident = NULL;
    /* After an overflow every page was touched: only the top one stays. */
    if (overflowed)
        trim(e, 1);
    else if (touched_below_keep(e))
        trim(e, OAK__STACK_KEEP_PAGES);
    free_push(&s->stk[e->cls], e);
}

/* ---- sweeping idle slots ------------------------------------------------------ */

/* Sweep one slot that s holds. Returns true when a later pass may still
 * give something back from it. */
static bool sweep_slot(oak__sched *s, oak__slot *e)
{
    if (!e->resident && e->low == slot_top(e))
        return false; /* nothing touched since it was last trimmed */
    if (e->used) {
        e->used = false; /* ran since the last pass: spared this time */
        return true;
    }
    if (e->resident) {
        if (!evict(e, e->resident))
            return true; /* no memory for the copy: keep its pages */
        oak__stack_local *L = &s->stk[e->cls];
        /* On ENOMEM the slot is still found by the clock or the chunk walk. */
        list_push(&L->free, &L->nfree, &L->capfree, e);
    }
    trim(e, 0);
    return false;
}

void oak__stack_sweep(oak__sched *s, int64_t now)
{
    if (now < s->stk_sweep_next) {
        /* Too soon: but what ran since the last pass may leave idle
         * residents behind, so the next pass is not slept through. */
        s->stk_sweep_more = true;
        return;
    }
    bool more = false;
    for (unsigned k = 0; k < OAK__STACK_CLASSES; k++) {
        oak__stack_local *L = &s->stk[k];
        for (size_t i = 0; i < L->nmade; i++) {
            oak__slot *e = L->made[i];
            /* One that an awake scheduler holds is that one's to use:
             * looked at again next time. */
            if (!claim(s, e, false))
                more = true;
            else if (sweep_slot(s, e))
                more = true;
        }
    }
    s->stk_sweep_next = now + OAK__STACK_SWEEP_NS;
    s->stk_sweep_more = more;
}

void oak__stack_forget(oak__proc *p)
{
    free(p->saved);
    p->saved = NULL;
    p->home = NULL;
}

bool oak__stack_in_guard(const oak__proc *p, const void *addr)
{
    const oak__slot *e = p->home;
    const char *a = addr;
    return e && a >= e->base - GAP_BYTES && a < e->base;
}
