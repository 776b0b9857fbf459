/* skynet: a 10-ary tree of processes with 1,000,000 leaves; leaf i sends i
 * to its parent, every inner process sends the sum of its 10 children up.
 * The root's sum must be 499999500000 (sum of 0..999999).
 * Prints: RESULT oak.skynet <ms total> ms */
#include "oak_bench.h"

#define TAG_SUM 1
#define DIV 10

struct node {
    oak_pid parent;
    int64_t num;  /* first leaf number of this subtree */
    int64_t size; /* leaves in this subtree */
};

static long n_leaves;
static int64_t elapsed_ns, total;

static void skynet(void *arg)
{
    struct node me = *(struct node *)arg;
    int64_t sum = 0;
    if (me.size == 1) {
        sum = me.num;
    } else {
        int64_t sub = me.size / DIV;
        struct node child = {.parent = oak_self(), .size = sub};
        oak_spawn_opts opts = {.arg_size = sizeof child};
        for (int i = 0; i < DIV; i++) {
            child.num = me.num + i * sub;
            BENCH_CHECK(oak_spawn(skynet, &child, &opts, NULL));
        }
        for (int i = 0; i < DIV; i++) {
            oak_msg *m;
            int64_t v;
            BENCH_CHECK(oak_receive(&m, OAK_INFINITY, NULL, NULL));
            if (m->tag != TAG_SUM || m->size != sizeof v)
                bench_fail("skynet: unexpected message");
            memcpy(&v, m->data, sizeof v);
            sum += v;
            oak_msg_free(m);
        }
    }
    BENCH_CHECK(oak_send(me.parent, TAG_SUM, &sum, sizeof sum));
}

static void bench_main(void *arg)
{
    (void)arg;
    int64_t t0 = bench_now_ns();
    struct node root = {.parent = oak_self(), .num = 0, .size = n_leaves};
    oak_spawn_opts opts = {.arg_size = sizeof root};
    BENCH_CHECK(oak_spawn(skynet, &root, &opts, NULL));
    oak_msg *m;
    BENCH_CHECK(oak_receive(&m, OAK_INFINITY, NULL, NULL));
    elapsed_ns = bench_now_ns() - t0;
    if (m->tag != TAG_SUM || m->size != sizeof total)
        bench_fail("skynet: unexpected message");
    memcpy(&total, m->data, sizeof total);
    oak_msg_free(m);
}

int main(int argc, char **argv)
{
    n_leaves = bench_arg(argc, argv, 1, 1000000);
    for (long s = n_leaves; s > 1; s /= DIV)
        if (s % DIV)
            bench_fail("skynet: leaf count must be a power of %d", DIV);
    bench_run(bench_main, NULL);
    int64_t want = (int64_t)n_leaves * (n_leaves - 1) / 2;
    if (total != want)
        bench_fail("skynet: sum %" PRId64 ", expected %" PRId64, total, want);
    printf("RESULT oak.skynet %.1f ms\n", (double)elapsed_ns / 1e6);
    return 0;
}
