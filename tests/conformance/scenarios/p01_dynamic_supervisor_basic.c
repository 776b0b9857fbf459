/* p01: DynamicSupervisor: start_child with its own specs, max_children,
 * restart types, terminate_child by pid, the error shapes of start_child
 * (exits not wrapped in 'EXIT'), spec validation (shutdown must be > 0),
 * ignore, a child whose restart returns ignore is dropped, stop.
 *
 * Two Erlang values have no C form, and the scenario gives their C
 * stand-ins: the restart type `sometimes` is the out-of-range enum value
 * SOMETIMES, which the supervisor reports as its number; and the start MFA
 * {m,f,x} is a spec with no start function whose name text is "{m,f,x}"
 * (the supervisor reports a start it cannot run by that text). */
#include "oracle.h"

#include <stdio.h>
#include <string.h>

#define SOMETIMES ((oak_restart)7)

static oak_pid dsup;

static void counts(void)
{
    oak_child_counts k = {0};
    oak_supervisor_count_children(dsup, &k);
    or_ev("count_children -> #{active=>%zu,specs=>%zu,supervisors=>%zu,workers=>%zu}",
          k.active, k.specs, k.supervisors, k.workers);
}

static void which(void)
{
    oak_child_info v[16];
    int n = oak_supervisor_which_children(dsup, v, 16);
    char b[1024];
    size_t o = 0;
    for (int i = 0; i < n && i < 16; i++)
        o += (size_t)snprintf(b + o, sizeof b - o, "%s{undefined,%s,%s}",
                              i ? "," : "", or_p(v[i].pid),
                              v[i].type == OAK_SUPERVISOR ? "supervisor" : "worker");
    b[o] = '\0';
    or_ev("which_children -> [%s]", b);
}

/* DynamicSupervisor's results: ignore is a plain `ignore`. */
static const char *dyn_result(int r, oak_pid p, const oak_reason *why)
{
    if (r == OAK_IGNORED)
        return "ignore";
    const char *s = or_result(r, p, why, NULL);
    /* The stand-in for the atom `sometimes` (see the top of the file). */
    static char b[256];
    char num[64];
    snprintf(num, sizeof num, "{invalid_restart_type,%d}", (int)SOMETIMES);
    const char *at = strstr(s, num);
    if (!at)
        return s;
    snprintf(b, sizeof b, "%.*s{invalid_restart_type,sometimes}%s",
             (int)(at - s), s, at + strlen(num));
    return b;
}

static void start_child(const char *desc, oak_child_spec spec)
{
    oak_pid p = 0;
    oak_reason why;
    int r = oak_supervisor_start_child(dsup, &spec, &p, &why);
    or_ev("start_child %s -> %s", desc, dyn_result(r, p, &why));
}

static oak_child_spec w_restart(const char *id, oak_restart restart)
{
    oak_child_spec s = or_w(id);
    s.restart = restart;
    return s;
}

static void terminate(const char *desc, oak_pid p)
{
    int r = oak_supervisor_terminate_child_pid(dsup, p);
    or_ev("terminate_child %s -> %s", desc, or_result(r, 0, NULL, NULL));
}

static void scenario(void)
{
    oak_supervisor_def def = {.flags = or_flags(OAK_DYNAMIC, 3, 5),
                              .max_children = 3};
    oak_supervisor_start(&def, OAK_GEN_LINK, &dsup, NULL);
    or_label(dsup, "dsup");
    oak_ref ref = or_watch(dsup);

    start_child("a", or_w("a"));
    start_child("b_temporary", w_restart("b", OAK_TEMPORARY));
    start_child("c_transient", w_restart("c", OAK_TRANSIENT));
    start_child("d", or_w("d"));
    counts();
    or_crash("a", "boom");
    or_crash("b", "boom");
    or_exit_child("c", "normal");
    counts();
    which();
    oak_pid a = or_pid_of("a");
    terminate("pid_of_a", a);
    terminate("pid_of_a", a);
    terminate("non_child_pid", oak_self());

    const char *ignore[] = {"ignore"};
    or_set_script("e", 1, ignore);
    start_child("e_ignore", or_w("e"));
    const char *stop[] = {"stop:nope"};
    or_set_script("e", 1, stop);
    start_child("e_init_stop", or_w("e"));
    const char *raise[] = {"raise:bang"};
    or_set_script("e", 1, raise);
    start_child("e_start_fn_exit", or_w("e"));
    const char *garbage[] = {"return:foo"};
    or_set_script("e", 1, garbage);
    start_child("e_returns_garbage", or_w("e"));

    oak_child_spec f = or_w("f");
    f.shutdown = OAK_SHUTDOWN_ZERO;
    start_child("shutdown_0", f);
    start_child("bad_restart", w_restart("f", SOMETIMES));
    oak_child_spec bad_mfa = {.id = oak_atom_from("f"), .name = "{m,f,x}"};
    start_child("bad_mfa", bad_mfa);
    oak_child_spec g = or_w("g"); /* the tuple form of the same spec */
    g.shutdown = 5000;
    start_child("tuple_spec", g);

    const char *h[] = {"ok", "ignore"};
    or_set_script("h", 2, h);
    start_child("h", or_w("h"));
    or_crash("h", "boom");
    counts();
    int r = oak_supervisor_stop(dsup);
    or_ev("stop dsup -> %s", r == 0 ? "ok" : or_result(r, 0, NULL, NULL));
    or_await_sup(ref, "dsup");
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
