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
 * "messages between nodes" below) and answers net_kernel's is_auth call
 * (ping). Remote pids work in the process API unchanged: a pid term of
 * another node becomes an oak_pid with node bits (oak_node_term_to_pid()),
 * and oak_send(), oak_link(), oak_unlink(), oak_monitor(), oak_demonitor()
 * and oak_exit_pid() on it travel as SEND_SENDER, LINK, UNLINK_ID,
 * MONITOR_P, DEMONITOR_P and EXIT2; a remote process's LINK and MONITOR_P
 * on a local one take effect (its death sends EXIT or MONITOR_P_EXIT with
 * the reason), and its EXIT and EXIT2 signal the local process as a local
 * exit signal would. A lost connection ends links with `noconnection` and
 * monitors with DOWN `noconnection`, as in Erlang.
 *
 * Auto-connect: a message, link, monitor or exit signal for a remote pid
 * (or a name on another node) whose node has no connection makes one, as
 * Erlang does: the signal waits, in order, in a queue of that node (at
 * most 64 MB) while the connection is made, and goes out first once it is
 * up. When the connect fails (no such node at its host's epmd, nothing
 * listens, a refused handshake), the queue is refused as Erlang refuses
 * it: a link ends with an EXIT `noconnection`, a monitor with a DOWN
 * `noconnection`, messages and exit signals are lost. A pid of an
 * earlier incarnation of a node that is up again gets the same answer at
 * once. The calls that sent them do not wait for the connect.
 *
 * One node per runtime. The calls below are made from inside a process.
 */
#ifndef OAK_NODE_H
#define OAK_NODE_H

#include "gen_server.h"
#include "message.h"
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

/* Monitor the connection to node `name`, as erlang:monitor_node(Node,
 * true): when it goes down, the caller gets an OAK_TAG_TERM message
 * {nodedown, Node}, once, and the monitor is gone. With no connection up
 * one is made (auto-connect), and the message comes when that fails. Does
 * not wait for the connect. Each call makes a
 * monitor of its own; on = false removes one of the caller's. Returns 0,
 * -EINVAL (not alive@host), -ENOSPC (64 monitors exist), -EPERM outside a
 * process. */
OAK_API int oak_node_monitor(const char *name, bool on);

/* ---- messages between nodes ------------------------------------------------
 *
 * The mapping between oak's messages (a tag and bytes) and Erlang's (terms):
 * a message that another node sends to a process here, to its pid or to
 * its registered name, arrives as an oak message with tag OAK_TAG_TERM
 * whose payload is the term in the external term format (decode it with
 * oak_term_decode(); the node checked that it decodes). Its `from` is the
 * remote sender's pid when the peer says it (SEND_SENDER, REG_SEND; erl
 * does), so that oak_send(m->from, ...) answers; else the connection's
 * process. A term {'$oak_msg', Tag, <<Bytes>>} arrives as a message with
 * that tag and those bytes instead: it is what oak_send() of a message
 * whose tag is not OAK_TAG_TERM sends to a remote pid, so two oak nodes
 * exchange tag + bytes unchanged (tags are numbers: an atom used as a tag
 * is this runtime's number for it, which another node does not share).
 * oak_send() of an OAK_TAG_TERM message to a remote pid sends its payload
 * (an encoded term) as the message. Exit reasons: an atom is itself, an
 * atom with detail is {Atom, <<"detail">>}; from a peer, an atom is
 * interned, {Atom, X} is Atom with X (a binary's or string's text, else X
 * printed) as the detail, and any other term is `error` with the term
 * printed as the detail.
 * oak_node_send() sends a term the other way, and to a process here it
 * delivers the same OAK_TAG_TERM message, so that a process need not know
 * whether its peer is local or remote.
 * Erlang's gen_server:call to a process here, the message
 * {'$gen_call', {From, Tag}, Req}, arrives as oak's own call instead
 * (oak/gen_server.h), so that an oak gen_server answers it: handle_call
 * gets a request with tag OAK_TAG_TERM and Req encoded (or, for
 * {'$oak_msg', T, <<B>>}, tag T and bytes B), from->pid is the remote
 * caller, and the reply goes back as {Tag, Reply}: Reply is the reply's
 * term for an OAK_TAG_TERM reply, `ok` for a reply never set (OAK_OK, no
 * bytes), else {'$oak_msg', T, <<B>>}. It goes to the caller's alias (OTP
 * 24 and later), so a reply after the caller's timeout is dropped, as in
 * Erlang. A process here that is no gen_server gets that call message
 * too (tag '$gen_call'); gen_server:call to a name nobody has here exits
 * the caller with noproc, as in Erlang. The other way, oak_gen_server_call()
 * on a remote pid sends {'$gen_call', {Self, Ref}, Req} (Req the request's
 * term for an OAK_TAG_TERM request, else {'$oak_msg', T, <<B>>}) and takes
 * the reply {Ref, Reply} as its reply: Reply, as a message from another
 * node maps (a reply after a timeout is dropped).
 * Names a peer sends to that are not
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

/* The process of a pid term into *pid: a local pid for this node's, and
 * for another node's a remote pid, whose node bits (oak/types.h) index a
 * table of node names and creations (an entry per incarnation of a node,
 * kept while the program runs). Returns 0, -EXDEV (no node runs, or a pid
 * of an earlier incarnation of this node), -ESRCH (of this node, but no
 * pid oak could have made), -ERANGE (a remote ID or serial of 2^28 or
 * more), -ENOSPC (255 other nodes are known), -EINVAL (not a pid). Any
 * thread. */
OAK_API int oak_node_term_to_pid(const oak_term *t, oak_pid *pid);

/* An alias of the calling process (oak_alias(), oak_monitor_alias()) as
 * a reference term that other nodes can send to, as Erlang's aliases:
 * `Alias ! Msg` on an Erlang node (ALIAS_SEND), or oak_node_send() to it,
 * delivers an OAK_TAG_TERM message (see the mapping above) whose ref is
 * the alias, only while the alias is active (oak_unalias() ends it; a
 * message to it afterwards is dropped). NULL when no node runs, alias is
 * 0, out of memory, or outside a process. */
OAK_API oak_term *oak_node_alias_to_term(oak_term_arena *arena, oak_ref alias);

/* Send term msg to `to`: a pid term, the tuple {Name, Node} of two atoms
 * (a registered name on a node), or a reference that is an alias (an
 * Erlang process's alias/0 or monitor's alias, or
 * oak_node_alias_to_term()'s), as Erlang's `To ! Msg`: to an alias it
 * goes as ALIAS_SEND, and is dropped by the alias's node when the alias
 * is no longer active (or that node has no aliases). On another
 * node it goes over the connection to it, which is made first when there
 * is none (as oak_node_ping(), blocking up to the handshake); on this node
 * it is delivered as an OAK_TAG_TERM message. Messages from one process to
 * another arrive in order. Returns 0, also when no such process exists or
 * the connection goes down (as in Erlang, the message is then lost), or
 * -EINVAL (not a pid, {Name, Node} or a reference), -ENOENT (no node
 * runs), the errors of oak_node_ping(), of oak_term_encode() (-ELOOP,
 * -EOVERFLOW), -ENOMEM, -EPERM outside a process. May block while the
 * socket is full. */
OAK_API int oak_node_send(const oak_term *to, const oak_term *msg);

/* Send a message (tag and a copy of size bytes, as oak_send(): see the
 * mapping above) to the process registered as `name` on node `node`, as
 * Erlang's {Name, Node} ! Msg (REG_SEND). With no connection to node, one
 * is made first (see "auto-connect" above); the call does not wait for
 * it. Returns 0, also when nobody has the name there or the message is
 * lost, or -EINVAL (node not alive@host, name not an atom, a runtime tag,
 * data NULL with size > 0), -ENOENT (no node runs), -ENOSPC (255 other
 * nodes are known), -EPERM outside a process. For this node's own name it
 * is oak_send_name(). Does not block. Process context. */
OAK_API int oak_node_send_name(const char *node, oak_atom name, uint64_t tag, const void *data,
                               size_t size);

/* Monitor the process registered as `name` on node `node`, as Erlang's
 * monitor(process, {Name, Node}) (MONITOR_P by name). Its DOWN (tag
 * OAK_TAG_DOWN, ref the returned ref) is Erlang's {'DOWN', Ref, process,
 * {Name, Node}, Reason}: the oak_down payload's name is Name, and `from` is
 * the pid that stands for the node by its name (node bits, ID and serial 0;
 * oak_node_of() names Node). Reason is noproc when nobody has the name
 * there, noconnection when the node cannot be reached or the connection is
 * lost. oak_demonitor() ends it (DEMONITOR_P). Returns the ref, or 0 when
 * no node runs, for a node that is not alive@host, a name that is not an
 * atom, or outside a process. For this node's own name it is
 * oak_monitor_name(). Does not block. Process context. */
OAK_API oak_ref oak_node_monitor_name(const char *node, oak_atom name);

/* The name of pid's node into buf (NUL-terminated, cut at size - 1): this
 * node's name for a local pid ("nonode@nohost" when no node runs). Returns
 * its length, or -EINVAL for node bits that no node has. Any thread. */
OAK_API int oak_node_of(oak_pid pid, char *buf, size_t size);

/* Call an Erlang gen_server (or anything that speaks its protocol) by its
 * remote pid, as gen_server:call(Server, Req, Timeout): monitors it, sends
 * {'$gen_call', {self(), Ref}, Req}, and waits up to timeout_ms
 * (OAK_INFINITY: no limit) for {Ref, Reply}; *reply is Reply, in arena.
 * Returns 0, or
 *   -ETIMEDOUT   no reply in time (a reply that comes later stays in the
 *                mailbox as an OAK_TAG_TERM message, as in OTP before
 *                aliases: the call uses a plain reference as its tag)
 *   -ESRCH       the server is not there (DOWN noproc)
 *   -ENOTCONN    its node is not connected, or the connection was lost
 *   -ECONNRESET  the server exited before it replied
 *   -EBADMSG     the reply is not {Ref, Reply}
 *   -EINVAL      NULL arguments, a bad timeout; -ENOMEM; -EPERM outside a
 *                process
 * Blocks. Process context. */
OAK_API int oak_node_call(oak_pid server, const oak_term *req, oak_term_arena *arena,
                          oak_term **reply, int64_t timeout_ms);

/* oak_gen_server_call() to the process registered as `name` on node
 * `node`, as gen_server:call({Name, Node}, Req, Timeout): an Erlang
 * gen_server (the request goes as {'$gen_call', {self(), Ref}, Req}, see
 * the mapping above) or an oak one on another oak node. Monitors the name
 * there (MONITOR_P by name), sends the call (REG_SEND) and waits up to
 * timeout_ms (OAK_INFINITY: no limit) for the reply, *reply as
 * oak_gen_server_call()'s (an OAK_TAG_TERM message for a term); a reply
 * after the timeout is dropped. With no connection to node, one is made
 * (auto-connect). For this node's own name it is oak_gen_server_call() to
 * oak_whereis(name). Returns 0, or
 *   -ETIMEDOUT   no reply in time (why: timeout)
 *   -ESRCH       nobody has the name there (why: noproc)
 *   -ENOTCONN    the node cannot be reached or the connection was lost
 *                (why: noconnection)
 *   -ECONNRESET  the server exited before it replied (why: its reason)
 *   -EINVAL      node not alive@host, name not an atom, reply NULL, req
 *                NULL with size > 0, a runtime tag, a bad timeout
 *   -ENOENT (no node runs), -ENOSPC (255 other nodes are known), -ENOMEM,
 *   -EPERM outside a process.
 * why may be NULL. Blocks. Process context. */
OAK_API int oak_node_gen_server_call(const char *node, oak_atom name, uint64_t tag,
                                     const void *req, size_t size, oak_msg **reply,
                                     int64_t timeout_ms, oak_reason *why);

#ifdef __cplusplus
}
#endif
#endif
