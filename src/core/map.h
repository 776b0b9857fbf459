/* map.h - a small open-addressing hash map from 64-bit keys to 64-bit
 * values, for a process's links and monitors.
 *
 * Keys 0 and UINT64_MAX are reserved (empty and deleted slots); pids and
 * references are never either. Not thread-safe: each map belongs to one
 * process and only that process touches it.
 */
#ifndef OAK_CORE_MAP_H
#define OAK_CORE_MAP_H

#include <stdbool.h>
#include <stdint.h>

typedef struct oak__map {
    uint64_t *slots; /* cap pairs (key, value); NULL while empty */
    uint32_t cap;    /* a power of two, or 0 */
    uint32_t len;    /* live keys */
    uint32_t used;   /* live + deleted slots */
} oak__map;

#define OAK__MAP_EMPTY ((uint64_t)0)
#define OAK__MAP_DELETED UINT64_MAX

/* Tables of up to this many slots are kept compact (map.c): their live
 * pairs are the first `len`, in no order. */
#define OAK__MAP_SMALL 8

/* Insert or overwrite. Returns 0 or -ENOMEM. */
int oak__map_put(oak__map *m, uint64_t key, uint64_t value);

/* A compact table's two edits, shared by map.c and the inline paths
 * below: append a pair (there is room), or remove pair i (the last pair
 * fills the hole). */
static inline void oak__map_small_append(oak__map *m, uint64_t key, uint64_t value)
{
    m->slots[2 * m->len] = key;
    m->slots[2 * m->len + 1] = value;
    m->used = ++m->len;
}
static inline void oak__map_small_remove(oak__map *m, uint32_t i)
{
    uint32_t last = --m->len;
    m->slots[2 * i] = m->slots[2 * last];
    m->slots[2 * i + 1] = m->slots[2 * last + 1];
    m->slots[2 * last] = OAK__MAP_EMPTY;
    m->used = m->len;
}

/* Insert a key known to be absent (a fresh reference): no look for it
 * first. Returns 0 or -ENOMEM. Inline for a compact table with room: a
 * call adds a monitor at each end. */
static inline int oak__map_add(oak__map *m, uint64_t key, uint64_t value)
{
    if (m->cap > OAK__MAP_SMALL || m->len == m->cap)
        return oak__map_put(m, key, value);
    oak__map_small_append(m, key, value);
    return 0;
}
/* Look up; stores the value in *value when found (value may be NULL). */
bool oak__map_get(const oak__map *m, uint64_t key, uint64_t *value);
/* Remove; stores the old value in *value when found. */
bool oak__map_del(oak__map *m, uint64_t key, uint64_t *value);
/* Remove key only if its value is `value`. Returns whether it did.
 * Inline for a compact table: a call's reply ends its monitor at each
 * end. */
bool oak__map_del_if_slow(oak__map *m, uint64_t key, uint64_t value);
static inline bool oak__map_del_if(oak__map *m, uint64_t key, uint64_t value)
{
    if (m->cap > OAK__MAP_SMALL)
        return oak__map_del_if_slow(m, key, value);
    for (uint32_t i = 0; i < m->len; i++) {
        if (m->slots[2 * i] != key)
            continue;
        if (m->slots[2 * i + 1] != value)
            return false;
        oak__map_small_remove(m, i);
        return true;
    }
    return false;
}
void oak__map_free(oak__map *m);

/* Iterate: for (uint32_t i = 0; i < m->cap; i++) if (oak__map_live(m, i)) */
static inline bool oak__map_live(const oak__map *m, uint32_t i)
{
    uint64_t k = m->slots[2 * i];
    return k != OAK__MAP_EMPTY && k != OAK__MAP_DELETED;
}

#endif
