/* stack.h - process stacks: cached, guarded against overflow.
 *
 * Each stack sits in a slot of a larger mapping (a chunk), with one page
 * below its usable area:
 *
 *   low                                                         high
 *   +-----------+--------------------------------------------------+
 *   | guard or  |  usable stack (grows down from the top)          |
 *   | red zone  |                                                  |
 *   +-----------+--------------------------------------------------+
 *   ^ slot      ^ base                                             ^ base+size
 *
 * A guarded stack's page is PROT_NONE: running into it faults at once and
 * kills only that process. Each guard splits its chunk's mapping in two, so a
 * guarded stack costs two kernel mappings (vm.max_map_count is 65,530 by
 * default); the runtime guards at most `guarded_stacks` stacks. The others
 * get a red zone instead: a readable page that must stay all zero. It is
 * never written in normal operation, so it stays mapped to the kernel's
 * shared zero page and costs no memory; the scheduler checks its top bytes
 * each time the process leaves the CPU, and a process that wrote there is
 * killed with reason stack_overflow. See docs/design/stacks.md.
 *
 * Stacks are never unmapped while the runtime runs: a dead process's stack
 * goes to its scheduler's cache (then to a global pool) for the next spawn.
 */
#ifndef OAK_CORE_STACK_H
#define OAK_CORE_STACK_H

#include <stdbool.h>
#include <stddef.h>

typedef struct oak__stack {
    char *base;   /* lowest usable byte */
    size_t size;  /* usable bytes, a multiple of the page size */
    bool guarded; /* a PROT_NONE page lies below base */
} oak__stack;

typedef struct oak__stack_cache {
    oak__stack *items; /* LIFO of free stacks of the default size */
    size_t len, cap;
} oak__stack_cache;

/* Bytes of the red zone checked at each switch. */
#define OAK__REDZONE_CHECK 256

int oak__stack_init(size_t default_size, size_t guarded_max);
void oak__stack_term(void);

/* A stack of at least size bytes (0 = default). Returns 0 or -ENOMEM. */
int oak__stack_get(oak__stack_cache *c, size_t size, oak__stack *out);
/* Give a stack back. */
void oak__stack_put(oak__stack_cache *c, const oak__stack *s);
/* Return a cache's stacks to the global pool. */
void oak__stack_cache_drain(oak__stack_cache *c);

/* For an unguarded stack: is its red zone still all zero? */
bool oak__stack_redzone_intact(const oak__stack *s);
/* Make the red zone zero again after an overflow was detected. */
void oak__stack_redzone_reset(const oak__stack *s);
/* Is addr in the guard page or red zone below this stack? */
bool oak__stack_in_guard(const oak__stack *s, const void *addr);

size_t oak__page_size(void);
size_t oak__stack_default_size(void);

#endif
