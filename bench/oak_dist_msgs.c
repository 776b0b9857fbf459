/* oak_dist_msgs - one-way messages per second between two nodes on
 * loopback, 100-byte binaries: oak -> oak (this program and a copy of
 * itself as the peer node) and erl -> erl (two erl nodes), in one run.
 *
 * The sender sends N binaries to the registered `sink` on the other node
 * ({sink, Node} ! Bin, oak_node_send()); the sink counts them and answers
 * `done` to the sender of the last one. The figure is ns per message
 * (lower is better), from the first send to `done`. Both use an epmd of
 * their own (ERL_EPMD_PORT), which is killed at the end.
 *
 * Usage: oak_dist_msgs [messages]   (default 200000)
 * Prints: RESULT oak.dist_msgs <ns> ns, RESULT erlang.dist_msgs <ns> ns.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oak_bench.h"

#define COOKIE "oak_bench_cookie"

static long n_trips;
static char peer_name[64] = "msgpeer@127.0.0.1";

static bool is_term(const oak_msg *m, void *arg) { return m->tag == OAK_TAG_TERM; }

/* The peer's sink: counts n_trips messages, then answers `done`. */
static void echo(void *arg)
{
    for (long k = 0;; k++) {
        oak_msg *m;
        if (oak_receive(&m, OAK_INFINITY, is_term, NULL))
            return;
        if (k + 1 == n_trips) {
            static const uint8_t done[] = {131, 119, 4, 'd', 'o', 'n', 'e'};
            oak_send(m->from, OAK_TAG_TERM, done, sizeof done);
            k = -1;
        }
        oak_msg_free(m);
    }
}

static void peer_main(void *arg)
{
    oak_node_opts o = {.name = peer_name, .cookie = COOKIE};
    if (oak_node_start(&o))
        bench_fail("peer: oak_node_start");
    oak_pid e;
    oak_spawn(echo, NULL, NULL, &e);
    oak_register(oak_atom_from("sink"), e);
    oak_msg *m;
    oak_receive(&m, 60000, NULL, NULL); /* until killed, at most a minute */
}

static void main_proc(void *arg)
{
    oak_node_opts o = {.name = "msg@127.0.0.1", .cookie = COOKIE};
    if (oak_node_start(&o))
        bench_fail("oak_node_start");
    int rc = -1;
    for (int i = 0; i < 100 && rc; i++) {
        rc = oak_node_ping(peer_name, 1000);
        if (rc)
            oak_sleep(50);
    }
    if (rc)
        bench_fail("the peer node does not answer: %s", oak_strerror(rc));
    oak_term_arena *a = oak_term_arena_new();
    oak_term *to = oak_term_tuple2(a, oak_term_atom(a, "sink"), oak_term_atom(a, peer_name));
    uint8_t bytes[100];
    memset(bytes, 'x', sizeof bytes);
    oak_term *msg = oak_term_binary(a, bytes, sizeof bytes);
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < n_trips; i++)
        if (oak_node_send(to, msg))
            bench_fail("oak_node_send");
    oak_msg *m;
    if (oak_receive(&m, 60000, is_term, NULL))
        bench_fail("no done");
    oak_msg_free(m);
    printf("RESULT oak.dist_msgs %.1f ns\n", (double)(bench_now_ns() - t0) / (double)n_trips);
    fflush(stdout);
    oak_term_arena_free(a);
    oak_node_stop();
}

static void erl_rtt(void)
{
    if (system("command -v erl >/dev/null 2>&1") != 0) {
        printf("SKIP erlang.dist_msgs: erl not found (sh tools/ensure-deps.sh bench)\n");
        return;
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "erl -name msge2@127.0.0.1 -setcookie " COOKIE " -noshell -eval "
             "'register(sink, self()), F = fun G(0, P) -> P ! done, G(%ld, none); "
             "G(K, _) -> receive {P, _} -> G(K - 1, P) end end, "
             "spawn(fun() -> timer:sleep(120000), halt() end), F(%ld, none).' &"
             " erl -name msge1@127.0.0.1 -setcookie " COOKIE " -noshell -eval "
             "'B = '\\''msge2@127.0.0.1'\\'', W = fun Wt(0) -> halt(1); Wt(K) -> "
             "case net_adm:ping(B) of pong -> ok; pang -> timer:sleep(50), Wt(K - 1) end end, W(100), "
             "timer:sleep(200), Bin = binary:copy(<<$x>>, 100), S = self(), "
             "L = fun Lp(0) -> ok; Lp(K) -> {sink, B} ! {S, Bin}, Lp(K - 1) end, "
             "T0 = erlang:monotonic_time(nanosecond), L(%ld), receive done -> ok end, "
             "T1 = erlang:monotonic_time(nanosecond), "
             "io:format(\"RESULT erlang.dist_msgs ~.1f ns~n\", [(T1 - T0) / %ld]), "
             "spawn(B, erlang, halt, []), timer:sleep(100), halt().'; wait",
             n_trips, n_trips, n_trips, n_trips);
    fflush(stdout);
    if (system(cmd) != 0)
        printf("FAIL erlang.dist_msgs\n");
}

int main(int argc, char **argv)
{
    n_trips = bench_arg(argc, argv, 1, 200000);
    char port[16];
    snprintf(port, sizeof port, "%d", 20000 + (int)(getpid() % 20000 + 1));
    setenv("ERL_EPMD_PORT", port, 1);
    pid_t peer = fork();
    if (peer == 0) {
        bench_run(peer_main, NULL);
        _exit(0);
    }
    bench_run(main_proc, NULL);
    kill(peer, SIGKILL);
    waitpid(peer, NULL, 0);
    erl_rtt();
    int st = system("epmd -kill >/dev/null 2>&1");
    (void)st;
    return 0;
}
