/* oak/node.h - this runtime as a node of an Erlang cluster.
 *
 * oak_node_start() makes the runtime a distributed node with a name such as
 * "oak@127.0.0.1" (long names) or "oak@myhost" (short names): it listens
 * for connections on the address of the name's host, registers the name
 * with the local epmd (Erlang's port mapper, started as `epmd -daemon`
 * when none runs, as erl does; $ERL_EPMD_PORT is honoured), and answers
 * other nodes' connections with the distribution handshake, version 6 (OTP
 * 23 and later), authenticated by the cookie. Erlang nodes then see it as a
 * normal node: net_adm:ping/1 answers pong.
 *
 * Each connection is an oak process. While it is up, both sides send ticks
 * so that a silent peer is found: a connection that has received nothing
 * for net_ticktime (60 s by default, as Erlang's) is closed. Malformed
 * input from a peer (garbage before, during or after the handshake) closes
 * or skips, and is reported by the logger; it never crashes the node.
 *
 * This version answers net_kernel's is_auth call (ping), MONITOR_P on names
 * it does not have (a DOWN with noproc), links (an exit with noproc) and
 * UNLINK_ID (acked); other control messages are dropped. Remote pids in
 * oak_send() and the rest of the process API are not there yet.
 *
 * One node per runtime. The calls below are made from inside a process.
 */
#ifndef OAK_NODE_H
#define OAK_NODE_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct oak_node_opts {
    /* "alive@host". The host part gives the address the node listens on;
     * for numeric addresses and "localhost" no lookup is made. */
    const char *name;
    /* The cookie. NULL: the environment variable OAK_ERLANG_COOKIE, else
     * the first line of $HOME/.erlang.cookie, which is created (20 random
     * capital letters, mode 0400) when it does not exist, as erl does. */
    const char *cookie;
    /* net_ticktime in milliseconds; 0 = 60000, as Erlang's. */
    int64_t net_ticktime_ms;
} oak_node_opts;

/* Start the node. Returns 0, or
 *   -EINVAL      no name, not alive@host, or a cookie that is empty or
 *                longer than 255 bytes (or none found)
 *   -EALREADY    a node is running in this runtime
 *   -EADDRINUSE  the name is registered with epmd already
 *   -ECONNREFUSED no epmd, and `epmd -daemon` could not start one
 *   -EHOSTUNREACH the host part does not resolve
 *   -EPERM       outside a process
 *   -ENOMEM, or what socket(2), bind(2) and listen(2) return.
 * Blocks the caller until epmd has answered (at most 5 s). Process context. */
OAK_API int oak_node_start(const oak_node_opts *opts);

/* Stop the node: close every connection and the listening socket, and
 * unregister from epmd. Returns 0, or -ENOENT when no node runs, -EPERM
 * outside a process. Blocks until the node's processes have ended. */
OAK_API int oak_node_stop(void);

/* Copy this node's name into buf (NUL-terminated, cut at size - 1).
 * Returns its length, or -ENOENT when no node runs. Any thread. */
OAK_API int oak_node_self(char *buf, size_t size);

/* Connect to node `name` (as net_adm:ping/1; an existing connection is
 * reused): look its port up at the epmd of its host, connect, and run the
 * handshake. Returns 0 once the connection is up ("pong"), or
 *   -ENOENT      no node runs here
 *   -EINVAL      not alive@host, or this node's own name
 *   -EHOSTUNREACH the host does not resolve, or its epmd does not know the
 *                node
 *   -ECONNREFUSED nothing listens there, or the peer refused (status nok,
 *                not_allowed)
 *   -EACCES      the cookies differ
 *   -EOPNOTSUPP  the peer speaks an older protocol or lacks a mandatory
 *                capability
 *   -EPROTO      the peer does not speak the protocol
 *   -ETIMEDOUT   after timeout_ms (OAK_INFINITY: the handshake's own 7 s)
 * The reason is also logged. Blocks the caller. Process context. */
OAK_API int oak_node_ping(const char *name, int64_t timeout_ms);

/* Is a connection to node `name` up? Any thread. */
OAK_API bool oak_node_is_connected(const char *name);

/* The number of connections that are up. Any thread. */
OAK_API size_t oak_node_connection_count(void);

#ifdef __cplusplus
}
#endif
#endif
