/* wake_hibernated: N synchronous gen_server calls (1,000,000 by default)
 * to a server that hibernates after every request (OTP's {reply, R, S,
 * hibernate}): each call wakes it on a fresh stack. The server adds to a
 * counter and replies with the total; every answer must be the count so
 * far. Compare with `call`, the same server without hibernation.
 * Prints: RESULT oak.wake_hibernated <ns per call> ns */
#include "oak_bench.h"

#include <oak/gen_server.h>

#define TAG_ADD 1
#define TAG_TOTAL 2

static long n_calls;
static int64_t elapsed_ns;

static int counter_init(oak_gen_server *gs, void *arg, void **state)
{
    (void)arg;
    int64_t *total = oak_alloc(sizeof *total);
    if (!total)
        return OAK_GS_STOP;
    *total = 0;
    *state = total;
    oak_gen_server_set_hibernate(gs);
    return OAK_GS_OK;
}

static int counter_call(oak_gen_server *gs, void *state, const oak_msg *req,
                        const oak_gen_from *from)
{
    (void)from;
    int64_t *total = state, x;
    if (req->tag != TAG_ADD || req->size != sizeof x)
        oak_gen_server_exit(gs, OAK_BADARG, NULL);
    memcpy(&x, req->data, sizeof x);
    *total += x;
    oak_gen_server_set_reply(gs, TAG_TOTAL, total, sizeof *total);
    oak_gen_server_set_hibernate(gs);
    return OAK_GS_REPLY;
}

static const oak_gen_server_callbacks counter = {
    .init = counter_init,
    .handle_call = counter_call,
};

static void bench_main(void *arg)
{
    (void)arg;
    oak_pid srv;
    oak_reason why;
    oak_gen_server_opts opts = {.flags = OAK_GEN_LINK};
    BENCH_CHECK(oak_gen_server_start(&counter, NULL, &opts, &srv, &why));
    const int64_t one = 1;
    int64_t t0 = bench_now_ns();
    for (int64_t i = 1; i <= n_calls; i++) {
        oak_msg *reply;
        int rc = oak_gen_server_call(srv, TAG_ADD, &one, sizeof one, &reply,
                                     OAK_GEN_CALL_TIMEOUT, &why);
        if (rc != 0)
            bench_fail("wake_hibernated: call %" PRId64 " failed: %s", i, oak_strerror(rc));
        int64_t v;
        if (reply->tag != TAG_TOTAL || reply->size != sizeof v)
            bench_fail("wake_hibernated: bad reply");
        memcpy(&v, reply->data, sizeof v);
        oak_msg_free(reply);
        if (v != i)
            bench_fail("wake_hibernated: got %" PRId64 ", expected %" PRId64, v, i);
    }
    elapsed_ns = bench_now_ns() - t0;
    BENCH_CHECK(oak_gen_server_stop(srv, OAK_NORMAL, NULL, OAK_INFINITY, NULL));
}

int main(int argc, char **argv)
{
    n_calls = bench_arg(argc, argv, 1, 1000000);
    bench_run(bench_main, NULL);
    printf("RESULT oak.wake_hibernated %.1f ns\n", (double)elapsed_ns / (double)n_calls);
    return 0;
}
