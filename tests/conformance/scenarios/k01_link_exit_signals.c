/* k01_link_exit_signals: the exit-signal table over links, with plain
 * processes (no behaviours). In each case a process b (trapping exits or
 * not) is linked to a process a; a ends with a reason, or the driver sends b
 * an exit signal itself. Printed: what b received as a message, or how b
 * died. Then kill versus killed, exit(self(), normal), link to a dead
 * process, unlink, and a spawn_link'ed child crashing under a trapping
 * parent. */
#include "oracle.h"

#include <string.h>

static oak_atom A(const char *s) { return oak_atom_from(s); }

static bool tag_is(const oak_msg *m, void *tag) { return m->tag == (uint64_t)(uintptr_t)tag; }

/* Wait for a message with this tag (from anyone). */
static void await_tag(const char *tag)
{
    oak_msg *m = NULL;
    if (oak_receive(&m, 5000, tag_is, (void *)(uintptr_t)A(tag)) == 0)
        oak_msg_free(m);
    else
        or_ev("no_%s", tag);
}

/* b: print every EXIT message until told to stop. */
static void b_loop(void)
{
    for (;;) {
        oak_msg *m = NULL;
        oak_receive(&m, OAK_INFINITY, NULL, NULL);
        if (m->tag == OAK_TAG_EXIT) {
            const oak_down *d = m->data;
            oak_reason r;
            oak_reason_set(&r, d->reason, d->detail);
            or_ev("b_got {'EXIT',%s,%s}", or_p(m->from), or_r(&r));
        } else if (m->tag == A("stop")) {
            oak_msg_free(m);
            return;
        }
        oak_msg_free(m);
    }
}

typedef struct peer {
    oak_pid driver; /* to tell it we are ready */
    oak_pid other;  /* b for a; the dead process for link_to_dead */
    bool trap;
} peer;

static void b_main(void *arg)
{
    const peer *a = arg;
    oak_trap_exit(a->trap);
    oak_send(a->driver, A("ready"), NULL, 0);
    b_loop();
}

static oak_pid spawn_b(bool trap)
{
    peer a = {.driver = oak_self(), .trap = trap};
    oak_spawn_opts o = {.arg_size = sizeof a};
    oak_pid b = OAK_NOPID;
    oak_spawn(b_main, &a, &o, &b);
    or_label(b, "b");
    await_tag("ready");
    return b;
}

/* a: link to b, then exit with the reason it is sent. */
static void a_main(void *arg)
{
    const peer *a = arg;
    oak_link(a->other);
    oak_send(a->driver, A("ready"), NULL, 0);
    oak_msg *m = NULL;
    oak_receive(&m, OAK_INFINITY, tag_is, (void *)(uintptr_t)A("exit_with"));
    oak_reason r = or_reason((const char *)m->data);
    oak_msg_free(m);
    oak_exit_detail(r.atom, oak_reason_detail(&r));
}

static oak_pid spawn_a(oak_pid b)
{
    peer a = {.driver = oak_self(), .other = b};
    oak_spawn_opts o = {.arg_size = sizeof a};
    oak_pid pid = OAK_NOPID;
    oak_spawn(a_main, &a, &o, &pid);
    or_label(pid, "a");
    await_tag("ready");
    return pid;
}

/* b died within 300 ms (and how), or is alive: then stop it. */
static void outcome(const char *name, oak_pid b, oak_ref ref)
{
    oak_msg *m = NULL;
    if (oak_receive_ref(&m, ref, 300) == 0) {
        const oak_down *d = m->data;
        oak_reason r;
        oak_reason_set(&r, d->reason, d->detail);
        or_ev("%s died %s", name, or_r(&r));
        oak_msg_free(m);
        return;
    }
    or_ev("%s alive", name);
    oak_send(b, A("stop"), NULL, 0);
    if (oak_receive_ref(&m, ref, 5000) == 0)
        oak_msg_free(m);
}

static void linked_case(const char *name, bool trap, const char *reason)
{
    oak_pid b = spawn_b(trap);
    oak_ref ref = oak_monitor(b);
    oak_pid a = spawn_a(b);
    oak_send(a, A("exit_with"), reason, strlen(reason) + 1);
    outcome(name, b, ref);
}

static void direct_case(const char *name, bool trap, oak_atom signal)
{
    oak_pid b = spawn_b(trap);
    oak_ref ref = oak_monitor(b);
    oak_exit_pid(b, signal);
    outcome(name, b, ref);
}

static void exit_self_normal(void *arg)
{
    oak_exit_pid(oak_self(), OAK_NORMAL);
    oak_sleep(1000);
}

static void quick(void *arg) {}

static void link_to_dead_trap(void *arg)
{
    const peer *a = arg;
    oak_trap_exit(true);
    oak_link(a->other);
    b_loop();
}

static void link_to_dead_nontrap(void *arg)
{
    const peer *a = arg;
    int rc = oak_link(a->other);
    or_ev("link_returned %s", rc == -ESRCH ? "{'EXIT',{noproc,_}}" : rc == 0 ? "true" : "?");
    oak_sleep(1000);
}

static void unlink_then_boom(void *arg)
{
    const peer *a = arg;
    oak_link(a->other);
    oak_send(a->driver, A("ready"), NULL, 0);
    oak_msg *m = NULL;
    oak_receive(&m, OAK_INFINITY, tag_is, (void *)(uintptr_t)A("go"));
    oak_msg_free(m);
    oak_unlink(a->other);
    oak_exit(A("boom"));
}

static void child_boom(void *arg) { oak_exit(A("child_boom")); }

static void trapping_parent(void *arg)
{
    oak_trap_exit(true);
    oak_spawn_opts o = {.flags = OAK_SPAWN_LINK};
    oak_pid c = OAK_NOPID;
    oak_spawn(child_boom, NULL, &o, &c);
    or_label(c, "child");
    b_loop();
}

static oak_pid spawn_with(oak_entry fn, const peer *a, unsigned flags)
{
    oak_spawn_opts o = {.flags = flags, .arg_size = a ? sizeof *a : 0};
    oak_pid pid = OAK_NOPID;
    oak_spawn(fn, (void *)a, &o, &pid);
    return pid;
}

static void scenario(void)
{
    linked_case("link_normal_nontrap", false, "normal");
    linked_case("link_normal_trap", true, "normal");
    linked_case("link_boom_nontrap", false, "boom");
    linked_case("link_boom_trap", true, "boom");
    linked_case("link_shutdown_nontrap", false, "shutdown");
    linked_case("link_kill_reason_nontrap", false, "kill");
    linked_case("link_kill_reason_trap", true, "kill");
    direct_case("exit2_normal_nontrap", false, OAK_NORMAL);
    direct_case("exit2_normal_trap", true, OAK_NORMAL);
    direct_case("exit2_boom_nontrap", false, A("boom"));
    direct_case("exit2_boom_trap", true, A("boom"));
    direct_case("exit2_kill_nontrap", false, OAK_KILL);
    direct_case("exit2_kill_trap", true, OAK_KILL);

    /* A process killed with exit(P, kill): its links see `killed`. */
    oak_pid b = spawn_b(true);
    oak_ref ref = oak_monitor(b);
    oak_exit_pid(spawn_a(b), OAK_KILL);
    outcome("killed_propagates_as_killed_trap", b, ref);
    b = spawn_b(false);
    ref = oak_monitor(b);
    oak_exit_pid(spawn_a(b), OAK_KILL);
    outcome("killed_propagates_as_killed_nontrap", b, ref);

    /* exit(self(), normal) in a process that does not trap exits. */
    oak_spawn_opts o = {.flags = OAK_SPAWN_MONITOR};
    oak_pid s = OAK_NOPID;
    oak_spawn(exit_self_normal, NULL, &o, &s);
    outcome("exit_self_normal_nontrap", s, o.monitor_ref);

    /* Link to a dead process. */
    oak_pid dead = spawn_with(quick, NULL, 0);
    or_label(dead, "dead");
    or_settle(20);
    peer d = {.driver = oak_self(), .other = dead};
    oak_pid t = spawn_with(link_to_dead_trap, &d, 0);
    or_label(t, "b");
    ref = oak_monitor(t);
    outcome("link_to_dead_trap", t, ref);
    oak_pid n = spawn_with(link_to_dead_nontrap, &d, 0);
    ref = oak_monitor(n);
    outcome("link_to_dead_nontrap", n, ref);

    /* unlink prevents the propagation. */
    b = spawn_b(false);
    ref = oak_monitor(b);
    peer u = {.driver = oak_self(), .other = b};
    oak_pid a3 = spawn_with(unlink_then_boom, &u, 0);
    or_label(a3, "a");
    await_tag("ready");
    oak_send(a3, A("go"), NULL, 0);
    outcome("unlinked_then_boom", b, ref);

    /* spawn_link: the child's crash reaches a trapping parent as a message. */
    oak_pid p = spawn_with(trapping_parent, NULL, 0);
    or_label(p, "b");
    ref = oak_monitor(p);
    outcome("spawn_link_child_crash_trap", p, ref);
}

int main(void) { return or_run(scenario, 0); }
