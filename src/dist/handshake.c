/* handshake.c - the distribution handshake, version 6, after OTP's
 * lib/kernel/src/dist_util.erl and erts/doc/guides/erl_dist_protocol.md.
 *
 * Every handshake message is a 2-byte big-endian length and the bytes.
 * A is the initiator (oak_node_ping(), a connect), B the acceptor:
 *
 *   A (initiator)                                 B (acceptor)
 *
 *   SEND_NAME   --- 'N' flags:64 creation:32 ---> RECV_NAME
 *                      nlen:16 name                 | not 'N', no '@', own name,
 *                                                   | a mandatory flag missing:
 *                                                   |   close            (-EPROTO,
 *                                                   |                -EOPNOTSUPP)
 *                                                   v
 *   RECV_STATUS <------- 's' status ------------- SEND_STATUS = admit(name)
 *     | "ok", "ok_simultaneous": go on              | "nok", "not_allowed":
 *     | "nok", "not_allowed": -ECONNREFUSED         |   close     (-ECONNREFUSED)
 *     | "alive": send 's' "true", go on             | "alive": RECV_ALIVE_ANSWER
 *     v                                             |   "true": go on; else close
 *   RECV_CHALLENGE <-- 'N' flags:64 chB:32 ------ SEND_CHALLENGE
 *     | name must be the one asked    creation:32   (chB: 32 random bits)
 *     | for; mandatory flags          nlen:16 name  |
 *     v                                             v
 *   SEND_REPLY ----- 'r' chA:32 digest(chB) ----> RECV_REPLY
 *                                                   | digest(chB) wrong:
 *                                                   |   close  (-EACCES: cookie)
 *                                                   v
 *   RECV_ACK <------- 'a' digest(chA) ----------- SEND_ACK
 *     | digest(chA) wrong, or B closed              |
 *     | before it: -EACCES (cookie)                 |
 *     v                                             v
 *    UP                                            UP
 *
 * digest(ch) = MD5(cookie ++ integer_to_list(ch)), ch unsigned. Both sides
 * use the intersection of the flags offered. The old version-5 name message
 * ('n') and the complement ('c') are refused: OTP 25 nodes speak version 6
 * to a node that epmd says speaks only 6. Any extra bytes after a message's
 * known fields are ignored, as the protocol asks.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "handshake.h"
#include "md5.h"
#include "sock.h"

/* The longest handshake message taken: a name message with the longest
 * name and room for the extra bytes a newer peer may append (which are
 * ignored). A longer one is refused (-EPROTO). */
enum { HS_MAX = 4096 };

void oak__handshake_digest(const char *cookie, uint32_t challenge, uint8_t out[16])
{
    char buf[1100];
    int n = snprintf(buf, sizeof buf, "%s%u", cookie, (unsigned)challenge);
    oak__md5(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1, out);
}

static uint32_t challenge_new(void)
{
    uint32_t c = 0;
    if (getrandom(&c, sizeof c, 0) != sizeof c) {
        /* No entropy source: time and stack address, still unpredictable
         * enough against a replay of an earlier challenge. */
        c = (uint32_t)(uintptr_t)&c ^ (uint32_t)oak__sock_deadline(0) * 2654435761u;
    }
    return c;
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) << 32 | rd32(p + 4); }

static size_t wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return 2;
}

static size_t wr32(uint8_t *p, uint32_t v)
{
    wr16(p, (uint16_t)(v >> 16));
    wr16(p + 2, (uint16_t)v);
    return 4;
}

static size_t wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)(v >> 32));
    wr32(p + 4, (uint32_t)v);
    return 8;
}

/* One message: its length into *len, its bytes into buf (cap bytes). */
static int recv_msg(int fd, uint8_t *buf, size_t cap, size_t *len, int64_t deadline)
{
    uint8_t hdr[2];
    int rc = oak__sock_read_full(fd, hdr, 2, deadline);
    if (rc)
        return rc;
    size_t n = rd16(hdr);
    if (n == 0 || n > cap)
        return -EPROTO;
    if ((rc = oak__sock_read_full(fd, buf, n, deadline)))
        return rc;
    *len = n;
    return 0;
}

/* Send the n bytes at buf + 2 with their length in buf[0..1]. */
static int send_msg(int fd, uint8_t *buf, size_t n, int64_t deadline)
{
    wr16(buf, (uint16_t)n);
    return oak__sock_write_full(fd, buf, n + 2, deadline);
}

static int send_status(int fd, const char *status, int64_t deadline)
{
    uint8_t b[2 + 1 + 16];
    size_t n = strlen(status);
    b[2] = 's';
    memcpy(b + 3, status, n);
    return send_msg(fd, b, 1 + n, deadline);
}

/* A node name: bytes with exactly one '@', neither part empty. */
static bool name_valid(const uint8_t *s, size_t n)
{
    if (n == 0 || n > OAK__NODE_NAME_MAX)
        return false;
    const uint8_t *at = memchr(s, '@', n);
    return at && at != s && at != s + n - 1 && !memchr(at + 1, '@', n - (size_t)(at - s) - 1) &&
           !memchr(s, '\0', n);
}

/* 'N' flags:64 [challenge:32] creation:32 nlen:16 name, into *peer. */
static int parse_name_msg(const uint8_t *m, size_t len, bool with_challenge,
                          oak__hs_peer *peer, uint32_t *challenge, const char **why)
{
    size_t fixed = 1 + 8 + (with_challenge ? 4 : 0) + 4 + 2;
    if (len < 1 || (m[0] != 'N')) {
        *why = m[0] == 'n' ? "the peer speaks distribution version 5 only"
                           : "not a name message";
        return m[0] == 'n' ? -EOPNOTSUPP : -EPROTO;
    }
    if (len < fixed) {
        *why = "a short name message";
        return -EPROTO;
    }
    const uint8_t *p = m + 1;
    peer->flags = rd64(p);
    p += 8;
    if (with_challenge) {
        *challenge = rd32(p);
        p += 4;
    }
    peer->creation = rd32(p);
    p += 4;
    size_t nlen = rd16(p);
    p += 2;
    if (nlen > len - fixed || !name_valid(p, nlen)) {
        *why = "a bad node name";
        return -EPROTO;
    }
    memcpy(peer->name, p, nlen);
    peer->name[nlen] = '\0';
    if ((peer->flags & OAK__DFLAG_MANDATORY) != OAK__DFLAG_MANDATORY) {
        *why = "the peer lacks capabilities OTP 25 makes mandatory";
        return -EOPNOTSUPP;
    }
    return 0;
}

static size_t put_name_msg(uint8_t *b, const oak__hs_local *local, bool with_challenge,
                           uint32_t challenge)
{
    size_t n = 2, nlen = strlen(local->name);
    b[n++] = 'N';
    n += wr64(b + n, local->flags);
    if (with_challenge)
        n += wr32(b + n, challenge);
    n += wr32(b + n, local->creation);
    n += wr16(b + n, (uint16_t)nlen);
    memcpy(b + n, local->name, nlen);
    return n + nlen - 2;
}

int oak__handshake_accept(int fd, const oak__hs_local *local, oak__hs_admit_fn admit,
                          void *ctx, int64_t deadline, oak__hs_peer *peer, const char **why)
{
    uint8_t m[HS_MAX];
    size_t len;
    uint32_t dummy;
    *why = "the connection broke";
    /* RECV_NAME */
    int rc = recv_msg(fd, m, sizeof m, &len, deadline);
    if (rc) {
        if (rc == -EPROTO)
            *why = "a bad message length";
        return rc;
    }
    if ((rc = parse_name_msg(m, len, false, peer, &dummy, why)))
        return rc;
    if (strcmp(peer->name, local->name) == 0) {
        *why = "the peer has this node's name";
        return -EPROTO;
    }
    /* SEND_STATUS */
    const char *status = admit ? admit(peer->name, ctx) : "ok";
    if ((rc = send_status(fd, status, deadline)))
        return rc;
    if (strcmp(status, "nok") == 0 || strcmp(status, "not_allowed") == 0) {
        *why = strcmp(status, "nok") == 0 ? "a handshake with that node is under way"
                                          : "not allowed";
        return -ECONNREFUSED;
    }
    if (strcmp(status, "alive") == 0) {
        /* RECV_ALIVE_ANSWER */
        if ((rc = recv_msg(fd, m, sizeof m, &len, deadline)))
            return rc;
        if (!(len == 5 && memcmp(m, "strue", 5) == 0)) {
            *why = "the peer keeps its old connection";
            return -ECONNREFUSED;
        }
    }
    /* SEND_CHALLENGE */
    uint32_t ch_b = challenge_new();
    size_t n = put_name_msg(m, local, true, ch_b);
    if ((rc = send_msg(fd, m, n, deadline)))
        return rc;
    /* RECV_REPLY */
    if ((rc = recv_msg(fd, m, sizeof m, &len, deadline)))
        return rc;
    if (len < 1 + 4 + 16 || m[0] != 'r') {
        *why = "not a challenge reply";
        return -EPROTO;
    }
    uint32_t ch_a = rd32(m + 1);
    uint8_t want[16];
    oak__handshake_digest(local->cookie, ch_b, want);
    if (memcmp(want, m + 5, 16) != 0) {
        *why = "wrong cookie (the challenge reply's digest does not match)";
        return -EACCES;
    }
    /* SEND_ACK */
    m[2] = 'a';
    oak__handshake_digest(local->cookie, ch_a, m + 3);
    if ((rc = send_msg(fd, m, 17, deadline)))
        return rc;
    peer->flags &= local->flags;
    *why = "up";
    return 0;
}

int oak__handshake_connect(int fd, const oak__hs_local *local, const char *peer_name,
                           int64_t deadline, oak__hs_peer *peer, const char **why)
{
    uint8_t m[HS_MAX];
    size_t len;
    *why = "the connection broke";
    /* SEND_NAME */
    size_t n = put_name_msg(m, local, false, 0);
    int rc = send_msg(fd, m, n, deadline);
    if (rc)
        return rc;
    /* RECV_STATUS */
    if ((rc = recv_msg(fd, m, sizeof m, &len, deadline)))
        return rc;
    if (len < 2 || m[0] != 's') {
        *why = "not a status message";
        return -EPROTO;
    }
    if ((len == 3 && memcmp(m + 1, "ok", 2) == 0) ||
        (len == 16 && memcmp(m + 1, "ok_simultaneous", 15) == 0)) {
        /* go on */
    } else if (len == 6 && memcmp(m + 1, "alive", 5) == 0) {
        if ((rc = send_status(fd, "true", deadline)))
            return rc;
    } else if ((len == 4 && memcmp(m + 1, "nok", 3) == 0) ||
               (len == 12 && memcmp(m + 1, "not_allowed", 11) == 0)) {
        *why = len == 4 ? "the peer has a handshake with this node under way"
                        : "the peer does not allow this node";
        return -ECONNREFUSED;
    } else {
        *why = "an unknown status";
        return -EPROTO;
    }
    /* RECV_CHALLENGE */
    if ((rc = recv_msg(fd, m, sizeof m, &len, deadline)))
        return rc;
    uint32_t ch_b = 0;
    if ((rc = parse_name_msg(m, len, true, peer, &ch_b, why)))
        return rc;
    if (strcmp(peer->name, peer_name) != 0) {
        *why = "the peer has another name than the one asked for";
        return -EPROTO;
    }
    /* SEND_REPLY */
    uint32_t ch_a = challenge_new();
    m[2] = 'r';
    wr32(m + 3, ch_a);
    oak__handshake_digest(local->cookie, ch_b, m + 7);
    if ((rc = send_msg(fd, m, 21, deadline)))
        return rc;
    /* RECV_ACK */
    rc = recv_msg(fd, m, sizeof m, &len, deadline);
    if (rc == -ECONNRESET) {
        *why = "wrong cookie (the peer closed the connection after the challenge reply)";
        return -EACCES;
    }
    if (rc)
        return rc;
    if (len < 17 || m[0] != 'a') {
        *why = "not a challenge ack";
        return -EPROTO;
    }
    uint8_t want[16];
    oak__handshake_digest(local->cookie, ch_a, want);
    if (memcmp(want, m + 1, 16) != 0) {
        *why = "wrong cookie (the challenge ack's digest does not match)";
        return -EACCES;
    }
    peer->flags &= local->flags;
    *why = "up";
    return 0;
}
