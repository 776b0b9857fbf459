/* socket.c - see oak/net.h.
 *
 * A socket is a non-blocking descriptor registered with the netpoller
 * (core/netpoll.h), which keeps its owner beside its wait record. Every
 * call tries the system call first and, on EAGAIN, waits for the edge on
 * the record (core/fdwait.h), so a call that can go through at once costs
 * its system call and nothing else.
 *
 * Ownership is a cleanup of the owner (as oak_defer()) that closes the
 * socket when the owner ends; its argument names the descriptor and its
 * registration number, so a cleanup left for a socket that was closed and
 * whose number was reused does nothing. A handover moves the cleanup to
 * the new owner with an ADOPT item (core/proc.h): if the new owner dies
 * before it takes the item, the item closes the socket.
 */
#include "oak/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/fdwait.h"
#include "core/netpoll.h"
#include "core/timer.h"
#include "oak/blocking.h"
#include "oak/io.h"
#include "oak/process.h"

/* ---- ownership ---- */

static void *cleanup_arg(int fd)
{
    return (void *)(uintptr_t)((uint64_t)oak__netpoll_gen(fd) << 32 | (uint32_t)fd);
}

/* Deregister and close fd. */
static void release(int fd)
{
    oak__netpoll_close(fd);
    close(fd);
}

/* The owner's cleanup. Runs when the owner ends (or, for a handover whose
 * new owner is gone, where the ADOPT item is answered). */
static void close_at_exit(void *arg)
{
    uint64_t v = (uint64_t)(uintptr_t)arg;
    int fd = (int)(uint32_t)v;
    if (oak__netpoll_gen(fd) == (uint32_t)(v >> 32))
        release(fd);
}

/* Make a new descriptor (non-blocking, close-on-exec) an oak socket owned
 * by the caller. Returns fd or a negative errno (fd then closed). */
static int own_new(int fd)
{
    int rc = oak__netpoll_open(fd);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    atomic_store_explicit(&oak__netpoll_owner(fd)->pid, oak_self(), memory_order_relaxed);
    rc = oak_defer(close_at_exit, cleanup_arg(fd));
    if (rc < 0) {
        release(fd);
        return rc;
    }
    return fd;
}

/* 0 when fd is an open oak socket and the caller a process. */
static int check(int fd)
{
    if (!oak__proc_self())
        return -EPERM;
    return oak__netpoll_is_open(fd) ? 0 : -EBADF;
}

/* 0 when the caller owns fd. */
static int check_owner(int fd)
{
    oak__proc *p = oak__proc_self();
    if (!p || p->in_cleanup)
        return -EPERM;
    oak__fd_owner *o = oak__netpoll_owner(fd);
    if (!o)
        return -EBADF;
    return atomic_load_explicit(&o->pid, memory_order_relaxed) == p->self ? 0 : -EPERM;
}

/* Take the caller's cleanup for fd away. A handover to the caller may
 * still be in its inbox: take it first. */
static int undefer(int fd)
{
    oak__proc *p = oak__proc_self();
    if (oak__undefer_arg(p, close_at_exit, cleanup_arg(fd)) == 0)
        return 0;
    oak__drain(p);
    return oak__undefer_arg(p, close_at_exit, cleanup_arg(fd));
}

int oak_sock_close(int sock)
{
    int rc = check_owner(sock);
    if (rc < 0)
        return rc;
    undefer(sock);
    release(sock);
    return 0;
}

int oak_sock_controlling_process(int sock, oak_pid pid)
{
    int rc = check_owner(sock);
    if (rc < 0)
        return rc;
    oak__fd_owner *o = oak__netpoll_owner(sock);
    oak_pid me = oak_self();
    if (pid == me)
        return 0;
    if (!oak_is_alive(pid))
        return -ESRCH;
    if ((rc = undefer(sock)) < 0)
        return rc;
    /* The new owner learns it through the item, pushed after this store
     * (the push is a release, its drain an acquire). */
    atomic_store_explicit(&o->pid, pid, memory_order_relaxed);
    /* Armed for the old owner: armed for the new one (an item already on
     * its way to the old one is passed on by its drain). */
    bool active = atomic_load_explicit(&o->active, memory_order_relaxed);
    if (active) {
        oak__netpoll_passive(sock);
        oak__netpoll_active_once(pid, sock);
    }
    rc = oak__proc_adopt(pid, close_at_exit, cleanup_arg(sock));
    if (rc < 0) {
        atomic_store_explicit(&o->pid, me, memory_order_relaxed);
        if (active) {
            oak__netpoll_passive(sock);
            oak__netpoll_active_once(me, sock);
        }
        int d = oak_defer(close_at_exit, cleanup_arg(sock));
        if (d < 0) {
            release(sock); /* cannot own it any more: do not leak it */
            return d;
        }
    }
    return rc;
}

/* ---- deadlines ---- */

static int deadline_of(int64_t timeout_ms, int64_t *end)
{
    if (timeout_ms < 0 && timeout_ms != OAK_INFINITY)
        return -EINVAL;
    int64_t rel = oak__timeout_ns(timeout_ms);
    *end = timeout_ms == 0 ? 0 : rel ? oak__now_ns() + rel : INT64_MAX;
    return 0;
}

/* What is left of a deadline, in ms for a wait (rounded up). */
static int64_t left_ms(int64_t end)
{
    if (end == INT64_MAX)
        return OAK_INFINITY;
    int64_t d = end - oak__now_ns();
    return d <= 0 ? 0 : (d + 999999) / 1000000;
}

/* ---- addresses ---- */

/* A name lookup, run on the blocking pool (oak/blocking.h) so that it
 * never holds a scheduler thread. */
typedef struct lookup_req {
    char host[NI_MAXHOST];
    bool passive; /* for listen: AI_PASSIVE */
} lookup_req;

typedef struct lookup_res {
    int rc; /* 0 or a negative errno */
    socklen_t len;
    struct sockaddr_storage ss;
} lookup_res;

/* getaddrinfo()'s errors as errno codes (see oak/net.h). */
static int eai_errno(int eai)
{
    switch (eai) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
        return -ENOENT;
    case EAI_AGAIN: return -EAGAIN;
    case EAI_MEMORY: return -ENOMEM;
    case EAI_SYSTEM: return errno ? -errno : -EIO;
    case EAI_FAMILY:
    case EAI_SERVICE:
    case EAI_BADFLAGS:
    case EAI_SOCKTYPE: return -EINVAL;
    default: return -EIO;
    }
}

/* On a helper thread. The first IPv4 address, else the first one. */
static void *lookup(void *arg)
{
    const lookup_req *q = arg;
    lookup_res *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = q->passive ? AI_PASSIVE : 0};
    struct addrinfo *list = NULL;
    errno = 0;
    int eai = getaddrinfo(q->host, NULL, &hints, &list);
    if (eai != 0) {
        r->rc = eai_errno(eai);
        return r;
    }
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *a = list; a; a = a->ai_next) {
        if (a->ai_family == AF_INET && !pick)
            pick = a;
    }
    for (const struct addrinfo *a = list; a && !pick; a = a->ai_next) {
        if (a->ai_family == AF_INET6)
            pick = a;
    }
    if (pick && pick->ai_addrlen <= sizeof r->ss) {
        memcpy(&r->ss, pick->ai_addr, pick->ai_addrlen);
        r->len = (socklen_t)pick->ai_addrlen;
    } else {
        r->rc = -ENOENT; /* no IPv4 or IPv6 address */
    }
    freeaddrinfo(list);
    return r;
}

static void lookup_discard(void *result, void *arg)
{
    (void)arg;
    free(result);
}

static int tcp_addr(const char *host, int port, bool passive, struct sockaddr_storage *ss,
                    socklen_t *len)
{
    if (port < 0 || port > 65535)
        return -EINVAL;
    if (!host)
        host = "0.0.0.0";
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        *len = sizeof *a4;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        *len = sizeof *a6;
    } else {
        /* A name: looked up on the blocking pool. */
        size_t n = strlen(host);
        if (n == 0 || n >= NI_MAXHOST)
            return -EINVAL;
        lookup_req q = {.passive = passive};
        memcpy(q.host, host, n + 1);
        void *out = NULL;
        int rc = oak_blocking(lookup, &q, sizeof q, &out, lookup_discard);
        if (rc < 0)
            return rc;
        lookup_res *r = out;
        if (!r)
            return -ENOMEM;
        rc = r->rc;
        if (rc == 0) {
            memcpy(ss, &r->ss, r->len);
            *len = r->len;
        }
        free(r);
        if (rc < 0)
            return rc;
    }
    if (ss->ss_family == AF_INET)
        a4->sin_port = htons((uint16_t)port);
    else
        a6->sin6_port = htons((uint16_t)port);
    return 0;
}

static int unix_addr(const char *path, struct sockaddr_storage *ss, socklen_t *len)
{
    if (!path || !*path)
        return -EINVAL;
    struct sockaddr_un *u = (struct sockaddr_un *)ss;
    memset(u, 0, sizeof *u);
    size_t n = strlen(path);
    if (n >= sizeof u->sun_path)
        return -ENAMETOOLONG;
    u->sun_family = AF_UNIX;
    memcpy(u->sun_path, path, n);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

/* ---- listen, accept, connect ---- */

static int set_flag(int fd, int level, int name, int on)
{
    return setsockopt(fd, level, name, &on, sizeof on) == 0 ? 0 : -errno;
}

static int listen_on(const struct sockaddr_storage *ss, socklen_t len, const oak_listen_opts *opts)
{
    if (!oak__proc_self())
        return -EPERM;
    oak_listen_opts o = opts ? *opts : (oak_listen_opts){0};
    if (o.backlog < 0)
        return -EINVAL;
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (ss->ss_family != AF_UNIX) {
        if (!o.no_reuseaddr)
            rc = set_flag(fd, SOL_SOCKET, SO_REUSEADDR, 1);
        if (rc == 0 && o.reuseport)
            rc = set_flag(fd, SOL_SOCKET, SO_REUSEPORT, 1);
        if (rc == 0 && ss->ss_family == AF_INET6)
            rc = set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY, o.v6only);
    }
    if (rc == 0 && bind(fd, (const struct sockaddr *)ss, len) != 0)
        rc = -errno;
    if (rc == 0 && listen(fd, o.backlog ? o.backlog : 128) != 0)
        rc = -errno;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return own_new(fd);
}

int oak_tcp_listen(const char *host, int port, const oak_listen_opts *opts)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    int rc = tcp_addr(host, port, true, &ss, &len);
    return rc < 0 ? rc : listen_on(&ss, len, opts);
}

int oak_unix_listen(const char *path, const oak_listen_opts *opts)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = unix_addr(path, &ss, &len);
    return rc < 0 ? rc : listen_on(&ss, len, opts);
}

int oak_sock_accept(int lsock, int64_t timeout_ms)
{
    int64_t end;
    int rc = check(lsock);
    if (rc < 0 || (rc = deadline_of(timeout_ms, &end)) < 0)
        return rc;
    for (;;) {
        int fd = accept4(lsock, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0)
            return own_new(fd);
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        if ((rc = oak__wait_fd(lsock, OAK_FD_READ, left_ms(end))) < 0)
            return rc;
    }
}

static int connect_to(const struct sockaddr_storage *ss, socklen_t len, int64_t timeout_ms)
{
    int64_t end;
    int rc = deadline_of(timeout_ms, &end);
    if (rc < 0)
        return rc;
    if (!oak__proc_self())
        return -EPERM;
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    rc = connect(fd, (const struct sockaddr *)ss, len) == 0 ? 0 : -errno;
    if (rc < 0 && rc != -EINPROGRESS && rc != -EINTR) {
        close(fd);
        return rc;
    }
    /* Owned from here: a kill during the handshake closes it. */
    if ((fd = own_new(fd)) < 0)
        return fd;
    if (rc < 0) {
        rc = oak__wait_fd(fd, OAK_FD_WRITE, left_ms(end));
        if (rc > 0) {
            int err = 0;
            socklen_t el = sizeof err;
            rc = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 ? -errno : -err;
        }
        if (rc < 0) {
            oak_sock_close(fd);
            return rc;
        }
    }
    return fd;
}

int oak_tcp_connect(const char *host, int port, int64_t timeout_ms)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    if (!host || port == 0)
        return -EINVAL;
    int rc = tcp_addr(host, port, false, &ss, &len);
    return rc < 0 ? rc : connect_to(&ss, len, timeout_ms);
}

int oak_unix_connect(const char *path, int64_t timeout_ms)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = unix_addr(path, &ss, &len);
    return rc < 0 ? rc : connect_to(&ss, len, timeout_ms);
}

int oak_sock_active_once(int sock, uint64_t tag)
{
    int rc = check_owner(sock);
    if (rc < 0)
        return rc;
    oak__fd_owner *o = oak__netpoll_owner(sock);
    o->tag = tag;
    o->count = 1;
    o->counted = false;
    return oak__netpoll_active_once(oak_self(), sock);
}

int oak_sock_active(int sock, uint64_t tag, int n)
{
    int rc = check_owner(sock);
    if (rc < 0)
        return rc;
    if (n != OAK_SOCK_ACTIVE_TRUE && (n <= 0 || n > OAK_SOCK_ACTIVE_MAX))
        return -EINVAL;
    oak__fd_owner *o = oak__netpoll_owner(sock);
    bool armed = atomic_load_explicit(&o->active, memory_order_relaxed);
    int32_t count = n;
    /* As Erlang: {active, N} on a socket already counting adds to what is
     * left. */
    if (n != OAK_SOCK_ACTIVE_TRUE && armed && o->counted && o->count > 0)
        count = o->count + n > OAK_SOCK_ACTIVE_MAX ? OAK_SOCK_ACTIVE_MAX : o->count + n;
    o->tag = tag;
    o->count = n == OAK_SOCK_ACTIVE_TRUE ? OAK__ACTIVE_ALWAYS : count;
    o->counted = n != OAK_SOCK_ACTIVE_TRUE;
    return oak__netpoll_active_once(oak_self(), sock);
}

int oak_sock_passive(int sock)
{
    int rc = check_owner(sock);
    if (rc < 0)
        return rc;
    oak__netpoll_passive(sock);
    oak__netpoll_owner(sock)->count = 0;
    return 0;
}

/* Armed for active mode: passive receives are refused. */
static bool is_active(int sock)
{
    oak__fd_owner *o = oak__netpoll_owner(sock);
    return o && atomic_load_explicit(&o->active, memory_order_relaxed);
}

int oak_sock_port(int sock)
{
    int rc = check(sock);
    if (rc < 0)
        return rc;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(sock, (struct sockaddr *)&ss, &len) != 0)
        return -errno;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -EINVAL;
}

int oak_sock_shutdown(int sock, int how)
{
    int rc = check(sock);
    if (rc < 0)
        return rc;
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
        return -EINVAL;
    return shutdown(sock, how) == 0 ? 0 : -errno;
}

/* ---- receive and send ---- */

/* One recv(2) with flags, waiting for data until `end`. */
static ssize_t recv_until(int sock, void *buf, size_t len, int flags, int64_t end)
{
    if (is_active(sock))
        return -EBUSY;
    for (;;) {
        ssize_t n = recv(sock, buf, len, flags | MSG_DONTWAIT);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        int rc = oak__wait_fd(sock, OAK_FD_READ, left_ms(end));
        if (rc < 0)
            return rc;
    }
}

static ssize_t exact_until(int sock, unsigned char *buf, size_t len, int64_t end)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = recv_until(sock, buf + got, len - got, 0, end);
        if (n < 0)
            return n;
        if (n == 0)
            return got ? -ENODATA : 0;
        got += (size_t)n;
    }
    return (ssize_t)len;
}

static ssize_t send_until(int sock, const void *buf, size_t len, int64_t end)
{
    for (;;) {
        ssize_t n = send(sock, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        int rc = oak__wait_fd(sock, OAK_FD_WRITE, left_ms(end));
        if (rc < 0)
            return rc;
    }
}

static ssize_t all_until(int sock, const unsigned char *buf, size_t len, int64_t end)
{
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send_until(sock, buf + sent, len - sent, end);
        if (n < 0)
            return n;
        sent += (size_t)n;
    }
    return (ssize_t)len;
}

/* Checks shared by the calls that move bytes; sets *end. */
static int io_begin(int sock, const void *buf, size_t len, int64_t timeout_ms, int64_t *end)
{
    int rc = check(sock);
    if (rc < 0)
        return rc;
    if (!buf || len == 0 || len > SSIZE_MAX)
        return -EINVAL;
    return deadline_of(timeout_ms, end);
}

ssize_t oak_sock_recv(int sock, void *buf, size_t len, int64_t timeout_ms)
{
    int64_t end;
    int rc = io_begin(sock, buf, len, timeout_ms, &end);
    return rc < 0 ? rc : recv_until(sock, buf, len, 0, end);
}

ssize_t oak_sock_recv_exact(int sock, void *buf, size_t len, int64_t timeout_ms)
{
    int64_t end;
    int rc = io_begin(sock, buf, len, timeout_ms, &end);
    return rc < 0 ? rc : exact_until(sock, buf, len, end);
}

ssize_t oak_sock_send(int sock, const void *buf, size_t len, int64_t timeout_ms)
{
    int64_t end;
    int rc = io_begin(sock, buf, len, timeout_ms, &end);
    return rc < 0 ? rc : send_until(sock, buf, len, end);
}

ssize_t oak_sock_send_all(int sock, const void *buf, size_t len, int64_t timeout_ms)
{
    int64_t end;
    int rc = io_begin(sock, buf, len, timeout_ms, &end);
    return rc < 0 ? rc : all_until(sock, buf, len, end);
}

/* A line: look at what is there without taking it, and take it up to the
 * first '\n' once one is in. */
static ssize_t recv_line(int sock, unsigned char *buf, size_t cap, int64_t end)
{
    for (;;) {
        ssize_t n = recv_until(sock, buf, cap, MSG_PEEK, end);
        if (n < 0)
            return n;
        if (n == 0)
            return -ENODATA;
        unsigned char *nl = memchr(buf, '\n', (size_t)n);
        if (nl)
            return exact_until(sock, buf, (size_t)(nl - buf) + 1, end);
        if ((size_t)n == cap)
            return -EMSGSIZE;
        /* A part of a line: wait for more (a new edge). */
        int rc = oak__wait_fd(sock, OAK_FD_READ, left_ms(end));
        if (rc < 0)
            return rc;
    }
}

ssize_t oak_sock_recv_packet(int sock, int packet, void *buf, size_t cap, int64_t timeout_ms)
{
    int64_t end;
    int rc = check(sock);
    if (rc < 0)
        return rc;
    if (packet != 1 && packet != 2 && packet != 4 && packet != OAK_PACKET_LINE)
        return -EINVAL;
    if ((!buf && cap) || (packet == OAK_PACKET_LINE && cap == 0) || cap > SSIZE_MAX)
        return -EINVAL;
    if ((rc = deadline_of(timeout_ms, &end)) < 0)
        return rc;
    if (packet == OAK_PACKET_LINE)
        return recv_line(sock, buf, cap, end);
    unsigned char h[4];
    ssize_t n = exact_until(sock, h, (size_t)packet, end);
    if (n <= 0)
        return n == 0 ? -ENODATA : n;
    uint64_t flen = 0;
    for (int i = 0; i < packet; i++)
        flen = flen << 8 | h[i];
    if (flen > cap)
        return -EMSGSIZE;
    if (flen == 0)
        return 0;
    n = exact_until(sock, buf, (size_t)flen, end);
    return n == 0 ? -ENODATA : n;
}

ssize_t oak_sock_send_packet(int sock, int packet, const void *buf, size_t len,
                             int64_t timeout_ms)
{
    int64_t end;
    int rc = check(sock);
    if (rc < 0)
        return rc;
    if ((packet != 1 && packet != 2 && packet != 4) || (!buf && len))
        return -EINVAL;
    if ((packet < 4 && len >= (size_t)1 << (8 * packet)) || (uint64_t)len > UINT32_MAX)
        return -EMSGSIZE;
    if ((rc = deadline_of(timeout_ms, &end)) < 0)
        return rc;
    unsigned char frame[4 + 1024];
    size_t hl = (size_t)packet;
    for (size_t i = 0; i < hl; i++)
        frame[i] = (unsigned char)(len >> (8 * (hl - 1 - i)));
    if (len <= sizeof frame - hl) {
        /* Small: header and body in one segment. */
        if (len)
            memcpy(frame + hl, buf, len);
        ssize_t n = all_until(sock, frame, hl + len, end);
        return n < 0 ? n : (ssize_t)len;
    }
    ssize_t n = all_until(sock, frame, hl, end);
    if (n < 0)
        return n;
    return all_until(sock, buf, len, end);
}
