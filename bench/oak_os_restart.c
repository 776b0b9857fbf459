/* os_restart: a one_for_one supervisor whose only child is a program,
 * bench/os/osstamp, which notes the time it started in ./stamps and exits 1
 * at once; the supervisor restarts it each time ({exit_status,1} is
 * abnormal for a permanent child). Intensity is high enough never to trip,
 * no backoff, the log as shipped (a report per restart, to stderr). The
 * program runs until SIGTERM; bench/os/osload reads the stamps and gives the
 * figure, the same way as for s6-supervise and supervisord (bench/os.sh).
 *
 * Usage: oak_os_restart DIR OSSTAMP   (DIR: the child's working directory) */
#include "oak_bench.h"

#include <signal.h>

#include <oak/osproc.h>
#include <oak/signal.h>
#include <oak/supervisor.h>

static oak_osproc_opts child;

static bool is_signal(const oak_msg *m, void *arg)
{
    (void)arg;
    return m->tag == OAK_SIGNAL_TAG;
}

static void bench_main(void *arg)
{
    (void)arg;
    BENCH_CHECK(oak_signal_subscribe(SIGTERM));
    oak_child_spec spec;
    BENCH_CHECK(oak_osproc_child_spec(&spec, oak_atom_from("osstamp"), &child));
    spec.restart = OAK_PERMANENT;
    static oak_supervisor_def def;
    def = (oak_supervisor_def){
        .flags = {.strategy = OAK_ONE_FOR_ONE, .intensity = 1000000, .period = 1},
        .children = &spec,
        .count = 1,
    };
    oak_pid sup;
    oak_reason why;
    BENCH_CHECK(oak_supervisor_start(&def, OAK_GEN_LINK, &sup, &why));
    oak_msg *m;
    BENCH_CHECK(oak_receive(&m, OAK_INFINITY, is_signal, NULL));
    oak_msg_free(m);
    BENCH_CHECK(oak_supervisor_stop(sup));
}

int main(int argc, char **argv)
{
    if (argc != 3)
        bench_fail("usage: oak_os_restart DIR OSSTAMP");
    child = (oak_osproc_opts){
        .path = argv[2],
        .cwd = argv[1],
        .stdin_mode = OAK_STDIO_NULL,
    };
    bench_run(bench_main, NULL);
    return 0;
}
