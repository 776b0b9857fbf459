/* handshake.h - the distribution handshake, version 6 (OTP 23+), both
 * sides. See the picture at the top of handshake.c. Process context; each
 * call blocks the calling process (not its scheduler) until the handshake
 * ends or the deadline passes. */
#ifndef OAK_DIST_HANDSHAKE_H
#define OAK_DIST_HANDSHAKE_H

#include <stdint.h>

/* Capability flags (erl_dist_protocol.md, "Distribution Flags"). */
#define OAK__DFLAG_PUBLISHED UINT64_C(0x1)
#define OAK__DFLAG_EXTENDED_REFERENCES UINT64_C(0x4)
#define OAK__DFLAG_DIST_MONITOR UINT64_C(0x8)
#define OAK__DFLAG_FUN_TAGS UINT64_C(0x10)
#define OAK__DFLAG_DIST_MONITOR_NAME UINT64_C(0x20)
#define OAK__DFLAG_NEW_FUN_TAGS UINT64_C(0x80)
#define OAK__DFLAG_EXTENDED_PIDS_PORTS UINT64_C(0x100)
#define OAK__DFLAG_EXPORT_PTR_TAG UINT64_C(0x200)
#define OAK__DFLAG_BIT_BINARIES UINT64_C(0x400)
#define OAK__DFLAG_NEW_FLOATS UINT64_C(0x800)
#define OAK__DFLAG_UNICODE_IO UINT64_C(0x1000)
#define OAK__DFLAG_DIST_HDR_ATOM_CACHE UINT64_C(0x2000)
#define OAK__DFLAG_SMALL_ATOM_TAGS UINT64_C(0x4000)
#define OAK__DFLAG_UTF8_ATOMS UINT64_C(0x10000)
#define OAK__DFLAG_MAP_TAG UINT64_C(0x20000)
#define OAK__DFLAG_BIG_CREATION UINT64_C(0x40000)
#define OAK__DFLAG_SEND_SENDER UINT64_C(0x80000)
#define OAK__DFLAG_BIG_SEQTRACE_LABELS UINT64_C(0x100000)
#define OAK__DFLAG_EXIT_PAYLOAD UINT64_C(0x400000)
#define OAK__DFLAG_FRAGMENTS UINT64_C(0x800000)
#define OAK__DFLAG_HANDSHAKE_23 UINT64_C(0x1000000)
#define OAK__DFLAG_UNLINK_ID UINT64_C(0x2000000)
#define OAK__DFLAG_SPAWN (UINT64_C(1) << 32)
#define OAK__DFLAG_NAME_ME (UINT64_C(1) << 33)
#define OAK__DFLAG_V4_NC (UINT64_C(1) << 34)
#define OAK__DFLAG_ALIAS (UINT64_C(1) << 35)
#define OAK__DFLAG_MANDATORY_25_DIGEST (UINT64_C(1) << 36)

/* What OTP 25 refuses a connection without (dist_util's mandatory set);
 * oak refuses a peer that lacks one of them too. */
#define OAK__DFLAG_MANDATORY                                                               \
    (OAK__DFLAG_EXTENDED_REFERENCES | OAK__DFLAG_FUN_TAGS | OAK__DFLAG_NEW_FUN_TAGS |      \
     OAK__DFLAG_EXTENDED_PIDS_PORTS | OAK__DFLAG_EXPORT_PTR_TAG | OAK__DFLAG_BIT_BINARIES | \
     OAK__DFLAG_NEW_FLOATS | OAK__DFLAG_UTF8_ATOMS | OAK__DFLAG_MAP_TAG |                  \
     OAK__DFLAG_BIG_CREATION | OAK__DFLAG_HANDSHAKE_23)

/* The longest node name in bytes (an atom: 255 characters of UTF-8). */
#define OAK__NODE_NAME_MAX 1020

/* This node, as the handshake presents it. Read only during a handshake. */
typedef struct oak__hs_local {
    const char *name;   /* full node name, "alive@host" */
    const char *cookie; /* the cookie for every peer    */
    uint64_t flags;     /* the capabilities offered     */
    uint32_t creation;  /* from epmd                    */
} oak__hs_local;

/* The peer, as the handshake found it. Written by the handshake. */
typedef struct oak__hs_peer {
    char name[OAK__NODE_NAME_MAX + 1];
    uint64_t flags; /* what both offered (the intersection) */
    uint32_t creation;
} oak__hs_peer;

/* The acceptor asks this, once it knows the peer's name, what status to
 * send: "ok", "nok" (a handshake with that node is under way and this
 * side's wins), "not_allowed", or "alive" (a connection to it is up). */
typedef const char *(*oak__hs_admit_fn)(const char *peer, void *ctx);

/* Run the acceptor's side on a connected socket. Returns 0 with *peer,
 * or -EACCES (the peer's digest is wrong: another cookie), -EOPNOTSUPP
 * (the peer lacks a mandatory flag, or speaks an older version),
 * -ECONNREFUSED (admit refused it), -EPROTO (a malformed or unexpected
 * message), -ECONNRESET, -ETIMEDOUT; *why then says what in words. */
int oak__handshake_accept(int fd, const oak__hs_local *local, oak__hs_admit_fn admit,
                          void *ctx, int64_t deadline, oak__hs_peer *peer,
                          const char **why);

/* Run the initiator's side towards node `peer_name`. Returns 0 with *peer,
 * or -EACCES (the peer closed after our digest, or its digest is wrong:
 * another cookie), -ECONNREFUSED (status nok or not_allowed), -EOPNOTSUPP,
 * -EPROTO, -ECONNRESET, -ETIMEDOUT, with *why. */
int oak__handshake_connect(int fd, const oak__hs_local *local, const char *peer_name,
                           int64_t deadline, oak__hs_peer *peer, const char **why);

/* The handshake's digest: MD5 of the cookie followed by the challenge as
 * unsigned decimal text. */
void oak__handshake_digest(const char *cookie, uint32_t challenge, uint8_t out[16]);

#endif
