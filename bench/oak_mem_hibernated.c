/* mem_hibernated: N idle gen_servers (1,000,000 by default), each
 * hibernated from its init (OTP's {ok, State, hibernate}); resident bytes
 * per server. VmRSS is read before the first start and again once every
 * server has started (oak_gen_server_start returns after init) and a
 * further 100 ms have passed. The parent keeps every pid.
 * Usage: oak_mem_hibernated [N]
 * Prints: RESULT oak.mem_hibernated <bytes per server> B */
#include "oak_bench.h"

#include <oak/gen_server.h>

static long n_servers;
static int64_t rss_before, rss_after;

static int idle_init(oak_gen_server *gs, void *arg, void **state)
{
    (void)arg;
    int64_t *count = oak_alloc(sizeof *count);
    if (!count)
        return OAK_GS_STOP;
    *count = 0;
    *state = count;
    oak_gen_server_set_hibernate(gs);
    return OAK_GS_OK;
}

static const oak_gen_server_callbacks idle = {.init = idle_init};

static void bench_main(void *arg)
{
    (void)arg;
    rss_before = bench_rss_bytes();
    oak_pid *pids = malloc((size_t)n_servers * sizeof *pids);
    if (!pids)
        bench_fail("mem_hibernated: out of memory");
    oak_reason why;
    for (long i = 0; i < n_servers; i++)
        BENCH_CHECK(oak_gen_server_start(&idle, NULL, NULL, &pids[i], &why));
    oak_sleep(100);
    rss_after = bench_rss_bytes();
    if (oak_process_count() < (size_t)n_servers + 1)
        bench_fail("mem_hibernated: %zu processes alive, expected %ld", oak_process_count(),
                   n_servers + 1);
    for (long i = 0; i < n_servers; i++)
        BENCH_CHECK(oak_exit_pid(pids[i], OAK_KILL));
    free(pids);
}

int main(int argc, char **argv)
{
    n_servers = bench_arg(argc, argv, 1, 1000000);
    bench_run(bench_main, NULL);
    if (rss_before < 0 || rss_after < 0)
        bench_fail("mem_hibernated: cannot read VmRSS from /proc/self/status");
    printf("RESULT oak.mem_hibernated %.0f B\n",
           (double)(rss_after - rss_before) / (double)n_servers);
    return 0;
}
