/* k02_monitors: the DOWN message and its reasons; noproc for a dead pid and
 * for an unregistered name; one DOWN per monitor; demonitor with flush and
 * with info; monitors are one-way (the watcher's death leaves the target
 * alone). */
#include "oracle.h"

#include <stdio.h>
#include <string.h>

static oak_atom A(const char *s) { return oak_atom_from(s); }

/* {'DOWN',Which,process,Object,Reason} for a DOWN message. */
static const char *down_term(const oak_msg *m, const char *which)
{
    static char buf[4][512];
    static int i;
    char *b = buf[i++ % 4];
    const oak_down *d = m->data;
    oak_reason r;
    oak_reason_set(&r, d->reason, d->detail);
    char obj[128];
    if (d->name)
        snprintf(obj, sizeof obj, "{%s,nonode@nohost}", oak_atom_name(d->name));
    else
        snprintf(obj, sizeof obj, "%s", or_p(m->from));
    snprintf(b, 512, "{'DOWN',%s,process,%s,%s}", which, obj, or_r(&r));
    return b;
}

/* receive {'DOWN', Ref, ...} after Ms -> none */
static const char *await_down(oak_ref ref, int64_t ms, const char *which)
{
    oak_msg *m = NULL;
    if (oak_receive_ref(&m, ref, ms) != 0)
        return "none";
    const char *t = down_term(m, which);
    oak_msg_free(m);
    return t;
}

/* receive {exit, R} -> exit(R) end */
static void exit_on_request(void *arg)
{
    oak_msg *m = NULL;
    oak_receive(&m, OAK_INFINITY, NULL, NULL);
    oak_reason r = or_reason((const char *)m->data);
    oak_msg_free(m);
    oak_exit_detail(r.atom, oak_reason_detail(&r));
}

static void registered_target(void *arg)
{
    oak_register(A("target"), oak_self());
    exit_on_request(arg);
}

static void send_exit(oak_pid p, const char *reason)
{
    oak_send(p, A("exit"), reason, strlen(reason) + 1);
}

static oak_pid spawn_target(oak_entry fn, const char *label)
{
    oak_pid p = OAK_NOPID;
    oak_spawn(fn, NULL, NULL, &p);
    or_label(p, label);
    return p;
}

static void quick(void *arg) {}

static void watcher(void *arg)
{
    oak_monitor(*(const oak_pid *)arg);
    oak_msg *m = NULL;
    oak_receive(&m, OAK_INFINITY, NULL, NULL); /* die */
    oak_msg_free(m);
    oak_exit(A("boom"));
}

static const char *tf(int v) { return v ? "true" : "false"; }

static void scenario(void)
{
    oak_pid dead = spawn_target(quick, "dead");
    or_settle(20);
    oak_ref r1 = oak_monitor(dead);
    or_ev("monitor_dead_pid -> %s", await_down(r1, 500, "ref"));
    oak_ref r2 = oak_monitor_name(A("no_such_name"));
    or_ev("monitor_unregistered_name -> %s", await_down(r2, 500, "ref"));

    oak_pid t = spawn_target(registered_target, "target");
    or_settle(20);
    oak_ref ra = oak_monitor(t), rb = oak_monitor(t);
    oak_ref rc = oak_monitor_name(A("target"));
    send_exit(t, "boom");
    or_settle(50);
    const char *da = await_down(ra, 100, "ref_a");
    const char *db = await_down(rb, 100, "ref_b");
    const char *dc = await_down(rc, 100, "ref_c_by_name");
    or_ev("down_messages -> [%s,%s,%s]", da, db, dc);

    oak_pid t2 = spawn_target(exit_on_request, "target2");
    oak_ref r3 = oak_monitor(t2);
    send_exit(t2, "normal");
    or_settle(50);
    int f = oak_demonitor(r3, OAK_DEMONITOR_FLUSH);
    or_ev("demonitor_flush -> {%s,%s}", f == 0 ? "true" : "?", or_mailbox());

    oak_pid t3 = spawn_target(exit_on_request, "target3");
    oak_ref r4 = oak_monitor(t3);
    or_ev("demonitor_info_active -> %s", tf(oak_demonitor(r4, OAK_DEMONITOR_INFO)));
    send_exit(t3, "normal");
    or_settle(50);
    or_ev("mailbox_after_demonitor -> %s", or_mailbox());

    oak_ref r5 = oak_monitor(dead);
    or_settle(20);
    or_ev("demonitor_info_after_down -> %s", tf(oak_demonitor(r5, OAK_DEMONITOR_INFO)));
    or_ev("mailbox -> %s", or_mailbox());

    oak_pid t4 = spawn_target(exit_on_request, "target4");
    oak_pid w = OAK_NOPID;
    oak_spawn_opts o = {.arg_size = sizeof t4};
    oak_spawn(watcher, &t4, &o, &w);
    or_settle(20);
    oak_send(w, A("die"), NULL, 0);
    or_settle(50);
    or_ev("target_alive_after_watcher_died -> %s", tf(oak_is_alive(t4)));
    oak_ref r6 = oak_monitor(t4);
    oak_exit_pid(t4, OAK_KILL);
    or_ev("down_after_kill -> %s", await_down(r6, 500, "ref"));
}

int main(void) { return or_run(scenario, 0); }
