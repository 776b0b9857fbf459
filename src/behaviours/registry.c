/* registry.c - Elixir's Registry as a gen_server on the public API.
 *
 * The registry process owns one table of entries {key, pid, value}, hashed
 * twice: by key (lookups, unique checks) and by pid (keys/2, and removing
 * everything of a process that died). Every operation is a call to the
 * registry process, which serialises them; Elixir reads its ETS tables
 * without a message, which oak cannot do on the public API (see
 * docs/otp-differences.md).
 *
 * The registry traps exits and links to each process while it has entries;
 * an EXIT from a registrant removes its entries. Because the EXIT of a dead
 * owner and the register call of its restarted successor come from
 * different processes, they may arrive in either order: a unique key whose
 * owner is no longer alive counts as free (as in Elixir), and lookups never
 * return entries of dead processes.
 *
 * All memory comes from oak_alloc() in the registry process.
 */
#include "behaviours/registry.h"

#include <stdlib.h>
#include <string.h>

/* ---- the table --------------------------------------------------------------- */

typedef struct entry {
    struct entry *next_key; /* chain of the key's bucket */
    struct entry *next_pid; /* chain of the pid's bucket */
    uint64_t seq;           /* registration order */
    uint64_t khash;
    oak_pid pid;
    size_t key_size;
    size_t value_size;
    unsigned char *key;     /* both point into the same allocation */
    unsigned char *value;
} entry;

typedef struct reg {
    oak_gen_server *gs;
    oak_pid self;
    oak_pid parent;
    oak_registry_kind keys;
    entry **by_key;
    entry **by_pid;
    size_t nbuckets; /* a power of two */
    size_t n;
    uint64_t next_seq;
} reg;

static uint64_t hash_bytes(const void *p, size_t n)
{
    /* FNV-1a */
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t hash_pid(oak_pid pid)
{
    uint64_t h = pid * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

static bool key_eq(const entry *e, uint64_t h, const void *key, size_t size)
{
    return e->khash == h && e->key_size == size &&
           (size == 0 || memcmp(e->key, key, size) == 0);
}

static int table_init(reg *r, size_t nb)
{
    r->by_key = oak_alloc(nb * sizeof *r->by_key);
    r->by_pid = oak_alloc(nb * sizeof *r->by_pid);
    if (!r->by_key || !r->by_pid)
        return -ENOMEM;
    memset(r->by_key, 0, nb * sizeof *r->by_key);
    memset(r->by_pid, 0, nb * sizeof *r->by_pid);
    r->nbuckets = nb;
    return 0;
}

static void grow(reg *r)
{
    size_t nb = r->nbuckets * 2;
    entry **ok = r->by_key, **op = r->by_pid;
    size_t onb = r->nbuckets;
    if (table_init(r, nb) < 0) {
        oak_free(r->by_key);
        oak_free(r->by_pid);
        r->by_key = ok; /* keep the old table: slower, still right */
        r->by_pid = op;
        r->nbuckets = onb;
        return;
    }
    for (size_t i = 0; i < onb; i++) {
        for (entry *e = ok[i], *nx; e; e = nx) {
            nx = e->next_key;
            e->next_key = r->by_key[e->khash & (nb - 1)];
            r->by_key[e->khash & (nb - 1)] = e;
        }
        for (entry *e = op[i], *nx; e; e = nx) {
            nx = e->next_pid;
            size_t b = hash_pid(e->pid) & (nb - 1);
            e->next_pid = r->by_pid[b];
            r->by_pid[b] = e;
        }
    }
    oak_free(ok);
    oak_free(op);
}

static bool has_entries(const reg *r, oak_pid pid)
{
    for (entry *e = r->by_pid[hash_pid(pid) & (r->nbuckets - 1)]; e; e = e->next_pid)
        if (e->pid == pid)
            return true;
    return false;
}

static int insert(reg *r, oak_pid pid, const void *key, size_t ksize,
                  const void *value, size_t vsize)
{
    entry *e = oak_alloc(sizeof *e + ksize + vsize + 1);
    if (!e)
        return -ENOMEM;
    bool first = !has_entries(r, pid);
    e->key = (unsigned char *)(e + 1);
    e->value = e->key + ksize;
    if (ksize)
        memcpy(e->key, key, ksize);
    if (vsize)
        memcpy(e->value, value, vsize);
    e->key_size = ksize;
    e->value_size = vsize;
    e->pid = pid;
    e->seq = ++r->next_seq;
    e->khash = hash_bytes(key, ksize);
    size_t kb = e->khash & (r->nbuckets - 1);
    size_t pb = hash_pid(pid) & (r->nbuckets - 1);
    e->next_key = r->by_key[kb];
    r->by_key[kb] = e;
    e->next_pid = r->by_pid[pb];
    r->by_pid[pb] = e;
    r->n++;
    if (first && pid != r->self)
        oak_link(pid); /* we trap exits: a dead pid gives EXIT noproc */
    if (r->n > 2 * r->nbuckets)
        grow(r);
    return 0;
}

/* Remove the entries of pid, all of them (key NULL) or those under key. */
static void remove_entries(reg *r, oak_pid pid, const void *key, size_t ksize,
                           bool all)
{
    uint64_t h = all ? 0 : hash_bytes(key, ksize);
    size_t pb = hash_pid(pid) & (r->nbuckets - 1);
    for (entry **pp = &r->by_pid[pb]; *pp;) {
        entry *e = *pp;
        if (e->pid != pid || (!all && !key_eq(e, h, key, ksize))) {
            pp = &e->next_pid;
            continue;
        }
        *pp = e->next_pid;
        entry **kp = &r->by_key[e->khash & (r->nbuckets - 1)];
        while (*kp != e)
            kp = &(*kp)->next_key;
        *kp = e->next_key;
        oak_free(e);
        r->n--;
    }
}

/* ---- the protocol ---------------------------------------------------------------- */

enum op {
    OP_REGISTER = 1,
    OP_REGISTER_VIA, /* the same, refused by duplicate registries */
    OP_UNREGISTER,
    OP_LOOKUP,
    OP_KEYS,
    OP_COUNT,
};

typedef struct reg_req {
    oak_pid pid;       /* OP_KEYS */
    uint64_t key_size;
    uint64_t value_size;
    uint64_t pad;
    _Alignas(16) unsigned char bytes[]; /* key, then value */
} reg_req;

typedef struct reg_rep {
    int32_t code;
    oak_pid owner;
} reg_rep;

/* A lookup or keys answer: a count, then records of a pid and a byte
 * string each, every record 16-byte aligned. */
typedef struct rec_hdr {
    oak_pid pid;
    uint64_t size;
    _Alignas(16) unsigned char bytes[];
} rec_hdr;

#define REC_ALIGN(n) (((n) + 15) & ~(size_t)15)

typedef struct list_hdr {
    uint64_t count;
    uint64_t pad;
} list_hdr;

static void reply_code(reg *r, int code, oak_pid owner)
{
    reg_rep rep = {code, owner};
    oak_gen_server_set_reply(r->gs, OAK_OK, &rep, sizeof rep);
}

static int cmp_seq(const void *a, const void *b)
{
    const entry *x = *(entry *const *)a, *y = *(entry *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Answer with the records of v[0..n): the value (lookup) or key (keys). */
static void reply_list(reg *r, entry **v, size_t n, bool keys)
{
    qsort(v, n, sizeof *v, cmp_seq);
    size_t total = sizeof(list_hdr);
    for (size_t i = 0; i < n; i++)
        total += sizeof(rec_hdr) + REC_ALIGN(keys ? v[i]->key_size : v[i]->value_size);
    unsigned char *buf = oak_alloc(total);
    if (!buf)
        oak_gen_server_exit(r->gs, OAK_SYSTEM_LIMIT, NULL);
    memset(buf, 0, total);
    list_hdr *h = (list_hdr *)buf;
    h->count = n;
    size_t off = sizeof *h;
    for (size_t i = 0; i < n; i++) {
        rec_hdr *rec = (rec_hdr *)(buf + off);
        size_t sz = keys ? v[i]->key_size : v[i]->value_size;
        rec->pid = v[i]->pid;
        rec->size = sz;
        if (sz)
            memcpy(rec->bytes, keys ? v[i]->key : v[i]->value, sz);
        off += sizeof *rec + REC_ALIGN(sz);
    }
    oak_gen_server_set_reply(r->gs, OAK_OK, buf, total);
    oak_free(buf);
}

static void do_register(reg *r, const oak_gen_from *from, const reg_req *q,
                        bool via)
{
    if (via && r->keys != OAK_REGISTRY_UNIQUE) {
        reply_code(r, -EINVAL, OAK_NOPID);
        return;
    }
    const void *key = q->bytes;
    const void *value = q->bytes + q->key_size;
    if (r->keys == OAK_REGISTRY_UNIQUE) {
        uint64_t h = hash_bytes(key, q->key_size);
        for (entry *e = r->by_key[h & (r->nbuckets - 1)]; e; e = e->next_key) {
            if (!key_eq(e, h, key, q->key_size))
                continue;
            if (oak_is_alive(e->pid)) {
                reply_code(r, -EEXIST, e->pid);
                return;
            }
            /* Its owner died and its EXIT is still on the way. */
            remove_entries(r, e->pid, NULL, 0, true);
            break;
        }
    }
    int rc = insert(r, from->pid, key, q->key_size, value, q->value_size);
    reply_code(r, rc, rc == 0 ? r->self : OAK_NOPID);
}

static void do_unregister(reg *r, const oak_gen_from *from, const reg_req *q)
{
    remove_entries(r, from->pid, q->bytes, q->key_size, false);
    if (!has_entries(r, from->pid) && from->pid != r->parent &&
        from->pid != r->self)
        oak_unlink(from->pid);
    reply_code(r, 0, OAK_NOPID);
}

/* Append e to the growing array *v (n used, cap allocated). */
static void push_entry(reg *r, entry ***v, size_t *n, size_t *cap, entry *e)
{
    if (*n == *cap) {
        entry **w = oak_alloc(2 * *cap * sizeof *w);
        if (!w)
            oak_gen_server_exit(r->gs, OAK_SYSTEM_LIMIT, NULL);
        memcpy(w, *v, *n * sizeof *w);
        oak_free(*v);
        *v = w;
        *cap *= 2;
    }
    (*v)[(*n)++] = e;
}

static void do_lookup(reg *r, const reg_req *q)
{
    uint64_t h = hash_bytes(q->bytes, q->key_size);
    size_t n = 0, cap = 8;
    entry **v = oak_alloc(cap * sizeof *v);
    if (!v)
        oak_gen_server_exit(r->gs, OAK_SYSTEM_LIMIT, NULL);
    for (entry *e = r->by_key[h & (r->nbuckets - 1)]; e; e = e->next_key) {
        if (!key_eq(e, h, q->bytes, q->key_size) || !oak_is_alive(e->pid))
            continue;
        push_entry(r, &v, &n, &cap, e);
    }
    reply_list(r, v, n, false);
    oak_free(v);
}

static void do_keys(reg *r, const reg_req *q)
{
    size_t n = 0, cap = 8;
    entry **v = oak_alloc(cap * sizeof *v);
    if (!v)
        oak_gen_server_exit(r->gs, OAK_SYSTEM_LIMIT, NULL);
    if (oak_is_alive(q->pid)) {
        size_t pb = hash_pid(q->pid) & (r->nbuckets - 1);
        for (entry *e = r->by_pid[pb]; e; e = e->next_pid) {
            if (e->pid != q->pid)
                continue;
            push_entry(r, &v, &n, &cap, e);
        }
    }
    reply_list(r, v, n, true);
    oak_free(v);
}

static void do_count(reg *r)
{
    int n = 0;
    for (size_t i = 0; i < r->nbuckets; i++)
        for (entry *e = r->by_key[i]; e; e = e->next_key)
            if (oak_is_alive(e->pid))
                n++;
    reply_code(r, n, OAK_NOPID);
}

/* ---- gen_server callbacks ---------------------------------------------------------- */

static int reg_init(oak_gen_server *gs, void *arg, void **state)
{
    const oak_registry_def *def = arg;
    oak_trap_exit(true);
    reg *r = oak_alloc(sizeof *r);
    if (!r || table_init(r, 16) < 0)
        oak_gen_server_exit(gs, OAK_SYSTEM_LIMIT, NULL);
    r->gs = gs;
    r->self = oak_self();
    r->parent = oak_gen_server_parent(gs);
    r->keys = def->keys;
    r->n = 0;
    r->next_seq = 0;
    *state = r;
    return OAK_GS_OK;
}

static int reg_call(oak_gen_server *gs, void *state, const oak_msg *m,
                    const oak_gen_from *from)
{
    reg *r = state;
    const reg_req *q = m->data;
    if (m->size < sizeof *q ||
        m->size != sizeof *q + q->key_size + q->value_size) {
        oak_gen_server_set_stop(gs, oak__batom(OAK__A_BAD_CALL), NULL);
        return OAK_GS_STOP;
    }
    switch (m->tag) {
    case OP_REGISTER:
    case OP_REGISTER_VIA:
        do_register(r, from, q, m->tag == OP_REGISTER_VIA);
        break;
    case OP_UNREGISTER:
        do_unregister(r, from, q);
        break;
    case OP_LOOKUP:
        do_lookup(r, q);
        break;
    case OP_KEYS:
        do_keys(r, q);
        break;
    case OP_COUNT:
        do_count(r);
        break;
    default:
        oak_gen_server_set_stop(gs, oak__batom(OAK__A_BAD_CALL), NULL);
        return OAK_GS_STOP;
    }
    return OAK_GS_REPLY;
}

static int reg_info(oak_gen_server *gs, void *state, const oak_msg *m)
{
    reg *r = state;
    if (m->tag == OAK_TAG_EXIT)
        remove_entries(r, m->from, NULL, 0, true);
    return OAK_GS_OK;
}

static const oak_gen_server_callbacks reg_callbacks = {
    .init = reg_init,
    .handle_call = reg_call,
    .handle_info = reg_info,
};

int oak_registry_start(const oak_registry_def *def, unsigned flags,
                       oak_pid *pid, oak_reason *why)
{
    if (!def || !def->name || (unsigned)def->keys > OAK_REGISTRY_DUPLICATE)
        return -EINVAL;
    oak_gen_server_opts o = {.hibernate_after_ms = OAK_GEN_IDLE_HIBERNATE_MS,
                            .flags = flags & (OAK_GEN_LINK | OAK_GEN_MONITOR),
                             .name = def->name, .arg_size = sizeof *def};
    return oak_gen_server_start(&reg_callbacks, (void *)def, &o, pid, why);
}

int oak_registry_start_fn(const oak_child_args *args, oak_pid *pid,
                          oak_reason *why)
{
    return oak_registry_start(args->arg, OAK_GEN_LINK, pid, why);
}

/* ---- the client side ----------------------------------------------------------------- */

static int call(oak_atom registry, int op, oak_pid pid, const void *key,
                size_t ksize, const void *value, size_t vsize, oak_msg **m)
{
    *m = NULL;
    if (!registry || (ksize && !key) || (vsize && !value))
        return -EINVAL;
    oak_pid rp = oak_whereis(registry);
    if (!rp)
        return -ESRCH;
    size_t total = sizeof(reg_req) + ksize + vsize;
    reg_req *q = malloc(total);
    if (!q)
        return -ENOMEM;
    memset(q, 0, sizeof *q);
    q->pid = pid;
    q->key_size = ksize;
    q->value_size = vsize;
    if (ksize)
        memcpy(q->bytes, key, ksize);
    if (vsize)
        memcpy(q->bytes + ksize, value, vsize);
    int r = oak_gen_server_call(rp, (uint64_t)op, q, total, m, OAK_INFINITY,
                                NULL);
    free(q);
    return r;
}

static int code_call(oak_atom registry, int op, const void *key, size_t ksize,
                     const void *value, size_t vsize, oak_pid *owner)
{
    oak_msg *m = NULL;
    int r = call(registry, op, OAK_NOPID, key, ksize, value, vsize, &m);
    if (r < 0)
        return r;
    reg_rep rep = {0, OAK_NOPID};
    if (m->size == sizeof rep)
        memcpy(&rep, m->data, sizeof rep);
    oak_msg_free(m);
    if (owner)
        *owner = rep.owner;
    return rep.code;
}

int oak_registry_register(oak_atom registry, const void *key, size_t key_size,
                          const void *value, size_t value_size, oak_pid *owner)
{
    return code_call(registry, OP_REGISTER, key, key_size, value, value_size,
                     owner);
}

int oak_registry_unregister(oak_atom registry, const void *key,
                            size_t key_size)
{
    return code_call(registry, OP_UNREGISTER, key, key_size, NULL, 0, NULL);
}

int oak_registry_count(oak_atom registry)
{
    return code_call(registry, OP_COUNT, NULL, 0, NULL, 0, NULL);
}

/* Walk the records of a list answer: calls fn for each. */
static int list_answer(oak_msg *m, void (*fn)(const rec_hdr *, size_t i, void *),
                       void *arg)
{
    if (m->size < sizeof(list_hdr))
        return -EPROTO;
    const list_hdr *h = m->data;
    size_t off = sizeof *h;
    for (size_t i = 0; i < h->count; i++) {
        const rec_hdr *rec = (const rec_hdr *)((const unsigned char *)m->data + off);
        fn(rec, i, arg);
        off += sizeof *rec + REC_ALIGN(rec->size);
    }
    return (int)h->count;
}

typedef struct fill {
    void *out;
    size_t max;
    bool keys;
} fill;

static void fill_one(const rec_hdr *rec, size_t i, void *arg)
{
    fill *f = arg;
    if (i >= f->max || !f->out)
        return;
    if (f->keys) {
        oak_registry_key *k = (oak_registry_key *)f->out + i;
        k->key = rec->size ? rec->bytes : NULL;
        k->key_size = rec->size;
    } else {
        oak_registry_entry *e = (oak_registry_entry *)f->out + i;
        e->pid = rec->pid;
        e->value = rec->size ? rec->bytes : NULL;
        e->value_size = rec->size;
    }
}

static int list_call(oak_atom registry, int op, oak_pid pid, const void *key,
                     size_t ksize, void *out, size_t max, bool keys,
                     oak_msg **holder)
{
    oak_msg *m = NULL;
    if (holder)
        *holder = NULL;
    int r = call(registry, op, pid, key, ksize, NULL, 0, &m);
    if (r < 0)
        return r;
    fill f = {out, max, keys};
    r = list_answer(m, fill_one, &f);
    if (r > 0 && holder)
        *holder = m;
    else
        oak_msg_free(m);
    return r;
}

int oak_registry_lookup(oak_atom registry, const void *key, size_t key_size,
                        oak_registry_entry *out, size_t max, oak_msg **holder)
{
    if (max && (!out || !holder))
        return -EINVAL;
    return list_call(registry, OP_LOOKUP, OAK_NOPID, key, key_size, out, max,
                     false, holder);
}

int oak_registry_keys(oak_atom registry, oak_pid pid, oak_registry_key *out,
                      size_t max, oak_msg **holder)
{
    if (max && (!out || !holder))
        return -EINVAL;
    return list_call(registry, OP_KEYS, pid, NULL, 0, out, max, true, holder);
}

oak_pid oak_registry_whereis(oak_atom registry, const void *key,
                             size_t key_size)
{
    oak_registry_entry e;
    oak_msg *h = NULL;
    int n = oak_registry_lookup(registry, key, key_size, &e, 1, &h);
    oak_pid pid = n > 0 ? e.pid : OAK_NOPID;
    oak_msg_free(h);
    return pid;
}

typedef struct dispatch_arg {
    uint64_t tag;
    const void *data;
    size_t size;
} dispatch_arg;

static void send_one(const rec_hdr *rec, size_t i, void *arg)
{
    const dispatch_arg *d = arg;
    oak_send(rec->pid, d->tag, d->data, d->size);
}

int oak_registry_dispatch(oak_atom registry, const void *key, size_t key_size,
                          uint64_t tag, const void *data, size_t size)
{
    oak_msg *m = NULL;
    int r = call(registry, OP_LOOKUP, OAK_NOPID, key, key_size, NULL, 0, &m);
    if (r < 0)
        return r;
    dispatch_arg d = {tag, data, size};
    r = list_answer(m, send_one, &d);
    oak_msg_free(m);
    return r;
}

/* ---- via names ------------------------------------------------------------------------- */

static int via_register(const oak_via *via, oak_pid *owner)
{
    int r = code_call(via->scope, OP_REGISTER_VIA, via->key, via->key_size,
                      NULL, 0, owner);
    return r;
}

static void via_unregister(const oak_via *via)
{
    oak_registry_unregister(via->scope, via->key, via->key_size);
}

static oak_pid via_whereis(const oak_via *via)
{
    return oak_registry_whereis(via->scope, via->key, via->key_size);
}

static const oak_via_ops registry_via_ops = {
    .register_name = via_register,
    .unregister_name = via_unregister,
    .whereis_name = via_whereis,
};

int oak_registry_via(oak_via *via, oak_atom registry, const void *key,
                     size_t key_size)
{
    if (!via || !registry || key_size > OAK_VIA_KEY_MAX || (key_size && !key))
        return -EINVAL;
    memset(via, 0, sizeof *via);
    via->ops = &registry_via_ops;
    via->scope = registry;
    via->key_size = (uint32_t)key_size;
    if (key_size)
        memcpy(via->key, key, key_size);
    return 0;
}
