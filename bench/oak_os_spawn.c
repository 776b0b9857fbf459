/* os_spawn: start a program and see it exit, N times (10,000 by default),
 * one after the other: oak_osproc_start() of /bin/true linked to the
 * caller, which traps exits and waits for the mirror's EXIT (the program
 * has then been reaped and its exit mirrored: reason normal). The peers:
 * fork + execve + waitpid in a plain C loop (bench/os/osload spawn, the
 * floor) and Erlang's open_port({spawn_executable, ...}, [exit_status]).
 *
 * Usage: oak_os_spawn [N [PROG]]
 * Prints: RESULT oak.os_spawn <us per program> us */
#include "oak_bench.h"

#include <oak/osproc.h>

static long n_spawns;
static const char *prog = "/bin/true";
static int64_t elapsed_ns;

static bool is_exit_of(const oak_msg *m, void *arg)
{
    return m->tag == OAK_TAG_EXIT && m->from == *(oak_pid *)arg;
}

static void bench_main(void *arg)
{
    (void)arg;
    oak_trap_exit(true);
    oak_osproc_opts opts = {.path = prog};
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < n_spawns; i++) {
        oak_pid pid;
        oak_reason why;
        int rc = oak_osproc_start(&opts, OAK_GEN_LINK, &pid, &why);
        if (rc < 0)
            bench_fail("os_spawn: start %ld: %s", i, oak_strerror(rc));
        oak_msg *m;
        BENCH_CHECK(oak_receive(&m, 10000, is_exit_of, &pid));
        const oak_down *d = m->data;
        if (!d || d->reason != OAK_NORMAL)
            bench_fail("os_spawn: %s did not exit normally", prog);
        oak_msg_free(m);
    }
    elapsed_ns = bench_now_ns() - t0;
}

int main(int argc, char **argv)
{
    n_spawns = bench_arg(argc, argv, 1, 10000);
    if (argc > 2)
        prog = argv[2];
    bench_run(bench_main, NULL);
    printf("RESULT oak.os_spawn %.1f us\n", (double)elapsed_ns / (double)n_spawns / 1000.0);
    return 0;
}
