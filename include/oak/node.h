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
 * This version delivers sends to pids and registered names here (see
 * "messages between nodes" below), answers net_kernel's is_auth call
 * (ping), MONITOR_P (a DOWN with noproc, except for net_kernel), links (an
 * exit with noproc) and UNLINK_ID (acked); other control messages are
 * dropped. Remote pids in oak_send(), oak_link() and oak_monitor() are not
 * there yet: oak_node_send() sends terms.
 *
 * One node per runtime. The calls below are made from inside a process.
 */
#ifndef OAK_NODE_H
#define OAK_NODE_H

#include "term.h"
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
 *   -ETIMEDOUT   after timeout_ms (OAK_INFINITY: the handshake's own 7 s),
 *                also when another caller's handshake with that node is
 *                under way and does not come up in time
 *   -ENOSPC      256 connections exist or are being made
 *   -ECONNRESET  the connection's process ended before it said (killed)
 * The reason is also logged. Blocks the caller. Process context. */
OAK_API int oak_node_ping(const char *name, int64_t timeout_ms);

/* Is a connection to node `name` up? Any thread. */
OAK_API bool oak_node_is_connected(const char *name);

/* The number of connections that are up. Any thread. */
OAK_API size_t oak_node_connection_count(void);

/* Subscribe the calling process to connections coming up and going down,
 * as Erlang's net_kernel:monitor_nodes(true): it gets OAK_TAG_TERM messages
 * (see below) holding {nodeup, Node} and {nodedown, Node}, Node an atom.
 * on = false ends the subscription; so does the process's death. A
 * process subscribed twice gets each message once. Returns 0, -ENOSPC (64
 * processes are subscribed), -EPERM outside a process. */
OAK_API int oak_node_monitor_nodes(bool on);

/* ---- messages between nodes ------------------------------------------------
 *
 * The mapping between oak's messages (a tag and bytes) and Erlang's (terms):
 * a message that another node sends to a process here, to its pid or to
 * its registered name, arrives as an oak message with tag OAK_TAG_TERM
 * whose payload is the term in the external term format (decode it with
 * oak_term_decode(); the node checked that it decodes). Its `from` is the
 * connection's process, not the remote sender: a sender that wants an
 * answer puts its pid in the term, as Erlang programs do ({self(), Req}).
 * oak_node_send() sends a term the other way, and to a process here it
 * delivers the same OAK_TAG_TERM message, so that a process need not know
 * whether its peer is local or remote. Names a peer sends to that are not
 * atoms here already are not interned (a peer cannot grow the atom
 * table): they have no process, and the message is dropped, as Erlang
 * drops a send to a name that nobody has. */

/* The tag of a message from another node (below 2^63: a user tag, which
 * oak_send() accepts, so that oak_node_send() to a local pid can use it). */
#define OAK_TAG_TERM ((uint64_t)0x4F414B5445524D00)

/* The pid term of a process here: this node's name and creation (or
 * nonode@nohost and 0 when no node runs), the pid's slot as ID and its
 * generation as Serial. NULL for OAK_NOPID or out of memory. Any thread. */
OAK_API oak_term *oak_node_pid_to_term(oak_term_arena *arena, oak_pid pid);

/* The process of a pid term of this node into *pid. Returns 0, -EXDEV (a
 * pid of another node, or of an earlier incarnation of this one), -ESRCH
 * (of this node, but no pid oak could have made), -EINVAL (not a pid).
 * Any thread. */
OAK_API int oak_node_term_to_pid(const oak_term *t, oak_pid *pid);

/* Send term msg to `to`: a pid term, or the tuple {Name, Node} of two
 * atoms (a registered name on a node), as Erlang's `To ! Msg`. On another
 * node it goes over the connection to it, which is made first when there
 * is none (as oak_node_ping(), blocking up to the handshake); on this node
 * it is delivered as an OAK_TAG_TERM message. Messages from one process to
 * another arrive in order. Returns 0, also when no such process exists or
 * the connection goes down (as in Erlang, the message is then lost), or
 * -EINVAL (not a pid or {Name, Node}), -ENOENT (no node runs), the errors
 * of oak_node_ping(), of oak_term_encode() (-ELOOP, -EOVERFLOW), -ENOMEM,
 * -EPERM outside a process. May block while the socket is full. */
OAK_API int oak_node_send(const oak_term *to, const oak_term *msg);

#ifdef __cplusplus
}
#endif
#endif
