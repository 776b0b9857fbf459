/* oak_echo_server PORT - the oak side of echo_rtt and conn_mem: a server
 * kit (oak/tcp_server.h) on 127.0.0.1:PORT whose connection processes send
 * back what they receive, until SIGTERM. bench/net.sh starts and stops it.
 */
#include "oak.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static void echo(int sock, void *arg)
{
    (void)arg;
    char buf[4096];
    for (;;) {
        ssize_t n = oak_sock_recv(sock, buf, sizeof buf, OAK_INFINITY);
        if (n <= 0 || oak_sock_send_all(sock, buf, (size_t)n, 10000) < 0)
            return;
    }
}

static int port;

static void top(void *arg)
{
    (void)arg;
    oak_tcp_server_opts o = {.host = "127.0.0.1",
                             .port = port,
                             .acceptors = 2,
                             .max_connections = 100000,
                             .listen = {.backlog = 4096},
                             .handler = echo};
    oak_pid srv;
    int rc = oak_tcp_server_start(&o, OAK_GEN_LINK, &srv, NULL);
    if (rc < 0) {
        fprintf(stderr, "oak_echo_server: fatal: unable to listen: %s\n", oak_strerror(rc));
        exit(111);
    }
    printf("listening %d\n", port);
    fflush(stdout);
    /* SIGTERM's default action ends the program; nothing to tidy. */
    for (;;) {
        oak_msg *m;
        if (oak_receive(&m, OAK_INFINITY, NULL, NULL) == 0)
            oak_msg_free(m);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2 || (port = atoi(argv[1])) <= 0 || port > 65535) {
        fprintf(stderr, "usage: oak_echo_server PORT\n");
        return 100;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return oak_run(top, NULL, NULL) < 0 ? 111 : 0;
}
