/* call_gate.c - drops late call replies; see call_gate.h. */
#include "behaviours/call_gate.h"

#include <pthread.h>
#include <stdlib.h>

#define SHARDS 64
#define SWEEP_AT 64 /* sweep dead callers before growing beyond this */

typedef struct entry {
    oak_ref ref;
    oak_pid caller;
    oak_pid replier;
    int state;
} entry;

/* One shard: a small unordered array. Outstanding gated calls per shard are
 * few (concurrent callers / SHARDS), so a linear scan beats hashing. The
 * mutex is held for a few instructions only and never across a send. */
typedef struct shard {
    pthread_mutex_t lock;
    entry *v;
    size_t n, cap;
} shard;

static shard shards[SHARDS];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_shards(void)
{
    for (int i = 0; i < SHARDS; i++)
        pthread_mutex_init(&shards[i].lock, NULL);
}

static shard *shard_of(oak_ref ref)
{
    pthread_once(&once, init_shards);
    uint64_t h = ref * 0x9E3779B97F4A7C15ull;
    return &shards[h >> 58];
}

static entry *find(shard *s, oak_ref ref)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].ref == ref)
            return &s->v[i];
    return NULL;
}

static void drop(shard *s, entry *e)
{
    *e = s->v[--s->n];
}

int oak__gate_open(oak_ref ref, oak_pid caller)
{
    shard *s = shard_of(ref);
    pthread_mutex_lock(&s->lock);
    if (s->n == s->cap && s->cap >= SWEEP_AT) {
        /* Callers killed in the middle of a call never close their entry. */
        for (size_t i = 0; i < s->n;) {
            if (!oak_is_alive(s->v[i].caller))
                drop(s, &s->v[i]);
            else
                i++;
        }
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        entry *v = realloc(s->v, cap * sizeof *v);
        if (!v) {
            pthread_mutex_unlock(&s->lock);
            return -ENOMEM;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (entry){ref, caller, OAK_NOPID, OAK__GATE_OPEN};
    pthread_mutex_unlock(&s->lock);
    return 0;
}

void oak__gate_close(oak_ref ref)
{
    shard *s = shard_of(ref);
    pthread_mutex_lock(&s->lock);
    entry *e = find(s, ref);
    if (e)
        drop(s, e);
    pthread_mutex_unlock(&s->lock);
}

int oak__gate_abandon(oak_ref ref, oak_pid *replier)
{
    shard *s = shard_of(ref);
    pthread_mutex_lock(&s->lock);
    entry *e = find(s, ref);
    int st = e ? e->state : OAK__GATE_GONE;
    if (e && st == OAK__GATE_SENDING)
        *replier = e->replier;
    else if (e)
        drop(s, e);
    pthread_mutex_unlock(&s->lock);
    return st;
}

bool oak__gate_pass(oak_ref ref)
{
    shard *s = shard_of(ref);
    bool ok = false;
    pthread_mutex_lock(&s->lock);
    entry *e = find(s, ref);
    if (e && e->state == OAK__GATE_OPEN) {
        e->state = OAK__GATE_SENDING;
        e->replier = oak_self();
        ok = true;
    }
    pthread_mutex_unlock(&s->lock);
    return ok;
}

void oak__gate_sent(oak_ref ref)
{
    shard *s = shard_of(ref);
    pthread_mutex_lock(&s->lock);
    entry *e = find(s, ref);
    if (e)
        e->state = OAK__GATE_SENT;
    pthread_mutex_unlock(&s->lock);
}
