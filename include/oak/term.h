/* oak/term.h - Erlang terms, and their external term format.
 *
 * The messages between Erlang nodes are terms in the external term format
 * (Erlang's term_to_binary/1 and binary_to_term/1: a version byte 131, then
 * one tagged term). This header gives C a tree of terms to build and read,
 * and the codec between that tree and the bytes.
 *
 * Memory
 * ------
 * Every term lives in an arena (oak_term_arena): the builders and the
 * decoder allocate in it, and oak_term_arena_free() frees all its terms at
 * once. Terms are immutable once built; a term may point to terms of its own
 * arena only. An arena is not thread-safe: one thread (one process) uses it
 * at a time. Nothing here blocks, and everything may be called from any
 * thread, inside or outside a process.
 *
 * Atoms
 * -----
 * A term's atom is its name as UTF-8 bytes, kept in the arena: decoding a
 * remote node's message never interns atoms in the runtime's table (atoms
 * live forever there, and a peer could fill it). oak_term_atom_is() compares
 * a name; oak_term_to_atom() interns on request.
 *
 * Numbers
 * -------
 * Integers are OAK_TERM_INT when they fit in int64_t and OAK_TERM_BIG
 * otherwise (sign and magnitude, little-endian base-256 digits, as
 * SMALL_BIG_EXT/LARGE_BIG_EXT carry them); the builders and the decoder
 * keep that form canonical, so an integer has one representation.
 * Floats are finite doubles (Erlang has no NaN or infinity).
 *
 * Lists and strings
 * -----------------
 * A list is an array of elements and a tail: the empty list [] (OAK_TERM_NIL)
 * for a proper list, anything else for an improper one. A list of small
 * integers 0..255 (Erlang's STRING_EXT) may also appear as OAK_TERM_STRING,
 * a byte array: the decoder produces it for STRING_EXT, and the encoder
 * writes a proper list of bytes as STRING_EXT, as Erlang does.
 * oak_term_equal() treats the two forms as the same term.
 *
 * Limits of the decoder
 * ---------------------
 * Input comes from other nodes and is never trusted: every length is checked
 * against the bytes that remain before anything is allocated (so a decode
 * allocates O(input size)), and terms nested deeper than OAK_TERM_MAX_DEPTH
 * are refused. Errors are codes, never crashes or reads past the input.
 */
#ifndef OAK_TERM_H
#define OAK_TERM_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The version byte that starts an encoded term. */
#define OAK_TERM_VERSION 131

/* How deep terms may nest (a tuple in a list in a map ...) for the decoder
 * and the encoder; deeper terms give -ELOOP. The codec recurses, and this
 * bound keeps it well within a process's default stack. */
#define OAK_TERM_MAX_DEPTH 128

typedef enum oak_term_type {
    OAK_TERM_INT = 1, /* i                                               */
    OAK_TERM_BIG,     /* big: beyond int64_t                              */
    OAK_TERM_FLOAT,   /* f                                               */
    OAK_TERM_ATOM,    /* atom                                            */
    OAK_TERM_BINARY,  /* bin: a binary, or a bitstring (bits < 8)        */
    OAK_TERM_NIL,     /* [] (no fields)                                  */
    OAK_TERM_STRING,  /* str: a proper list of bytes, count >= 1         */
    OAK_TERM_LIST,    /* list: count >= 1 elements and a tail            */
    OAK_TERM_TUPLE,   /* tuple                                           */
    OAK_TERM_MAP,     /* map                                             */
    OAK_TERM_PID,     /* pid                                             */
    OAK_TERM_PORT,    /* port                                            */
    OAK_TERM_REF,     /* ref                                             */
} oak_term_type;

/* An atom's name as the term holds it. */
typedef struct oak_term_atom_name {
    const char *name; /* UTF-8, NUL-terminated, at most 255 characters */
    size_t len;       /* bytes, without the NUL                         */
} oak_term_atom_name;

typedef struct oak_term oak_term;

/* A term. All fields are read-only for users (build terms with the
 * functions below); they stay valid until the arena is freed. */
struct oak_term {
    oak_term_type type;
    union {
        int64_t i; /* OAK_TERM_INT */
        struct {   /* OAK_TERM_BIG: |value| = sum digits[k] * 256^k */
            bool negative;
            size_t n;              /* digits; the last one is not 0 */
            const uint8_t *digits; /* little-endian                 */
        } big;
        double f;                /* OAK_TERM_FLOAT, finite */
        oak_term_atom_name atom; /* OAK_TERM_ATOM          */
        struct {                 /* OAK_TERM_BINARY        */
            size_t size;         /* bytes                  */
            const uint8_t *data; /* NULL when size is 0    */
            uint8_t bits;        /* bits used in the last byte: 8 for a
                                    binary, 1..7 for a bitstring (its
                                    unused low bits are 0)  */
        } bin;
        struct { /* OAK_TERM_STRING */
            size_t len;
            const uint8_t *bytes;
        } str;
        struct { /* OAK_TERM_LIST */
            size_t count;
            oak_term *const *items;
            const oak_term *tail; /* OAK_TERM_NIL when proper */
        } list;
        struct { /* OAK_TERM_TUPLE */
            size_t arity;
            oak_term *const *items; /* NULL when arity is 0 */
        } tuple;
        struct { /* OAK_TERM_MAP, pairs in the order given or decoded */
            size_t count;
            oak_term *const *keys;
            oak_term *const *values;
        } map;
        struct { /* OAK_TERM_PID (NEW_PID_EXT) */
            oak_term_atom_name node;
            uint32_t id, serial, creation;
        } pid;
        struct { /* OAK_TERM_PORT (NEW_PORT_EXT, V4_PORT_EXT) */
            oak_term_atom_name node;
            uint64_t id;
            uint32_t creation;
        } port;
        struct { /* OAK_TERM_REF (NEWER_REFERENCE_EXT) */
            oak_term_atom_name node;
            uint32_t creation;
            uint32_t n;      /* 1..5 words */
            uint32_t ids[5]; /* ids[0] first, as Erlang writes them */
        } ref;
    } u;
};

/* ---- arenas ------------------------------------------------------------- */

typedef struct oak_term_arena oak_term_arena;

/* A new, empty arena, or NULL when memory runs out. */
OAK_API oak_term_arena *oak_term_arena_new(void);

/* Free the arena and every term in it. NULL is a no-op. */
OAK_API void oak_term_arena_free(oak_term_arena *arena);

/* Bytes the arena holds from malloc (for limits and tests). */
OAK_API size_t oak_term_arena_bytes(const oak_term_arena *arena);

/* ---- builders -------------------------------------------------------------
 * Each returns a new term in `arena`, or NULL when memory runs out or an
 * argument is invalid (said per function). Data is copied into the arena;
 * term arguments must belong to the same arena (not checked) and a NULL
 * term argument makes the result NULL, so calls can nest without checks in
 * between: oak_term_tuple2(a, oak_term_atom(a, "ok"), oak_term_int(a, 1)). */

OAK_API oak_term *oak_term_int(oak_term_arena *arena, int64_t value);
OAK_API oak_term *oak_term_uint(oak_term_arena *arena, uint64_t value);

/* An integer of any size from sign and magnitude (n little-endian base-256
 * digits; leading zero digits are allowed). Gives OAK_TERM_INT when it fits. */
OAK_API oak_term *oak_term_bigint(oak_term_arena *arena, bool negative,
                                  const uint8_t *digits, size_t n);

/* NULL when value is NaN or infinite. */
OAK_API oak_term *oak_term_float(oak_term_arena *arena, double value);

/* An atom: name as UTF-8. NULL when it is not valid UTF-8 or longer than 255
 * characters. The empty atom '' is valid. */
OAK_API oak_term *oak_term_atom(oak_term_arena *arena, const char *name);
OAK_API oak_term *oak_term_atom_n(oak_term_arena *arena, const char *name, size_t len);

/* The atom of an oak atom (oak_atom_name()); NULL for no atom. */
OAK_API oak_term *oak_term_from_atom(oak_term_arena *arena, oak_atom atom);

OAK_API oak_term *oak_term_binary(oak_term_arena *arena, const void *data, size_t size);

/* A bitstring of size bytes whose last byte has `bits` (1..8) used high
 * bits; the unused low bits are cleared. NULL when size is 0 or bits is out
 * of range. */
OAK_API oak_term *oak_term_bitstring(oak_term_arena *arena, const void *data,
                                     size_t size, unsigned bits);

/* A string, as Erlang's "..." : a proper list of the bytes (OAK_TERM_STRING),
 * or [] when len is 0. */
OAK_API oak_term *oak_term_string(oak_term_arena *arena, const char *bytes, size_t len);

/* The empty list []. */
OAK_API oak_term *oak_term_nil(oak_term_arena *arena);

/* A list of count items (copied array of pointers) and a tail: NULL or []
 * for a proper list. With count 0 the result is the tail itself. */
OAK_API oak_term *oak_term_list(oak_term_arena *arena, size_t count,
                                oak_term *const *items, oak_term *tail);

/* A tuple of arity items (the array of pointers is copied). */
OAK_API oak_term *oak_term_tuple(oak_term_arena *arena, size_t arity,
                                 oak_term *const *items);
OAK_API oak_term *oak_term_tuple2(oak_term_arena *arena, oak_term *a, oak_term *b);
OAK_API oak_term *oak_term_tuple3(oak_term_arena *arena, oak_term *a, oak_term *b,
                                  oak_term *c);

/* A map of count pairs. Keys should differ (as =:=); not checked. */
OAK_API oak_term *oak_term_map(oak_term_arena *arena, size_t count,
                               oak_term *const *keys, oak_term *const *values);

/* A pid, port or reference of node `node` (a node name such as
 * "oak@127.0.0.1"; NULL result when it is not a valid atom). A reference
 * takes n (1..5) words. */
OAK_API oak_term *oak_term_pid(oak_term_arena *arena, const char *node, uint32_t id,
                               uint32_t serial, uint32_t creation);
OAK_API oak_term *oak_term_port(oak_term_arena *arena, const char *node, uint64_t id,
                                uint32_t creation);
OAK_API oak_term *oak_term_ref(oak_term_arena *arena, const char *node,
                               uint32_t creation, const uint32_t *ids, size_t n);

/* ---- reading ------------------------------------------------------------- */

/* Is t the atom `name`? false for NULL or another type. */
OAK_API bool oak_term_atom_is(const oak_term *t, const char *name);

/* Intern t's atom in the runtime's table (oak_atom_from()). Returns the atom,
 * or OAK_ATOM_NONE when t is not an atom, is '' or memory runs out. Do not
 * call it on every atom a peer sends: interned atoms are never freed. */
OAK_API oak_atom oak_term_to_atom(const oak_term *t);

/* Erlang's exact equality (=:=): same type and value, maps compared as sets
 * of pairs, OAK_TERM_STRING equal to the list of the same integers. 1 and
 * 1.0 differ. Maps are compared pair by pair (quadratic in their size).
 * false when either is NULL or the terms nest deeper than
 * OAK_TERM_MAX_DEPTH. */
OAK_API bool oak_term_equal(const oak_term *a, const oak_term *b);

/* Write t as Erlang's io:format("~w") would, NUL-terminated, into buf
 * (which may be NULL when size is 0), cut at size - 1 bytes. Returns the
 * length the whole text needs (as snprintf does), or -EINVAL for NULL,
 * -ELOOP when it nests too deep. Big integers are printed in hex as
 * 16#... . */
OAK_API int oak_term_format(const oak_term *t, char *buf, size_t size);

/* ---- the external term format ------------------------------------------- */

/* Decode one term from the size bytes at buf, which start with the version
 * byte 131, into arena. On success stores the term in *out and the bytes it
 * took (version byte included) in *used, when used is not NULL; bytes after
 * the term are left alone (when used is NULL they are an error: -EBADMSG).
 * Returns 0, or
 *   -EBADMSG    malformed: truncated, a bad length or tag, a bad version
 *               byte, an invalid atom or float, trailing bytes
 *   -ELOOP      nested deeper than OAK_TERM_MAX_DEPTH
 *   -EOPNOTSUPP a valid tag oak does not decode: funs, exports,
 *               atom cache references, compressed terms, local terms
 *   -ENOMEM
 * On error *out is untouched; what was allocated stays in the arena until
 * it is freed. */
OAK_API int oak_term_decode(oak_term_arena *arena, const void *buf, size_t size,
                            oak_term **out, size_t *used);

/* The bytes oak_term_encode() writes for t (version byte included), in
 * *size. Returns 0, -EINVAL (NULL), -ELOOP (too deep), -EOVERFLOW (a
 * length beyond the format's 32-bit counts). */
OAK_API int oak_term_encoded_size(const oak_term *t, size_t *size);

/* Encode t with its version byte into buf (cap bytes), as term_to_binary
 * with minor_version 2 does: UTF-8 atoms, NEW_FLOAT_EXT, NEW_PID_EXT,
 * NEWER_REFERENCE_EXT, the smallest integer form, STRING_EXT for lists of
 * bytes. Stores the length in *len. Returns 0, the errors of
 * oak_term_encoded_size(), or -ENOSPC when cap is too small (then *len is
 * the size it needs and buf is untouched). */
OAK_API int oak_term_encode(const oak_term *t, void *buf, size_t cap, size_t *len);

/* The same into a new malloc()ed buffer in *buf (the caller frees it). */
OAK_API int oak_term_encode_alloc(const oak_term *t, void **buf, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
