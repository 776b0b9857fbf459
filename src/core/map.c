/* map.c - see map.h. Small tables are scanned; larger ones use linear
 * probing, with deleted slots reclaimed when the table is rebuilt. */
#include "core/map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint32_t mix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (uint32_t)k;
}

/* Up to SMALL entries a table is kept compact instead: its live pairs are
 * the first `len` ones, in no order, and the rest are empty. A process
 * rarely has more than a few links or monitors, and a call adds and
 * removes one every time; a scan of a few keys beats hashing them. */
#define SMALL OAK__MAP_SMALL

static bool is_small(const oak__map *m) { return m->cap <= SMALL; }

static int rebuild(oak__map *m, uint32_t cap)
{
    uint64_t *s = calloc((size_t)cap * 2, sizeof *s);
    if (!s)
        return -ENOMEM;
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->cap; i++) {
        if (!oak__map_live(m, i))
            continue;
        uint32_t j = n++;
        if (cap > SMALL) {
            j = mix(m->slots[2 * i]) & (cap - 1);
            while (s[2 * j] != OAK__MAP_EMPTY)
                j = (j + 1) & (cap - 1);
        }
        s[2 * j] = m->slots[2 * i];
        s[2 * j + 1] = m->slots[2 * i + 1];
    }
    free(m->slots);
    m->slots = s;
    m->cap = cap;
    m->used = m->len;
    return 0;
}

static int put_small(oak__map *m, uint64_t key, uint64_t value)
{
    for (uint32_t i = 0; i < m->len; i++) {
        if (m->slots[2 * i] == key) {
            m->slots[2 * i + 1] = value;
            return 0;
        }
    }
    if (m->len == m->cap && rebuild(m, m->cap ? m->cap * 2 : 4) < 0)
        return -ENOMEM;
    if (!is_small(m))
        return oak__map_put(m, key, value);
    oak__map_small_append(m, key, value);
    return 0;
}

int oak__map_put(oak__map *m, uint64_t key, uint64_t value)
{
    if (is_small(m))
        return put_small(m, key, value);
    /* One probe: overwrite the key if present, else take the first deleted
     * slot seen, else the empty slot that ends the run. */
    uint32_t j = mix(key) & (m->cap - 1);
    int64_t free_at = -1;
    for (;; j = (j + 1) & (m->cap - 1)) {
        uint64_t k = m->slots[2 * j];
        if (k == key) {
            m->slots[2 * j + 1] = value;
            return 0;
        }
        if (k == OAK__MAP_DELETED && free_at < 0)
            free_at = j;
        if (k == OAK__MAP_EMPTY)
            break;
    }
    if (free_at < 0) {
        if ((m->used + 1) * 4 > m->cap * 3) {
            uint32_t cap = m->cap;
            while ((m->len + 1) * 2 > cap)
                cap *= 2;
            if (rebuild(m, cap) < 0)
                return -ENOMEM;
            j = mix(key) & (m->cap - 1);
            while (m->slots[2 * j] != OAK__MAP_EMPTY)
                j = (j + 1) & (m->cap - 1);
        }
        free_at = j;
        m->used++;
    }
    m->slots[2 * free_at] = key;
    m->slots[2 * free_at + 1] = value;
    m->len++;
    return 0;
}

static int64_t find(const oak__map *m, uint64_t key)
{
    if (m->len == 0)
        return -1;
    if (is_small(m)) {
        for (uint32_t i = 0; i < m->len; i++)
            if (m->slots[2 * i] == key)
                return i;
        return -1;
    }
    for (uint32_t j = mix(key) & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
        uint64_t k = m->slots[2 * j];
        if (k == key)
            return j;
        if (k == OAK__MAP_EMPTY)
            return -1;
    }
}

bool oak__map_get(const oak__map *m, uint64_t key, uint64_t *value)
{
    int64_t j = find(m, key);
    if (j < 0)
        return false;
    if (value)
        *value = m->slots[2 * j + 1];
    return true;
}

static void del_at(oak__map *m, int64_t j)
{
    if (is_small(m)) {
        oak__map_small_remove(m, (uint32_t)j);
        return;
    }
    m->len--;
    m->slots[2 * j] = OAK__MAP_DELETED;
    if (m->len == 0)
        oak__map_free(m); /* a large table empty again */
}

bool oak__map_del(oak__map *m, uint64_t key, uint64_t *value)
{
    int64_t j = find(m, key);
    if (j < 0)
        return false;
    if (value)
        *value = m->slots[2 * j + 1];
    del_at(m, j);
    return true;
}

bool oak__map_del_if_slow(oak__map *m, uint64_t key, uint64_t value)
{
    int64_t j = find(m, key);
    if (j < 0 || m->slots[2 * j + 1] != value)
        return false;
    del_at(m, j);
    return true;
}

void oak__map_free(oak__map *m)
{
    if (!m->slots)
        return;
    free(m->slots);
    m->slots = NULL;
    m->cap = m->len = m->used = 0;
}
