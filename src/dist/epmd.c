/* epmd.c - see epmd.h. The requests (erts/doc/guides/erl_dist_protocol.md),
 * each after a 2-byte length:
 *
 *   ALIVE2_REQ        'x' port:16 type:8 proto:8 highest:16 lowest:16
 *                     nlen:16 name elen:16 extra
 *     ALIVE2_X_RESP   'v' result:8 creation:32     (epmd of OTP 23+)
 *     ALIVE2_RESP     'y' result:8 creation:16     (older epmd)
 *   PORT_PLEASE2_REQ  'z' name
 *     PORT2_RESP      'w' result:8 [port:16 type:8 proto:8 highest:16
 *                     lowest:16 nlen:16 name elen:16 extra]
 *
 * oak speaks distribution version 6 only (the OTP 23 handshake, which OTP
 * 25 requires), so it registers with highest = lowest = 6. */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>

#include "oak/message.h"
#include "epmd.h"
#include "sock.h"

extern char **environ;

enum { EPMD_TIMEOUT_MS = 5000, NODE_TYPE_NORMAL = 77, DIST_VERSION = 6 };

uint16_t oak__epmd_port(void)
{
    const char *s = getenv("ERL_EPMD_PORT");
    if (s && *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (*end == '\0' && v > 0 && v < 65536)
            return (uint16_t)v;
    }
    return 4369;
}

/* `epmd -daemon`: the parent exits once the daemon is forked, so the wait
 * is short (it blocks this scheduler thread for that while). */
static int start_epmd(void)
{
    char *argv[] = {"epmd", "-daemon", NULL};
    pid_t pid;
    /* A scheduler thread may block signals: epmd gets the default mask
     * and dispositions, as if started from a shell. */
    posix_spawnattr_t at;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_init(&at);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int rc = posix_spawnp(&pid, "epmd", NULL, &at, argv, environ);
    posix_spawnattr_destroy(&at);
    if (rc != 0)
        return -ECONNREFUSED;
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return 0;
}

int oak__epmd_register(const char *alive, uint16_t port, int *fd, uint32_t *creation)
{
    size_t nlen = strlen(alive);
    if (nlen == 0 || nlen > 255)
        return -EINVAL;
    int64_t deadline = oak__sock_deadline(EPMD_TIMEOUT_MS);
    int s = -1, rc = oak__sock_connect(INADDR_LOOPBACK, oak__epmd_port(), deadline, &s);
    if (rc == -ECONNREFUSED) {
        if ((rc = start_epmd()))
            return rc;
        /* The daemon listens a moment after its parent exits. */
        for (int i = 0; i < 100; i++) {
            rc = oak__sock_connect(INADDR_LOOPBACK, oak__epmd_port(), deadline, &s);
            if (rc != -ECONNREFUSED)
                break;
            oak_sleep(20);
        }
    }
    if (rc)
        return rc;
    uint8_t req[2 + 13 + 255];
    size_t n = 0, len = 13 + nlen;
    req[n++] = (uint8_t)(len >> 8);
    req[n++] = (uint8_t)len;
    req[n++] = 'x';
    req[n++] = (uint8_t)(port >> 8);
    req[n++] = (uint8_t)port;
    req[n++] = NODE_TYPE_NORMAL;
    req[n++] = 0; /* TCP over IPv4 */
    req[n++] = 0;
    req[n++] = DIST_VERSION;
    req[n++] = 0;
    req[n++] = DIST_VERSION;
    req[n++] = (uint8_t)(nlen >> 8);
    req[n++] = (uint8_t)nlen;
    memcpy(req + n, alive, nlen);
    n += nlen;
    req[n++] = 0; /* no extra */
    req[n++] = 0;
    uint8_t resp[6];
    if ((rc = oak__sock_write_full(s, req, n, deadline)) ||
        (rc = oak__sock_read_full(s, resp, 2, deadline)))
        goto fail;
    if (resp[0] == 'v') {
        if ((rc = oak__sock_read_full(s, resp + 2, 4, deadline)))
            goto fail;
        *creation = (uint32_t)resp[2] << 24 | (uint32_t)resp[3] << 16 |
                    (uint32_t)resp[4] << 8 | resp[5];
    } else if (resp[0] == 'y') {
        if ((rc = oak__sock_read_full(s, resp + 2, 2, deadline)))
            goto fail;
        *creation = (uint32_t)resp[2] << 8 | resp[3];
    } else {
        rc = -EPROTO;
        goto fail;
    }
    if (resp[1] != 0) {
        rc = -EADDRINUSE;
        goto fail;
    }
    *fd = s;
    return 0;
fail:
    close(s);
    return rc == -ECONNRESET ? -EPROTO : rc;
}

int oak__epmd_lookup(uint32_t ip, const char *alive, uint16_t *port, int64_t deadline)
{
    size_t nlen = strlen(alive);
    if (nlen == 0 || nlen > 255)
        return -EINVAL;
    int s, rc = oak__sock_connect(ip, oak__epmd_port(), deadline, &s);
    if (rc)
        return rc;
    uint8_t req[3 + 255];
    req[0] = (uint8_t)((nlen + 1) >> 8);
    req[1] = (uint8_t)(nlen + 1);
    req[2] = 'z';
    memcpy(req + 3, alive, nlen);
    uint8_t resp[10];
    if ((rc = oak__sock_write_full(s, req, 3 + nlen, deadline)) ||
        (rc = oak__sock_read_full(s, resp, 2, deadline)))
        goto out;
    if (resp[0] != 'w') {
        rc = -EPROTO;
        goto out;
    }
    if (resp[1] != 0) {
        rc = -EHOSTUNREACH;
        goto out;
    }
    /* The rest of the reply: port, type, protocol, highest, lowest. */
    if ((rc = oak__sock_read_full(s, resp + 2, 8, deadline)))
        goto out;
    uint16_t highest = (uint16_t)(resp[6] << 8 | resp[7]);
    uint16_t lowest = (uint16_t)(resp[8] << 8 | resp[9]);
    if (highest < DIST_VERSION || lowest > DIST_VERSION) {
        rc = -EPROTO;
        goto out;
    }
    *port = (uint16_t)(resp[2] << 8 | resp[3]);
out:
    close(s);
    return rc == -ECONNRESET ? -EPROTO : rc;
}
