/* kill_spinner: N rounds (200 by default) of: spawn a process that spins in
 * a loop and never yields, let it spin 5 ms, then exit(kill) it and wait
 * for its DOWN. Mean microseconds from the kill to the DOWN.
 * Prints: RESULT oak.kill_spinner <us> us */
#include <stdatomic.h>

#include "oak_bench.h"

static long n_rounds;
static double total_us;
static _Atomic int spinning;

static void spinner(void *arg)
{
    (void)arg;
    atomic_store(&spinning, 1);
    volatile uint64_t x = 0;
    for (;;)
        x++;
}

static void bench_main(void *arg)
{
    (void)arg;
    for (long i = 0; i < n_rounds; i++) {
        atomic_store(&spinning, 0);
        oak_spawn_opts o = {.flags = OAK_SPAWN_MONITOR};
        oak_pid p;
        BENCH_CHECK(oak_spawn(spinner, NULL, &o, &p));
        while (!atomic_load(&spinning))
            oak_sleep(1);
        oak_sleep(5);
        int64_t t0 = bench_now_ns();
        BENCH_CHECK(oak_exit_pid(p, OAK_KILL));
        oak_msg *m;
        BENCH_CHECK(oak_receive_ref(&m, o.monitor_ref, 10000));
        total_us += (double)(bench_now_ns() - t0) / 1000.0;
        oak_down d;
        memcpy(&d, m->data, sizeof d);
        if (d.reason != OAK_KILLED)
            bench_fail("kill_spinner: DOWN reason is not killed");
        oak_msg_free(m);
    }
}

int main(int argc, char **argv)
{
    n_rounds = bench_arg(argc, argv, 1, 200);
    bench_run(bench_main, NULL);
    printf("RESULT oak.kill_spinner %.1f us\n", total_us / (double)n_rounds);
    return 0;
}
