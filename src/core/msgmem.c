/* msgmem.c - see msgmem.h. */
#include "core/msgmem.h"

#include <sys/mman.h>

/* The chunk's header takes the first blocks; its `remote` word has a cache
 * line of its own, since other threads write it. */
static uint32_t header_blocks(uint32_t block_bytes)
{
    return (uint32_t)((sizeof(oak__chunk) + block_bytes - 1) / block_bytes);
}

static oak__msg *block_at(oak__chunk *c, uint32_t i)
{
    return (oak__msg *)((char *)c + c->first + (size_t)i * c->block_bytes);
}

/* A new chunk for b, 2 MiB-aligned: map twice the size and trim. */
static oak__chunk *chunk_new(oak__blocks *b)
{
    size_t len = 2 * OAK__CHUNK_BYTES;
    char *raw = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    uintptr_t start = ((uintptr_t)raw + OAK__CHUNK_BYTES - 1) & ~(OAK__CHUNK_BYTES - 1);
    char *c0 = (char *)start;
    if (c0 > raw)
        munmap(raw, (size_t)(c0 - raw));
    if (raw + len > c0 + OAK__CHUNK_BYTES)
        munmap(c0 + OAK__CHUNK_BYTES, (size_t)(raw + len - (c0 + OAK__CHUNK_BYTES)));
#ifdef MADV_HUGEPAGE
    /* A scheduler's first chunk grows a page at a time (a quiet program
     * stays small); a burst's chunks are filled fast and whole. */
    if (b->n > 0)
        madvise(c0, OAK__CHUNK_BYTES, MADV_HUGEPAGE);
#endif
    /* Fresh memory is addressable, whatever AddressSanitizer last knew
     * of these addresses (a stack of an earlier runtime, say). */
    oak__asan_unpoison(c0, OAK__CHUNK_BYTES);
    oak__chunk *c = (oak__chunk *)c0;
    c->owner = b;
    c->free = NULL;
    c->used = 0;
    c->bump = 0;
    c->block_bytes = b->block_bytes;
    c->first = header_blocks(b->block_bytes) * b->block_bytes;
    c->nblocks = (uint32_t)((OAK__CHUNK_BYTES - c->first) / b->block_bytes);
    atomic_init(&c->remote, NULL);
    c->prev = NULL;
    c->next = b->chunks;
    if (b->chunks)
        b->chunks->prev = c;
    b->chunks = c;
    b->n++;
    return c;
}

static void chunk_unmap(oak__blocks *b, oak__chunk *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        b->chunks = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (b->cur == c)
        b->cur = NULL;
    b->n--;
    /* Forget the poisoned blocks: the addresses may be mapped again. */
    oak__asan_unpoison(c, OAK__CHUNK_BYTES);
    munmap(c, OAK__CHUNK_BYTES);
}

/* Take in the blocks other threads gave back. Acquire: pairs with their
 * release push, so their last use of a block happens before its reuse. */
static void collect(oak__chunk *c)
{
    if (!atomic_load_explicit(&c->remote, memory_order_relaxed))
        return;
    oak__msg *list = atomic_exchange_explicit(&c->remote, NULL, memory_order_acquire);
    if (!list)
        return;
    uint32_t n = 1;
    oak__msg *last = list;
    while (last->next) {
        last = last->next;
        n++;
    }
    last->next = c->free;
    c->free = list;
    c->used -= n;
}

static oak__msg *take(oak__chunk *c)
{
    oak__msg *m = c->free;
    if (m) {
        c->free = m->next;
        oak__asan_unpoison(m, c->block_bytes);
    } else {
        m = block_at(c, c->bump++);
    }
    c->used++;
    return m;
}

static bool has_room(const oak__chunk *c) { return c->free || c->bump < c->nblocks; }

oak__msg *oak__block_alloc_slow(oak__blocks *b)
{
    oak__chunk *c = b->cur;
    if (c && c->bump < c->nblocks)
        return take(c); /* most blocks of a chunk are carved here */
    /* The current chunk is spent: look at each chunk in turn, taking in
     * what other threads gave back. */
    for (c = b->chunks; c; c = c->next) {
        collect(c);
        if (has_room(c)) {
            b->cur = c;
            return take(c);
        }
    }
    c = chunk_new(b);
    if (!c)
        return NULL;
    b->cur = c;
    return take(c);
}

void oak__block_free_remote(oak__chunk *c, oak__msg *m)
{
    oak__asan_poison_block(c, m);
    oak__msg *head = atomic_load_explicit(&c->remote, memory_order_relaxed);
    do
        m->next = head;
    while (!atomic_compare_exchange_weak_explicit(&c->remote, &head, m, memory_order_release,
                                                  memory_order_relaxed));
}

/* c (not the current chunk) has all its blocks back. */
void oak__chunk_emptied(oak__blocks *b, oak__chunk *c)
{
    if (b->n > 1 + OAK__SPARE_CHUNKS)
        chunk_unmap(b, c);
}

void oak__msgmem_init(oak__blocks *mem)
{
    for (unsigned k = 0; k < OAK__MSG_CLASSES; k++)
        mem[k] = (oak__blocks){.block_bytes = oak__msg_class_bytes(k)};
}

void oak__msgmem_sweep(oak__blocks *mem)
{
    for (unsigned k = 0; k < OAK__MSG_CLASSES; k++) {
        oak__blocks *b = &mem[k];
        oak__chunk *c = b->chunks;
        while (c) {
            oak__chunk *next = c->next;
            collect(c);
            if (c->used == 0 && c != b->cur && b->n > 1 + OAK__SPARE_CHUNKS)
                chunk_unmap(b, c);
            c = next;
        }
    }
}

bool oak__msgmem_held(const oak__blocks *mem)
{
    for (unsigned k = 0; k < OAK__MSG_CLASSES; k++)
        if (mem[k].n > 1 + OAK__SPARE_CHUNKS)
            return true;
    return false;
}

void oak__msgmem_term(oak__blocks *mem)
{
    for (unsigned k = 0; k < OAK__MSG_CLASSES; k++)
        while (mem[k].chunks)
            chunk_unmap(&mem[k], mem[k].chunks);
}
