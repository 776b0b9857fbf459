/* pingpong: two processes exchange a small message (one 64-bit integer)
 * N round trips (1,000,000 by default). The first process is "ping"; "pong"
 * sends every number it gets back to its sender. Ping checks each reply.
 * Prints: RESULT oak.pingpong <ns per round trip> ns */
#include "oak_bench.h"

#define TAG_BALL 1
#define TAG_STOP 2

static long n_trips;
static int64_t elapsed_ns;

static void pong(void *arg)
{
    (void)arg;
    for (;;) {
        oak_msg *m;
        BENCH_CHECK(oak_receive(&m, OAK_INFINITY, NULL, NULL));
        if (m->tag == TAG_STOP) {
            oak_msg_free(m);
            return;
        }
        BENCH_CHECK(oak_send(m->from, TAG_BALL, m->data, m->size));
        oak_msg_free(m);
    }
}

static void bench_main(void *arg)
{
    (void)arg;
    oak_pid p;
    BENCH_CHECK(oak_spawn(pong, NULL, NULL, &p));
    int64_t t0 = bench_now_ns();
    for (uint64_t i = 1; i <= (uint64_t)n_trips; i++) {
        BENCH_CHECK(oak_send(p, TAG_BALL, &i, sizeof i));
        oak_msg *m;
        BENCH_CHECK(oak_receive(&m, OAK_INFINITY, NULL, NULL));
        uint64_t v;
        if (m->tag != TAG_BALL || m->size != sizeof v)
            bench_fail("pingpong: bad reply");
        memcpy(&v, m->data, sizeof v);
        if (v != i)
            bench_fail("pingpong: got %" PRIu64 ", expected %" PRIu64, v, i);
        oak_msg_free(m);
    }
    elapsed_ns = bench_now_ns() - t0;
    BENCH_CHECK(oak_send(p, TAG_STOP, NULL, 0));
}

int main(int argc, char **argv)
{
    n_trips = bench_arg(argc, argv, 1, 1000000);
    bench_run(bench_main, NULL);
    printf("RESULT oak.pingpong %.1f ns\n", (double)elapsed_ns / (double)n_trips);
    return 0;
}
