/* term.c - Erlang terms in an arena, and the external term format.
 *
 * The format (erts/doc/guides/erl_ext_dist.md): a version byte 131, then
 * one term, each term a tag byte and its fields, big-endian:
 *
 *   tag  name                 fields
 *   97   SMALL_INTEGER_EXT    u8
 *   98   INTEGER_EXT          i32
 *   70   NEW_FLOAT_EXT        IEEE double
 *   99   FLOAT_EXT            31 bytes of "%.20e" text (decoded only)
 *   118  ATOM_UTF8_EXT        u16 len, bytes
 *   119  SMALL_ATOM_UTF8_EXT  u8 len, bytes
 *   100  ATOM_EXT             u16 len, latin-1 bytes (decoded only)
 *   115  SMALL_ATOM_EXT       u8 len, latin-1 bytes (decoded only)
 *   104  SMALL_TUPLE_EXT      u8 arity, elements
 *   105  LARGE_TUPLE_EXT      u32 arity, elements
 *   116  MAP_EXT              u32 pairs, key value ...
 *   106  NIL_EXT
 *   107  STRING_EXT           u16 len, bytes
 *   108  LIST_EXT             u32 len, elements, tail
 *   109  BINARY_EXT           u32 len, bytes
 *   77   BIT_BINARY_EXT       u32 len, u8 bits, bytes
 *   110  SMALL_BIG_EXT        u8 n, u8 sign, n digits (little-endian)
 *   111  LARGE_BIG_EXT        u32 n, u8 sign, n digits
 *   88   NEW_PID_EXT          node atom, u32 id, u32 serial, u32 creation
 *   103  PID_EXT              node atom, u32 id, u32 serial, u8 creation
 *   89   NEW_PORT_EXT         node atom, u32 id, u32 creation
 *   120  V4_PORT_EXT          node atom, u64 id, u32 creation
 *   102  PORT_EXT             node atom, u32 id, u8 creation
 *   90   NEWER_REFERENCE_EXT  u16 n, node atom, u32 creation, n x u32
 *   114  NEW_REFERENCE_EXT    u16 n, node atom, u8 creation, n x u32
 *
 * The decoder checks each length against what remains before it allocates,
 * and since every element takes at least one byte, a count above the bytes
 * left is malformed: the memory a decode takes is linear in its input.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oak/term.h"

enum {
    NEW_FLOAT_EXT = 70,
    BIT_BINARY_EXT = 77,
    NEW_PID_EXT = 88,
    NEW_PORT_EXT = 89,
    NEWER_REFERENCE_EXT = 90,
    SMALL_INTEGER_EXT = 97,
    INTEGER_EXT = 98,
    FLOAT_EXT = 99,
    ATOM_EXT = 100,
    REFERENCE_EXT = 101,
    PORT_EXT = 102,
    PID_EXT = 103,
    SMALL_TUPLE_EXT = 104,
    LARGE_TUPLE_EXT = 105,
    NIL_EXT = 106,
    STRING_EXT = 107,
    LIST_EXT = 108,
    BINARY_EXT = 109,
    SMALL_BIG_EXT = 110,
    LARGE_BIG_EXT = 111,
    NEW_FUN_EXT = 112,
    EXPORT_EXT = 113,
    NEW_REFERENCE_EXT = 114,
    SMALL_ATOM_EXT = 115,
    MAP_EXT = 116,
    FUN_EXT = 117,
    ATOM_UTF8_EXT = 118,
    SMALL_ATOM_UTF8_EXT = 119,
    V4_PORT_EXT = 120,
    LOCAL_EXT = 121,
    ATOM_CACHE_REF = 82,
    COMPRESSED = 80,
};

/* ---- the arena ------------------------------------------------------------
 * A list of chunks; allocations are 16-byte aligned bumps in the newest one.
 * A request larger than a chunk gets a chunk of its own. */

typedef struct chunk {
    struct chunk *next;
    size_t size, used; /* bytes of data[] */
    _Alignas(16) unsigned char data[];
} chunk;

struct oak_term_arena {
    chunk *head;  /* newest chunk, the one allocations bump in */
    size_t bytes; /* total malloc()ed, headers included         */
    oak_term nil; /* the one [] of this arena                   */
};

enum { CHUNK_SIZE = 8192 - sizeof(chunk) - 32 };

oak_term_arena *oak_term_arena_new(void)
{
    oak_term_arena *a = calloc(1, sizeof *a);
    if (a) {
        a->bytes = sizeof *a;
        a->nil.type = OAK_TERM_NIL;
    }
    return a;
}

void oak_term_arena_free(oak_term_arena *arena)
{
    if (!arena)
        return;
    for (chunk *c = arena->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(arena);
}

size_t oak_term_arena_bytes(const oak_term_arena *arena) { return arena ? arena->bytes : 0; }

static void *arena_alloc(oak_term_arena *a, size_t n)
{
    if (n > SIZE_MAX - 64)
        return NULL;
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = n > CHUNK_SIZE ? n : CHUNK_SIZE;
        chunk *nc = malloc(sizeof *nc + size);
        if (!nc)
            return NULL;
        nc->size = size;
        nc->used = 0;
        a->bytes += sizeof *nc + size;
        if (c && size > CHUNK_SIZE) {
            /* A big one-off goes behind the current chunk, whose free
             * space stays usable. */
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            a->head = nc;
        }
        c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

/* An array of n elements of size sz, with the product checked. */
static void *arena_array(oak_term_arena *a, size_t n, size_t sz)
{
    if (n != 0 && sz > SIZE_MAX / n)
        return NULL;
    return arena_alloc(a, n * sz);
}

static oak_term *new_term(oak_term_arena *a, oak_term_type type)
{
    oak_term *t = arena_alloc(a, sizeof *t);
    if (t) {
        memset(t, 0, sizeof *t);
        t->type = type;
    }
    return t;
}

/* ---- atoms: UTF-8, at most 255 characters --------------------------------- */

/* The number of characters of valid UTF-8 (shortest forms, no surrogates,
 * at most U+10FFFF), or -1. */
static long utf8_chars(const uint8_t *s, size_t len)
{
    long chars = 0;
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t more;
        uint32_t cp;
        if (c < 0x80) {
            more = 0;
            cp = c;
        } else if (c >= 0xc2 && c <= 0xdf) {
            more = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            more = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3;
            cp = c & 0x07;
        } else {
            return -1;
        }
        if (len - i - 1 < more)
            return -1;
        for (size_t k = 1; k <= more; k++) {
            uint8_t cc = s[i + k];
            if ((cc & 0xc0) != 0x80)
                return -1;
            cp = cp << 6 | (cc & 0x3f);
        }
        if ((more == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (more == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return -1;
        i += more + 1;
        chars++;
    }
    return chars;
}

/* Copy a UTF-8 atom name into the arena after checking it. 0, -EBADMSG, or
 * -ENOMEM. */
static int atom_name_utf8(oak_term_arena *a, const uint8_t *s, size_t len,
                          oak_term_atom_name *out)
{
    long chars = utf8_chars(s, len);
    if (chars < 0 || chars > 255)
        return -EBADMSG;
    char *p = arena_alloc(a, len + 1);
    if (!p)
        return -ENOMEM;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    out->name = p;
    out->len = len;
    return 0;
}

/* The same for a latin-1 name (at most 255 bytes), turned into UTF-8. */
static int atom_name_latin1(oak_term_arena *a, const uint8_t *s, size_t len,
                            oak_term_atom_name *out)
{
    if (len > 255)
        return -EBADMSG;
    char *p = arena_alloc(a, 2 * len + 1);
    if (!p)
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x80) {
            p[n++] = (char)s[i];
        } else {
            p[n++] = (char)(0xc0 | s[i] >> 6);
            p[n++] = (char)(0x80 | (s[i] & 0x3f));
        }
    }
    p[n] = '\0';
    out->name = p;
    out->len = n;
    return 0;
}

/* ---- builders --------------------------------------------------------------- */

oak_term *oak_term_int(oak_term_arena *arena, int64_t value)
{
    if (!arena)
        return NULL;
    oak_term *t = new_term(arena, OAK_TERM_INT);
    if (t)
        t->u.i = value;
    return t;
}

oak_term *oak_term_uint(oak_term_arena *arena, uint64_t value)
{
    if (value <= INT64_MAX)
        return oak_term_int(arena, (int64_t)value);
    uint8_t d[8];
    for (int k = 0; k < 8; k++)
        d[k] = (uint8_t)(value >> (8 * k));
    return oak_term_bigint(arena, false, d, 8);
}

oak_term *oak_term_bigint(oak_term_arena *arena, bool negative, const uint8_t *digits,
                          size_t n)
{
    if (!arena || (n && !digits))
        return NULL;
    while (n && digits[n - 1] == 0)
        n--;
    if (n <= 8) {
        uint64_t mag = 0;
        for (size_t k = 0; k < n; k++)
            mag |= (uint64_t)digits[k] << (8 * k);
        if (!negative && mag <= INT64_MAX)
            return oak_term_int(arena, (int64_t)mag);
        if (negative && mag <= (uint64_t)INT64_MAX + 1)
            return oak_term_int(arena, mag == (uint64_t)INT64_MAX + 1
                                           ? INT64_MIN
                                           : -(int64_t)mag);
    }
    oak_term *t = new_term(arena, OAK_TERM_BIG);
    uint8_t *d = arena_alloc(arena, n);
    if (!t || !d)
        return NULL;
    memcpy(d, digits, n);
    t->u.big.negative = negative;
    t->u.big.n = n;
    t->u.big.digits = d;
    return t;
}

oak_term *oak_term_float(oak_term_arena *arena, double value)
{
    if (!arena || !isfinite(value))
        return NULL;
    oak_term *t = new_term(arena, OAK_TERM_FLOAT);
    if (t)
        t->u.f = value;
    return t;
}

oak_term *oak_term_atom_n(oak_term_arena *arena, const char *name, size_t len)
{
    if (!arena || (!name && len))
        return NULL;
    oak_term *t = new_term(arena, OAK_TERM_ATOM);
    if (!t || atom_name_utf8(arena, (const uint8_t *)(name ? name : ""), len, &t->u.atom))
        return NULL;
    return t;
}

oak_term *oak_term_atom(oak_term_arena *arena, const char *name)
{
    return name ? oak_term_atom_n(arena, name, strlen(name)) : NULL;
}

oak_term *oak_term_from_atom(oak_term_arena *arena, oak_atom atom)
{
    const char *name = oak_atom_name(atom);
    return name ? oak_term_atom(arena, name) : NULL;
}

static oak_term *bin_term(oak_term_arena *arena, const void *data, size_t size,
                          unsigned bits)
{
    if (!arena || (size && !data))
        return NULL;
    oak_term *t = new_term(arena, OAK_TERM_BINARY);
    if (!t)
        return NULL;
    if (size) {
        uint8_t *d = arena_alloc(arena, size);
        if (!d)
            return NULL;
        memcpy(d, data, size);
        if (bits < 8)
            d[size - 1] &= (uint8_t)(0xff << (8 - bits));
        t->u.bin.data = d;
    }
    t->u.bin.size = size;
    t->u.bin.bits = (uint8_t)bits;
    return t;
}

oak_term *oak_term_binary(oak_term_arena *arena, const void *data, size_t size)
{
    return bin_term(arena, data, size, 8);
}

oak_term *oak_term_bitstring(oak_term_arena *arena, const void *data, size_t size,
                             unsigned bits)
{
    if (size == 0 || bits < 1 || bits > 8)
        return NULL;
    return bin_term(arena, data, size, bits);
}

oak_term *oak_term_nil(oak_term_arena *arena) { return arena ? &arena->nil : NULL; }

oak_term *oak_term_string(oak_term_arena *arena, const char *bytes, size_t len)
{
    if (!arena || (len && !bytes))
        return NULL;
    if (len == 0)
        return &arena->nil;
    oak_term *t = new_term(arena, OAK_TERM_STRING);
    uint8_t *d = arena_alloc(arena, len);
    if (!t || !d)
        return NULL;
    memcpy(d, bytes, len);
    t->u.str.len = len;
    t->u.str.bytes = d;
    return t;
}

/* A copy of n term pointers; NULL when one of them is NULL. */
static oak_term **copy_items(oak_term_arena *arena, size_t n, oak_term *const *items)
{
    oak_term **v = arena_array(arena, n, sizeof *v);
    if (!v)
        return NULL;
    for (size_t k = 0; k < n; k++) {
        if (!items[k])
            return NULL;
        v[k] = items[k];
    }
    return v;
}

oak_term *oak_term_list(oak_term_arena *arena, size_t count, oak_term *const *items,
                        oak_term *tail)
{
    if (!arena || (count && !items))
        return NULL;
    if (!tail)
        tail = &arena->nil;
    if (count == 0)
        return tail;
    oak_term *t = new_term(arena, OAK_TERM_LIST);
    oak_term **v = t ? copy_items(arena, count, items) : NULL;
    if (!v)
        return NULL;
    t->u.list.count = count;
    t->u.list.items = v;
    t->u.list.tail = tail;
    return t;
}

oak_term *oak_term_tuple(oak_term_arena *arena, size_t arity, oak_term *const *items)
{
    if (!arena || (arity && !items))
        return NULL;
    oak_term *t = new_term(arena, OAK_TERM_TUPLE);
    if (!t)
        return NULL;
    if (arity) {
        oak_term **v = copy_items(arena, arity, items);
        if (!v)
            return NULL;
        t->u.tuple.items = v;
    }
    t->u.tuple.arity = arity;
    return t;
}

oak_term *oak_term_tuple2(oak_term_arena *arena, oak_term *a, oak_term *b)
{
    oak_term *v[2] = {a, b};
    return oak_term_tuple(arena, 2, v);
}

oak_term *oak_term_tuple3(oak_term_arena *arena, oak_term *a, oak_term *b, oak_term *c)
{
    oak_term *v[3] = {a, b, c};
    return oak_term_tuple(arena, 3, v);
}

oak_term *oak_term_map(oak_term_arena *arena, size_t count, oak_term *const *keys,
                       oak_term *const *values)
{
    if (!arena || (count && (!keys || !values)))
        return NULL;
    oak_term *t = new_term(arena, OAK_TERM_MAP);
    if (!t)
        return NULL;
    if (count) {
        oak_term **k = copy_items(arena, count, keys);
        oak_term **v = k ? copy_items(arena, count, values) : NULL;
        if (!v)
            return NULL;
        t->u.map.keys = k;
        t->u.map.values = v;
    }
    t->u.map.count = count;
    return t;
}

static int node_name(oak_term_arena *arena, const char *node, oak_term_atom_name *out)
{
    if (!node)
        return -EINVAL;
    return atom_name_utf8(arena, (const uint8_t *)node, strlen(node), out);
}

oak_term *oak_term_pid(oak_term_arena *arena, const char *node, uint32_t id,
                       uint32_t serial, uint32_t creation)
{
    oak_term *t = arena ? new_term(arena, OAK_TERM_PID) : NULL;
    if (!t || node_name(arena, node, &t->u.pid.node))
        return NULL;
    t->u.pid.id = id;
    t->u.pid.serial = serial;
    t->u.pid.creation = creation;
    return t;
}

oak_term *oak_term_port(oak_term_arena *arena, const char *node, uint64_t id,
                        uint32_t creation)
{
    oak_term *t = arena ? new_term(arena, OAK_TERM_PORT) : NULL;
    if (!t || node_name(arena, node, &t->u.port.node))
        return NULL;
    t->u.port.id = id;
    t->u.port.creation = creation;
    return t;
}

oak_term *oak_term_ref(oak_term_arena *arena, const char *node, uint32_t creation,
                       const uint32_t *ids, size_t n)
{
    if (n < 1 || n > 5 || !ids)
        return NULL;
    oak_term *t = arena ? new_term(arena, OAK_TERM_REF) : NULL;
    if (!t || node_name(arena, node, &t->u.ref.node))
        return NULL;
    t->u.ref.creation = creation;
    t->u.ref.n = (uint32_t)n;
    memcpy(t->u.ref.ids, ids, n * sizeof *ids);
    return t;
}

/* ---- reading ---------------------------------------------------------------- */

bool oak_term_atom_is(const oak_term *t, const char *name)
{
    return t && name && t->type == OAK_TERM_ATOM && strlen(name) == t->u.atom.len &&
           memcmp(t->u.atom.name, name, t->u.atom.len) == 0;
}

oak_atom oak_term_to_atom(const oak_term *t)
{
    if (!t || t->type != OAK_TERM_ATOM)
        return OAK_ATOM_NONE;
    return oak_atom_from_n(t->u.atom.name, t->u.atom.len);
}

static bool name_eq(const oak_term_atom_name *a, const oak_term_atom_name *b)
{
    return a->len == b->len && memcmp(a->name, b->name, a->len) == 0;
}

/* A view of a list or string as elements and a tail, to compare the two
 * forms of a list of bytes. */
static bool is_list(const oak_term *t)
{
    return t->type == OAK_TERM_LIST || t->type == OAK_TERM_STRING;
}

static bool equal_at(const oak_term *a, const oak_term *b, int depth);

/* Element k of a list or string; for a string it is built in *tmp. */
static const oak_term *list_item(const oak_term *t, size_t k, oak_term *tmp)
{
    if (t->type == OAK_TERM_LIST)
        return t->u.list.items[k];
    tmp->type = OAK_TERM_INT;
    tmp->u.i = t->u.str.bytes[k];
    return tmp;
}

static bool lists_equal(const oak_term *a, const oak_term *b, int depth)
{
    /* Both are lists or strings. Walk elements across the segments: a list's
     * tail may itself be a list or a string. */
    size_t ia = 0, ib = 0;
    for (;;) {
        size_t na = a->type == OAK_TERM_LIST ? a->u.list.count : a->u.str.len;
        size_t nb = b->type == OAK_TERM_LIST ? b->u.list.count : b->u.str.len;
        if (ia == na) {
            a = a->type == OAK_TERM_LIST ? a->u.list.tail : NULL;
            ia = 0;
        }
        if (ib == nb) {
            b = b->type == OAK_TERM_LIST ? b->u.list.tail : NULL;
            ib = 0;
        }
        /* A string's tail is []. */
        if (!a || !b || !is_list(a) || !is_list(b)) {
            oak_term nil = {.type = OAK_TERM_NIL};
            return equal_at(a ? a : &nil, b ? b : &nil, depth);
        }
        na = a->type == OAK_TERM_LIST ? a->u.list.count : a->u.str.len;
        nb = b->type == OAK_TERM_LIST ? b->u.list.count : b->u.str.len;
        if (ia == na || ib == nb)
            continue;
        oak_term ta, tb;
        if (!equal_at(list_item(a, ia, &ta), list_item(b, ib, &tb), depth))
            return false;
        ia++;
        ib++;
    }
}

static bool equal_at(const oak_term *a, const oak_term *b, int depth)
{
    if (depth > OAK_TERM_MAX_DEPTH)
        return false;
    if (is_list(a) && is_list(b))
        return lists_equal(a, b, depth + 1);
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case OAK_TERM_INT: return a->u.i == b->u.i;
    case OAK_TERM_BIG:
        return a->u.big.negative == b->u.big.negative && a->u.big.n == b->u.big.n &&
               memcmp(a->u.big.digits, b->u.big.digits, a->u.big.n) == 0;
    case OAK_TERM_FLOAT: return a->u.f == b->u.f;
    case OAK_TERM_ATOM: return name_eq(&a->u.atom, &b->u.atom);
    case OAK_TERM_BINARY:
        return a->u.bin.size == b->u.bin.size && a->u.bin.bits == b->u.bin.bits &&
               (a->u.bin.size == 0 || memcmp(a->u.bin.data, b->u.bin.data, a->u.bin.size) == 0);
    case OAK_TERM_NIL: return true;
    case OAK_TERM_TUPLE:
        if (a->u.tuple.arity != b->u.tuple.arity)
            return false;
        for (size_t k = 0; k < a->u.tuple.arity; k++)
            if (!equal_at(a->u.tuple.items[k], b->u.tuple.items[k], depth + 1))
                return false;
        return true;
    case OAK_TERM_MAP:
        if (a->u.map.count != b->u.map.count)
            return false;
        for (size_t k = 0; k < a->u.map.count; k++) {
            size_t j = 0;
            while (j < b->u.map.count &&
                   !equal_at(a->u.map.keys[k], b->u.map.keys[j], depth + 1))
                j++;
            if (j == b->u.map.count ||
                !equal_at(a->u.map.values[k], b->u.map.values[j], depth + 1))
                return false;
        }
        return true;
    case OAK_TERM_PID:
        return name_eq(&a->u.pid.node, &b->u.pid.node) && a->u.pid.id == b->u.pid.id &&
               a->u.pid.serial == b->u.pid.serial && a->u.pid.creation == b->u.pid.creation;
    case OAK_TERM_PORT:
        return name_eq(&a->u.port.node, &b->u.port.node) && a->u.port.id == b->u.port.id &&
               a->u.port.creation == b->u.port.creation;
    case OAK_TERM_REF:
        return name_eq(&a->u.ref.node, &b->u.ref.node) &&
               a->u.ref.creation == b->u.ref.creation && a->u.ref.n == b->u.ref.n &&
               memcmp(a->u.ref.ids, b->u.ref.ids, a->u.ref.n * sizeof(uint32_t)) == 0;
    default: return false;
    }
}

bool oak_term_equal(const oak_term *a, const oak_term *b)
{
    return a && b && equal_at(a, b, 0);
}

/* ---- formatting as ~w ----------------------------------------------------------- */

typedef struct textbuf {
    char *buf;
    size_t size, len; /* len counts everything, written or not */
} textbuf;

static void put(textbuf *o, const char *s, size_t n)
{
    if (o->len < o->size) {
        size_t room = o->size - 1 - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static void puts_(textbuf *o, const char *s) { put(o, s, strlen(s)); }

static void putf(textbuf *o, const char *fmt, unsigned long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, fmt, v);
    put(o, tmp, (size_t)n);
}

static void put_atom(textbuf *o, const oak_term_atom_name *a)
{
    bool bare = a->len > 0 && a->name[0] >= 'a' && a->name[0] <= 'z';
    for (size_t k = 0; bare && k < a->len; k++) {
        char c = a->name[k];
        bare = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '_' || c == '@';
    }
    if (bare) {
        put(o, a->name, a->len);
        return;
    }
    put(o, "'", 1);
    for (size_t k = 0; k < a->len; k++) {
        if (a->name[k] == '\'' || a->name[k] == '\\')
            put(o, "\\", 1);
        put(o, a->name + k, 1);
    }
    put(o, "'", 1);
}

static int format_at(textbuf *o, const oak_term *t, int depth)
{
    if (depth > OAK_TERM_MAX_DEPTH)
        return -ELOOP;
    int rc = 0;
    switch (t->type) {
    case OAK_TERM_INT:
        if (t->u.i < 0)
            putf(o, "-%llu", (unsigned long long)(-(uint64_t)t->u.i));
        else
            putf(o, "%llu", (unsigned long long)t->u.i);
        break;
    case OAK_TERM_BIG:
        puts_(o, t->u.big.negative ? "-16#" : "16#");
        for (size_t k = t->u.big.n; k-- > 0;)
            putf(o, k == t->u.big.n - 1 ? "%llX" : "%02llX", t->u.big.digits[k]);
        break;
    case OAK_TERM_FLOAT: {
        char tmp[40];
        int n = snprintf(tmp, sizeof tmp, "%.17g", t->u.f);
        if (!strpbrk(tmp, ".e"))
            n = snprintf(tmp, sizeof tmp, "%.1f", t->u.f);
        put(o, tmp, (size_t)n);
        break;
    }
    case OAK_TERM_ATOM: put_atom(o, &t->u.atom); break;
    case OAK_TERM_BINARY:
        puts_(o, "<<");
        for (size_t k = 0; k < t->u.bin.size; k++) {
            if (k)
                puts_(o, ",");
            bool last = k + 1 == t->u.bin.size && t->u.bin.bits < 8;
            putf(o, "%llu", last ? (unsigned)t->u.bin.data[k] >> (8 - t->u.bin.bits)
                                 : t->u.bin.data[k]);
            if (last)
                putf(o, ":%llu", t->u.bin.bits);
        }
        puts_(o, ">>");
        break;
    case OAK_TERM_NIL: puts_(o, "[]"); break;
    case OAK_TERM_STRING:
    case OAK_TERM_LIST: {
        puts_(o, "[");
        const oak_term *l = t;
        bool first = true;
        while (l->type == OAK_TERM_LIST || l->type == OAK_TERM_STRING) {
            size_t n = l->type == OAK_TERM_LIST ? l->u.list.count : l->u.str.len;
            for (size_t k = 0; k < n && rc == 0; k++) {
                if (!first)
                    puts_(o, ",");
                first = false;
                if (l->type == OAK_TERM_LIST)
                    rc = format_at(o, l->u.list.items[k], depth + 1);
                else
                    putf(o, "%llu", l->u.str.bytes[k]);
            }
            if (rc || l->type == OAK_TERM_STRING)
                break;
            l = l->u.list.tail;
        }
        if (rc == 0 && l->type != OAK_TERM_NIL && l->type != OAK_TERM_STRING &&
            l->type != OAK_TERM_LIST) {
            puts_(o, "|");
            rc = format_at(o, l, depth + 1);
        }
        puts_(o, "]");
        break;
    }
    case OAK_TERM_TUPLE:
        puts_(o, "{");
        for (size_t k = 0; k < t->u.tuple.arity && rc == 0; k++) {
            if (k)
                puts_(o, ",");
            rc = format_at(o, t->u.tuple.items[k], depth + 1);
        }
        puts_(o, "}");
        break;
    case OAK_TERM_MAP:
        puts_(o, "#{");
        for (size_t k = 0; k < t->u.map.count && rc == 0; k++) {
            if (k)
                puts_(o, ",");
            rc = format_at(o, t->u.map.keys[k], depth + 1);
            puts_(o, "=>");
            if (rc == 0)
                rc = format_at(o, t->u.map.values[k], depth + 1);
        }
        puts_(o, "}");
        break;
    case OAK_TERM_PID:
        puts_(o, "<");
        put_atom(o, &t->u.pid.node);
        putf(o, ".%llu", t->u.pid.id);
        putf(o, ".%llu>", t->u.pid.serial);
        break;
    case OAK_TERM_PORT:
        puts_(o, "#Port<");
        put_atom(o, &t->u.port.node);
        putf(o, ".%llu>", t->u.port.id);
        break;
    case OAK_TERM_REF:
        puts_(o, "#Ref<");
        put_atom(o, &t->u.ref.node);
        for (uint32_t k = t->u.ref.n; k-- > 0;)
            putf(o, ".%llu", t->u.ref.ids[k]);
        puts_(o, ">");
        break;
    default: return -EINVAL;
    }
    return rc;
}

int oak_term_format(const oak_term *t, char *buf, size_t size)
{
    if (!t || (size && !buf))
        return -EINVAL;
    textbuf o = {buf, size, 0};
    int rc = format_at(&o, t, 0);
    if (rc)
        return rc;
    if (size)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return o.len > INT32_MAX ? INT32_MAX : (int)o.len;
}

/* ---- decoding ------------------------------------------------------------------ */

typedef struct dec {
    const uint8_t *p, *end;
    oak_term_arena *arena;
} dec;

static size_t left(const dec *d) { return (size_t)(d->end - d->p); }

#define NEED(d, n)                                                                           \
    do {                                                                                     \
        if (left(d) < (size_t)(n))                                                           \
            return -EBADMSG;                                                                 \
    } while (0)

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) << 32 | rd32(p + 4); }

/* An atom in any of its four forms, into *name. */
static int dec_atom(dec *d, oak_term_atom_name *name)
{
    NEED(d, 1);
    uint8_t tag = *d->p++;
    size_t len;
    switch (tag) {
    case ATOM_EXT:
    case ATOM_UTF8_EXT:
        NEED(d, 2);
        len = rd16(d->p);
        d->p += 2;
        break;
    case SMALL_ATOM_EXT:
    case SMALL_ATOM_UTF8_EXT:
        NEED(d, 1);
        len = *d->p++;
        break;
    case ATOM_CACHE_REF: return -EOPNOTSUPP;
    default: return -EBADMSG;
    }
    NEED(d, len);
    const uint8_t *s = d->p;
    d->p += len;
    if (tag == ATOM_EXT || tag == SMALL_ATOM_EXT)
        return atom_name_latin1(d->arena, s, len, name);
    return atom_name_utf8(d->arena, s, len, name);
}

static int dec_term(dec *d, int depth, oak_term **out);

/* n terms into a new array. */
static int dec_items(dec *d, size_t n, int depth, oak_term ***out)
{
    oak_term **v = arena_array(d->arena, n, sizeof *v);
    if (!v)
        return -ENOMEM;
    for (size_t k = 0; k < n; k++) {
        int rc = dec_term(d, depth, &v[k]);
        if (rc)
            return rc;
    }
    *out = v;
    return 0;
}

static int dec_term(dec *d, int depth, oak_term **out)
{
    if (depth > OAK_TERM_MAX_DEPTH)
        return -ELOOP;
    NEED(d, 1);
    uint8_t tag = *d->p;
    oak_term_arena *a = d->arena;
    oak_term *t;
    int rc;
    switch (tag) {
    case SMALL_INTEGER_EXT:
        NEED(d, 2);
        t = oak_term_int(a, d->p[1]);
        d->p += 2;
        break;
    case INTEGER_EXT:
        NEED(d, 5);
        t = oak_term_int(a, (int32_t)rd32(d->p + 1));
        d->p += 5;
        break;
    case SMALL_BIG_EXT:
    case LARGE_BIG_EXT: {
        size_t hdr = tag == SMALL_BIG_EXT ? 3 : 6;
        NEED(d, hdr);
        size_t n = tag == SMALL_BIG_EXT ? d->p[1] : rd32(d->p + 1);
        uint8_t sign = d->p[hdr - 1];
        if (sign > 1)
            return -EBADMSG;
        d->p += hdr;
        NEED(d, n);
        t = oak_term_bigint(a, sign, d->p, n);
        d->p += n;
        break;
    }
    case NEW_FLOAT_EXT: {
        NEED(d, 9);
        uint64_t bitsv = rd64(d->p + 1);
        double f;
        memcpy(&f, &bitsv, sizeof f);
        if (!isfinite(f))
            return -EBADMSG;
        t = oak_term_float(a, f);
        d->p += 9;
        break;
    }
    case FLOAT_EXT: {
        NEED(d, 32);
        char tmp[32];
        memcpy(tmp, d->p + 1, 31);
        tmp[31] = '\0';
        char *endp;
        double f = strtod(tmp, &endp);
        if (endp == tmp || !isfinite(f))
            return -EBADMSG;
        while (*endp == ' ')
            endp++;
        if (*endp != '\0')
            return -EBADMSG;
        t = oak_term_float(a, f);
        d->p += 32;
        break;
    }
    case ATOM_EXT:
    case SMALL_ATOM_EXT:
    case ATOM_UTF8_EXT:
    case SMALL_ATOM_UTF8_EXT:
    case ATOM_CACHE_REF:
        t = new_term(a, OAK_TERM_ATOM);
        if (!t)
            return -ENOMEM;
        if ((rc = dec_atom(d, &t->u.atom)))
            return rc;
        break;
    case SMALL_TUPLE_EXT:
    case LARGE_TUPLE_EXT: {
        size_t hdr = tag == SMALL_TUPLE_EXT ? 2 : 5;
        NEED(d, hdr);
        size_t n = tag == SMALL_TUPLE_EXT ? d->p[1] : rd32(d->p + 1);
        d->p += hdr;
        NEED(d, n);
        t = new_term(a, OAK_TERM_TUPLE);
        if (!t)
            return -ENOMEM;
        oak_term **v = NULL;
        if (n && (rc = dec_items(d, n, depth + 1, &v)))
            return rc;
        t->u.tuple.arity = n;
        t->u.tuple.items = v;
        break;
    }
    case MAP_EXT: {
        NEED(d, 5);
        size_t n = rd32(d->p + 1);
        d->p += 5;
        if (n > left(d) / 2)
            return -EBADMSG;
        t = new_term(a, OAK_TERM_MAP);
        oak_term **k = arena_array(a, n, sizeof *k);
        oak_term **v = arena_array(a, n, sizeof *v);
        if (!t || !k || !v)
            return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
            if ((rc = dec_term(d, depth + 1, &k[i])) ||
                (rc = dec_term(d, depth + 1, &v[i])))
                return rc;
        }
        t->u.map.count = n;
        t->u.map.keys = n ? k : NULL;
        t->u.map.values = n ? v : NULL;
        break;
    }
    case NIL_EXT:
        d->p++;
        t = &a->nil;
        break;
    case STRING_EXT: {
        NEED(d, 3);
        size_t n = rd16(d->p + 1);
        d->p += 3;
        NEED(d, n);
        t = oak_term_string(a, (const char *)d->p, n);
        d->p += n;
        break;
    }
    case LIST_EXT: {
        NEED(d, 5);
        size_t n = rd32(d->p + 1);
        d->p += 5;
        /* n elements and a tail: at least n + 1 bytes. */
        if (n >= left(d))
            return -EBADMSG;
        oak_term **v = NULL, *tail;
        if (n && (rc = dec_items(d, n, depth + 1, &v)))
            return rc;
        if ((rc = dec_term(d, depth + 1, &tail)))
            return rc;
        if (n == 0) {
            t = tail;
            break;
        }
        t = new_term(a, OAK_TERM_LIST);
        if (!t)
            return -ENOMEM;
        t->u.list.count = n;
        t->u.list.items = v;
        t->u.list.tail = tail;
        break;
    }
    case BINARY_EXT:
    case BIT_BINARY_EXT: {
        size_t hdr = tag == BINARY_EXT ? 5 : 6;
        NEED(d, hdr);
        size_t n = rd32(d->p + 1);
        unsigned bits = tag == BINARY_EXT ? 8 : d->p[5];
        d->p += hdr;
        NEED(d, n);
        if (tag == BIT_BINARY_EXT) {
            /* OTP writes an empty bitstring as BINARY_EXT; bits 1..8 with
             * n >= 1 is the only valid shape here. */
            if (n == 0 || bits < 1 || bits > 8)
                return -EBADMSG;
        }
        t = bin_term(a, d->p, n, bits);
        d->p += n;
        break;
    }
    case NEW_PID_EXT:
    case PID_EXT: {
        d->p++;
        t = new_term(a, OAK_TERM_PID);
        if (!t)
            return -ENOMEM;
        if ((rc = dec_atom(d, &t->u.pid.node)))
            return rc;
        size_t n = tag == NEW_PID_EXT ? 12 : 9;
        NEED(d, n);
        t->u.pid.id = rd32(d->p);
        t->u.pid.serial = rd32(d->p + 4);
        t->u.pid.creation = tag == NEW_PID_EXT ? rd32(d->p + 8) : d->p[8];
        d->p += n;
        break;
    }
    case NEW_PORT_EXT:
    case V4_PORT_EXT:
    case PORT_EXT: {
        d->p++;
        t = new_term(a, OAK_TERM_PORT);
        if (!t)
            return -ENOMEM;
        if ((rc = dec_atom(d, &t->u.port.node)))
            return rc;
        size_t n = tag == V4_PORT_EXT ? 12 : tag == NEW_PORT_EXT ? 8 : 5;
        NEED(d, n);
        if (tag == V4_PORT_EXT) {
            t->u.port.id = rd64(d->p);
            t->u.port.creation = rd32(d->p + 8);
        } else {
            t->u.port.id = rd32(d->p);
            t->u.port.creation = tag == NEW_PORT_EXT ? rd32(d->p + 4) : d->p[4];
        }
        d->p += n;
        break;
    }
    case NEWER_REFERENCE_EXT:
    case NEW_REFERENCE_EXT: {
        NEED(d, 3);
        size_t n = rd16(d->p + 1);
        d->p += 3;
        if (n < 1 || n > 5)
            return -EBADMSG;
        t = new_term(a, OAK_TERM_REF);
        if (!t)
            return -ENOMEM;
        if ((rc = dec_atom(d, &t->u.ref.node)))
            return rc;
        size_t c = tag == NEWER_REFERENCE_EXT ? 4 : 1;
        NEED(d, c + 4 * n);
        t->u.ref.creation = c == 4 ? rd32(d->p) : d->p[0];
        d->p += c;
        t->u.ref.n = (uint32_t)n;
        for (size_t k = 0; k < n; k++, d->p += 4)
            t->u.ref.ids[k] = rd32(d->p);
        break;
    }
    case REFERENCE_EXT:
    case NEW_FUN_EXT:
    case EXPORT_EXT:
    case FUN_EXT:
    case LOCAL_EXT:
    case COMPRESSED: return -EOPNOTSUPP;
    default: return -EBADMSG;
    }
    if (!t)
        return -ENOMEM;
    *out = t;
    return 0;
}

int oak_term_decode(oak_term_arena *arena, const void *buf, size_t size, oak_term **out,
                    size_t *used)
{
    if (!arena || !out || (size && !buf))
        return -EINVAL;
    dec d = {buf, (const uint8_t *)buf + size, arena};
    if (size == 0)
        return -EBADMSG;
    if (*d.p != OAK_TERM_VERSION)
        return -EBADMSG;
    d.p++;
    if (left(&d) && *d.p == COMPRESSED)
        return -EOPNOTSUPP;
    oak_term *t;
    int rc = dec_term(&d, 0, &t);
    if (rc)
        return rc;
    if (!used && left(&d))
        return -EBADMSG;
    if (used)
        *used = size - left(&d);
    *out = t;
    return 0;
}

/* ---- encoding -------------------------------------------------------------------
 * One walk that counts (w.buf NULL) and one that writes, with the same code. */

typedef struct enc {
    uint8_t *buf; /* NULL: only count */
    size_t len;
} enc;

static void w8(enc *e, uint8_t v)
{
    if (e->buf)
        e->buf[e->len] = v;
    e->len++;
}

static void w16(enc *e, uint16_t v)
{
    w8(e, (uint8_t)(v >> 8));
    w8(e, (uint8_t)v);
}

static void w32(enc *e, uint32_t v)
{
    w16(e, (uint16_t)(v >> 16));
    w16(e, (uint16_t)v);
}

static void wbytes(enc *e, const void *p, size_t n)
{
    if (e->buf && n)
        memcpy(e->buf + e->len, p, n);
    e->len += n;
}

static void enc_atom(enc *e, const oak_term_atom_name *a)
{
    if (a->len < 256) {
        w8(e, SMALL_ATOM_UTF8_EXT);
        w8(e, (uint8_t)a->len);
    } else {
        w8(e, ATOM_UTF8_EXT);
        w16(e, (uint16_t)a->len);
    }
    wbytes(e, a->name, a->len);
}

/* Is l a proper list of n <= 65535 small integers 0..255 (STRING_EXT)? */
static bool list_is_bytes(const oak_term *l)
{
    if (l->u.list.count > 0xffff || l->u.list.tail->type != OAK_TERM_NIL)
        return false;
    for (size_t k = 0; k < l->u.list.count; k++) {
        const oak_term *x = l->u.list.items[k];
        if (x->type != OAK_TERM_INT || x->u.i < 0 || x->u.i > 255)
            return false;
    }
    return true;
}

static int enc_term(enc *e, const oak_term *t, int depth)
{
    if (depth > OAK_TERM_MAX_DEPTH)
        return -ELOOP;
    int rc;
    switch (t->type) {
    case OAK_TERM_INT: {
        int64_t v = t->u.i;
        if (v >= 0 && v <= 255) {
            w8(e, SMALL_INTEGER_EXT);
            w8(e, (uint8_t)v);
        } else if (v >= INT32_MIN && v <= INT32_MAX) {
            w8(e, INTEGER_EXT);
            w32(e, (uint32_t)(int32_t)v);
        } else {
            uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;
            uint8_t n = 0;
            for (uint64_t m = mag; m; m >>= 8)
                n++;
            w8(e, SMALL_BIG_EXT);
            w8(e, n);
            w8(e, v < 0);
            for (uint8_t k = 0; k < n; k++)
                w8(e, (uint8_t)(mag >> (8 * k)));
        }
        return 0;
    }
    case OAK_TERM_BIG:
        if (t->u.big.n > UINT32_MAX)
            return -EOVERFLOW;
        if (t->u.big.n < 256) {
            w8(e, SMALL_BIG_EXT);
            w8(e, (uint8_t)t->u.big.n);
        } else {
            w8(e, LARGE_BIG_EXT);
            w32(e, (uint32_t)t->u.big.n);
        }
        w8(e, t->u.big.negative);
        wbytes(e, t->u.big.digits, t->u.big.n);
        return 0;
    case OAK_TERM_FLOAT: {
        uint64_t bitsv;
        memcpy(&bitsv, &t->u.f, sizeof bitsv);
        w8(e, NEW_FLOAT_EXT);
        w32(e, (uint32_t)(bitsv >> 32));
        w32(e, (uint32_t)bitsv);
        return 0;
    }
    case OAK_TERM_ATOM: enc_atom(e, &t->u.atom); return 0;
    case OAK_TERM_BINARY:
        if (t->u.bin.size > UINT32_MAX)
            return -EOVERFLOW;
        if (t->u.bin.bits == 8) {
            w8(e, BINARY_EXT);
            w32(e, (uint32_t)t->u.bin.size);
        } else {
            w8(e, BIT_BINARY_EXT);
            w32(e, (uint32_t)t->u.bin.size);
            w8(e, t->u.bin.bits);
        }
        wbytes(e, t->u.bin.data, t->u.bin.size);
        return 0;
    case OAK_TERM_NIL: w8(e, NIL_EXT); return 0;
    case OAK_TERM_STRING:
        if (t->u.str.len <= 0xffff) {
            w8(e, STRING_EXT);
            w16(e, (uint16_t)t->u.str.len);
            wbytes(e, t->u.str.bytes, t->u.str.len);
        } else {
            if (t->u.str.len > UINT32_MAX)
                return -EOVERFLOW;
            w8(e, LIST_EXT);
            w32(e, (uint32_t)t->u.str.len);
            for (size_t k = 0; k < t->u.str.len; k++) {
                w8(e, SMALL_INTEGER_EXT);
                w8(e, t->u.str.bytes[k]);
            }
            w8(e, NIL_EXT);
        }
        return 0;
    case OAK_TERM_LIST:
        if (list_is_bytes(t)) {
            w8(e, STRING_EXT);
            w16(e, (uint16_t)t->u.list.count);
            for (size_t k = 0; k < t->u.list.count; k++)
                w8(e, (uint8_t)t->u.list.items[k]->u.i);
            return 0;
        }
        if (t->u.list.count > UINT32_MAX)
            return -EOVERFLOW;
        w8(e, LIST_EXT);
        w32(e, (uint32_t)t->u.list.count);
        for (size_t k = 0; k < t->u.list.count; k++)
            if ((rc = enc_term(e, t->u.list.items[k], depth + 1)))
                return rc;
        return enc_term(e, t->u.list.tail, depth + 1);
    case OAK_TERM_TUPLE:
        if (t->u.tuple.arity > UINT32_MAX)
            return -EOVERFLOW;
        if (t->u.tuple.arity < 256) {
            w8(e, SMALL_TUPLE_EXT);
            w8(e, (uint8_t)t->u.tuple.arity);
        } else {
            w8(e, LARGE_TUPLE_EXT);
            w32(e, (uint32_t)t->u.tuple.arity);
        }
        for (size_t k = 0; k < t->u.tuple.arity; k++)
            if ((rc = enc_term(e, t->u.tuple.items[k], depth + 1)))
                return rc;
        return 0;
    case OAK_TERM_MAP:
        if (t->u.map.count > UINT32_MAX)
            return -EOVERFLOW;
        w8(e, MAP_EXT);
        w32(e, (uint32_t)t->u.map.count);
        for (size_t k = 0; k < t->u.map.count; k++)
            if ((rc = enc_term(e, t->u.map.keys[k], depth + 1)) ||
                (rc = enc_term(e, t->u.map.values[k], depth + 1)))
                return rc;
        return 0;
    case OAK_TERM_PID:
        w8(e, NEW_PID_EXT);
        enc_atom(e, &t->u.pid.node);
        w32(e, t->u.pid.id);
        w32(e, t->u.pid.serial);
        w32(e, t->u.pid.creation);
        return 0;
    case OAK_TERM_PORT:
        if (t->u.port.id > UINT32_MAX) {
            w8(e, V4_PORT_EXT);
            enc_atom(e, &t->u.port.node);
            w32(e, (uint32_t)(t->u.port.id >> 32));
            w32(e, (uint32_t)t->u.port.id);
        } else {
            w8(e, NEW_PORT_EXT);
            enc_atom(e, &t->u.port.node);
            w32(e, (uint32_t)t->u.port.id);
        }
        w32(e, t->u.port.creation);
        return 0;
    case OAK_TERM_REF:
        w8(e, NEWER_REFERENCE_EXT);
        w16(e, (uint16_t)t->u.ref.n);
        enc_atom(e, &t->u.ref.node);
        w32(e, t->u.ref.creation);
        for (uint32_t k = 0; k < t->u.ref.n; k++)
            w32(e, t->u.ref.ids[k]);
        return 0;
    default: return -EINVAL;
    }
}

int oak_term_encoded_size(const oak_term *t, size_t *size)
{
    if (!t || !size)
        return -EINVAL;
    enc e = {NULL, 1};
    int rc = enc_term(&e, t, 0);
    if (rc == 0)
        *size = e.len;
    return rc;
}

int oak_term_encode(const oak_term *t, void *buf, size_t cap, size_t *len)
{
    if (!len || (cap && !buf))
        return -EINVAL;
    size_t need;
    int rc = oak_term_encoded_size(t, &need);
    if (rc)
        return rc;
    *len = need;
    if (cap < need)
        return -ENOSPC;
    enc e = {buf, 0};
    w8(&e, OAK_TERM_VERSION);
    return enc_term(&e, t, 0);
}

int oak_term_encode_alloc(const oak_term *t, void **buf, size_t *len)
{
    if (!buf || !len)
        return -EINVAL;
    size_t need;
    int rc = oak_term_encoded_size(t, &need);
    if (rc)
        return rc;
    void *p = malloc(need);
    if (!p)
        return -ENOMEM;
    if ((rc = oak_term_encode(t, p, need, len))) {
        free(p);
        return rc;
    }
    *buf = p;
    return 0;
}
