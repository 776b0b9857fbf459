/* oak/net.h - sockets: TCP over IPv4 and IPv6, and Unix domain stream
 * sockets, for processes.
 *
 * A socket is a file descriptor (an int >= 0) that the runtime owns: it is
 * non-blocking, close-on-exec, and registered with the schedulers'
 * netpoller. Every call that must wait (accept, connect, recv, send)
 * suspends only the calling process; the scheduler runs others meanwhile.
 * Messages that arrive during such a wait stay queued; exit signals take
 * effect at once.
 *
 * Ownership: a socket belongs to the process that made it (the listener's
 * accept gives the new socket to the caller of oak_sock_accept()). When
 * that process ends, however it ends (normal exit, crash, kill while
 * blocked in any call of this file), the socket is closed. Only the owner
 * may close it or hand it over (oak_sock_controlling_process()). Any
 * process may send and receive on it, but only one reader and one writer
 * can wait at a time: a second one that would have to wait gets -EBUSY.
 * Do not close the descriptor with close(2), nor move it with dup2(2).
 *
 * Addresses are numeric ("127.0.0.1", "::1", "0.0.0.0", "::") or host
 * names. A name is looked up with getaddrinfo(3) on the blocking pool
 * (oak/blocking.h), so the caller is suspended and its scheduler runs
 * others meanwhile; the first IPv4 address is taken, else the first IPv6
 * one. A name that does not resolve gets -ENOENT (EAI_NONAME), a name
 * server that does not answer -EAGAIN (EAI_AGAIN), other lookup failures
 * -EIO, -ENOMEM, or -EINVAL (an empty name or one longer than
 * NI_MAXHOST).
 *
 * Errors are negative errno codes, as everywhere in oak: -ECONNREFUSED,
 * -ECONNRESET, -EPIPE, -ETIMEDOUT, -EADDRINUSE, -EBADF (not an open oak
 * socket), -EPERM (not the owner, or outside a process), -EINVAL (bad
 * argument), -EMSGSIZE (a frame larger than the buffer). Timeouts are
 * relative milliseconds; OAK_INFINITY waits without end, 0 only tries.
 * All functions are for oak processes only.
 */
#ifndef OAK_NET_H
#define OAK_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Options of a listening socket; zeroed means the defaults. */
typedef struct oak_listen_opts {
    int backlog;       /* listen(2) backlog; 0: 128                       */
    bool no_reuseaddr; /* SO_REUSEADDR is set unless this is true         */
    bool reuseport;    /* SO_REUSEPORT (several listeners on one port)    */
    bool v6only;       /* IPV6_V6ONLY for an IPv6 address                  */
} oak_listen_opts;

/* Listen on TCP host:port (port 0: the kernel picks one, see
 * oak_sock_port()). host is numeric (IPv4 or IPv6) or a name (see above);
 * NULL means "0.0.0.0". Returns the listening socket, owned by the caller,
 * or -EINVAL (bad port or opts), -ENOENT (a name that does not resolve),
 * -EADDRINUSE, -EACCES, -EMFILE, -EPERM outside a process. Blocks (the
 * caller only) for a name lookup; with a numeric host it does not. */
OAK_API int oak_tcp_listen(const char *host, int port, const oak_listen_opts *opts);

/* Listen on the Unix stream socket at path (which must not exist; a path
 * longer than sun_path gets -ENAMETOOLONG). The file is not removed on
 * close. Returns the socket or a negative errno. Does not block. */
OAK_API int oak_unix_listen(const char *path, const oak_listen_opts *opts);

/* Accept a connection on a listening socket, waiting up to timeout_ms.
 * Returns the new socket, owned by the caller, or -ETIMEDOUT, -EBADF,
 * -EINVAL (not listening), -EMFILE, -EBUSY (another process is accepting
 * on it right now). May block. */
OAK_API int oak_sock_accept(int lsock, int64_t timeout_ms);

/* Connect to TCP host:port (numeric host or a name, see above), waiting
 * up to timeout_ms for the handshake (the name lookup is not counted in
 * it). Returns the socket, owned by the caller, or -ECONNREFUSED,
 * -ETIMEDOUT, -ENETUNREACH, -ENOENT (a name that does not resolve),
 * -EAGAIN, -EINVAL (bad host or port), -EMFILE. May block. */
OAK_API int oak_tcp_connect(const char *host, int port, int64_t timeout_ms);

/* Connect to the Unix stream socket at path. Returns the socket or
 * -ENOENT, -ECONNREFUSED, -ETIMEDOUT, -ENAMETOOLONG, ... May block. */
OAK_API int oak_unix_connect(const char *path, int64_t timeout_ms);

/* Receive what is there, up to len bytes, waiting up to timeout_ms for
 * something. Returns the number of bytes (> 0), 0 at end of stream (the
 * peer shut its side down), or -ETIMEDOUT, -ECONNRESET, -EBADF, -EBUSY,
 * -EINVAL (len 0 or buf NULL). May block. */
OAK_API ssize_t oak_sock_recv(int sock, void *buf, size_t len, int64_t timeout_ms);

/* Receive exactly len bytes, all within timeout_ms. Returns len, 0 when
 * the stream ends before the first byte, -ENODATA when it ends after some
 * (they are in buf, but the unit is incomplete), -ETIMEDOUT (what came is
 * consumed: treat the stream as out of step), or another error of
 * oak_sock_recv(). May block. */
OAK_API ssize_t oak_sock_recv_exact(int sock, void *buf, size_t len, int64_t timeout_ms);

/* Framing, as Erlang's {packet, N}: a frame is a big-endian length of 1,
 * 2 or 4 bytes and that many bytes; OAK_PACKET_LINE: bytes up to and
 * including '\n'. */
#define OAK_PACKET_LINE (-1)

/* Receive one frame of kind `packet` (1, 2, 4 or OAK_PACKET_LINE) into
 * buf (cap bytes), all within timeout_ms. Returns the frame's length
 * (without the length header; a line with its '\n'), or -EMSGSIZE when it
 * does not fit in cap (a length-prefixed frame's bytes are then left
 * unread: the stream is out of step and should be closed; a line longer
 * than cap is left unread), -ENODATA when the stream ends inside a frame
 * (or, for a line, with bytes and no '\n'), 0 when it ends before a
 * frame starts, -ETIMEDOUT, or an error of oak_sock_recv(). May block. */
OAK_API ssize_t oak_sock_recv_packet(int sock, int packet, void *buf, size_t cap,
                                     int64_t timeout_ms);

/* Send as much of buf as the socket takes, waiting up to timeout_ms for
 * room if it takes nothing. Returns the number of bytes sent (> 0), or
 * -ETIMEDOUT, -EPIPE (the peer is gone or our side is shut down),
 * -ECONNRESET, -EBADF, -EBUSY. Never raises SIGPIPE. May block. */
OAK_API ssize_t oak_sock_send(int sock, const void *buf, size_t len, int64_t timeout_ms);

/* Send all of buf, all within timeout_ms: a sender to a slow peer is
 * suspended, never buffered beyond the kernel's socket buffer. Returns len,
 * or an error of oak_sock_send() (how much went out is then unknown to the
 * caller: treat the connection as broken). May block. */
OAK_API ssize_t oak_sock_send_all(int sock, const void *buf, size_t len, int64_t timeout_ms);

/* Send one frame of kind packet (1, 2 or 4; a length that does not fit
 * the header gets -EMSGSIZE) as oak_sock_send_all() does. Returns len or
 * a negative errno. May block. */
OAK_API ssize_t oak_sock_send_packet(int sock, int packet, const void *buf, size_t len,
                                     int64_t timeout_ms);

/* Shut down reading (SHUT_RD), writing (SHUT_WR: the peer reads end of
 * stream) or both. Returns 0, -EBADF, -ENOTCONN, -EINVAL. Does not block. */
OAK_API int oak_sock_shutdown(int sock, int how);

/* Close a socket. Owner only. A process of another owner waiting on it is
 * woken and gets -EBADF. Returns 0, -EBADF (not an open oak socket),
 * -EPERM (not the owner, or called from an oak_defer() cleanup, where the
 * owner's sockets are closed anyway). Does not block. */
OAK_API int oak_sock_close(int sock);

/* Hand the socket over to process `pid`, which then owns it (and closes
 * it when it ends). Owner only. Returns 0, -EPERM (not the owner), -EBADF,
 * -ESRCH (pid is not alive: the caller keeps it), -ENOMEM. Does not
 * block. */
OAK_API int oak_sock_controlling_process(int sock, oak_pid pid);

/* Active mode, as Erlang's {active, once}. The head of the message's
 * data; `status` bytes follow it when status > 0. status 0: the peer
 * ended the stream; < 0: an error (-ECONNRESET, ...). */
typedef struct oak_sock_data {
    int32_t sock;
    int32_t status;
} oak_sock_data;

/* Arm active mode once: the next time the socket has data (or its stream
 * ends, or fails), its owner gets one message with `tag` whose data is an
 * oak_sock_data head and what was there (up to 64 KiB), without calling
 * recv; call it again for the next. So a gen_server that owns a socket
 * gets its data in handle_info. While armed, oak_sock_recv*() on it get
 * -EBUSY. Owner only. Returns 0, -EPERM (not the owner), -EBADF, -EBUSY
 * (another process waits to read). A handover keeps it armed for the new
 * owner. Does not block. */
OAK_API int oak_sock_active_once(int sock, uint64_t tag);

/* status of the notice that ends {active, N}: see oak_sock_active(). */
#define OAK_SOCK_PASSIVE INT32_MIN
/* n of oak_sock_active() for Erlang's {active, true}. */
#define OAK_SOCK_ACTIVE_TRUE (-1)
/* The largest count of oak_sock_active() (Erlang's limit too). */
#define OAK_SOCK_ACTIVE_MAX 32767

/* Active mode for more than one message, as Erlang's {active, true}
 * (n OAK_SOCK_ACTIVE_TRUE: every time the socket has data, until it is
 * made passive, closed, or its stream ends or fails) and {active, N} (n
 * from 1 to OAK_SOCK_ACTIVE_MAX: N messages, then the socket is passive
 * and the owner gets one more message with `tag` whose oak_sock_data has
 * status OAK_SOCK_PASSIVE and no bytes, Erlang's {tcp_passive, S}; on a
 * socket still counting, N is added to what is left, as in Erlang, up to
 * the maximum). Each data message is as oak_sock_active_once()'s. The
 * message that says the stream ended (status 0) or failed (< 0) is the
 * last: no passive notice follows it. {active, true} has no back-pressure
 * (the mailbox takes what the peer sends): prefer N. Owner only. Returns
 * 0, -EINVAL (another n; use oak_sock_passive() for false), -EPERM (not
 * the owner), -EBADF, -EBUSY (another process waits to read). A handover
 * keeps the mode and what is left of the count. Does not block. */
OAK_API int oak_sock_active(int sock, uint64_t tag, int n);

/* Back to passive mode: a message already delivered stays queued. Owner
 * only. Returns 0, -EPERM, -EBADF. Does not block. */
OAK_API int oak_sock_passive(int sock);

/* The local port of a TCP socket (> 0), or a negative errno. */
OAK_API int oak_sock_port(int sock);

#ifdef __cplusplus
}
#endif
#endif
