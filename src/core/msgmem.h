/* msgmem.h - memory for small messages.
 *
 * Messages with a payload of up to OAK__MSG_SMALL_MAX bytes live in blocks
 * of a few sizes (see oak__msg_class()), carved from 2 MiB chunks of one
 * size each (aligned to 2 MiB, so a block finds its chunk by masking its
 * address). Each chunk belongs to one scheduler:
 * that scheduler takes blocks from it and gives them back with plain stores;
 * any other thread gives a block back by pushing it on the chunk's `remote`
 * stack, which the owner collects when it runs short. A chunk whose blocks
 * have all come back is unmapped, so a burst of messages leaves nothing
 * behind once it is received. A scheduler's first chunk grows 4 KiB page by
 * page; the chunks of a burst ask for transparent huge pages, so a million
 * messages in flight cost some sixty page faults, not thirty thousand.
 */
#ifndef OAK_CORE_MSGMEM_H
#define OAK_CORE_MSGMEM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/proc.h"
#include "core/sanitizer.h"

#define OAK__CHUNK_BYTES ((uintptr_t)2 << 20)

/* Empty chunks a scheduler keeps besides the one it takes blocks from, so
 * that traffic around a chunk's edge does not map and unmap it again and
 * again. */
#define OAK__SPARE_CHUNKS 0

typedef struct oak__blocks oak__blocks;

typedef struct oak__chunk {
    /* ---- the owner's ---- */
    struct oak__chunk *next, *prev; /* the owner's chunks                */
    oak__blocks *owner;
    oak__msg *free;                 /* blocks given back to the owner    */
    uint32_t used;                  /* blocks out (remote ones included
                                     * until collected)                  */
    uint32_t bump;                  /* blocks carved so far              */
    uint32_t nblocks;
    uint32_t block_bytes;
    uint32_t first;                 /* offset of block 0 (after this)   */
    /* ---- any thread ---- */
    alignas(64) _Atomic(oak__msg *) remote; /* given back by other threads */
} oak__chunk;

/* A scheduler's chunks of one block size. Only its thread touches them. */
struct oak__blocks {
    oak__chunk *cur;      /* blocks are taken from here first */
    oak__chunk *chunks;   /* all of them                     */
    unsigned n;
    uint32_t block_bytes; /* set before first use            */
};

oak__msg *oak__block_alloc_slow(oak__blocks *b);
void oak__block_free_remote(oak__chunk *c, oak__msg *m);
void oak__chunk_emptied(oak__blocks *b, oak__chunk *c);

/* A free block of c: all but its link is off limits (AddressSanitizer). */
#define oak__asan_poison_block(c, m)                                               \
    oak__asan_poison((char *)(m) + sizeof(void *), (c)->block_bytes - sizeof(void *))

static inline oak__chunk *oak__chunk_of(const oak__msg *m)
{
    return (oak__chunk *)((uintptr_t)m & ~(OAK__CHUNK_BYTES - 1));
}

/* A block from b's chunks, or NULL when no memory is left. */
static inline oak__msg *oak__block_alloc(oak__blocks *b)
{
    oak__chunk *c = b->cur;
    oak__msg *m;
    if (c && (m = c->free) != NULL) {
        c->free = m->next;
        c->used++;
        oak__asan_unpoison(m, c->block_bytes);
        return m;
    }
    return oak__block_alloc_slow(b);
}

/* Give m back. mine: the calling thread's scheduler's blocks (an array of
 * OAK__MSG_CLASSES), or NULL when it is not a scheduler thread. */
static inline void oak__block_free(oak__blocks *mine, oak__msg *m)
{
    oak__chunk *c = oak__chunk_of(m);
    oak__blocks *b = c->owner;
    if (mine && b >= mine && b < mine + OAK__MSG_CLASSES) {
        m->next = c->free;
        c->free = m;
        oak__asan_poison_block(c, m);
        if (--c->used == 0 && c != b->cur)
            oak__chunk_emptied(b, c);
        return;
    }
    oak__block_free_remote(c, m);
}

/* A scheduler's blocks of every size: an array of OAK__MSG_CLASSES. */
void oak__msgmem_init(oak__blocks *mem);
/* Collect what other threads gave back and unmap the chunks left empty
 * (a scheduler about to sleep). */
void oak__msgmem_sweep(oak__blocks *mem);
/* Does it hold more chunks than it keeps? Blocks of them may come back
 * from other threads while its scheduler sleeps: it wakes now and then to
 * sweep. */
bool oak__msgmem_held(const oak__blocks *mem);
/* Unmap all the chunks (runtime teardown, once no message is left). */
void oak__msgmem_term(oak__blocks *mem);

#endif
