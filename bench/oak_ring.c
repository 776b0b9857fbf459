/* ring: R processes (10,000 by default) in a ring; a token is passed H hops
 * (1,000,000 by default). The token carries the hops still to go; the
 * process that gets it at 0 reports its position in the ring, which must be
 * H mod R (the token started at position 0).
 * Prints: RESULT oak.ring <ns per hop> ns */
#include "oak_bench.h"

#define TAG_NEXT 1  /* payload: oak_pid, the next process in the ring */
#define TAG_TOKEN 2 /* payload: int64_t, hops still to go */
#define TAG_DONE 3  /* payload: int64_t, position of the last holder */

struct member {
    int64_t pos;
    oak_pid next; /* OAK_NOPID: wait for a TAG_NEXT message */
    oak_pid main;
};

static long n_members, n_hops;
static int64_t elapsed_ns;

static void member(void *arg)
{
    struct member me = *(struct member *)arg;
    oak_msg *m;
    if (me.next == OAK_NOPID) {
        BENCH_CHECK(oak_receive(&m, OAK_INFINITY, NULL, NULL));
        if (m->tag != TAG_NEXT || m->size != sizeof me.next)
            bench_fail("ring: expected the next pid");
        memcpy(&me.next, m->data, sizeof me.next);
        oak_msg_free(m);
    }
    for (;;) {
        BENCH_CHECK(oak_receive(&m, OAK_INFINITY, NULL, NULL));
        int64_t left;
        if (m->tag != TAG_TOKEN || m->size != sizeof left)
            bench_fail("ring: expected the token");
        memcpy(&left, m->data, sizeof left);
        oak_msg_free(m);
        if (left == 0) {
            BENCH_CHECK(oak_send(me.main, TAG_DONE, &me.pos, sizeof me.pos));
            return;
        }
        left--;
        BENCH_CHECK(oak_send(me.next, TAG_TOKEN, &left, sizeof left));
    }
}

static void bench_main(void *arg)
{
    (void)arg;
    struct member m = {.pos = n_members - 1, .next = OAK_NOPID, .main = oak_self()};
    oak_spawn_opts opts = {.arg_size = sizeof m};
    oak_pid last, next;
    BENCH_CHECK(oak_spawn(member, &m, &opts, &last));
    next = last;
    for (long pos = n_members - 2; pos >= 0; pos--) {
        m.pos = pos;
        m.next = next;
        BENCH_CHECK(oak_spawn(member, &m, &opts, &next));
    }
    /* next is now position 0; close the ring */
    BENCH_CHECK(oak_send(last, TAG_NEXT, &next, sizeof next));

    int64_t token = n_hops;
    int64_t t0 = bench_now_ns();
    BENCH_CHECK(oak_send(next, TAG_TOKEN, &token, sizeof token));
    oak_msg *done;
    BENCH_CHECK(oak_receive(&done, OAK_INFINITY, NULL, NULL));
    elapsed_ns = bench_now_ns() - t0;
    int64_t pos;
    if (done->tag != TAG_DONE || done->size != sizeof pos)
        bench_fail("ring: unexpected message");
    memcpy(&pos, done->data, sizeof pos);
    oak_msg_free(done);
    if (pos != n_hops % n_members)
        bench_fail("ring: token ended at %" PRId64 ", expected %ld", pos,
                   n_hops % n_members);
    /* returning ends the runtime; the other members are killed */
}

int main(int argc, char **argv)
{
    n_members = bench_arg(argc, argv, 1, 10000);
    n_hops = bench_arg(argc, argv, 2, 1000000);
    bench_run(bench_main, NULL);
    printf("RESULT oak.ring %.1f ns\n", (double)elapsed_ns / (double)n_hops);
    return 0;
}
