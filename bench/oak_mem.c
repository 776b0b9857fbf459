/* mem: N idle processes (1,000,000 by default) blocked in receive; resident
 * bytes per process. VmRSS is read before the first spawn and again once
 * every process has reached its receive (each bumps a counter just before
 * it blocks) and a further 100 ms have passed. The parent keeps every pid,
 * as a program that later talks to them would; that array is counted.
 * Usage: oak_mem [N [label]]; label defaults to "mem".
 * Prints: RESULT oak.<label> <bytes per process> B */
#include <stdatomic.h>

#include "oak_bench.h"

#define TAG_STOP 1

static long n_procs;
static const char *label = "mem";
static atomic_long ready;
static int64_t rss_before, rss_after;

static void idle(void *arg)
{
    (void)arg;
    atomic_fetch_add_explicit(&ready, 1, memory_order_relaxed);
    oak_msg *m;
    BENCH_CHECK(oak_receive(&m, OAK_INFINITY, NULL, NULL));
    oak_msg_free(m);
}

static void bench_main(void *arg)
{
    (void)arg;
    rss_before = bench_rss_bytes();
    oak_pid *pids = malloc((size_t)n_procs * sizeof *pids);
    if (!pids)
        bench_fail("mem: out of memory");
    for (long i = 0; i < n_procs; i++)
        BENCH_CHECK(oak_spawn(idle, NULL, NULL, &pids[i]));
    int64_t deadline = oak_now_ms() + 60000;
    while (atomic_load_explicit(&ready, memory_order_relaxed) < n_procs) {
        if (oak_now_ms() > deadline)
            bench_fail("mem: only %ld of %ld processes started",
                       atomic_load(&ready), n_procs);
        oak_sleep(1);
    }
    oak_sleep(100);
    rss_after = bench_rss_bytes();
    if (oak_process_count() < (size_t)n_procs + 1)
        bench_fail("mem: %zu processes alive, expected %ld",
                   oak_process_count(), n_procs + 1);
    for (long i = 0; i < n_procs; i++)
        BENCH_CHECK(oak_send(pids[i], TAG_STOP, NULL, 0));
    free(pids);
}

int main(int argc, char **argv)
{
    n_procs = bench_arg(argc, argv, 1, 1000000);
    if (argc > 2)
        label = argv[2];
    bench_run(bench_main, NULL);
    if (rss_before < 0 || rss_after < 0)
        bench_fail("mem: cannot read VmRSS from /proc/self/status");
    printf("RESULT oak.%s %.0f B\n", label,
           (double)(rss_after - rss_before) / (double)n_procs);
    return 0;
}
