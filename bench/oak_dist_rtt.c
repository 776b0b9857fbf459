/* oak_dist_rtt - round trip of a small term between two nodes on loopback:
 * oak <-> oak (this program and a copy of itself as the peer node) and
 * erl <-> erl (two erl nodes), in one run.
 *
 * Each side sends {self(), hello} to the registered process `echo` on the
 * other node ({echo, Node} ! ..., oak_node_send()), which sends `hello`
 * back; one message in flight at a time. Both use an epmd of their own
 * (ERL_EPMD_PORT), which is killed at the end.
 *
 * Usage: oak_dist_rtt [round trips] [oak|erlang]   (default 20000, both)
 * Prints: RESULT oak.dist_rtt <ns> ns, RESULT erlang.dist_rtt <ns> ns (or
 * a line saying erl was skipped when it is not installed).
 */
#include "dist_bench.h"

static long n_trips;
static const char peer_name[] = "rttpeer@127.0.0.1";

/* The peer's echo: {Pid, T} -> Pid ! T. */
static void echo(void *arg)
{
    for (;;) {
        oak_msg *m;
        if (oak_receive(&m, OAK_INFINITY, dist_bench_is_term, NULL))
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

static void main_proc(void *arg)
{
    dist_bench_connect("rtt@127.0.0.1", peer_name);
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
        if (oak_receive(&m, 5000, dist_bench_is_term, NULL))
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
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "erl -name rtte2@127.0.0.1 -setcookie " DIST_BENCH_COOKIE " -noshell -eval "
             "'register(echo, self()), F = fun G() -> receive {P, T} -> P ! T, G() end end, "
             "spawn(fun() -> timer:sleep(120000), halt() end), F().' &"
             " erl -name rtte1@127.0.0.1 -setcookie " DIST_BENCH_COOKIE " -noshell -eval "
             "'B = '\\''rtte2@127.0.0.1'\\'', W = fun Wt(0) -> halt(1); Wt(K) -> "
             "case net_adm:ping(B) of pong -> ok; pang -> timer:sleep(50), Wt(K - 1) end end, W(100), "
             "timer:sleep(200), "
             "L = fun Lp(0) -> ok; Lp(K) -> {echo, B} ! {self(), hello}, receive hello -> Lp(K - 1) end end, "
             "L(1000), T0 = erlang:monotonic_time(nanosecond), L(%ld), "
             "T1 = erlang:monotonic_time(nanosecond), "
             "io:format(\"RESULT erlang.dist_rtt ~.1f ns~n\", [(T1 - T0) / %ld]), "
             "spawn(B, erlang, halt, []), timer:sleep(100), halt().'; wait",
             n_trips, n_trips);
    dist_bench_erl("dist_rtt", cmd);
}

int main(int argc, char **argv)
{
    static const dist_bench_peer peer = {peer_name, "echo", echo};
    return dist_bench_main(argc, argv, 20000, &n_trips, &peer, main_proc, erl_rtt);
}
