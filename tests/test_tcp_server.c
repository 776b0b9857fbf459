/* test_tcp_server.c - the supervised server kit (oak/tcp_server.h) over
 * loopback: serving, a handler's crash among live connections, the
 * connection limit, a slow client cut off by its deadline, graceful stop
 * with connections open, no descriptor left behind.
 */
#include <stdio.h>
#include <unistd.h>

#include "oak_test.h"

enum { TAG_DONE = 31, TAG_GO };

/* Echoes lines; "crash\n" faults the process; a line must come within
 * the deadline in *arg (ms: a slow client is cut off). */
static void line_handler(int sock, void *arg)
{
    int64_t deadline = *(int64_t *)arg;
    char buf[256];
    for (;;) {
        ssize_t n = oak_sock_recv_packet(sock, OAK_PACKET_LINE, buf, sizeof buf, deadline);
        if (n <= 0)
            return;
        if (n == 6 && memcmp(buf, "crash\n", 6) == 0)
            *(volatile int *)(uintptr_t)8 = 1; /* a real fault */
        if (oak_sock_send_all(sock, buf, (size_t)n, OT_LONG_MS) != n)
            return;
    }
}

static oak_pid start_server(int max, unsigned acceptors, int64_t deadline_ms, int *port)
{
    oak_tcp_server_opts o = {.host = "127.0.0.1",
                             .acceptors = acceptors,
                             .max_connections = (size_t)max,
                             .handler = line_handler,
                             .arg = &deadline_ms,
                             .arg_size = sizeof deadline_ms,
                             .listen = {.backlog = 512}};
    oak_pid srv = OAK_NOPID;
    oak_reason why;
    OT_CHECK_INT_EQ(oak_tcp_server_start(&o, 0, &srv, &why), 0);
    *port = oak_tcp_server_port(srv);
    OT_CHECK_INT_GT(*port, 0);
    return srv;
}

/* The descriptors are back to `before`. Everything is closed by the time
 * oak_tcp_server_stop() returns, as far as we know; a short grace lets a
 * close that is still on its way land, and names what is left if not. */
static void expect_fds(int before)
{
    for (int i = 0; i < 100 && ot_open_fds() != before; i++)
        oak_sleep(10);
    if (ot_open_fds() != before) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "ls -l /proc/%d/fd >&2", (int)getpid());
        if (system(cmd) != 0)
            fprintf(stderr, "(cannot list the descriptors)\n");
    }
    OT_CHECK_INT_EQ(ot_open_fds(), before);
}

static void line_trip(int c, const char *line)
{
    size_t n = strlen(line);
    char back[256];
    OT_CHECK_INT_EQ(oak_sock_send_all(c, line, n, OT_LONG_MS), (ssize_t)n);
    OT_CHECK_INT_EQ(oak_sock_recv_packet(c, OAK_PACKET_LINE, back, sizeof back, OT_LONG_MS),
                    (ssize_t)n);
    OT_CHECK(memcmp(back, line, n) == 0);
}

enum { LIVE = 100 };

static void crash_main(void *arg)
{
    (void)arg;
    int before = ot_open_fds_baseline();
    int port;
    oak_pid srv = start_server(1024, 2, OT_LONG_MS, &port);
    static int c[LIVE];
    for (int i = 0; i < LIVE; i++) {
        c[i] = oak_tcp_connect("127.0.0.1", port, OT_LONG_MS);
        OT_CHECK_INT_GE(c[i], 0);
        line_trip(c[i], "hello\n");
    }
    OT_CHECK_INT_EQ(oak_tcp_server_connections(srv), LIVE);
    /* One handler crashes: its socket closes, the others go on. */
    OT_CHECK_INT_EQ(oak_sock_send_all(c[37], "crash\n", 6, OT_LONG_MS), 6);
    char buf[8];
    ssize_t n = oak_sock_recv(c[37], buf, sizeof buf, OT_LONG_MS);
    OT_CHECK(n == 0 || n == -ECONNRESET);
    OT_CHECK_INT_EQ(oak_sock_close(c[37]), 0);
    for (int i = 0; i < LIVE; i++)
        if (i != 37)
            line_trip(c[i], "still here\n");
    OT_CHECK_INT_EQ(oak_tcp_server_connections(srv), LIVE - 1);
    for (int i = 0; i < LIVE; i++)
        if (i != 37)
            OT_CHECK_INT_EQ(oak_sock_close(c[i]), 0);
    OT_CHECK_INT_EQ(oak_tcp_server_stop(srv, OT_LONG_MS), 0);
    expect_fds(before);
}

static void a_handler_crash_among_a_hundred_connections_touches_no_other(void **state)
{
    (void)state;
    OT_RUN(crash_main, NULL);
}

static void limit_main(void *arg)
{
    (void)arg;
    int port;
    oak_pid srv = start_server(5, 1, OT_LONG_MS, &port);
    int c[5];
    for (int i = 0; i < 5; i++) {
        c[i] = oak_tcp_connect("127.0.0.1", port, OT_LONG_MS);
        OT_CHECK_INT_GE(c[i], 0);
        line_trip(c[i], "in\n");
    }
    /* The sixth is accepted and closed at once. */
    int x = oak_tcp_connect("127.0.0.1", port, OT_LONG_MS);
    OT_CHECK_INT_GE(x, 0);
    char buf[8];
    ssize_t n = oak_sock_recv(x, buf, sizeof buf, OT_LONG_MS);
    OT_CHECK(n == 0 || n == -ECONNRESET);
    OT_CHECK_INT_EQ(oak_sock_close(x), 0);
    /* One leaves: there is room again. */
    OT_CHECK_INT_EQ(oak_sock_close(c[0]), 0);
    while (oak_tcp_server_connections(srv) > 4)
        oak_sleep(5);
    c[0] = oak_tcp_connect("127.0.0.1", port, OT_LONG_MS);
    line_trip(c[0], "again\n");
    for (int i = 0; i < 5; i++)
        OT_CHECK_INT_EQ(oak_sock_close(c[i]), 0);
    OT_CHECK_INT_EQ(oak_tcp_server_stop(srv, OT_LONG_MS), 0);
}

static void connections_beyond_the_limit_are_closed_at_once(void **state)
{
    (void)state;
    OT_RUN(limit_main, NULL);
}

static void slowloris_main(void *arg)
{
    (void)arg;
    int port;
    oak_pid srv = start_server(16, 1, 300, &port);
    int c = oak_tcp_connect("127.0.0.1", port, OT_LONG_MS);
    OT_CHECK_INT_GE(c, 0);
    /* A byte every 50 ms, never a whole line: the handler's 300 ms
     * deadline ends it. */
    int64_t t0 = ot_now_ns();
    ssize_t n = 0;
    char buf[8];
    for (int i = 0; i < 200; i++) {
        /* A send to a socket the server has closed may fail first. */
        if ((n = oak_sock_send(c, "a", 1, OT_LONG_MS)) != 1)
            break;
        n = oak_sock_recv(c, buf, sizeof buf, 50);
        if (n != -ETIMEDOUT)
            break;
    }
    OT_CHECK(n == 0 || n == -ECONNRESET || n == -EPIPE);
    int64_t took = ot_ms_since(t0);
    OT_CHECK_INT_GE(took, 250);
    OT_CHECK_INT_LT(took, 5000);
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);
    OT_CHECK_INT_EQ(oak_tcp_server_stop(srv, OT_LONG_MS), 0);
}

static void a_slow_client_is_cut_off_by_its_deadline(void **state)
{
    (void)state;
    OT_RUN(slowloris_main, NULL);
}

/* Holds its connection until told, then closes it. */
typedef struct holder_arg {
    oak_pid driver;
    int port;
    int64_t hold_ms;
} holder_arg;

static void holder(void *arg)
{
    holder_arg a = *(holder_arg *)arg;
    int c = oak_tcp_connect("127.0.0.1", a.port, OT_LONG_MS);
    OT_CHECK_INT_GE(c, 0);
    /* Keep the handler's deadline from cutting it off. */
    line_trip(c, "hi\n");
    OT_SEND_U64(a.driver, TAG_GO, 0);
    int64_t end = ot_now_ns() + a.hold_ms * 1000000;
    while (ot_now_ns() < end) {
        oak_sleep(100);
        char buf[8];
        if (oak_sock_send_all(c, "k\n", 2, OT_LONG_MS) != 2 ||
            oak_sock_recv_packet(c, OAK_PACKET_LINE, buf, sizeof buf, OT_LONG_MS) != 2)
            break;
    }
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);
    OT_SEND_U64(a.driver, TAG_DONE, 0);
}

static void graceful_main(void *arg)
{
    (void)arg;
    int before = ot_open_fds_baseline();
    int port;
    oak_pid srv = start_server(16, 2, OT_LONG_MS, &port);
    /* Three clients that leave after 300 ms: the stop waits for them. */
    for (int i = 0; i < 3; i++) {
        holder_arg a = {oak_self(), port, 300};
        OT_SPAWN_COPY(holder, &a, 0);
    }
    for (int i = 0; i < 3; i++)
        OT_RECV_U64(TAG_GO, OT_LONG_MS);
    int64_t t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_tcp_server_stop(srv, OT_LONG_MS), 0);
    OT_CHECK_INT_GE(ot_ms_since(t0), 150);
    for (int i = 0; i < 3; i++)
        OT_RECV_U64(TAG_DONE, OT_LONG_MS);
    OT_CHECK_INT_EQ(oak_tcp_connect("127.0.0.1", port, OT_LONG_MS), -ECONNREFUSED);
    OT_CHECK(!oak_is_alive(srv));

    /* Clients that would stay for 10 s: stopped after 200 ms, killed. */
    srv = start_server(16, 1, OT_LONG_MS, &port);
    for (int i = 0; i < 2; i++) {
        holder_arg a = {oak_self(), port, 10000};
        OT_SPAWN_COPY(holder, &a, 0);
    }
    for (int i = 0; i < 2; i++)
        OT_RECV_U64(TAG_GO, OT_LONG_MS);
    t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_tcp_server_stop(srv, 200), 2);
    OT_CHECK_INT_LT(ot_ms_since(t0), 5000);
    for (int i = 0; i < 2; i++)
        OT_RECV_U64(TAG_DONE, OT_LONG_MS); /* they saw the close */
    expect_fds(before);
}

static void a_graceful_stop_lets_connections_finish_then_kills_the_rest(void **state)
{
    (void)state;
    OT_RUN(graceful_main, NULL);
}

static void unix_handler(int sock, void *arg)
{
    const char *greeting = arg;
    oak_sock_send_all(sock, greeting, strlen(greeting), OT_LONG_MS);
}

static void unix_main(void *arg)
{
    (void)arg;
    char path[64];
    snprintf(path, sizeof path, "/tmp/oak-test-srv-%d.sock", (int)getpid());
    unlink(path);
    oak_tcp_server_opts o = {.unix_path = path, .handler = unix_handler,
                             .arg = "welcome\n", .arg_size = 9};
    oak_pid srv;
    OT_CHECK_INT_EQ(oak_tcp_server_start(&o, OAK_GEN_LINK, &srv, NULL), 0);
    OT_CHECK_INT_EQ(oak_tcp_server_port(srv), -EINVAL);
    int c = oak_unix_connect(path, OT_LONG_MS);
    OT_CHECK_INT_GE(c, 0);
    char buf[16];
    OT_CHECK_INT_EQ(oak_sock_recv_packet(c, OAK_PACKET_LINE, buf, sizeof buf, OT_LONG_MS), 8);
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);
    OT_CHECK_INT_EQ(oak_tcp_server_stop(srv, OT_LONG_MS), 0);
    unlink(path);
    /* Bad options; a port in use fails the start. */
    OT_CHECK_INT_EQ(oak_tcp_server_start(&(oak_tcp_server_opts){0}, 0, &srv, NULL), -EINVAL);
    int l = oak_tcp_listen("127.0.0.1", 0, NULL);
    oak_tcp_server_opts busy = {.host = "127.0.0.1", .port = oak_sock_port(l),
                                .acceptors = 1, .handler = unix_handler,
                                .listen = {.no_reuseaddr = true}};
    oak_reason why;
    OT_CHECK_INT_EQ(oak_tcp_server_start(&busy, 0, &srv, &why), -ECANCELED);
    OT_CHECK_INT_EQ(oak_sock_close(l), 0);
}

static void a_server_on_a_unix_socket_and_bad_starts(void **state)
{
    (void)state;
    OT_RUN(unix_main, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_handler_crash_among_a_hundred_connections_touches_no_other),
        cmocka_unit_test(connections_beyond_the_limit_are_closed_at_once),
        cmocka_unit_test(a_slow_client_is_cut_off_by_its_deadline),
        cmocka_unit_test(a_graceful_stop_lets_connections_finish_then_kills_the_rest),
        cmocka_unit_test(a_server_on_a_unix_socket_and_bad_starts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
