/* restart: a one_for_one supervisor whose worker (a gen_server) crashes on
 * request. One cycle: the client casts `crash` to the worker, the worker
 * exits with reason crash_requested, the supervisor restarts it, the new
 * worker's init tells the client it is up, and the client makes a call to
 * it, which must answer. Intensity is high enough never to trip. N cycles
 * (100,000 by default).
 *
 * Usage: oak_restart [N [reports|quiet]]. `reports` (the default) keeps the
 * log as shipped: crash and supervisor reports go to stderr. `quiet` sets the
 * log level to none first; the figure is then restart_quiet.
 * Prints: RESULT oak.<restart|restart_quiet> <us per cycle> us */
#include "oak_bench.h"

#include <oak/gen_server.h>
#include <oak/supervisor.h>

/* Message tags are atoms, so that the reports name them. */
static oak_atom TAG_UP;    /* worker -> client, payload: the worker's pid */
static oak_atom TAG_CRASH; /* cast */
static oak_atom TAG_PING;  /* call */
static oak_atom TAG_PONG;  /* reply */
static oak_atom CRASH_REQUESTED;

static long n_cycles;
static const char *figure = "restart";
static int64_t elapsed_ns;

/* ---- the worker ---------------------------------------------------------- */

static int worker_init(oak_gen_server *gs, void *arg, void **state)
{
    (void)gs;
    oak_pid client, self = oak_self();
    memcpy(&client, arg, sizeof client);
    oak_send(client, TAG_UP, &self, sizeof self);
    *state = NULL;
    return OAK_GS_OK;
}

static int worker_call(oak_gen_server *gs, void *state, const oak_msg *req,
                       const oak_gen_from *from)
{
    (void)state;
    (void)from;
    if (req->tag != TAG_PING)
        oak_gen_server_exit(gs, OAK_BADARG, NULL);
    oak_gen_server_set_reply(gs, TAG_PONG, NULL, 0);
    return OAK_GS_REPLY;
}

static int worker_cast(oak_gen_server *gs, void *state, const oak_msg *req)
{
    (void)state;
    if (req->tag == TAG_CRASH)
        oak_gen_server_exit(gs, CRASH_REQUESTED, NULL);
    return OAK_GS_OK;
}

static const oak_gen_server_callbacks worker = {
    .init = worker_init,
    .handle_call = worker_call,
    .handle_cast = worker_cast,
};

static int start_worker(const oak_child_args *args, oak_pid *pid,
                        oak_reason *why)
{
    oak_gen_server_opts opts = {.flags = OAK_GEN_LINK,
                                .arg_size = args->arg_size};
    return oak_gen_server_start(&worker, (void *)args->arg, &opts, pid, why);
}

/* ---- the client ---------------------------------------------------------- */

static bool is_up(const oak_msg *m, void *arg)
{
    (void)arg;
    return m->tag == TAG_UP;
}

static oak_pid wait_up(void)
{
    oak_msg *m;
    oak_pid pid;
    int rc = oak_receive(&m, 5000, is_up, NULL);
    if (rc != 0)
        bench_fail("restart: no worker came up: %s", oak_strerror(rc));
    memcpy(&pid, m->data, sizeof pid);
    oak_msg_free(m);
    return pid;
}

static void bench_main(void *arg)
{
    (void)arg;
    oak_pid self = oak_self();
    oak_child_spec spec = {
        .id = oak_atom_from("worker"),
        .start = start_worker,
        .arg = &self,
        .arg_size = sizeof self,
        .restart = OAK_PERMANENT,
        .type = OAK_WORKER,
        .name = "oak_restart:start_worker",
    };
    static oak_supervisor_def def;
    def = (oak_supervisor_def){
        .flags = {.strategy = OAK_ONE_FOR_ONE, .intensity = 1000000, .period = 1},
        .children = &spec,
        .count = 1,
    };
    oak_pid sup;
    oak_reason why;
    BENCH_CHECK(oak_supervisor_start(&def, OAK_GEN_LINK, &sup, &why));
    oak_pid w = wait_up();

    int64_t t0 = bench_now_ns();
    for (long k = 0; k < n_cycles; k++) {
        oak_gen_server_cast(w, TAG_CRASH, NULL, 0);
        oak_pid nw = wait_up();
        if (nw == w)
            bench_fail("restart: same pid after restart");
        w = nw;
        oak_msg *reply;
        int rc = oak_gen_server_call(w, TAG_PING, NULL, 0, &reply,
                                     OAK_GEN_CALL_TIMEOUT, &why);
        if (rc != 0)
            bench_fail("restart: call after restart %ld failed: %s", k,
                       oak_strerror(rc));
        if (reply->tag != TAG_PONG)
            bench_fail("restart: bad reply");
        oak_msg_free(reply);
    }
    elapsed_ns = bench_now_ns() - t0;

    oak_child_info kids[2];
    int n = oak_supervisor_which_children(sup, kids, 2);
    if (n != 1 || kids[0].pid != w)
        bench_fail("restart: the supervisor does not hold the last worker");
    BENCH_CHECK(oak_supervisor_stop(sup));
}

int main(int argc, char **argv)
{
    n_cycles = bench_arg(argc, argv, 1, 100000);
    TAG_UP = oak_atom_from("up");
    TAG_CRASH = oak_atom_from("crash");
    TAG_PING = oak_atom_from("ping");
    TAG_PONG = oak_atom_from("pong");
    CRASH_REQUESTED = oak_atom_from("crash_requested");
    if (argc > 2) {
        if (strcmp(argv[2], "quiet") == 0) {
            figure = "restart_quiet";
            oak_log_set_level(OAK_LOG_NONE);
        } else if (strcmp(argv[2], "reports") != 0) {
            bench_fail("restart: mode must be reports or quiet, not %s", argv[2]);
        }
    }
    bench_run(bench_main, NULL);
    printf("RESULT oak.%s %.1f us\n", figure,
           (double)elapsed_ns / (double)n_cycles / 1000.0);
    return 0;
}
