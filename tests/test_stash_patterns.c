/* test_stash_patterns.c - the guide's chapter on the Stash's limit
 * (docs/guide.md), run: a Sequence server under a supervisor keeps its
 * value in a Stash in one of three ways, and is crashed by a SIGSEGV in a
 * callback.
 *
 *   terminate     saves in terminate (the seed's way): a fault skips
 *                 terminate, so the restarted server has the old value
 *   every change  saves after each change: the last value survives
 *   cleanup       an oak_defer cleanup saves: it runs after the fault, and
 *                 the last value survives
 *
 * The faulting function is compiled without ASan/UBSan instrumentation, as
 * in test_faults.c, so that the CPU faults rather than the sanitizer.
 */
#include "oak_test.h"

#include <string.h>

#if defined(__GNUC__)
#define FAULTING __attribute__((noinline, no_sanitize("address", "undefined")))
#else
#define FAULTING
#endif

static oak_atom A(const char *s) { return oak_atom_from(s); }

typedef enum save_mode { SAVE_IN_TERMINATE, SAVE_EVERY_CHANGE, SAVE_IN_CLEANUP } save_mode;

/* ---- the Stash --------------------------------------------------------------- */

static int stash_init(oak_gen_server *gs, void *arg, void **state)
{
    long *v = oak_alloc(sizeof *v);
    if (!v) {
        oak_gen_server_set_stop(gs, OAK_SYSTEM_LIMIT, NULL);
        return OAK_GS_STOP;
    }
    *v = 123;
    *state = v;
    return OAK_GS_OK;
}

static int stash_call(oak_gen_server *gs, void *state, const oak_msg *req,
                      const oak_gen_from *from)
{
    oak_gen_server_set_reply(gs, A("value"), state, sizeof(long)); /* get_value */
    return OAK_GS_REPLY;
}

static int stash_cast(oak_gen_server *gs, void *state, const oak_msg *req)
{
    if (req->tag == A("save_value") && req->size == sizeof(long))
        memcpy(state, req->data, sizeof(long));
    return OAK_GS_OK;
}

static const oak_gen_server_callbacks stash_cb = {
    .init = stash_init, .handle_call = stash_call, .handle_cast = stash_cast};

static int stash_start(const oak_child_args *a, oak_pid *pid, oak_reason *why)
{
    oak_gen_server_opts o = {.flags = OAK_GEN_LINK, .name = A("stash")};
    return oak_gen_server_start(&stash_cb, NULL, &o, pid, why);
}

/* ---- the Sequence server, in the guide's three versions ----------------------- */

static void stash_save(long v)
{
    oak_gen_server_cast(oak_whereis(A("stash")), A("save_value"), &v, sizeof v);
}

static void stash_on_exit(void *state)
{
    oak_gen_server_cast(oak_whereis(A("stash")), A("save_value"), state, sizeof(long));
}

typedef struct seq {
    long value; /* first: the cleanup sends the first sizeof(long) bytes */
    save_mode mode;
} seq;

static int seq_init(oak_gen_server *gs, void *arg, void **state)
{
    seq *s = oak_alloc(sizeof *s);
    oak_msg *m = NULL;
    oak_reason why;
    if (!s) {
        oak_gen_server_set_stop(gs, OAK_SYSTEM_LIMIT, NULL);
        return OAK_GS_STOP;
    }
    if (oak_gen_server_call(oak_whereis(A("stash")), A("get_value"), NULL, 0, &m,
                            OAK_GEN_CALL_TIMEOUT, &why) < 0) {
        oak_gen_server_set_stop(gs, why.atom, oak_reason_detail(&why));
        return OAK_GS_STOP;
    }
    memcpy(&s->value, m->data, sizeof s->value);
    oak_msg_free(m);
    s->mode = *(const save_mode *)arg;
    if (s->mode == SAVE_IN_CLEANUP && oak_defer(stash_on_exit, s) < 0) {
        oak_gen_server_set_stop(gs, OAK_SYSTEM_LIMIT, NULL);
        return OAK_GS_STOP;
    }
    *state = s;
    return OAK_GS_OK;
}

static FAULTING void null_store(void)
{
    volatile int *volatile p = NULL;
    *p = 42;
}

static int seq_call(oak_gen_server *gs, void *state, const oak_msg *req,
                    const oak_gen_from *from)
{
    seq *s = state;
    if (req->tag == A("next_number")) {
        oak_gen_server_set_reply(gs, A("value"), &s->value, sizeof s->value);
        s->value++;
        if (s->mode == SAVE_EVERY_CHANGE)
            stash_save(s->value);
        return OAK_GS_REPLY;
    }
    null_store(); /* the bad request: a SIGSEGV */
    return OAK_GS_REPLY;
}

static void seq_terminate(oak_gen_server *gs, void *state, const oak_reason *r)
{
    const seq *s = state;
    if (s->mode == SAVE_IN_TERMINATE)
        stash_save(s->value);
}

static const oak_gen_server_callbacks seq_cb = {
    .init = seq_init, .handle_call = seq_call, .terminate = seq_terminate};

static int seq_start(const oak_child_args *a, oak_pid *pid, oak_reason *why)
{
    oak_gen_server_opts o = {.flags = OAK_GEN_LINK, .name = A("sequence"),
                             .arg_size = sizeof(save_mode)};
    return oak_gen_server_start(&seq_cb, (void *)a->arg, &o, pid, why);
}

/* ---- the tree and the scenario ------------------------------------------------ */

static long next_number(void)
{
    oak_msg *m = NULL;
    OT_CHECK_INT_EQ(oak_gen_server_call(oak_whereis(A("sequence")), A("next_number"), NULL,
                                        0, &m, OAK_GEN_CALL_TIMEOUT, NULL),
                    0);
    long v;
    memcpy(&v, m->data, sizeof v);
    oak_msg_free(m);
    return v;
}

typedef struct scenario {
    save_mode mode;
    long after_restart; /* what next_number gives after the fault */
} scenario;

static void crash_and_restart(void *arg)
{
    const scenario *sc = arg;
    static oak_child_spec children[2];
    static oak_supervisor_def def;
    static save_mode mode;
    mode = sc->mode;
    children[0] = (oak_child_spec){.id = A("stash"), .start = stash_start};
    children[1] = (oak_child_spec){.id = A("sequence"), .start = seq_start,
                                   .arg = &mode, .arg_size = sizeof mode};
    def = (oak_supervisor_def){.flags = {OAK_ONE_FOR_ONE, 3, 5},
                               .children = children, .count = 2};
    oak_pid sup;
    oak_reason why;
    OT_CHECK_INT_EQ(oak_supervisor_start(&def, OAK_GEN_LINK, &sup, &why), 0);

    OT_CHECK_INT_EQ(next_number(), 123);
    OT_CHECK_INT_EQ(next_number(), 124);
    OT_CHECK_INT_EQ(next_number(), 125);

    oak_pid first = oak_whereis(A("sequence"));
    oak_msg *m = NULL;
    OT_CHECK_INT_EQ(oak_gen_server_call(first, A("crash"), NULL, 0, &m,
                                        OAK_GEN_CALL_TIMEOUT, &why),
                    -ECONNRESET);
    OT_CHECK_ATOM_EQ(why.atom, OAK_SIGSEGV);
    oak_pid second = OAK_NOPID;
    for (int i = 0; i < 1000 && (second == OAK_NOPID || second == first); i++) {
        oak_sleep(5);
        second = oak_whereis(A("sequence"));
    }
    OT_CHECK(second != OAK_NOPID && second != first);
    OT_CHECK_INT_EQ(next_number(), sc->after_restart);
    OT_CHECK_INT_EQ(oak_supervisor_stop(sup), 0);
}

static void run(save_mode mode, long after_restart)
{
    scenario sc = {mode, after_restart};
    oak_log_level old = oak_log_set_level(OAK_LOG_NONE); /* the crash's reports */
    OT_RUN(crash_and_restart, &sc);
    oak_log_set_level(old);
}

static void a_fault_skips_terminate_so_its_save_is_lost(void **state)
{
    (void)state;
    run(SAVE_IN_TERMINATE, 123);
}

static void a_stash_updated_on_every_change_keeps_the_last_value(void **state)
{
    (void)state;
    run(SAVE_EVERY_CHANGE, 126);
}

static void a_cleanup_saves_the_last_value_after_a_fault(void **state)
{
    (void)state;
    run(SAVE_IN_CLEANUP, 126);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_fault_skips_terminate_so_its_save_is_lost),
        cmocka_unit_test(a_stash_updated_on_every_change_keeps_the_last_value),
        cmocka_unit_test(a_cleanup_saves_the_last_value_after_a_fault),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
