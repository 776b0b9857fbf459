/* spawn: N processes (1,000,000 by default) that exit at once, spawned and
 * waited for. Each child sends one empty message to its parent and returns;
 * the parent spawns all of them, then receives the N messages.
 * Prints: RESULT oak.spawn <ns per spawn+exit> ns */
#include "oak_bench.h"

#define TAG_DONE 1

static long n_procs;
static int64_t elapsed_ns;

static void child(void *arg)
{
    oak_pid parent = (oak_pid)(uintptr_t)arg;
    oak_send(parent, TAG_DONE, NULL, 0);
}

static void bench_main(void *arg)
{
    (void)arg;
    oak_pid self = oak_self();
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < n_procs; i++)
        BENCH_CHECK(oak_spawn(child, (void *)(uintptr_t)self, NULL, NULL));
    for (long i = 0; i < n_procs; i++) {
        oak_msg *m;
        BENCH_CHECK(oak_receive(&m, OAK_INFINITY, NULL, NULL));
        if (m->tag != TAG_DONE)
            bench_fail("spawn: unexpected message tag %" PRIu64, m->tag);
        oak_msg_free(m);
    }
    elapsed_ns = bench_now_ns() - t0;
    if (oak_message_count() != 0)
        bench_fail("spawn: %zu messages left over", oak_message_count());
}

int main(int argc, char **argv)
{
    n_procs = bench_arg(argc, argv, 1, 1000000);
    bench_run(bench_main, NULL);
    printf("RESULT oak.spawn %.1f ns\n", (double)elapsed_ns / (double)n_procs);
    return 0;
}
