/* dist_bench.h - what the two distribution benchmarks (oak_dist_rtt,
 * oak_dist_msgs) share: an epmd of their own, a peer node in a forked
 * copy of the program, the connection to it, the erl side's guard, and
 * the choice of which side to run. Header-only, as oak_bench.h.
 *
 * A program is
 *     prog [count] [oak|erlang]
 * and runs the oak <-> oak figure, the erl <-> erl one, or both (no second
 * argument), each printing its RESULT line. Everything runs on loopback
 * with ERL_EPMD_PORT set to a port of this run, and that epmd is killed at
 * the end, so no epmd or beam is left behind (the erl nodes also halt by
 * themselves after two minutes).
 */
#ifndef OAK_DIST_BENCH_H
#define OAK_DIST_BENCH_H

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oak_bench.h"

#define DIST_BENCH_COOKIE "oak_bench_cookie"

static inline bool dist_bench_is_term(const oak_msg *m, void *arg)
{
    (void)arg;
    return m->tag == OAK_TAG_TERM;
}

/* The peer node: `name`, with fn spawned and registered as `service`,
 * until it is killed (at most a minute). */
typedef struct dist_bench_peer {
    const char *name, *service;
    oak_entry fn;
} dist_bench_peer;

static inline void dist_bench_peer_main(void *arg)
{
    const dist_bench_peer *p = arg;
    oak_node_opts o = {.name = p->name, .cookie = DIST_BENCH_COOKIE};
    if (oak_node_start(&o))
        bench_fail("peer: oak_node_start");
    oak_pid pid;
    if (oak_spawn(p->fn, NULL, NULL, &pid) || oak_register(oak_atom_from(p->service), pid))
        bench_fail("peer: %s", p->service);
    oak_msg *m;
    oak_receive(&m, 60000, NULL, NULL);
}

/* Start this node as `name` and connect to the peer (which may still be
 * starting: up to 5 s). Process context. */
static inline void dist_bench_connect(const char *name, const char *peer)
{
    oak_node_opts o = {.name = name, .cookie = DIST_BENCH_COOKIE};
    if (oak_node_start(&o))
        bench_fail("oak_node_start");
    int rc = -1;
    for (int i = 0; i < 100 && rc; i++) {
        rc = oak_node_ping(peer, 1000);
        if (rc)
            oak_sleep(50);
    }
    if (rc)
        bench_fail("the peer node does not answer: %s", oak_strerror(rc));
}

/* Run the erl <-> erl side: `script` is a shell command that starts both
 * erl nodes and prints the RESULT line. */
static inline void dist_bench_erl(const char *figure, const char *script)
{
    if (system("command -v erl >/dev/null 2>&1") != 0) {
        printf("SKIP erlang.%s: erl not found (sh tools/ensure-deps.sh bench)\n", figure);
        return;
    }
    fflush(stdout);
    if (system(script) != 0)
        printf("FAIL erlang.%s\n", figure);
}

/* main(): argv as above, default_count for a missing count; the oak side
 * is the peer (forked) and main_proc; erl runs the erl side. */
static inline int dist_bench_main(int argc, char **argv, long default_count, long *count,
                                  const dist_bench_peer *peer, oak_entry main_proc,
                                  void (*erl)(void))
{
    *count = bench_arg(argc, argv, 1, default_count);
    const char *side = argc > 2 ? argv[2] : "both";
    bool oak = strcmp(side, "oak") == 0 || strcmp(side, "both") == 0;
    bool erlang = strcmp(side, "erlang") == 0 || strcmp(side, "both") == 0;
    if (!oak && !erlang || argc > 3) {
        fprintf(stderr, "usage: %s [count] [oak|erlang]\n", argv[0]);
        return 100;
    }
    char port[16];
    snprintf(port, sizeof port, "%d", 20000 + (int)(getpid() % 20000));
    setenv("ERL_EPMD_PORT", port, 1);
    if (oak) {
        pid_t child = fork();
        if (child == 0) {
            bench_run(dist_bench_peer_main, (void *)peer);
            _exit(0);
        }
        bench_run(main_proc, NULL);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
    if (erlang)
        erl();
    /* epmd refuses to die while it still counts a node that has just
     * gone: asked again, for up to 5 s. */
    for (int i = 0; i < 50; i++) {
        int st = system("epmd -kill >/dev/null 2>&1");
        (void)st;
        if (system("epmd -names >/dev/null 2>&1") != 0)
            break;
        usleep(100 * 1000);
    }
    return 0;
}

#endif
