/* p05: Agent: get / update / get_and_update / cast, a call timeout, a bad
 * get_and_update return stops the agent, a crashing function kills it, a
 * dead agent is noproc, stop, a crashing initial function, and an agent
 * under a supervisor restarts from its initial function. */
#include "oracle.h"

#include <string.h>

static long value_of(const oak_msg *m)
{
    long v = 0;
    if (m && m->size == sizeof v)
        memcpy(&v, m->data, sizeof v);
    return v;
}

/* ---- the functions run inside the agents ---------------------------------- */

static int init_value(oak_agent_ctx *c, void **state, const void *arg, size_t n)
{
    long *v = oak_alloc(sizeof *v);
    memcpy(v, arg, sizeof *v);
    *state = v;
    return 0;
}

static int identity(oak_agent_ctx *c, void **state, const void *arg, size_t n)
{
    return oak_agent_reply(c, *state, sizeof(long));
}

static int plus(oak_agent_ctx *c, void **state, const void *arg, size_t n)
{
    long d;
    memcpy(&d, arg, sizeof d);
    *(long *)*state += d;
    return 0;
}

/* fn s -> {s, s * 2} */
static int get_and_double(oak_agent_ctx *c, void **state, const void *arg, size_t n)
{
    long *v = *state;
    oak_agent_reply(c, v, sizeof *v);
    *v *= 2;
    return 0;
}

static int slow_identity(oak_agent_ctx *c, void **state, const void *arg, size_t n)
{
    oak_sleep(300);
    return oak_agent_reply(c, *state, sizeof(long));
}

/* fn s -> s end: returns the state instead of {reply, state}. */
static int returns_state(oak_agent_ctx *c, void **state, const void *arg, size_t n)
{
    return (int)*(long *)*state;
}

static int exit_boom(oak_agent_ctx *c, void **state, const void *arg, size_t n)
{
    oak_agent_exit(c, oak_atom_from("boom"), NULL);
}

static int exit_init_failed(oak_agent_ctx *c, void **state, const void *arg, size_t n)
{
    oak_agent_exit(c, oak_atom_from("init_failed"), NULL);
}

/* ---- the driver ------------------------------------------------------------- */

static void get(const char *desc, oak_pid ag, oak_agent_fn fn, int64_t timeout)
{
    oak_msg *m = NULL;
    oak_reason why;
    int r = oak_agent_get(ag, fn, NULL, 0, &m, timeout, &why);
    if (r == 0)
        or_ev("%s -> %ld", desc, value_of(m));
    else
        or_ev("%s -> {exit,%s}", desc, or_r(&why));
    oak_msg_free(m);
}

static void update(const char *desc, oak_pid ag, oak_agent_fn fn, long arg)
{
    oak_reason why;
    int r = oak_agent_update(ag, fn, &arg, sizeof arg, OAK_AGENT_TIMEOUT, &why);
    if (r == 0)
        or_ev("%s -> ok", desc);
    else
        or_ev("%s -> {exit,%s}", desc, or_r(&why));
}

static void get_and_update(const char *desc, oak_pid ag, oak_agent_fn fn)
{
    oak_msg *m = NULL;
    oak_reason why;
    int r = oak_agent_get_and_update(ag, fn, NULL, 0, &m, OAK_AGENT_TIMEOUT, &why);
    if (r == 0)
        or_ev("%s -> %ld", desc, value_of(m));
    else
        or_ev("%s -> {exit,%s}", desc, or_r(&why));
    oak_msg_free(m);
}

static const long hundred = 100;
static oak_agent_spec counter_agent;

static void scenario(void)
{
    long zero = 0, one = 1, five = 5, seven = 7;
    oak_pid ag = 0;
    oak_agent_opts lo = {.flags = OAK_GEN_LINK};
    oak_agent_start(init_value, &zero, sizeof zero, &lo, &ag, NULL);
    or_label(ag, "agent");
    get("get", ag, identity, OAK_AGENT_TIMEOUT);
    update("update plus_5", ag, plus, five);
    get_and_update("get_and_update double", ag, get_and_double);
    oak_agent_cast(ag, plus, &one, sizeof one);
    or_ev("cast plus_1 -> ok");
    get("get", ag, identity, OAK_AGENT_TIMEOUT);
    get("get timeout_100 slow_fun", ag, slow_identity, 100);
    or_settle(300);
    get_and_update("get_and_update bad_return", ag, returns_state);
    or_settle(150);
    or_ev("alive -> %s", oak_is_alive(ag) ? "true" : "false");
    get("get dead_agent", ag, identity, OAK_AGENT_TIMEOUT);

    oak_pid ag2 = 0;
    oak_agent_start(init_value, &one, sizeof one, NULL, &ag2, NULL);
    or_label(ag2, "agent2");
    update("update raise", ag2, exit_boom, 0);
    or_ev("alive -> %s", oak_is_alive(ag2) ? "true" : "false");

    oak_pid ag3 = 0;
    oak_agent_start(init_value, &one, sizeof one, NULL, &ag3, NULL);
    int r = oak_agent_stop(ag3, OAK_NORMAL, OAK_INFINITY, NULL);
    or_ev("stop -> %s", r == 0 ? "ok" : "error");
    oak_reason why;
    r = oak_agent_start(exit_init_failed, NULL, 0, NULL, NULL, &why);
    or_ev("start_link init_raises -> %s", or_result(r, 0, &why, NULL));

    /* An agent under a supervisor (Elixir's defaults: 3 restarts in 5 s). */
    oak_atom counter = oak_atom_from("counter");
    counter_agent = (oak_agent_spec){.init = init_value, .arg = &hundred,
                                     .size = sizeof hundred, .name = counter};
    oak_child_spec spec = {.id = counter, .start = oak_agent_start_fn,
                           .arg = &counter_agent};
    oak_supervisor_def def = {.flags = or_flags(OAK_ONE_FOR_ONE, 3, 5),
                              .children = &spec, .count = 1};
    oak_pid sup = 0;
    oak_supervisor_start(&def, OAK_GEN_LINK, &sup, NULL);
    or_label(sup, "sup");
    update("update counter plus_7", oak_whereis(counter), plus, seven);
    get("get counter", oak_whereis(counter), identity, OAK_AGENT_TIMEOUT);
    oak_pid old = oak_whereis(counter);
    oak_ref ref = oak_monitor(old);
    oak_agent_cast(old, exit_boom, NULL, 0);
    oak_msg *m = NULL;
    if (oak_receive_ref(&m, ref, 5000) == 0)
        oak_msg_free(m);
    or_settle(150);
    get("get counter_after_crash", oak_whereis(counter), identity, OAK_AGENT_TIMEOUT);
    r = oak_supervisor_stop(sup);
    or_ev("stop sup -> %s", r == 0 ? "ok" : "error");
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
