/* netload - the load generator of the network figures (echo_rtt,
 * conn_mem): plain blocking sockets, no oak, so that every server is
 * driven by the same client.
 *
 *   netload port                    print a free TCP port of 127.0.0.1
 *   netload probe PORT              exit 0 when something listens there
 *   netload rtt PORT N SIZE         N round trips of SIZE bytes over one
 *                                   connection; prints "p50 p99" in us
 *   netload hold PORT N             open N connections, make each echo one
 *                                   byte (so the server has taken it), print
 *                                   "ready N", then hold them until stdin
 *                                   ends
 *
 * Exit 111 on a system error, 100 on a usage error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void fatal(const char *what)
{
    fprintf(stderr, "netload: fatal: unable to %s: %s\n", what, strerror(errno));
    exit(111);
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int dial(int port)
{
    struct sockaddr_in a = loopback(port);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        fatal("make a socket");
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0)
        fatal("connect");
    return s;
}

static void write_all(int s, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(s, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            fatal("send");
        p += k;
        n -= (size_t)k;
    }
}

static void read_all(int s, char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = read(s, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k == 0)
            errno = ECONNRESET;
        if (k <= 0)
            fatal("receive the echo");
        p += k;
        n -= (size_t)k;
    }
}

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static long arg(const char *s, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi) {
        fprintf(stderr, "netload: fatal: bad number %s\n", s);
        exit(100);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "port")) {
        struct sockaddr_in a = loopback(0);
        socklen_t len = sizeof a;
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 ||
            getsockname(s, (struct sockaddr *)&a, &len) < 0)
            fatal("find a free port");
        printf("%d\n", ntohs(a.sin_port));
        close(s);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "probe")) {
        struct sockaddr_in a = loopback((int)arg(argv[2], 1, 65535));
        int s = socket(AF_INET, SOCK_STREAM, 0);
        return s >= 0 && connect(s, (struct sockaddr *)&a, sizeof a) == 0 ? 0 : 1;
    }
    if (argc == 5 && !strcmp(argv[1], "rtt")) {
        int port = (int)arg(argv[2], 1, 65535);
        long n = arg(argv[3], 1, 100000000);
        size_t size = (size_t)arg(argv[4], 1, 65536);
        char *buf = calloc(1, size), *back = malloc(size);
        long long *t = malloc((size_t)n * sizeof *t);
        if (!buf || !back || !t)
            fatal("allocate");
        int s = dial(port);
        for (long w = 0; w < n / 10 + 1; w++) { /* warm up */
            write_all(s, buf, size);
            read_all(s, back, size);
        }
        for (long i = 0; i < n; i++) {
            buf[0] = (char)i;
            long long t0 = now_ns();
            write_all(s, buf, size);
            read_all(s, back, size);
            t[i] = now_ns() - t0;
            if (back[0] != buf[0]) {
                fprintf(stderr, "netload: fatal: the echo differs from what was sent\n");
                return 111;
            }
        }
        qsort(t, (size_t)n, sizeof *t, cmp);
        printf("%.1f %.1f\n", t[n / 2] / 1e3, t[(n * 99) / 100] / 1e3);
        close(s);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "hold")) {
        int port = (int)arg(argv[2], 1, 65535);
        long n = arg(argv[3], 1, 1000000);
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
        int *s = malloc((size_t)n * sizeof *s);
        if (!s)
            fatal("allocate");
        for (long i = 0; i < n; i++) {
            char c = 'x';
            s[i] = dial(port);
            write_all(s[i], &c, 1);
            read_all(s[i], &c, 1);
        }
        printf("ready %ld\n", n);
        fflush(stdout);
        char b[64];
        while (read(0, b, sizeof b) > 0)
            ;
        for (long i = 0; i < n; i++)
            close(s[i]);
        return 0;
    }
    fprintf(stderr, "usage: netload port | probe PORT | rtt PORT N SIZE | hold PORT N\n");
    return 100;
}
