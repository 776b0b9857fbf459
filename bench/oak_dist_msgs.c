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
 * Usage: oak_dist_msgs [messages] [oak|erlang]   (default 200000, both)
 * Prints: RESULT oak.dist_msgs <ns> ns, RESULT erlang.dist_msgs <ns> ns.
 */
#include "dist_bench.h"

static long n_trips;
static const char peer_name[] = "msgpeer@127.0.0.1";

/* The peer's sink: counts n_trips messages, then answers `done`. */
static void sink(void *arg)
{
    for (long k = 0;; k++) {
        oak_msg *m;
        if (oak_receive(&m, OAK_INFINITY, dist_bench_is_term, NULL))
            return;
        if (k + 1 == n_trips) {
            static const uint8_t done[] = {131, 119, 4, 'd', 'o', 'n', 'e'};
            oak_send(m->from, OAK_TAG_TERM, done, sizeof done);
            k = -1;
        }
        oak_msg_free(m);
    }
}

static void main_proc(void *arg)
{
    dist_bench_connect("msg@127.0.0.1", peer_name);
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
    if (oak_receive(&m, 60000, dist_bench_is_term, NULL))
        bench_fail("no done");
    oak_msg_free(m);
    printf("RESULT oak.dist_msgs %.1f ns\n", (double)(bench_now_ns() - t0) / (double)n_trips);
    fflush(stdout);
    oak_term_arena_free(a);
    oak_node_stop();
}

static void erl_msgs(void)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "erl -name msge2@127.0.0.1 -setcookie " DIST_BENCH_COOKIE " -noshell -eval "
             "'register(sink, self()), F = fun G(0, P) -> P ! done, G(%ld, none); "
             "G(K, _) -> receive {P, _} -> G(K - 1, P) end end, "
             "spawn(fun() -> timer:sleep(120000), halt() end), F(%ld, none).' &"
             " erl -name msge1@127.0.0.1 -setcookie " DIST_BENCH_COOKIE " -noshell -eval "
             "'B = '\\''msge2@127.0.0.1'\\'', W = fun Wt(0) -> halt(1); Wt(K) -> "
             "case net_adm:ping(B) of pong -> ok; pang -> timer:sleep(50), Wt(K - 1) end end, W(100), "
             "timer:sleep(200), Bin = binary:copy(<<$x>>, 100), S = self(), "
             "L = fun Lp(0) -> ok; Lp(K) -> {sink, B} ! {S, Bin}, Lp(K - 1) end, "
             "T0 = erlang:monotonic_time(nanosecond), L(%ld), receive done -> ok end, "
             "T1 = erlang:monotonic_time(nanosecond), "
             "io:format(\"RESULT erlang.dist_msgs ~.1f ns~n\", [(T1 - T0) / %ld]), "
             "spawn(B, erlang, halt, []), timer:sleep(100), halt().'; wait",
             n_trips, n_trips, n_trips, n_trips);
    dist_bench_erl("dist_msgs", cmd);
}

int main(int argc, char **argv)
{
    static const dist_bench_peer peer = {peer_name, "sink", sink};
    return dist_bench_main(argc, argv, 200000, &n_trips, &peer, main_proc, erl_msgs);
}
