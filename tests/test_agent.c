/* test_agent.c - the Agent behaviour: functions run inside the agent on its
 * state; get, update, get_and_update, cast, stop; bad returns, crashes,
 * timeouts, dead agents; restart under a supervisor. */
#include "oak_test.h"

static oak_atom A(const char *s) { return oak_atom_from(s); }

static long value_of(const oak_msg *m)
{
    long v = -999;
    if (m && m->size == sizeof v)
        memcpy(&v, m->data, sizeof v);
    return v;
}

/* ---- functions run inside agents ----------------------------------------- */

static int init_long(oak_agent_ctx *c, void **state, const void *arg, size_t n)
{
    long *v = oak_alloc(sizeof *v);
    *v = n == sizeof *v ? *(const long *)arg : 0;
    *state = v;
    return 0;
}

static int get_long(oak_agent_ctx *c, void **state, const void *arg, size_t n)
{
    return oak_agent_reply(c, *state, sizeof(long));
}

static int add_long(oak_agent_ctx *c, void **state, const void *arg, size_t n)
{
    *(long *)*state += *(const long *)arg;
    return 0;
}

static int pop_and_zero(oak_agent_ctx *c, void **state, const void *arg, size_t n)
{
    oak_agent_reply(c, *state, sizeof(long));
    *(long *)*state = 0;
    return 0;
}

static int bad_return(oak_agent_ctx *c, void **state, const void *arg, size_t n)
{
    oak_agent_reply(c, *state, sizeof(long)); /* never sent */
    return 11;
}

static int crash(oak_agent_ctx *c, void **state, const void *arg, size_t n)
{
    oak_agent_exit(c, A("boom"), "detail");
}

static int sleep_then_get(oak_agent_ctx *c, void **state, const void *arg, size_t n)
{
    oak_sleep(*(const long *)arg);
    return oak_agent_reply(c, *state, sizeof(long));
}

static int init_crash(oak_agent_ctx *c, void **state, const void *arg, size_t n)
{
    oak_agent_exit(c, A("init_failed"), NULL);
}

/* A get that tries to change the state: the change must not stick. */
static int get_replacing(oak_agent_ctx *c, void **state, const void *arg, size_t n)
{
    long *other = oak_alloc(sizeof *other);
    *other = 4242;
    *state = other;
    return 0;
}

static long agent_value(oak_pid ag)
{
    oak_msg *m = NULL;
    oak_reason why;
    int r = oak_agent_get(ag, get_long, NULL, 0, &m, OT_LONG_MS, &why);
    OT_CHECK_INT_EQ(r, 0);
    long v = value_of(m);
    oak_msg_free(m);
    return v;
}

static oak_pid start_agent(long v, unsigned flags)
{
    oak_pid ag = OAK_NOPID;
    oak_agent_opts o = {.flags = flags};
    int r = oak_agent_start(init_long, &v, sizeof v, &o, &ag, NULL);
    OT_CHECK_INT_EQ(r, 0);
    OT_CHECK(ag != OAK_NOPID);
    return ag;
}

/* ---- tests -------------------------------------------------------------------- */

static void body_basic(void *arg)
{
    oak_pid ag = start_agent(0, OAK_GEN_LINK);
    OT_CHECK_INT_EQ(agent_value(ag), 0);
    long five = 5, one = 1;
    OT_CHECK_INT_EQ(oak_agent_update(ag, add_long, &five, sizeof five, OAK_AGENT_TIMEOUT, NULL), 0);
    OT_CHECK_INT_EQ(agent_value(ag), 5);
    oak_msg *m = NULL;
    OT_CHECK_INT_EQ(oak_agent_get_and_update(ag, pop_and_zero, NULL, 0, &m, OAK_AGENT_TIMEOUT, NULL), 0);
    OT_CHECK_UINT_EQ(m->tag, OAK_OK);
    OT_CHECK_INT_EQ(value_of(m), 5);
    oak_msg_free(m);
    OT_CHECK_INT_EQ(agent_value(ag), 0);
    OT_CHECK_INT_EQ(oak_agent_cast(ag, add_long, &one, sizeof one), 0);
    OT_CHECK_INT_EQ(agent_value(ag), 1); /* the cast came first */
    OT_CHECK_INT_EQ(oak_agent_get(ag, get_replacing, NULL, 0, &m, OAK_AGENT_TIMEOUT, NULL), 0);
    OT_CHECK_UINT_EQ(m->size, 0); /* no answer set: no bytes */
    oak_msg_free(m);
    OT_CHECK_INT_EQ(agent_value(ag), 1); /* get does not change the state */
    OT_CHECK_INT_EQ(oak_agent_stop(ag, 0, OAK_INFINITY, NULL), 0);
    OT_CHECK(!oak_is_alive(ag));
}
static void agent_get_update_get_and_update_and_cast_run_on_the_state(void **st)
{
    OT_RUN(body_basic, NULL);
}

static void body_bad_return(void *arg)
{
    oak_trap_exit(true);
    oak_pid ag = start_agent(11, OAK_GEN_LINK);
    oak_ref mon = oak_monitor(ag);
    oak_msg *m = NULL;
    oak_reason why;
    int r = oak_agent_get_and_update(ag, bad_return, NULL, 0, &m, OAK_AGENT_TIMEOUT, &why);
    OT_CHECK_INT_EQ(r, -ECONNRESET);
    OT_CHECK(m == NULL);
    OT_CHECK_ATOM_EQ(why.atom, A("bad_return_value"));
    OT_CHECK_STR_EQ(why.detail, "11");
    ot_signal s = OT_RECV_DOWN(mon, OT_LONG_MS);
    OT_CHECK_ATOM_EQ(s.reason, A("bad_return_value"));
    OT_CHECK_STR_EQ(s.detail, "11");
    s = OT_RECV_EXIT(OT_LONG_MS); /* the link */
    OT_CHECK_UINT_EQ(s.from, ag);
    r = oak_agent_get(ag, get_long, NULL, 0, &m, OAK_AGENT_TIMEOUT, &why);
    OT_CHECK_INT_EQ(r, -ESRCH);
    OT_CHECK_ATOM_EQ(why.atom, OAK_NOPROC);
}
static void agent_bad_get_and_update_return_stops_it_and_the_caller_gets_the_reason(void **st)
{
    oak_log_level old = oak_log_set_level(OAK_LOG_NONE);
    OT_RUN(body_bad_return, NULL);
    oak_log_set_level(old);
}

static void body_crash(void *arg)
{
    oak_pid ag = start_agent(1, 0);
    oak_ref mon = oak_monitor(ag);
    oak_reason why;
    int r = oak_agent_update(ag, crash, NULL, 0, OAK_AGENT_TIMEOUT, &why);
    OT_CHECK_INT_EQ(r, -ECONNRESET);
    OT_CHECK_ATOM_EQ(why.atom, A("boom"));
    OT_CHECK_STR_EQ(why.detail, "detail");
    ot_signal s = OT_RECV_DOWN(mon, OT_LONG_MS);
    OT_CHECK_ATOM_EQ(s.reason, A("boom"));

    /* A crashing cast kills it just the same; nobody is told but monitors. */
    ag = start_agent(1, 0);
    mon = oak_monitor(ag);
    OT_CHECK_INT_EQ(oak_agent_cast(ag, crash, NULL, 0), 0);
    s = OT_RECV_DOWN(mon, OT_LONG_MS);
    OT_CHECK_ATOM_EQ(s.reason, A("boom"));
    OT_CHECK_INT_EQ(oak_agent_cast(ag, crash, NULL, 0), 0); /* dead: still 0 */
    OT_CHECK_INT_EQ(oak_agent_stop(ag, 0, 1000, NULL), -ESRCH);
}
static void agent_crashing_function_kills_it_with_that_reason(void **st)
{
    oak_log_level old = oak_log_set_level(OAK_LOG_NONE);
    OT_RUN(body_crash, NULL);
    oak_log_set_level(old);
}

static void body_timeout(void *arg)
{
    oak_pid ag = start_agent(7, OAK_GEN_LINK);
    long ms = 300;
    oak_msg *m = NULL;
    oak_reason why;
    int r = oak_agent_get(ag, sleep_then_get, &ms, sizeof ms, &m, 50, &why);
    OT_CHECK_INT_EQ(r, -ETIMEDOUT);
    OT_CHECK_ATOM_EQ(why.atom, OAK_TIMEOUT);
    OT_CHECK_INT_EQ(agent_value(ag), 7); /* it went on */
    OT_NO_MSG(0, OT_SETTLE_MS);          /* and the late answer never came */
    OT_CHECK_INT_EQ(oak_agent_stop(ag, 0, OAK_INFINITY, NULL), 0);
}
static void agent_call_timeout_leaves_it_running_and_drops_the_late_answer(void **st)
{
    OT_RUN(body_timeout, NULL);
}

static void body_start(void *arg)
{
    oak_reason why;
    oak_pid ag = OAK_NOPID;
    int r = oak_agent_start(init_crash, NULL, 0, NULL, &ag, &why);
    OT_CHECK_INT_EQ(r, -ECANCELED);
    OT_CHECK_ATOM_EQ(why.atom, A("init_failed"));

    long v = 3;
    oak_agent_opts o = {.name = A("named_agent")};
    OT_CHECK_INT_EQ(oak_agent_start(init_long, &v, sizeof v, &o, &ag, NULL), 0);
    OT_CHECK_UINT_EQ(oak_whereis(A("named_agent")), ag);
    oak_pid other = OAK_NOPID;
    r = oak_agent_start(init_long, &v, sizeof v, &o, &other, &why);
    OT_CHECK_INT_EQ(r, -EALREADY);
    OT_CHECK_UINT_EQ(other, ag);
    OT_CHECK_ATOM_EQ(why.atom, A("already_started"));
    OT_CHECK_INT_EQ(oak_agent_start(NULL, NULL, 0, NULL, &other, NULL), -EINVAL);
    OT_CHECK_INT_EQ(oak_agent_stop(ag, A("bye"), OAK_INFINITY, &why), 0);
}
static void agent_start_results(void **st) { OT_RUN(body_start, NULL); }

static const long hundred = 100;
static oak_agent_spec counter_spec;

static void body_supervised(void *arg)
{
    counter_spec = (oak_agent_spec){.init = init_long, .arg = &hundred,
                                    .size = sizeof hundred, .name = A("counter")};
    oak_child_spec spec = {.id = A("counter"), .start = oak_agent_start_fn,
                           .arg = &counter_spec};
    oak_supervisor_def def = {.flags = {OAK_ONE_FOR_ONE, 3, 5},
                              .children = &spec, .count = 1};
    oak_pid sup = OAK_NOPID;
    OT_CHECK_INT_EQ(oak_supervisor_start(&def, OAK_GEN_LINK, &sup, NULL), 0);
    oak_pid ag = oak_whereis(A("counter"));
    long seven = 7;
    OT_CHECK_INT_EQ(oak_agent_update(ag, add_long, &seven, sizeof seven, OAK_AGENT_TIMEOUT, NULL), 0);
    OT_CHECK_INT_EQ(agent_value(ag), 107);
    oak_ref mon = oak_monitor(ag);
    oak_agent_cast(ag, crash, NULL, 0);
    OT_RECV_DOWN(mon, OT_LONG_MS);
    OT_EVENTUALLY(oak_whereis(A("counter")) != OAK_NOPID, OT_LONG_MS);
    oak_pid ag2 = oak_whereis(A("counter"));
    OT_CHECK(ag2 != ag);
    OT_CHECK_INT_EQ(agent_value(ag2), 100); /* from the initial function */
    OT_CHECK_INT_EQ(oak_supervisor_stop(sup), 0);
    OT_CHECK(!oak_is_alive(ag2));
}
static void agent_restarted_by_its_supervisor_starts_from_its_initial_function(void **st)
{
    oak_log_level old = oak_log_set_level(OAK_LOG_NONE);
    OT_RUN(body_supervised, NULL);
    oak_log_set_level(old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(agent_get_update_get_and_update_and_cast_run_on_the_state),
        cmocka_unit_test(agent_bad_get_and_update_return_stops_it_and_the_caller_gets_the_reason),
        cmocka_unit_test(agent_crashing_function_kills_it_with_that_reason),
        cmocka_unit_test(agent_call_timeout_leaves_it_running_and_drops_the_late_answer),
        cmocka_unit_test(agent_start_results),
        cmocka_unit_test(agent_restarted_by_its_supervisor_starts_from_its_initial_function),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
