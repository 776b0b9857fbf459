/* epmd.h - the client of Erlang's port mapper daemon (epmd).
 *
 * epmd listens on 127.0.0.1 port 4369, or on $ERL_EPMD_PORT as erl reads
 * it. A node registers its name and distribution port over a connection it
 * keeps open: closing that connection unregisters the node. Process
 * context; the calls block the calling process only. */
#ifndef OAK_DIST_EPMD_H
#define OAK_DIST_EPMD_H

#include <stdint.h>

/* The port epmd listens on: $ERL_EPMD_PORT, or 4369. */
uint16_t oak__epmd_port(void);

/* Register `alive` (the node name's part before '@') with the local epmd
 * for distribution port `port`, starting `epmd -daemon` first when none
 * answers, as erl does. On success *fd is the registration's connection
 * (close it to unregister) and *creation the node's creation. Returns 0,
 * -EADDRINUSE (the name is registered already), -ECONNREFUSED (no epmd,
 * and none could be started), -EPROTO (a reply that is not epmd's),
 * -ETIMEDOUT. */
int oak__epmd_register(const char *alive, uint16_t port, int *fd, uint32_t *creation);

/* Look up the distribution port of `alive` at the epmd of host ip (host
 * byte order). Returns 0 with *port, -EHOSTUNREACH (no such node there),
 * -ECONNREFUSED (no epmd), -EPROTO (it speaks an older protocol than
 * version 6, or not epmd's), -ETIMEDOUT. */
int oak__epmd_lookup(uint32_t ip, const char *alive, uint16_t *port, int64_t deadline);

#endif
