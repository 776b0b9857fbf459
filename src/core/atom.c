/* atom.c - interned strings.
 *
 * Names are stored in fixed chunks that never move, so oak_atom_name() reads
 * them without a lock: a chunk pointer is published with a release store
 * after the chunk is filled, and the atom count likewise after the name is
 * written. Interning takes one mutex; it is meant for start-up and rare
 * paths, not for the message path. Atoms live until the program exits:
 * the table is never freed, not even by a destructor, since another thread
 * may still be making an atom while the program exits (it stays reachable,
 * so leak checkers do not count it as lost).
 */
#include "core/atom.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_BITS 12
#define CHUNK_SIZE (1u << CHUNK_BITS)
#define MAX_CHUNKS 1024 /* 4M atoms */

typedef struct entry {
    char *name;
    uint32_t len;
    uint32_t hash;
} entry;

static _Atomic(entry *) chunks[MAX_CHUNKS]; /* release-published chunks */
static _Atomic uint32_t count;              /* atoms in use, incl. 0     */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t *buckets; /* open addressing: atom or 0; under lock */
static uint32_t nbuckets;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static const char *const predefined[] = {
    NULL, "normal", "shutdown", "kill", "killed", "noproc", "timeout",
    "undefined", "ok", "error", "stack_overflow", "sigsegv", "sigbus",
    "sigfpe", "sigill", "badarg", "system_limit", "true", "false", "EXIT",
    "DOWN",
};

static uint32_t hash_name(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static entry *slot_of(uint32_t a)
{
    entry *c = atomic_load_explicit(&chunks[a >> CHUNK_BITS], memory_order_acquire);
    return c ? &c[a & (CHUNK_SIZE - 1)] : NULL;
}

static int grow(void)
{
    uint32_t n = nbuckets ? nbuckets * 2 : 1024;
    uint32_t *b = calloc(n, sizeof *b);
    if (!b)
        return -1;
    for (uint32_t i = 0; i < nbuckets; i++) {
        uint32_t a = buckets[i];
        if (!a)
            continue;
        uint32_t j = slot_of(a)->hash & (n - 1);
        while (b[j])
            j = (j + 1) & (n - 1);
        b[j] = a;
    }
    free(buckets);
    buckets = b;
    nbuckets = n;
    return 0;
}

/* Under lock: find, or (when add) add. Returns 0 when out of memory, or
 * when the name is not there and add is false. */
static oak_atom intern_locked(const char *s, size_t n, bool add)
{
    uint32_t h = hash_name(s, n);
    uint32_t c = atomic_load_explicit(&count, memory_order_relaxed);
    if (nbuckets) {
        for (uint32_t j = h & (nbuckets - 1);; j = (j + 1) & (nbuckets - 1)) {
            uint32_t a = buckets[j];
            if (!a)
                break;
            entry *e = slot_of(a);
            if (e->hash == h && e->len == n && memcmp(e->name, s, n) == 0)
                return a;
        }
    }
    if (!add || c >= CHUNK_SIZE * MAX_CHUNKS)
        return 0;
    if ((c + 1) * 2 > nbuckets && grow() < 0)
        return 0;
    entry *chunk = atomic_load_explicit(&chunks[c >> CHUNK_BITS], memory_order_relaxed);
    if (!chunk) {
        chunk = calloc(CHUNK_SIZE, sizeof *chunk);
        if (!chunk)
            return 0;
        /* Release: a reader that sees the chunk sees it zeroed. */
        atomic_store_explicit(&chunks[c >> CHUNK_BITS], chunk, memory_order_release);
    }
    char *copy = malloc(n + 1);
    if (!copy)
        return 0;
    memcpy(copy, s, n);
    copy[n] = 0;
    entry *e = &chunk[c & (CHUNK_SIZE - 1)];
    e->name = copy;
    e->len = (uint32_t)n;
    e->hash = h;
    uint32_t j = h & (nbuckets - 1);
    while (buckets[j])
        j = (j + 1) & (nbuckets - 1);
    buckets[j] = c;
    /* Release: a reader that sees the new count sees the name. */
    atomic_store_explicit(&count, c + 1, memory_order_release);
    return c;
}

static void init_predefined(void)
{
    pthread_mutex_lock(&lock);
    atomic_store_explicit(&count, 1, memory_order_relaxed); /* 0 is no atom */
    entry *chunk = calloc(CHUNK_SIZE, sizeof *chunk);
    if (!chunk)
        abort(); /* cannot run without the predefined atoms */
    atomic_store_explicit(&chunks[0], chunk, memory_order_release);
    for (size_t i = 1; i < sizeof predefined / sizeof *predefined; i++)
        if (intern_locked(predefined[i], strlen(predefined[i]), true) != i)
            abort();
    pthread_mutex_unlock(&lock);
}

oak_atom oak_atom_from_n(const char *name, size_t len)
{
    if (!name || len == 0 || len > OAK_ATOM_MAX_LEN)
        return OAK_ATOM_NONE;
    pthread_once(&once, init_predefined);
    pthread_mutex_lock(&lock);
    oak_atom a = intern_locked(name, len, true);
    pthread_mutex_unlock(&lock);
    return a;
}

oak_atom oak__atom_find(const char *name, size_t len)
{
    if (!name || len == 0 || len > OAK_ATOM_MAX_LEN)
        return OAK_ATOM_NONE;
    pthread_once(&once, init_predefined);
    pthread_mutex_lock(&lock);
    oak_atom a = intern_locked(name, len, false);
    pthread_mutex_unlock(&lock);
    return a;
}

oak_atom oak_atom_from(const char *name)
{
    return name ? oak_atom_from_n(name, strnlen(name, OAK_ATOM_MAX_LEN + 1)) : 0;
}

const char *oak_atom_name(oak_atom a)
{
    pthread_once(&once, init_predefined);
    if (a == 0 || a >= atomic_load_explicit(&count, memory_order_acquire))
        return NULL;
    return slot_of(a)->name;
}

size_t oak__atom_len(oak_atom a)
{
    const char *n = oak_atom_name(a);
    return n ? slot_of(a)->len : 0;
}
