/* oak/tcp_server.h - a supervised TCP (or Unix socket) server, as Erlang's
 * Ranch: a listener, acceptor processes, and one process per connection
 * under a dynamic supervisor.
 *
 *   server (supervisor, rest_for_one)
 *    ├── conns     dynamic supervisor: one temporary process per
 *    │             connection, at most max_connections
 *    └── listener  owns the listening sockets; its acceptors (linked)
 *                  accept, start a connection process and hand it the
 *                  socket
 *
 * A connection process runs handler(sock, arg) and owns sock: when the
 * handler returns, or crashes, or the process is killed, its socket is
 * closed and no other connection is touched. A connection beyond
 * max_connections is closed at once. The handler is an ordinary process:
 * it may receive messages, arm active mode (oak/net.h), call gen_servers.
 */
#ifndef OAK_TCP_SERVER_H
#define OAK_TCP_SERVER_H

#include "gen_server.h"
#include "net.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A connection's handler, run in the connection's own process. */
typedef void (*oak_conn_handler)(int sock, void *arg);

typedef struct oak_tcp_server_opts {
    const char *host;        /* address or name (oak/net.h); NULL: 0.0.0.0 */
    int port;                /* 0: the kernel picks one                     */
    const char *unix_path;   /* a Unix socket instead of host and port      */
    oak_listen_opts listen;  /* backlog etc.; reuseport is set with several
                              * acceptors on TCP (each has its socket)      */
    unsigned acceptors;      /* 0: 4 for TCP; a Unix socket has one         */
    size_t max_connections;  /* 0: 1024                                     */
    oak_conn_handler handler; /* required                                   */
    const void *arg;         /* handler's argument: arg_size bytes copied
                              * for each connection, or with arg_size 0 the
                              * pointer itself (must stay valid)            */
    size_t arg_size;
} oak_tcp_server_opts;

/* Start a server. flags: OAK_GEN_LINK (from oak/gen_server.h) links it to
 * the caller, or 0. Returns 0 with the server's pid (its supervisor) in
 * *server, -EINVAL (no handler, bad options or address), -ECANCELED when
 * listening failed (*why, if given, says why, e.g. eaddrinuse), or an
 * oak_supervisor_start() error. Process context; blocks until it listens. */
OAK_API int oak_tcp_server_start(const oak_tcp_server_opts *opts, unsigned flags,
                                 oak_pid *server, oak_reason *why);

/* The TCP port the server listens on (> 0), or -EINVAL (a Unix socket),
 * -ESRCH (stopped or stopping). Process context; blocks briefly. */
OAK_API int oak_tcp_server_port(oak_pid server);

/* How many connection processes are alive, or a negative code of
 * oak_supervisor_count_children(). Process context; blocks briefly. */
OAK_API int oak_tcp_server_connections(oak_pid server);

/* Graceful stop: stop accepting (the listening sockets are closed), let
 * the open connections finish for up to timeout_ms, then kill the rest
 * and stop the server. Returns how many connections were killed (>= 0),
 * or -ESRCH / -EPROTO (not such a server). Process context; blocks. */
OAK_API int oak_tcp_server_stop(oak_pid server, int64_t timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
