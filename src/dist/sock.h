/* sock.h - the distribution's TCP on non-blocking sockets, waiting with
 * oak_wait_fd(). Process context only; each call may block the calling
 * process (never its scheduler) until its deadline.
 *
 * Deadlines are absolute oak_now_ms() values, or OAK_INFINITY. Errors are
 * negative errno codes: -ETIMEDOUT when the deadline passes, -ECONNRESET
 * when the peer closed the connection, others as the system call gave. */
#ifndef OAK_DIST_SOCK_H
#define OAK_DIST_SOCK_H

#include <stddef.h>
#include <stdint.h>

/* The deadline timeout_ms from now (OAK_INFINITY stays). */
int64_t oak__sock_deadline(int64_t timeout_ms);

/* Connect to ip:port (IPv4, host byte order); the new socket in *fd. */
int oak__sock_connect(uint32_t ip, uint16_t port, int64_t deadline, int *fd);

/* A listening socket on ip with a port the kernel picks; the port in
 * *port. */
int oak__sock_listen(uint32_t ip, uint16_t *port, int *fd);

/* Read exactly n bytes / write all n bytes. */
int oak__sock_read_full(int fd, void *buf, size_t n, int64_t deadline);
int oak__sock_write_full(int fd, const void *buf, size_t n, int64_t deadline);

/* The IPv4 address of a host name (numeric, "localhost", or looked up with
 * getaddrinfo(), which may block the scheduler thread on DNS), in host
 * byte order. -EHOSTUNREACH when there is none. */
int oak__sock_resolve(const char *host, uint32_t *ip);

#endif
