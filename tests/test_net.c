/* test_net.c - sockets (oak/net.h) over loopback: TCP on 127.0.0.1 and
 * ::1, Unix sockets, timeouts, resets and half-closes, framing, owners
 * killed while blocked (no descriptor left open), handover, and many
 * connections at once.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oak_test.h"
#include "oak/blocking.h"

enum { TAG_PORT = 21, TAG_DONE, TAG_SOCK, TAG_PING };

/* ---- an echo server: a listener that spawns a handler per connection ---- */

typedef struct srv_arg {
    oak_pid driver;
    int family; /* 4, 6 or 0 for Unix */
    char path[64];
    int conns;  /* connections to serve, then stop */
} srv_arg;

static void echo_handler(void *arg)
{
    (void)arg;
    oak_msg *m = OT_RECV_TAG(TAG_SOCK, OT_LONG_MS);
    int s = (int)ot_u64(m);
    oak_msg_free(m);
    char buf[4096];
    for (;;) {
        ssize_t n = oak_sock_recv(s, buf, sizeof buf, OT_LONG_MS);
        if (n <= 0)
            break;
        OT_CHECK_INT_EQ(oak_sock_send_all(s, buf, (size_t)n, OT_LONG_MS), n);
    }
    OT_CHECK_INT_EQ(oak_sock_close(s), 0);
}

static void echo_server(void *arg)
{
    srv_arg a = *(srv_arg *)arg;
    int l;
    if (a.family == 0)
        l = oak_unix_listen(a.path, NULL);
    else
        l = oak_tcp_listen(a.family == 6 ? "::1" : "127.0.0.1", 0,
                           &(oak_listen_opts){.v6only = true, .backlog = a.conns + 64});
    OT_CHECK_INT_GE(l, 0);
    OT_SEND_U64(a.driver, TAG_PORT, a.family ? oak_sock_port(l) : 0);
    for (int i = 0; i < a.conns; i++) {
        int s = oak_sock_accept(l, OT_LONG_MS);
        OT_CHECK_INT_GE(s, 0);
        oak_pid h = OT_SPAWN(echo_handler, NULL, 0);
        OT_CHECK_INT_EQ(oak_sock_controlling_process(s, h), 0);
        OT_SEND_U64(h, TAG_SOCK, s);
    }
    OT_CHECK_INT_EQ(oak_sock_close(l), 0);
}

static int start_echo(int family, const char *path, int conns)
{
    srv_arg a = {oak_self(), family, "", conns};
    if (path)
        snprintf(a.path, sizeof a.path, "%s", path);
    OT_SPAWN_COPY(echo_server, &a, 0);
    return (int)OT_RECV_U64(TAG_PORT, OT_LONG_MS);
}

static void round_trip(int c)
{
    const char msg[] = "hello, oak";
    OT_CHECK_INT_EQ(oak_sock_send_all(c, msg, sizeof msg, OT_LONG_MS), (ssize_t)sizeof msg);
    char back[sizeof msg];
    OT_CHECK_INT_EQ(oak_sock_recv_exact(c, back, sizeof back, OT_LONG_MS), (ssize_t)sizeof back);
    OT_CHECK(memcmp(msg, back, sizeof msg) == 0);
}

static void tcp_main(void *arg)
{
    (void)arg;
    int port = start_echo(4, NULL, 1);
    int c = oak_tcp_connect("127.0.0.1", port, OT_LONG_MS);
    OT_CHECK_INT_GE(c, 0);
    round_trip(c);
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);
    OT_CHECK_INT_EQ(oak_sock_close(c), -EBADF);

    int l6 = oak_tcp_listen("::1", 0, NULL);
    if (l6 == -EADDRNOTAVAIL || l6 == -EAFNOSUPPORT) {
        fprintf(stderr, "note: no IPv6 loopback here (%s): ::1 not tried\n", oak_strerror(l6));
        return;
    }
    OT_CHECK_INT_GE(l6, 0);
    OT_CHECK_INT_EQ(oak_sock_close(l6), 0);
    port = start_echo(6, NULL, 1);
    c = oak_tcp_connect("::1", port, OT_LONG_MS);
    OT_CHECK_INT_GE(c, 0);
    round_trip(c);
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);
}

static void tcp_echo_over_ipv4_and_ipv6_loopback(void **state)
{
    (void)state;
    OT_RUN(tcp_main, NULL);
}

static void unix_main(void *arg)
{
    (void)arg;
    char path[64];
    snprintf(path, sizeof path, "/tmp/oak-test-net-%d.sock", (int)getpid());
    unlink(path);
    start_echo(0, path, 1);
    int c = oak_unix_connect(path, OT_LONG_MS);
    OT_CHECK_INT_GE(c, 0);
    round_trip(c);
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);
    unlink(path);
    OT_CHECK_INT_EQ(oak_unix_connect(path, OT_LONG_MS), -ENOENT);
}

static void unix_socket_echo(void **state)
{
    (void)state;
    OT_RUN(unix_main, NULL);
}

/* ---- errors ---- */

static void errors_main(void *arg)
{
    (void)arg;
    int l = oak_tcp_listen("127.0.0.1", 0, NULL);
    OT_CHECK_INT_GE(l, 0);
    int port = oak_sock_port(l);
    OT_CHECK_INT_GT(port, 0);
    OT_CHECK_INT_EQ(oak_tcp_listen("127.0.0.1", port, &(oak_listen_opts){.no_reuseaddr = true}),
                    -EADDRINUSE);
    OT_CHECK_INT_EQ(oak_sock_close(l), 0);
    OT_CHECK_INT_EQ(oak_tcp_connect("127.0.0.1", port, OT_LONG_MS), -ECONNREFUSED);
    OT_CHECK_INT_EQ(oak_tcp_connect("", 80, 10), -EINVAL);
    OT_CHECK_INT_EQ(oak_tcp_connect("127.0.0.1", 70000, 10), -EINVAL);
    char buf[4];
    OT_CHECK_INT_EQ(oak_sock_recv(0, buf, sizeof buf, 0), -EBADF); /* not an oak socket */
    OT_CHECK_INT_EQ(oak_sock_close(-1), -EBADF);
    OT_CHECK_INT_EQ(oak_sock_accept(12345, 0), -EBADF);
    /* Timeouts: accept and recv suspend only the caller. */
    l = oak_tcp_listen("127.0.0.1", 0, NULL);
    int64_t t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_sock_accept(l, 40), -ETIMEDOUT);
    OT_CHECK_INT_GE(ot_ms_since(t0), 35);
    int c = oak_tcp_connect("127.0.0.1", oak_sock_port(l), OT_LONG_MS);
    int s = oak_sock_accept(l, OT_LONG_MS);
    OT_CHECK_INT_GE(c, 0);
    OT_CHECK_INT_GE(s, 0);
    t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_sock_recv(s, buf, sizeof buf, 40), -ETIMEDOUT);
    OT_CHECK_INT_GE(ot_ms_since(t0), 35);
    OT_CHECK_INT_EQ(oak_sock_recv(s, buf, sizeof buf, 0), -ETIMEDOUT);
    OT_CHECK_INT_EQ(oak_sock_recv(s, NULL, 4, 0), -EINVAL);
    OT_CHECK_INT_EQ(oak_sock_recv(s, buf, sizeof buf, -7), -EINVAL);
    OT_CHECK_INT_EQ(oak_sock_shutdown(s, 99), -EINVAL);
    /* The socket itself can be waited on as any fd. */
    OT_CHECK_INT_EQ(oak_wait_fd(c, OAK_FD_WRITE, OT_LONG_MS), OAK_FD_WRITE);
    OT_CHECK_INT_EQ(oak_sock_close(s), 0);
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);
    OT_CHECK_INT_EQ(oak_sock_close(l), 0);
}

static void bad_arguments_and_timeouts_get_clear_errors(void **state)
{
    (void)state;
    assert_int_equal(oak_tcp_listen("127.0.0.1", 0, NULL), -EPERM);
    OT_RUN(errors_main, NULL);
}

/* A pair of connected TCP sockets, both owned by the caller. */
static void tcp_pair(int *c, int *s)
{
    int l = oak_tcp_listen("127.0.0.1", 0, NULL);
    OT_CHECK_INT_GE(l, 0);
    *c = oak_tcp_connect("127.0.0.1", oak_sock_port(l), OT_LONG_MS);
    OT_CHECK_INT_GE(*c, 0);
    *s = oak_sock_accept(l, OT_LONG_MS);
    OT_CHECK_INT_GE(*s, 0);
    OT_CHECK_INT_EQ(oak_sock_close(l), 0);
}

/* ---- resets and half-closes ---- */

static void reset_main(void *arg)
{
    (void)arg;
    int c, s;
    tcp_pair(&c, &s);
    /* Half-close: the server reads the end of the stream and still
     * answers; then its close ends the client's stream. */
    OT_CHECK_INT_EQ(oak_sock_send_all(c, "req", 3, OT_LONG_MS), 3);
    OT_CHECK_INT_EQ(oak_sock_shutdown(c, SHUT_WR), 0);
    char buf[16];
    OT_CHECK_INT_EQ(oak_sock_recv_exact(s, buf, 3, OT_LONG_MS), 3);
    OT_CHECK_INT_EQ(oak_sock_recv(s, buf, sizeof buf, OT_LONG_MS), 0);
    OT_CHECK_INT_EQ(oak_sock_send_all(s, "answer", 6, OT_LONG_MS), 6);
    OT_CHECK_INT_EQ(oak_sock_close(s), 0);
    OT_CHECK_INT_EQ(oak_sock_recv_exact(c, buf, 6, OT_LONG_MS), 6);
    OT_CHECK_INT_EQ(oak_sock_recv(c, buf, sizeof buf, OT_LONG_MS), 0);
    OT_CHECK_INT_EQ(oak_sock_recv_exact(c, buf, 2, OT_LONG_MS), 0);
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);

    /* A reset: the peer closes with unread data (SO_LINGER 0 forces it). */
    tcp_pair(&c, &s);
    struct linger lg = {1, 0};
    OT_CHECK_INT_EQ(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    OT_CHECK_INT_EQ(oak_sock_close(s), 0);
    OT_CHECK_INT_EQ(oak_sock_recv(c, buf, sizeof buf, OT_LONG_MS), -ECONNRESET);
    ssize_t rc = oak_sock_send(c, "x", 1, OT_LONG_MS);
    OT_CHECK(rc == -EPIPE || rc == -ECONNRESET);
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);

    /* A frame cut short by the end of the stream. */
    tcp_pair(&c, &s);
    OT_CHECK_INT_EQ(oak_sock_send_all(c, "\x00\x05" "ab", 4, OT_LONG_MS), 4);
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);
    OT_CHECK_INT_EQ(oak_sock_recv_packet(s, 2, buf, sizeof buf, OT_LONG_MS), -ENODATA);
    OT_CHECK_INT_EQ(oak_sock_close(s), 0);
}

static void resets_and_half_closes_give_the_documented_results(void **state)
{
    (void)state;
    OT_RUN(reset_main, NULL);
}

/* ---- framing ---- */

static void framing_main(void *arg)
{
    (void)arg;
    int c, s;
    tcp_pair(&c, &s);
    char buf[300];
    static const int kinds[] = {1, 2, 4};
    for (int k = 0; k < 3; k++) {
        OT_CHECK_INT_EQ(oak_sock_send_packet(c, kinds[k], "frame", 5, OT_LONG_MS), 5);
        OT_CHECK_INT_EQ(oak_sock_send_packet(c, kinds[k], "", 0, OT_LONG_MS), 0);
        OT_CHECK_INT_EQ(oak_sock_recv_packet(s, kinds[k], buf, sizeof buf, OT_LONG_MS), 5);
        OT_CHECK(memcmp(buf, "frame", 5) == 0);
        OT_CHECK_INT_EQ(oak_sock_recv_packet(s, kinds[k], buf, sizeof buf, OT_LONG_MS), 0);
    }
    /* A large frame goes out in two parts and comes back whole. */
    static char big[100000];
    static char got[100000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7);
    OT_CHECK_INT_EQ(oak_sock_send_packet(c, 1, big, 256, 0), -EMSGSIZE);
    OT_CHECK_INT_EQ(oak_sock_send_packet(c, 4, big, sizeof big, OT_LONG_MS), (ssize_t)sizeof big);
    OT_CHECK_INT_EQ(oak_sock_recv_packet(s, 4, got, sizeof got, OT_LONG_MS), (ssize_t)sizeof got);
    OT_CHECK(memcmp(big, got, sizeof big) == 0);
    /* Lines, one send carrying two and a half. */
    OT_CHECK_INT_EQ(oak_sock_send_all(c, "one\ntwo\nthr", 11, OT_LONG_MS), 11);
    OT_CHECK_INT_EQ(oak_sock_recv_packet(s, OAK_PACKET_LINE, buf, sizeof buf, OT_LONG_MS), 4);
    OT_CHECK(memcmp(buf, "one\n", 4) == 0);
    OT_CHECK_INT_EQ(oak_sock_recv_packet(s, OAK_PACKET_LINE, buf, sizeof buf, OT_LONG_MS), 4);
    OT_CHECK(memcmp(buf, "two\n", 4) == 0);
    OT_CHECK_INT_EQ(oak_sock_recv_packet(s, OAK_PACKET_LINE, buf, sizeof buf, 30), -ETIMEDOUT);
    OT_CHECK_INT_EQ(oak_sock_send_all(c, "ee\n", 3, OT_LONG_MS), 3);
    OT_CHECK_INT_EQ(oak_sock_recv_packet(s, OAK_PACKET_LINE, buf, sizeof buf, OT_LONG_MS), 6);
    OT_CHECK(memcmp(buf, "three\n", 6) == 0);
    /* Too long for the buffer. */
    OT_CHECK_INT_EQ(oak_sock_send_all(c, "abcdefgh\n", 9, OT_LONG_MS), 9);
    OT_CHECK_INT_EQ(oak_sock_recv_packet(s, OAK_PACKET_LINE, buf, 4, OT_LONG_MS), -EMSGSIZE);
    OT_CHECK_INT_EQ(oak_sock_recv_packet(s, 3, buf, 4, OT_LONG_MS), -EINVAL);
    OT_CHECK_INT_EQ(oak_sock_send_packet(c, 2, "\x01", 1, OT_LONG_MS), 1);
    OT_CHECK_INT_EQ(oak_sock_recv_exact(s, buf, 9, OT_LONG_MS), 9); /* the long line */
    OT_CHECK_INT_EQ(oak_sock_recv_packet(s, 2, buf, 0, OT_LONG_MS), -EMSGSIZE);
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);
    OT_CHECK_INT_EQ(oak_sock_close(s), 0);
}

static void framed_receives_and_sends_keep_frame_boundaries(void **state)
{
    (void)state;
    OT_RUN(framing_main, NULL);
}

/* ---- owners killed while blocked ---- */

enum { IN_RECV, IN_SEND, IN_ACCEPT, IN_CONNECT_DONE };

typedef struct blocker_arg {
    oak_pid driver;
    int what;
    int port;
} blocker_arg;

static void blocker(void *arg)
{
    blocker_arg a = *(blocker_arg *)arg;
    char buf[64];
    if (a.what == IN_ACCEPT) {
        int l = oak_tcp_listen("127.0.0.1", 0, NULL);
        OT_CHECK_INT_GE(l, 0);
        OT_SEND_U64(a.driver, TAG_DONE, 0);
        oak_sock_accept(l, OAK_INFINITY);
        OT_FAIL("accept returned");
    }
    int c = oak_tcp_connect("127.0.0.1", a.port, OT_LONG_MS);
    OT_CHECK_INT_GE(c, 0);
    OT_SEND_U64(a.driver, TAG_DONE, 0);
    if (a.what == IN_RECV) {
        oak_sock_recv(c, buf, sizeof buf, OAK_INFINITY);
    } else {
        /* The peer never reads: the sender is suspended once the kernel's
         * buffers are full. */
        static char chunk[1 << 16];
        for (;;)
            if (oak_sock_send_all(c, chunk, sizeof chunk, OAK_INFINITY) < 0)
                break;
    }
    OT_FAIL("the blocked call returned");
}

static void killed_main(void *arg)
{
    (void)arg;
    int l = oak_tcp_listen("127.0.0.1", 0, NULL);
    OT_CHECK_INT_GE(l, 0);
    int port = oak_sock_port(l);
    int before = ot_open_fds_baseline();
    for (int what = IN_RECV; what <= IN_ACCEPT; what++) {
        blocker_arg a = {oak_self(), what, port};
        oak_ref r;
        oak_pid b = OT_SPAWN_COPY_MONITOR(blocker, &a, 0, &r);
        OT_RECV_U64(TAG_DONE, OT_LONG_MS);
        int s = -1;
        if (what != IN_ACCEPT) {
            s = oak_sock_accept(l, OT_LONG_MS);
            OT_CHECK_INT_GE(s, 0);
        }
        oak_sleep(30); /* let it block */
        OT_CHECK_INT_GT(ot_open_fds(), before);
        OT_CHECK_INT_EQ(oak_exit_pid(b, OAK_KILL), 0);
        OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, OAK_KILLED);
        if (s >= 0) {
            /* The peer sees the close. */
            static char buf[1 << 16];
            ssize_t n;
            while ((n = oak_sock_recv(s, buf, sizeof buf, OT_LONG_MS)) > 0)
                ;
            OT_CHECK(n == 0 || n == -ECONNRESET);
            OT_CHECK_INT_EQ(oak_sock_close(s), 0);
        }
        OT_CHECK_INT_EQ(ot_open_fds(), before);
    }
    OT_CHECK_INT_EQ(oak_sock_close(l), 0);
}

static void an_owner_killed_in_recv_send_or_accept_leaves_no_descriptor(void **state)
{
    (void)state;
    OT_RUN(killed_main, NULL);
}

/* ---- handover ---- */

static void new_owner(void *arg)
{
    oak_pid driver = *(oak_pid *)arg;
    oak_msg *m = OT_RECV_TAG(TAG_SOCK, OT_LONG_MS);
    int s = (int)ot_u64(m);
    oak_msg_free(m);
    OT_CHECK_INT_EQ(oak_sock_send_all(s, "mine", 4, OT_LONG_MS), 4);
    OT_SEND_U64(driver, TAG_DONE, 0);
    oak_receive(&m, OAK_INFINITY, NULL, NULL); /* until killed */
}

static void handover_main(void *arg)
{
    (void)arg;
    int before = ot_open_fds_baseline();
    int c, s;
    tcp_pair(&c, &s);
    oak_pid me = oak_self();
    oak_ref r;
    oak_pid o = OT_SPAWN_COPY_MONITOR(new_owner, &me, 0, &r);
    OT_CHECK_INT_EQ(oak_sock_controlling_process(s, o), 0);
    /* No longer ours. */
    OT_CHECK_INT_EQ(oak_sock_close(s), -EPERM);
    OT_CHECK_INT_EQ(oak_sock_controlling_process(s, me), -EPERM);
    OT_SEND_U64(o, TAG_SOCK, s);
    OT_RECV_U64(TAG_DONE, OT_LONG_MS);
    char buf[8];
    OT_CHECK_INT_EQ(oak_sock_recv_exact(c, buf, 4, OT_LONG_MS), 4);
    /* Its new owner's death closes it. */
    OT_CHECK_INT_EQ(oak_exit_pid(o, OAK_KILL), 0);
    OT_RECV_DOWN(r, OT_LONG_MS);
    OT_CHECK_INT_EQ(oak_sock_recv(c, buf, sizeof buf, OT_LONG_MS), 0);
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);
    /* A handover to a dead process fails and leaves it with the caller. */
    tcp_pair(&c, &s);
    OT_CHECK_INT_EQ(oak_sock_controlling_process(s, o), -ESRCH);
    OT_CHECK_INT_EQ(oak_sock_close(s), 0);
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);
    OT_CHECK_INT_EQ(ot_open_fds(), before);
}

static void a_socket_handed_over_is_closed_when_its_new_owner_dies(void **state)
{
    (void)state;
    OT_RUN(handover_main, NULL);
}

/* Handed over to a process that is killed before it takes the handover:
 * the socket is closed all the same. */
static void sleeper(void *arg)
{
    (void)arg;
    oak_sleep(OAK_INFINITY);
}

static void handover_race_main(void *arg)
{
    (void)arg;
    int before = ot_open_fds_baseline();
    for (int i = 0; i < 50; i++) {
        int c, s;
        tcp_pair(&c, &s);
        oak_pid o = OT_SPAWN(sleeper, NULL, 0);
        OT_CHECK_INT_EQ(oak_sock_controlling_process(s, o), 0);
        OT_CHECK_INT_EQ(oak_exit_pid(o, OAK_KILL), 0);
        char buf[4];
        OT_CHECK_INT_EQ(oak_sock_recv(c, buf, sizeof buf, OT_LONG_MS), 0);
        OT_CHECK_INT_EQ(oak_sock_close(c), 0);
    }
    OT_CHECK_INT_EQ(ot_open_fds(), before);
}

static void a_handover_to_a_process_killed_at_once_closes_the_socket(void **state)
{
    (void)state;
    OT_RUN(handover_race_main, NULL);
}

/* ---- waiting on a socket and the mailbox at once ---- */

static void handler_with_mail(void *arg)
{
    oak_pid driver = *(oak_pid *)arg;
    oak_msg *m = OT_RECV_TAG(TAG_SOCK, OT_LONG_MS);
    int s = (int)ot_u64(m);
    oak_msg_free(m);
    int pings = 0, bytes = 0;
    while (bytes < 3) {
        int rc = oak_receive_fd(&m, s, OAK_FD_READ, OT_LONG_MS, NULL, NULL);
        OT_CHECK_INT_GE(rc, 0);
        if (rc == 0) {
            OT_CHECK_UINT_EQ(m->tag, TAG_PING);
            oak_msg_free(m);
            pings++;
            continue;
        }
        char buf[8];
        ssize_t n = oak_sock_recv(s, buf, sizeof buf, 0);
        if (n > 0)
            bytes += (int)n;
    }
    OT_SEND_U64(driver, TAG_DONE, (uint64_t)pings);
}

static void mail_main(void *arg)
{
    (void)arg;
    int c, s;
    tcp_pair(&c, &s);
    oak_pid me = oak_self();
    oak_pid h = OT_SPAWN_COPY(handler_with_mail, &me, 0);
    OT_CHECK_INT_EQ(oak_sock_controlling_process(s, h), 0);
    OT_SEND_U64(h, TAG_SOCK, s);
    for (int i = 0; i < 3; i++) {
        oak_sleep(10);
        OT_SEND(h, TAG_PING, NULL, 0);
    }
    oak_sleep(10);
    OT_CHECK_INT_EQ(oak_sock_send_all(c, "abc", 3, OT_LONG_MS), 3);
    OT_CHECK_INT_EQ(OT_RECV_U64(TAG_DONE, OT_LONG_MS), 3);
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);
}

static void a_process_waiting_on_its_socket_takes_messages_too(void **state)
{
    (void)state;
    OT_RUN(mail_main, NULL);
}

/* ---- back-pressure ---- */

static void pressure_main(void *arg)
{
    (void)arg;
    int c, s;
    tcp_pair(&c, &s);
    /* The peer does not read: send_all is suspended and times out; the
     * kernel's buffers hold what went out, nothing more is kept. */
    static char big[8 << 20];
    int64_t t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_sock_send_all(c, big, sizeof big, 100), -ETIMEDOUT);
    OT_CHECK_INT_GE(ot_ms_since(t0), 90);
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);
    OT_CHECK_INT_EQ(oak_sock_close(s), 0);
}

/* A reader that takes 4 KiB every 2 ms until told to hurry (TAG_PING);
 * reports how much it read. */
typedef struct slow_arg {
    oak_pid driver;
    int sock;
} slow_arg;

static void slow_reader(void *arg)
{
    slow_arg a = *(slow_arg *)arg;
    static char buf[4096];
    int64_t total = 0;
    bool hurry = false;
    for (;;) {
        ssize_t n = oak_sock_recv(a.sock, buf, sizeof buf, OT_LONG_MS);
        if (n <= 0)
            break;
        total += n;
        oak_msg *m;
        if (!hurry && oak_receive(&m, 0, NULL, NULL) == 0) {
            hurry = true;
            oak_msg_free(m);
        }
        if (!hurry)
            oak_sleep(2);
    }
    OT_SEND_U64(a.driver, TAG_DONE, (uint64_t)total);
}

static void slow_reader_main(void *arg)
{
    (void)arg;
    int c, s;
    tcp_pair(&c, &s);
    oak_pid me = oak_self();
    slow_arg a = {me, s};
    oak_pid r = OT_SPAWN_COPY(slow_reader, &a, 0);
    OT_CHECK_INT_EQ(oak_sock_controlling_process(s, r), 0);
    /* Offer 1 MiB again and again for 400 ms: the sender is suspended at
     * the reader's pace, and nothing piles up in this process. */
    static char chunk[1 << 20];
    long rss0 = ot_resident_kib();
    int64_t sent = 0, end = ot_now_ns() + 400 * 1000000LL;
    while (ot_now_ns() < end) {
        ssize_t n = oak_sock_send(c, chunk, sizeof chunk, 50);
        if (n > 0)
            sent += n;
        else
            OT_CHECK_INT_EQ(n, -ETIMEDOUT);
    }
    long grew = ot_resident_kib() - rss0;
    OT_SEND(r, TAG_PING, NULL, 0);
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);
    int64_t got = (int64_t)OT_RECV_U64(TAG_DONE, OT_LONG_MS);
    OT_CHECK_INT_EQ(got, sent); /* all that was taken arrived */
    OT_CHECK_INT_LT(sent, 400 << 20); /* far less than offered */
    OT_CHECK_INT_LT(grew, 32 * 1024);
}

static void a_slow_reader_paces_its_sender_and_memory_stays_bounded(void **state)
{
    (void)state;
    OT_RUN(slow_reader_main, NULL);
}

static void a_sender_to_a_peer_that_does_not_read_is_suspended(void **state)
{
    (void)state;
    OT_RUN(pressure_main, NULL);
}

/* ---- name lookups ---- */

static uint64_t blocking_calls(void)
{
    oak_blocking_stats st;
    OT_CHECK_INT_EQ(oak_blocking_stats_get(&st), 0);
    return st.calls;
}

static void lookup_main(void *arg)
{
    (void)arg;
    /* "localhost" is looked up (on the blocking pool), IPv4 first. */
    uint64_t calls0 = blocking_calls();
    int l = oak_tcp_listen("localhost", 0, NULL);
    OT_CHECK_INT_GE(l, 0);
    int c = oak_tcp_connect("localhost", oak_sock_port(l), OT_LONG_MS);
    OT_CHECK_INT_GE(c, 0);
    int s = oak_sock_accept(l, OT_LONG_MS);
    OT_CHECK_INT_GE(s, 0);
    OT_CHECK_UINT_EQ(blocking_calls() >= calls0 + 2, 1);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    OT_CHECK_INT_EQ(getpeername(s, (struct sockaddr *)&ss, &len), 0);
    OT_CHECK_INT_EQ(ss.ss_family, AF_INET);
    OT_CHECK_INT_EQ(oak_sock_send_all(c, "hi", 2, OT_LONG_MS), 2);
    char buf[4];
    OT_CHECK_INT_EQ(oak_sock_recv_exact(s, buf, 2, OT_LONG_MS), 2);
    OT_CHECK(memcmp(buf, "hi", 2) == 0);
    /* A name that does not resolve: -ENOENT (or -EAGAIN where no name
     * server answers), and no socket is made. */
    int fds0 = ot_open_fds();
    int rc = oak_tcp_connect("no-such-host.invalid", 80, OT_LONG_MS);
    OT_CHECK(rc == -ENOENT || rc == -EAGAIN);
    rc = oak_tcp_listen("no-such-host.invalid", 0, NULL);
    OT_CHECK(rc == -ENOENT || rc == -EAGAIN);
    OT_CHECK_INT_EQ(ot_open_fds(), fds0);
    /* A name too long for a host name. */
    char longname[2048];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    OT_CHECK_INT_EQ(oak_tcp_connect(longname, 80, 10), -EINVAL);
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);
    OT_CHECK_INT_EQ(oak_sock_close(s), 0);
    OT_CHECK_INT_EQ(oak_sock_close(l), 0);
}

static void names_are_looked_up_on_the_blocking_pool(void **state)
{
    (void)state;
    OT_RUN(lookup_main, NULL);
}

/* ---- active mode ---- */

enum { TAG_TCP = 77, TAG_OTHER };

/* The next message, which must be an active-mode one: returns its status
 * and copies its bytes to buf. */
static int32_t recv_active(int sock, char *buf, size_t cap)
{
    oak_msg *m = OT_RECV_ANY(OT_LONG_MS);
    OT_CHECK_UINT_EQ(m->tag, TAG_TCP);
    oak_sock_data h;
    OT_CHECK_UINT_EQ(m->size >= sizeof h, 1);
    memcpy(&h, m->data, sizeof h);
    OT_CHECK_INT_EQ(h.sock, sock);
    if (h.status > 0) {
        OT_CHECK_UINT_EQ(m->size, sizeof h + (size_t)h.status);
        OT_CHECK_UINT_EQ((size_t)h.status <= cap, 1);
        memcpy(buf, (const char *)m->data + sizeof h, (size_t)h.status);
    }
    oak_msg_free(m);
    return h.status;
}

static void other_sender(void *arg)
{
    oak_pid to = *(oak_pid *)arg;
    OT_SEND(to, TAG_OTHER, NULL, 0);
}

static void active_main(void *arg)
{
    (void)arg;
    int c, s;
    tcp_pair(&c, &s);
    char buf[64];
    /* Armed before the data comes: one message with it. */
    OT_CHECK_INT_EQ(oak_sock_active_once(s, TAG_TCP), 0);
    OT_CHECK_INT_EQ(oak_sock_recv(s, buf, sizeof buf, 0), -EBUSY);
    OT_CHECK_INT_EQ(oak_sock_send_all(c, "one", 3, OT_LONG_MS), 3);
    OT_CHECK_INT_EQ(recv_active(s, buf, sizeof buf), 3);
    OT_CHECK(memcmp(buf, "one", 3) == 0);
    /* Not armed: data waits in the socket, no message comes. */
    OT_CHECK_INT_EQ(oak_sock_send_all(c, "two", 3, OT_LONG_MS), 3);
    oak_msg *m;
    OT_CHECK_INT_EQ(oak_receive(&m, OT_SETTLE_MS, NULL, NULL), -ETIMEDOUT);
    /* A message queued before the arming comes before the data. */
    oak_pid me = oak_self();
    OT_SPAWN_COPY(other_sender, &me, 0);
    oak_msg_free(OT_RECV_TAG(TAG_OTHER, OT_LONG_MS));
    OT_SEND(me, TAG_OTHER, NULL, 0);
    OT_CHECK_INT_EQ(oak_sock_active_once(s, TAG_TCP), 0);
    m = OT_RECV_ANY(OT_LONG_MS);
    OT_CHECK_UINT_EQ(m->tag, TAG_OTHER);
    oak_msg_free(m);
    OT_CHECK_INT_EQ(recv_active(s, buf, sizeof buf), 3);
    OT_CHECK(memcmp(buf, "two", 3) == 0);
    /* One message per arming, however many sends. */
    int got = 0;
    for (int i = 0; i < 5; i++)
        OT_CHECK_INT_EQ(oak_sock_send_all(c, "x", 1, OT_LONG_MS), 1);
    while (got < 5) {
        OT_CHECK_INT_EQ(oak_sock_active_once(s, TAG_TCP), 0);
        int32_t n = recv_active(s, buf, sizeof buf);
        OT_CHECK_INT_GT(n, 0);
        got += n;
        OT_CHECK_INT_EQ(oak_receive(&m, 0, NULL, NULL), -ETIMEDOUT);
    }
    OT_CHECK_INT_EQ(got, 5);
    /* Passive again: recv works. */
    OT_CHECK_INT_EQ(oak_sock_active_once(s, TAG_TCP), 0);
    OT_CHECK_INT_EQ(oak_sock_passive(s), 0);
    OT_CHECK_INT_EQ(oak_sock_send_all(c, "p", 1, OT_LONG_MS), 1);
    OT_CHECK_INT_EQ(oak_sock_recv(s, buf, sizeof buf, OT_LONG_MS), 1);
    OT_CHECK_INT_EQ(oak_receive(&m, OT_SETTLE_MS, NULL, NULL), -ETIMEDOUT);
    /* The end of the stream is a message too. */
    OT_CHECK_INT_EQ(oak_sock_active_once(s, TAG_TCP), 0);
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);
    OT_CHECK_INT_EQ(recv_active(s, buf, sizeof buf), 0);
    OT_CHECK_INT_EQ(oak_sock_close(s), 0);
    /* Not the owner. */
    OT_CHECK_INT_EQ(oak_sock_active_once(s, TAG_TCP), -EBADF);
}

static void active_once_delivers_data_as_one_message_per_arming_in_order(void **state)
{
    (void)state;
    OT_RUN(active_main, NULL);
}

/* Send one byte and take its active-mode message. */
static void one_byte_message(int c, int s, char byte)
{
    char buf[8];
    OT_CHECK_INT_EQ(oak_sock_send_all(c, &byte, 1, OT_LONG_MS), 1);
    OT_CHECK_INT_EQ(recv_active(s, buf, sizeof buf), 1);
    OT_CHECK_INT_EQ(buf[0], byte);
}

static void active_n_main(void *arg)
{
    (void)arg;
    int c, s;
    tcp_pair(&c, &s);
    char buf[64];
    oak_msg *m;
    OT_CHECK_INT_EQ(oak_sock_active(s, TAG_TCP, 0), -EINVAL);
    OT_CHECK_INT_EQ(oak_sock_active(s, TAG_TCP, -2), -EINVAL);
    OT_CHECK_INT_EQ(oak_sock_active(s, TAG_TCP, OAK_SOCK_ACTIVE_MAX + 1), -EINVAL);
    /* {active, 3}: three messages, then {tcp_passive, S}. */
    OT_CHECK_INT_EQ(oak_sock_active(s, TAG_TCP, 3), 0);
    OT_CHECK_INT_EQ(oak_sock_recv(s, buf, sizeof buf, 0), -EBUSY);
    one_byte_message(c, s, 'a');
    one_byte_message(c, s, 'b');
    one_byte_message(c, s, 'c');
    OT_CHECK_INT_EQ(recv_active(s, buf, sizeof buf), OAK_SOCK_PASSIVE);
    /* Passive now: data waits in the socket. */
    OT_CHECK_INT_EQ(oak_sock_send_all(c, "d", 1, OT_LONG_MS), 1);
    OT_CHECK_INT_EQ(oak_receive(&m, OT_SETTLE_MS, NULL, NULL), -ETIMEDOUT);
    OT_CHECK_INT_EQ(oak_sock_recv(s, buf, sizeof buf, OT_LONG_MS), 1);
    OT_CHECK_INT_EQ(buf[0], 'd');
    /* A count on a socket still counting is added to what is left. */
    OT_CHECK_INT_EQ(oak_sock_active(s, TAG_TCP, 1), 0);
    OT_CHECK_INT_EQ(oak_sock_active(s, TAG_TCP, 1), 0);
    one_byte_message(c, s, 'e');
    one_byte_message(c, s, 'f');
    OT_CHECK_INT_EQ(recv_active(s, buf, sizeof buf), OAK_SOCK_PASSIVE);
    OT_CHECK_INT_EQ(oak_receive(&m, OT_SETTLE_MS, NULL, NULL), -ETIMEDOUT);
    /* once takes a count back to one message, with no notice. */
    OT_CHECK_INT_EQ(oak_sock_active(s, TAG_TCP, 5), 0);
    OT_CHECK_INT_EQ(oak_sock_active_once(s, TAG_TCP), 0);
    one_byte_message(c, s, 'g');
    OT_CHECK_INT_EQ(oak_receive(&m, OT_SETTLE_MS, NULL, NULL), -ETIMEDOUT);
    /* The end of the stream is the last message: no notice after it. */
    OT_CHECK_INT_EQ(oak_sock_active(s, TAG_TCP, 1), 0);
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);
    OT_CHECK_INT_EQ(recv_active(s, buf, sizeof buf), 0);
    OT_CHECK_INT_EQ(oak_receive(&m, OT_SETTLE_MS, NULL, NULL), -ETIMEDOUT);
    OT_CHECK_INT_EQ(oak_sock_close(s), 0);
    OT_CHECK_INT_EQ(oak_sock_active(s, TAG_TCP, 1), -EBADF);
}

static void active_n_delivers_n_messages_then_a_passive_notice(void **state)
{
    (void)state;
    OT_RUN(active_n_main, NULL);
}

static void active_true_main(void *arg)
{
    (void)arg;
    int c, s;
    tcp_pair(&c, &s);
    char buf[64], got[64];
    size_t len = 0;
    oak_msg *m;
    OT_CHECK_INT_EQ(oak_sock_active(s, TAG_TCP, OAK_SOCK_ACTIVE_TRUE), 0);
    /* Every piece comes as a message, in order, without re-arming; a
     * message of another kind sent meanwhile keeps its place. */
    oak_pid me = oak_self();
    int others = 0;
    for (int i = 0; i < 20; i++) {
        char b = (char)('A' + i);
        OT_CHECK_INT_EQ(oak_sock_send_all(c, &b, 1, OT_LONG_MS), 1);
        if (i == 10)
            OT_SEND(me, TAG_OTHER, NULL, 0);
    }
    while (len < 20) {
        m = OT_RECV_ANY(OT_LONG_MS);
        if (m->tag == TAG_OTHER) {
            others++;
            oak_msg_free(m);
            continue;
        }
        OT_CHECK_UINT_EQ(m->tag, TAG_TCP);
        oak_sock_data h;
        memcpy(&h, m->data, sizeof h);
        OT_CHECK_INT_GT(h.status, 0);
        OT_CHECK_UINT_EQ(len + (size_t)h.status <= sizeof got, 1);
        memcpy(got + len, (const char *)m->data + sizeof h, (size_t)h.status);
        len += (size_t)h.status;
        oak_msg_free(m);
    }
    OT_CHECK_UINT_EQ(len, 20);
    for (int i = 0; i < 20; i++)
        OT_CHECK_INT_EQ(got[i], 'A' + i);
    if (!others)
        oak_msg_free(OT_RECV_TAG(TAG_OTHER, OT_LONG_MS));
    /* Still active, later too. */
    one_byte_message(c, s, 'z');
    /* Passive stops it. */
    OT_CHECK_INT_EQ(oak_sock_passive(s), 0);
    OT_CHECK_INT_EQ(oak_sock_send_all(c, "p", 1, OT_LONG_MS), 1);
    OT_CHECK_INT_EQ(oak_receive(&m, OT_SETTLE_MS, NULL, NULL), -ETIMEDOUT);
    OT_CHECK_INT_EQ(oak_sock_recv(s, buf, sizeof buf, OT_LONG_MS), 1);
    /* The end of the stream ends it: one message, and no more. */
    OT_CHECK_INT_EQ(oak_sock_active(s, TAG_TCP, OAK_SOCK_ACTIVE_TRUE), 0);
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);
    OT_CHECK_INT_EQ(recv_active(s, buf, sizeof buf), 0);
    OT_CHECK_INT_EQ(oak_receive(&m, OT_SETTLE_MS, NULL, NULL), -ETIMEDOUT);
    OT_CHECK_INT_EQ(oak_sock_close(s), 0);
}

/* More than one message's worth (64 KiB) already in the socket when it is
 * armed: the rest comes too, though no new data makes a new edge. */
static void active_backlog_main(void *arg)
{
    (void)arg;
    int c, s;
    tcp_pair(&c, &s);
    enum { BIG = 100 * 1024 };
    static char out[BIG];
    for (size_t i = 0; i < BIG; i++)
        out[i] = (char)(i * 7);
    OT_CHECK_INT_EQ(oak_sock_send_all(c, out, BIG, OT_LONG_MS), BIG);
    oak_sleep(50); /* all of it in s's receive buffer */
    static char in[BIG];
    size_t len = 0;
    OT_CHECK_INT_EQ(oak_sock_active(s, TAG_TCP, OAK_SOCK_ACTIVE_TRUE), 0);
    while (len < BIG) {
        oak_msg *m = OT_RECV_TAG(TAG_TCP, OT_LONG_MS);
        oak_sock_data h;
        memcpy(&h, m->data, sizeof h);
        OT_CHECK_INT_GT(h.status, 0);
        OT_CHECK_UINT_EQ(len + (size_t)h.status <= BIG, 1);
        memcpy(in + len, (const char *)m->data + sizeof h, (size_t)h.status);
        len += (size_t)h.status;
        oak_msg_free(m);
    }
    OT_CHECK(memcmp(in, out, BIG) == 0);
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);
    OT_CHECK_INT_EQ(oak_sock_close(s), 0);
}

static void active_mode_delivers_a_backlog_larger_than_one_message(void **state)
{
    (void)state;
    OT_RUN(active_backlog_main, NULL);
}

static void active_true_delivers_every_piece_until_passive(void **state)
{
    (void)state;
    OT_RUN(active_true_main, NULL);
}

/* A gen_server-like owner: armed, then handed over; the new owner gets the
 * data. */
static void active_owner(void *arg)
{
    oak_pid driver = *(oak_pid *)arg;
    oak_msg *m = OT_RECV_TAG(TAG_SOCK, OT_LONG_MS);
    int s = (int)ot_u64(m);
    oak_msg_free(m);
    char buf[8];
    OT_CHECK_INT_EQ(recv_active(s, buf, sizeof buf), 2);
    OT_CHECK(memcmp(buf, "hi", 2) == 0);
    OT_SEND_U64(driver, TAG_DONE, 0);
}

static void active_handover_main(void *arg)
{
    (void)arg;
    int c, s;
    tcp_pair(&c, &s);
    OT_CHECK_INT_EQ(oak_sock_active_once(s, TAG_TCP), 0);
    oak_pid me = oak_self();
    oak_pid o = OT_SPAWN_COPY(active_owner, &me, 0);
    OT_CHECK_INT_EQ(oak_sock_controlling_process(s, o), 0);
    OT_SEND_U64(o, TAG_SOCK, s);
    OT_CHECK_INT_EQ(oak_sock_send_all(c, "hi", 2, OT_LONG_MS), 2);
    OT_RECV_U64(TAG_DONE, OT_LONG_MS);
    char buf[4];
    OT_CHECK_INT_EQ(oak_sock_recv(c, buf, sizeof buf, OT_LONG_MS), 0); /* closed at its exit */
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);
}

static void active_mode_follows_a_handover(void **state)
{
    (void)state;
    OT_RUN(active_handover_main, NULL);
}

/* ---- many connections ---- */

#ifdef OAK_TEST_UNDER_TSAN
enum { CONNS = 500 };
#else
enum { CONNS = 9000 };
#endif

typedef struct client_arg {
    oak_pid driver;
    int port;
    int n;
} client_arg;

static void client(void *arg)
{
    client_arg a = *(client_arg *)arg;
    int c = oak_tcp_connect("127.0.0.1", a.port, OT_LONG_MS);
    OT_CHECK_INT_GE(c, 0);
    OT_SEND_U64(a.driver, TAG_PORT, 0); /* connected */
    /* Held open until every client is connected. */
    oak_msg *m = OT_RECV_TAG(TAG_PING, OT_LONG_MS);
    oak_msg_free(m);
    uint32_t v = (uint32_t)a.n, back = 0;
    OT_CHECK_INT_EQ(oak_sock_send_all(c, &v, sizeof v, OT_LONG_MS), 4);
    OT_CHECK_INT_EQ(oak_sock_recv_exact(c, &back, sizeof back, OT_LONG_MS), 4);
    OT_CHECK_UINT_EQ(back, v);
    OT_CHECK_INT_EQ(oak_sock_close(c), 0);
    OT_SEND_U64(a.driver, TAG_DONE, 0);
}

static void many_main(void *arg)
{
    (void)arg;
    int port = start_echo(4, NULL, CONNS);
    static oak_pid clients[CONNS];
    for (int i = 0; i < CONNS; i++) {
        client_arg a = {oak_self(), port, i};
        clients[i] = OT_SPAWN_COPY(client, &a, 0);
    }
    for (int i = 0; i < CONNS; i++)
        OT_RECV_U64(TAG_PORT, OT_LONG_MS);
    for (int i = 0; i < CONNS; i++)
        OT_SEND(clients[i], TAG_PING, NULL, 0);
    for (int i = 0; i < CONNS; i++)
        OT_RECV_U64(TAG_DONE, OT_LONG_MS);
}

static void thousands_of_concurrent_connections_each_get_their_answer(void **state)
{
    (void)state;
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rlim_t want = 2 * CONNS + 256;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    if (rl.rlim_cur < want)
        fail_msg("RLIMIT_NOFILE %llu < %llu", (unsigned long long)rl.rlim_cur,
                 (unsigned long long)want);
    OT_RUN(many_main, NULL);
}

/* 10,000 connections, the client ends in a child process (the hard
 * RLIMIT_NOFILE may not allow both ends of 10,000 in one process). The
 * child uses plain blocking sockets: it reads the port from a pipe,
 * connects all, has each echo its number, says 'k' (or 'f' at the first
 * failure), and holds them all open until the pipe ends. It dies with the
 * test (PR_SET_PDEATHSIG) and is reaped by it. */
#ifdef OAK_TEST_UNDER_TSAN
enum { FAR_CONNS = 500 };
#else
enum { FAR_CONNS = 10000 };
#endif

typedef struct far_arg {
    int to_child, from_child; /* pipe ends, non-blocking in the parent */
} far_arg;

static void far_child(int from_parent, int to_parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        _exit(3);
    int port = 0;
    if (read(from_parent, &port, sizeof port) != (ssize_t)sizeof port)
        _exit(4);
    static int fds[FAR_CONNS];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char verdict = 'k';
    /* A server that stops answering fails the test instead of hanging it. */
    struct timeval tv = {.tv_sec = 30};
    for (int i = 0; i < FAR_CONNS && verdict == 'k'; i++) {
        uint32_t v = (uint32_t)i, back = 0;
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
            connect(fds[i], (struct sockaddr *)&a, sizeof a) != 0 ||
            write(fds[i], &v, sizeof v) != (ssize_t)sizeof v ||
            recv(fds[i], &back, sizeof back, MSG_WAITALL) != (ssize_t)sizeof back || back != v)
            verdict = 'f';
    }
    if (write(to_parent, &verdict, 1) != 1)
        _exit(5);
    char b;
    while (read(from_parent, &b, 1) > 0) /* until the parent closes it */
        ;
    _exit(verdict == 'k' ? 0 : 6);
}

static void far_main(void *arg)
{
    far_arg a = *(far_arg *)arg;
    int port = start_echo(4, NULL, FAR_CONNS);
    OT_CHECK_INT_EQ(write(a.to_child, &port, sizeof port), (ssize_t)sizeof port);
    /* The child connects serially: give it a minute, scaled. */
    char verdict = 0;
    for (int i = 0; i < 6 && verdict == 0; i++) {
        if (oak_wait_fd(a.from_child, OAK_FD_READ, OT_LONG_MS) > 0)
            OT_CHECK_INT_EQ(read(a.from_child, &verdict, 1), 1);
    }
    OT_CHECK_INT_EQ(verdict, 'k');
}

static void ten_thousand_connections_from_another_process_are_served_at_once(void **state)
{
    (void)state;
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rlim_t want = FAR_CONNS + 256;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    if (rl.rlim_cur < want)
        fail_msg("RLIMIT_NOFILE %llu < %llu", (unsigned long long)rl.rlim_cur,
                 (unsigned long long)want);
    int down[2], up[2];
    assert_int_equal(pipe2(down, O_CLOEXEC), 0);
    assert_int_equal(pipe2(up, O_CLOEXEC), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(down[1]);
        close(up[0]);
        far_child(down[0], up[1]);
    }
    close(down[0]);
    close(up[1]);
    assert_int_equal(fcntl(up[0], F_SETFL, O_NONBLOCK), 0);
    far_arg fa = {down[1], up[0]};
    OT_RUN(far_main, &fa);
    close(down[1]); /* the child closes its ends and exits */
    close(up[0]);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tcp_echo_over_ipv4_and_ipv6_loopback),
        cmocka_unit_test(unix_socket_echo),
        cmocka_unit_test(bad_arguments_and_timeouts_get_clear_errors),
        cmocka_unit_test(resets_and_half_closes_give_the_documented_results),
        cmocka_unit_test(framed_receives_and_sends_keep_frame_boundaries),
        cmocka_unit_test(an_owner_killed_in_recv_send_or_accept_leaves_no_descriptor),
        cmocka_unit_test(a_socket_handed_over_is_closed_when_its_new_owner_dies),
        cmocka_unit_test(a_handover_to_a_process_killed_at_once_closes_the_socket),
        cmocka_unit_test(a_process_waiting_on_its_socket_takes_messages_too),
        cmocka_unit_test(a_sender_to_a_peer_that_does_not_read_is_suspended),
        cmocka_unit_test(a_slow_reader_paces_its_sender_and_memory_stays_bounded),
        cmocka_unit_test(active_once_delivers_data_as_one_message_per_arming_in_order),
        cmocka_unit_test(active_mode_follows_a_handover),
        cmocka_unit_test(names_are_looked_up_on_the_blocking_pool),
        cmocka_unit_test(active_n_delivers_n_messages_then_a_passive_notice),
        cmocka_unit_test(active_true_delivers_every_piece_until_passive),
        cmocka_unit_test(active_mode_delivers_a_backlog_larger_than_one_message),
        cmocka_unit_test(thousands_of_concurrent_connections_each_get_their_answer),
        cmocka_unit_test(ten_thousand_connections_from_another_process_are_served_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
