/* fair_rtt: one busy looper per scheduler (processes that never yield),
 * and beside them a ping-pong pair: N round trips (2,000 by default), the
 * 99th percentile of their round-trip times in microseconds. Without
 * preemption the pair would wait for the loopers forever.
 * Prints: RESULT oak.fair_rtt <us> us */
#include <stdatomic.h>
#include <stdlib.h>

#include "oak_bench.h"

static long n_trips;
static double p99_us;
static _Atomic int stop;

static void looper(void *arg)
{
    (void)arg;
    volatile uint64_t x = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed))
        x++;
}

static void pong(void *arg)
{
    (void)arg;
    for (;;) {
        oak_msg *m;
        BENCH_CHECK(oak_receive(&m, OAK_INFINITY, NULL, NULL));
        if (m->size == 0) {
            oak_msg_free(m);
            return;
        }
        BENCH_CHECK(oak_send(m->from, 1, m->data, m->size));
        oak_msg_free(m);
    }
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void bench_main(void *arg)
{
    (void)arg;
    unsigned n = oak_scheduler_count();
    for (unsigned i = 0; i < n; i++)
        BENCH_CHECK(oak_spawn(looper, NULL, NULL, NULL));
    oak_pid p;
    BENCH_CHECK(oak_spawn(pong, NULL, NULL, &p));
    oak_sleep(50); /* the loopers hold the schedulers now */
    int64_t *rtt = malloc((size_t)n_trips * sizeof *rtt);
    if (!rtt)
        bench_fail("fair_rtt: out of memory");
    for (long i = 0; i < n_trips; i++) {
        int64_t t0 = bench_now_ns();
        BENCH_CHECK(oak_send(p, 1, &i, sizeof i));
        oak_msg *m;
        BENCH_CHECK(oak_receive(&m, 10000, NULL, NULL));
        rtt[i] = bench_now_ns() - t0;
        oak_msg_free(m);
    }
    qsort(rtt, (size_t)n_trips, sizeof *rtt, cmp);
    p99_us = (double)rtt[(size_t)((double)n_trips * 0.99)] / 1000.0;
    free(rtt);
    atomic_store(&stop, 1);
    BENCH_CHECK(oak_send(p, 1, NULL, 0));
}

int main(int argc, char **argv)
{
    n_trips = bench_arg(argc, argv, 1, 2000);
    bench_run(bench_main, NULL);
    printf("RESULT oak.fair_rtt %.1f us\n", p99_us);
    return 0;
}
