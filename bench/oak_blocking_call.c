/* blocking_call: N calls (100,000 by default) of a trivial function through
 * the blocking-call pool (oak_blocking): the caller is suspended while a
 * helper thread runs it. ns per call.
 * Prints: RESULT oak.blocking_call <ns> ns */
#include <oak/blocking.h>

#include "oak_bench.h"

static long n_calls;
static int64_t elapsed_ns;

static void *add_one(void *arg) { return (void *)((uintptr_t)arg + 1); }

static void bench_main(void *arg)
{
    (void)arg;
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < n_calls; i++) {
        void *r;
        BENCH_CHECK(oak_blocking(add_one, (void *)(uintptr_t)i, 0, &r, NULL));
        if ((uintptr_t)r != (uintptr_t)i + 1)
            bench_fail("blocking_call: wrong result");
    }
    elapsed_ns = bench_now_ns() - t0;
}

int main(int argc, char **argv)
{
    n_calls = bench_arg(argc, argv, 1, 100000);
    bench_run(bench_main, NULL);
    printf("RESULT oak.blocking_call %.1f ns\n", (double)elapsed_ns / (double)n_calls);
    return 0;
}
