/* fault_report: what naming the place of a fault costs. N processes (200
 * by default) fault one after the other, each with a NULL store; the time
 * from the store to the crash report reaching the log handler is measured.
 * The first report reads the program's symbol table and line table (and
 * opens libdw); the others find them cached.
 * Prints: RESULT oak.fault_report_first <us> us
 *         RESULT oak.fault_report_next <median us> us
 *         RESULT oak.fault_report_rss <bytes the first report added> B
 * No peer: run it by hand (not part of run.sh), in a build with debug info
 * (RelWithDebInfo, the default), e.g. build/bench/oak_fault_report. */
#include "oak_bench.h"

#include <stdatomic.h>

static long n_faults;
static _Atomic int64_t t_fault, t_report;
static int64_t *lat;
static int64_t rss_before, rss_after;

static void on_log(oak_log_level level, const char *kind, const char *line, void *ctx)
{
    (void)level;
    (void)line;
    (void)ctx;
    if (!strcmp(kind, "crash_report"))
        atomic_store(&t_report, bench_now_ns());
}

static __attribute__((noinline)) void null_store(void)
{
    volatile int *volatile p = NULL;
    atomic_store(&t_fault, bench_now_ns());
    *p = 1;
}

static void faulter(void *arg)
{
    (void)arg;
    null_store();
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void bench_main(void *arg)
{
    (void)arg;
    rss_before = bench_rss_bytes();
    for (long i = 0; i < n_faults; i++) {
        oak_spawn_opts o = {.flags = OAK_SPAWN_MONITOR};
        BENCH_CHECK(oak_spawn(faulter, NULL, &o, NULL));
        oak_msg *m;
        BENCH_CHECK(oak_receive(&m, OAK_INFINITY, NULL, NULL));
        oak_msg_free(m);
        lat[i] = atomic_load(&t_report) - atomic_load(&t_fault);
        if (i == 0)
            rss_after = bench_rss_bytes();
    }
}

int main(int argc, char **argv)
{
    n_faults = bench_arg(argc, argv, 1, 200);
    lat = calloc((size_t)n_faults, sizeof *lat);
    if (!lat)
        bench_fail("out of memory");
    oak_log_set_handler(on_log, NULL);
    bench_run(bench_main, NULL);
    int64_t first = lat[0];
    qsort(lat + 1, (size_t)n_faults - 1, sizeof *lat, cmp);
    printf("RESULT oak.fault_report_first %.1f us\n", (double)first / 1e3);
    if (n_faults > 1)
        printf("RESULT oak.fault_report_next %.1f us\n", (double)lat[1 + (n_faults - 1) / 2] / 1e3);
    printf("RESULT oak.fault_report_rss %" PRId64 " B\n", rss_after - rss_before);
    return 0;
}
