/* h01: simple_one_for_one: pid-based API, its errors, restart with the same
 * args, get_childspec, the dead-pid quirk, a spec given as start args. */
#include "oracle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static oak_pid top;

static int by_label(const void *a, const void *b)
{
    return strcmp(or_p(((const oak_child_info *)a)->pid),
                  or_p(((const oak_child_info *)b)->pid));
}

static void children_sorted(void)
{
    oak_child_info v[16];
    int n = oak_supervisor_which_children(top, v, 16);
    qsort(v, (size_t)n, sizeof *v, by_label);
    char b[1024];
    size_t o = 0;
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(b + o, sizeof b - o, "%s{undefined,%s,worker}",
                              i ? "," : "", or_p(v[i].pid));
    b[o] = '\0';
    or_ev("which_children_sorted top -> [%s]", b);
}

static void term_pid(const char *desc, oak_pid p)
{
    int r = oak_supervisor_terminate_child_pid(top, p);
    or_ev("terminate_child %s -> %s", desc, or_result(r, 0, NULL, NULL));
}

static void getspec_pid(const char *desc, oak_pid p, const char *id)
{
    oak_child_spec s;
    oak_msg *h = NULL;
    int r = id ? oak_supervisor_get_childspec(top, oak_atom_from(id), &s, &h)
               : oak_supervisor_get_childspec_pid(top, p, &s, &h);
    if (r == 0)
        or_ev("get_childspec %s -> {ok,%s}", desc, or_childspec(&s));
    else
        or_ev("get_childspec %s -> %s", desc, or_result(r, 0, NULL, NULL));
    oak_msg_free(h);
}

static void quick(void *arg) {}

static void scenario(void)
{
    static or_wopts o = {.quiet_shutdown = 1};
    oak_child_spec tmpl = {.id = oak_atom_from("tmpl"), .start = or_start_dyn,
                           .arg = &o, .arg_size = sizeof o};
    or_top("top", or_flags(OAK_SIMPLE_ONE_FOR_ONE, 5, 60), &tmpl, 1);
    top = or_pid_of("top");
    const char *ws[] = {"w1", "w2", "w3"};
    for (int i = 0; i < 3; i++) {
        oak_pid p = 0;
        oak_reason why;
        int r = oak_supervisor_start_child_args(top, ws[i], strlen(ws[i]), &p, &why);
        or_ev("start_child [%s] -> %s", ws[i], or_result(r, p, &why, NULL));
    }
    children_sorted();
    or_crash("w2", "boom");
    children_sorted();
    oak_pid w1 = or_pid_of("w1");
    term_pid("pid_of_w1", w1);
    term_pid("pid_of_w1", w1);
    int r = oak_supervisor_terminate_child(top, oak_atom_from("w3"));
    or_ev("terminate_child w3 -> %s", or_result(r, 0, NULL, NULL));
    oak_pid p = 0;
    oak_reason why;
    r = oak_supervisor_restart_child(top, oak_atom_from("w3"), &p, &why);
    or_ev("restart_child w3 -> %s", or_result(r, p, &why, NULL));
    r = oak_supervisor_delete_child(top, oak_atom_from("w3"));
    or_ev("delete_child w3 -> %s", or_result(r, 0, NULL, NULL));
    getspec_pid("pid_of_w3", or_pid_of("w3"), NULL);
    getspec_pid("tmpl", 0, "tmpl");
    getspec_pid("foo", 0, "foo");
    term_pid("live_non_child_pid", oak_self());
    oak_pid dead = 0;
    oak_spawn(quick, NULL, NULL, &dead);
    or_settle(50);
    term_pid("dead_non_child_pid", dead);
    or_show_counts("top");
    oak_child_spec z = or_w("z");
    r = oak_supervisor_start_child(top, &z, &p, &why);
    or_ev("start_child map_spec -> %s", or_result(r, p, &why, NULL));
    oak_ref r2 = or_watch(or_pid_of("w2")), r3 = or_watch(or_pid_of("w3"));
    or_stop_top("top", "shutdown");
    or_await_down(r2, "w2");
    or_await_down(r3, "w3");
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
