/* oak_dist_rtt - round trip of a small term between two nodes on loopback:
 * oak <-> oak (this program and a copy of itself as the peer node) and
 * erl <-> erl (two erl nodes), in one run.
 *
 * Each side sends {self(), hello} to the registered process `echo` on the
 * other node ({echo, Node} ! ..., oak_node_send()), which sends `hello`
 * back; one message in flight at a time. Both use an epmd of their own
 * (ERL_EPMD_PORT), which is killed at the end.
 *
 * Usage: oak_dist_rtt [round trips]   (default 20000)
 * Prints: RESULT oak.dist_rtt <ns> ns, RESULT erlang.dist_rtt <ns> ns (or
 * a line saying erl was skipped when it is not installed).
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oak_bench.h"

#define COOKIE "oak_bench_cookie"

static long n_trips;
static char peer_name[64] = "rttpeer@127.0.0.1";

static bool is_term(const oak_msg *m, void *arg) { return m->tag == OAK_TAG_TERM; }

/* The peer's echo: {Pid, T} -> Pid ! T. */
static void echo(void *arg)
{
    for (;;) {
        oak_msg *m;
        if (oak_receive(&m, OAK_INFINITY, is_term, NULL))
            return;
        oak_term_arena *a = oak_term_arena_new();
        oak_term *t;
        oak_pid to;
        if (oak_term_decode(a, m->data, m->size, &t, NULL) == 0 && t->type == OAK_TERM_TUPLE &&
            t->u.tuple.arity == 2 && oak_node_term_to_pid(t->u.tuple.items[0], &to) == 0) {
            void *b;
            size_t len;
            if (oak_term_encode_alloc(t->u.tuple.items[1], &b, &len) == 0) {
                oak_send(to, OAK_TAG_TERM, b, len);
                free(b);
            }
        }
        oak_term_arena_free(a);
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
    oak_register(oak_atom_from("echo"), e);
    oak_msg *m;
    oak_receive(&m, 60000, NULL, NULL); /* until killed, at most a minute */
}

static void main_proc(void *arg)
{
    oak_node_opts o = {.name = "rtt@127.0.0.1", .cookie = COOKIE};
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
    oak_term *to = oak_term_tuple2(a, oak_term_atom(a, "echo"), oak_term_atom(a, peer_name));
    oak_term *msg = oak_term_tuple2(a, oak_node_pid_to_term(a, oak_self()), oak_term_atom(a, "hello"));
    int64_t t0 = 0;
    for (long i = -1000; i < n_trips; i++) {
        if (i == 0)
            t0 = bench_now_ns();
        if (oak_node_send(to, msg))
            bench_fail("oak_node_send");
        oak_msg *m;
        if (oak_receive(&m, 5000, is_term, NULL))
            bench_fail("no answer");
        oak_msg_free(m);
    }
    printf("RESULT oak.dist_rtt %.1f ns\n", (double)(bench_now_ns() - t0) / (double)n_trips);
    fflush(stdout);
    oak_term_arena_free(a);
    oak_node_stop();
}

static void erl_rtt(void)
{
    if (system("command -v erl >/dev/null 2>&1") != 0) {
        printf("SKIP erlang.dist_rtt: erl not found (sh tools/ensure-deps.sh bench)\n");
        return;
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "erl -name rtte2@127.0.0.1 -setcookie " COOKIE " -noshell -eval "
             "'register(echo, self()), F = fun G() -> receive {P, T} -> P ! T, G() end end, "
             "spawn(fun() -> timer:sleep(120000), halt() end), F().' &"
             " erl -name rtte1@127.0.0.1 -setcookie " COOKIE " -noshell -eval "
             "'B = '\\''rtte2@127.0.0.1'\\'', W = fun Wt(0) -> halt(1); Wt(K) -> "
             "case net_adm:ping(B) of pong -> ok; pang -> timer:sleep(50), Wt(K - 1) end end, W(100), "
             "timer:sleep(200), "
             "L = fun Lp(0) -> ok; Lp(K) -> {echo, B} ! {self(), hello}, receive hello -> Lp(K - 1) end end, "
             "L(1000), T0 = erlang:monotonic_time(nanosecond), L(%ld), "
             "T1 = erlang:monotonic_time(nanosecond), "
             "io:format(\"RESULT erlang.dist_rtt ~.1f ns~n\", [(T1 - T0) / %ld]), "
             "spawn(B, erlang, halt, []), timer:sleep(100), halt().'; wait",
             n_trips, n_trips);
    fflush(stdout);
    if (system(cmd) != 0)
        printf("FAIL erlang.dist_rtt\n");
}

int main(int argc, char **argv)
{
    n_trips = bench_arg(argc, argv, 1, 20000);
    char port[16];
    snprintf(port, sizeof port, "%d", 20000 + (int)(getpid() % 20000));
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
