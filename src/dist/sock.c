/* sock.c - see sock.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "oak/io.h"
#include "oak/message.h"
#include "sock.h"

int64_t oak__sock_deadline(int64_t timeout_ms)
{
    return timeout_ms == OAK_INFINITY ? OAK_INFINITY : oak_now_ms() + timeout_ms;
}

/* What is left of a deadline, for oak_wait_fd(); -ETIMEDOUT when none. */
static int64_t remaining(int64_t deadline)
{
    if (deadline == OAK_INFINITY)
        return OAK_INFINITY;
    int64_t left = deadline - oak_now_ms();
    return left > 0 ? left : -ETIMEDOUT;
}

static int wait_for(int fd, unsigned events, int64_t deadline)
{
    int64_t left = remaining(deadline);
    if (left == -ETIMEDOUT)
        return -ETIMEDOUT;
    int rc = oak_wait_fd(fd, events, left);
    return rc < 0 ? rc : 0;
}

static struct sockaddr_in addr_of(uint32_t ip, uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(ip);
    return a;
}

int oak__sock_connect(uint32_t ip, uint16_t port, int64_t deadline, int *fd)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = addr_of(ip, port);
    int rc = 0;
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        rc = -errno;
        if (rc == -EINPROGRESS) {
            rc = wait_for(s, OAK_FD_WRITE, deadline);
            if (rc == 0) {
                int err = 0;
                socklen_t len = sizeof err;
                if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                    err = errno;
                rc = -err;
            }
        }
    }
    if (rc) {
        close(s);
        return rc;
    }
    *fd = s;
    return 0;
}

int oak__sock_listen(uint32_t ip, uint16_t *port, int *fd)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = addr_of(ip, 0);
    socklen_t len = sizeof a;
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 64) < 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) < 0) {
        int rc = -errno;
        close(s);
        return rc;
    }
    *port = ntohs(a.sin_port);
    *fd = s;
    return 0;
}

int oak__sock_read_full(int fd, void *buf, size_t n, int64_t deadline)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r > 0) {
            got += (size_t)r;
        } else if (r == 0) {
            return -ECONNRESET;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = wait_for(fd, OAK_FD_READ, deadline);
            if (rc)
                return rc;
        } else if (errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

int oak__sock_write_full(int fd, const void *buf, size_t n, int64_t deadline)
{
    size_t put = 0;
    while (put < n) {
        ssize_t r = send(fd, (const char *)buf + put, n - put, MSG_NOSIGNAL);
        if (r >= 0) {
            put += (size_t)r;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = wait_for(fd, OAK_FD_WRITE, deadline);
            if (rc)
                return rc;
        } else if (errno == EPIPE) {
            return -ECONNRESET;
        } else if (errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

int oak__sock_resolve(const char *host, uint32_t *ip)
{
    struct in_addr in;
    if (strcmp(host, "localhost") == 0) {
        *ip = INADDR_LOOPBACK;
        return 0;
    }
    if (inet_pton(AF_INET, host, &in) == 1) {
        *ip = ntohl(in.s_addr);
        return 0;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
        return -EHOSTUNREACH;
    *ip = ntohl(((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr);
    freeaddrinfo(res);
    return 0;
}
