/* stack.c - see stack.h for the layout and the guard scheme. */
#include "core/stack.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/sanitizer.h"

/* A pool of free stacks of one size. */
typedef struct pool {
    size_t size;
    oak__stack *items;
    size_t len, cap;
} pool;

/* A mapping made for stacks, kept to be unmapped at the end. */
typedef struct chunk {
    struct chunk *next;
    void *addr;
    size_t len;
} chunk;

#define MAX_POOLS 16
#define LOCAL_CACHE_MAX 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pool pools[MAX_POOLS]; /* under lock */
static size_t npools;
static chunk *chunks;         /* under lock */
static size_t page;
static size_t default_size;
static size_t guarded_max;
static size_t guarded_count;  /* under lock */

size_t oak__page_size(void) { return page; }
size_t oak__stack_default_size(void) { return default_size; }

int oak__stack_init(size_t dflt, size_t guarded)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    default_size = (dflt + page - 1) & ~(page - 1);
    guarded_max = guarded;
    guarded_count = 0;
    npools = 0;
    chunks = NULL;
    return 0;
}

void oak__stack_term(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < npools; i++)
        free(pools[i].items);
    memset(pools, 0, sizeof pools);
    npools = 0;
    while (chunks) {
        chunk *c = chunks;
        chunks = c->next;
        /* Forget the stack frames' poison: the addresses may be mapped
         * again, for anything. */
        oak__asan_unpoison(c->addr, c->len);
        munmap(c->addr, c->len);
        free(c);
    }
    pthread_mutex_unlock(&lock);
}

static pool *pool_for(size_t size)
{
    for (size_t i = 0; i < npools; i++)
        if (pools[i].size == size)
            return &pools[i];
    if (npools == MAX_POOLS)
        return NULL;
    pools[npools].size = size;
    return &pools[npools++];
}

static int pool_push(pool *p, const oak__stack *s)
{
    if (p->len == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        oak__stack *n = realloc(p->items, cap * sizeof *n);
        if (!n)
            return -ENOMEM;
        p->items = n;
        p->cap = cap;
    }
    p->items[p->len++] = *s;
    return 0;
}

/* Map a chunk of stacks of `size` and add them to pool p. Guarded chunks
 * hold few stacks (each guard splits the mapping); unguarded ones many, so
 * that a million stacks need only a few thousand mappings. Under lock. */
static int grow(pool *p, size_t size)
{
    bool guard = guarded_count < guarded_max;
    size_t slot = size + page;
    size_t n;
    if (guard) {
        n = (2u << 20) / slot;
        if (n < 1)
            n = 1;
        if (n > guarded_max - guarded_count)
            n = guarded_max - guarded_count;
    } else {
        n = (32u << 20) / slot;
        if (n < 1)
            n = 1;
    }
    size_t len = n * slot;
    void *addr = mmap(NULL, len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (addr == MAP_FAILED)
        return -ENOMEM;
#ifdef MADV_NOHUGEPAGE
    /* Huge pages would make every stack's first touch cost 2 MiB and put
     * real pages under the red zones. */
    madvise(addr, len, MADV_NOHUGEPAGE);
#endif
    chunk *c = malloc(sizeof *c);
    if (!c) {
        munmap(addr, len);
        return -ENOMEM;
    }
    c->addr = addr;
    c->len = len;
    c->next = chunks;
    chunks = c;
    for (size_t i = n; i-- > 0;) {
        char *s = (char *)addr + i * slot;
        if (guard && mprotect(s, page, PROT_NONE) != 0) {
            /* The kernel refused another mapping: go on without guards. */
            guard = false;
            guarded_max = guarded_count;
        }
        oak__stack st = {.base = s + page, .size = size, .guarded = guard};
        if (guard)
            guarded_count++;
        if (pool_push(p, &st) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int take_global(size_t size, oak__stack *out, oak__stack_cache *refill)
{
    pthread_mutex_lock(&lock);
    int rc = 0;
    pool *p = pool_for(size);
    if (!p) {
        rc = -ENOMEM;
        goto out;
    }
    if (p->len == 0 && (rc = grow(p, size)) < 0)
        goto out;
    /* Prefer a guarded stack: look a little way down the pool for one. */
    size_t pick = p->len - 1;
    for (size_t i = 0; i < 32 && i < p->len && !p->items[pick].guarded; i++)
        if (p->items[p->len - 1 - i].guarded)
            pick = p->len - 1 - i;
    *out = p->items[pick];
    p->items[pick] = p->items[--p->len];
    /* Refill a local cache with a batch, to take the lock less often. */
    while (refill && p->len > 0 && refill->len < LOCAL_CACHE_MAX / 2) {
        if (refill->len == refill->cap)
            break;
        refill->items[refill->len++] = p->items[--p->len];
    }
out:
    pthread_mutex_unlock(&lock);
    return rc;
}

int oak__stack_get(oak__stack_cache *c, size_t size, oak__stack *out)
{
    if (size == 0)
        size = default_size;
    size = (size + page - 1) & ~(page - 1);
    if (size == default_size && c) {
        if (!c->items) {
            c->items = malloc(LOCAL_CACHE_MAX * sizeof *c->items);
            c->cap = c->items ? LOCAL_CACHE_MAX : 0;
        }
        if (c->len > 0) {
            *out = c->items[--c->len];
            goto got;
        }
        if (take_global(size, out, c) < 0)
            return -ENOMEM;
        goto got;
    }
    if (take_global(size, out, NULL) < 0)
        return -ENOMEM;
got:
    oak__asan_unpoison(out->base, out->size);
    return 0;
}

void oak__stack_put(oak__stack_cache *c, const oak__stack *s)
{
    if (c && s->size == default_size && c->len < c->cap) {
        c->items[c->len++] = *s;
        return;
    }
    pthread_mutex_lock(&lock);
    pool *p = pool_for(s->size);
    if (p) {
        if (c && s->size == default_size) {
            /* Local cache full: move half of it back too. */
            while (c->len > LOCAL_CACHE_MAX / 2)
                pool_push(p, &c->items[--c->len]);
        }
        pool_push(p, s); /* on ENOMEM the stack stays mapped, unused */
    }
    pthread_mutex_unlock(&lock);
}

void oak__stack_cache_drain(oak__stack_cache *c)
{
    pthread_mutex_lock(&lock);
    pool *p = pool_for(default_size);
    while (p && c->len > 0)
        pool_push(p, &c->items[--c->len]);
    pthread_mutex_unlock(&lock);
    free(c->items);
    c->items = NULL;
    c->len = c->cap = 0;
}

bool oak__stack_redzone_intact(const oak__stack *s)
{
    const uint64_t *w = (const uint64_t *)(s->base - OAK__REDZONE_CHECK);
    uint64_t acc = 0;
    for (size_t i = 0; i < OAK__REDZONE_CHECK / sizeof *w; i++)
        acc |= w[i];
    return acc == 0;
}

void oak__stack_redzone_reset(const oak__stack *s)
{
    if (!s->guarded)
        memset(s->base - page, 0, page);
}

bool oak__stack_in_guard(const oak__stack *s, const void *addr)
{
    const char *a = addr;
    return a >= s->base - page && a < s->base;
}
