/* test_monitors.c - monitors as OTP 25 has them (SEMANTICS.md section 2,
 * scenario k02_monitors): the DOWN message's shape and reasons, noproc for a
 * dead pid or an unregistered name, one DOWN per monitor, demonitor with
 * flush and info, monitors being one-way.
 */
#include "oak_test.h"

static oak_atom boom(void) { return oak_atom_from("boom"); }

/* A target: optionally registers a name (arg: the atom, 0 for none), says
 * READY to the driver (its first message's sender), and ends with the
 * reason carried by the next EXIT_WITH message (a payload {atom, detail}). */
typedef struct target_arg {
    oak_pid driver;
    oak_atom name;
} target_arg;

typedef struct exit_with {
    oak_atom reason;
    char detail[64];
} exit_with;

enum { TAG_EXIT_WITH = 2001, TAG_UNREGISTER, TAG_INFO };

static void target(void *arg)
{
    target_arg a = *(target_arg *)arg;
    if (a.name)
        OT_CHECK_INT_EQ(oak_register(a.name, oak_self()), 0);
    OT_SEND_U64(a.driver, OT_TAG_READY, oak_self());
    for (;;) {
        oak_msg *m = OT_RECV_ANY(OAK_INFINITY);
        if (m->tag == TAG_EXIT_WITH) {
            exit_with e;
            memcpy(&e, m->data, sizeof e);
            oak_msg_free(m);
            oak_exit_detail(e.reason, e.detail[0] ? e.detail : NULL);
        } else if (m->tag == TAG_UNREGISTER) {
            OT_CHECK_INT_EQ(oak_unregister(a.name), 0);
            OT_SEND_U64(a.driver, OT_TAG_DONE, 0);
        } else if (m->tag == TAG_INFO) {
            oak_process_info info;
            OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
            OT_SEND_U64(a.driver, OT_TAG_REPORT, info.monitored_by);
        }
        if (m->tag != TAG_EXIT_WITH)
            oak_msg_free(m);
    }
}

static oak_pid start_target(oak_atom name)
{
    target_arg a = {oak_self(), name};
    oak_pid t = OT_SPAWN_COPY(target, &a, 0);
    OT_CHECK_UINT_EQ(OT_RECV_U64(OT_TAG_READY, OT_LONG_MS), t);
    return t;
}

static void tell_exit(oak_pid t, oak_atom reason, const char *detail)
{
    exit_with e;
    memset(&e, 0, sizeof e);
    e.reason = reason;
    if (detail)
        snprintf(e.detail, sizeof e.detail, "%s", detail);
    OT_SEND(t, TAG_EXIT_WITH, &e, sizeof e);
}

/* ---- the DOWN message ------------------------------------------------------------- */

static void down_shape_main(void *arg)
{
    (void)arg;
    oak_pid t = start_target(0);
    oak_ref ref = oak_monitor(t);
    OT_CHECK_UINT_NE(ref, 0);
    tell_exit(t, boom(), NULL);

    ot_ref_match w = {OAK_TAG_DOWN, ref};
    oak_msg *m = NULL;
    OT_CHECK_INT_EQ(oak_receive(&m, OT_LONG_MS, ot_match_tag_ref, &w), 0);
    OT_CHECK_UINT_EQ(m->tag, OAK_TAG_DOWN);
    OT_CHECK_UINT_EQ(m->ref, ref);
    OT_CHECK_UINT_EQ(m->from, t);
    OT_CHECK_INT_GE(m->size, sizeof(oak_down));
    OT_CHECK_INT_EQ((uintptr_t)m->data % 16, 0);
    const oak_down *d = m->data;
    OT_CHECK_ATOM_EQ(d->reason, boom());
    OT_CHECK_ATOM_EQ(d->name, OAK_ATOM_NONE);
    OT_CHECK(d->detail == NULL);
    oak_msg_free(m);
    OT_CHECK(!oak_is_alive(t));
    OT_NO_MSG(0, OT_SETTLE_MS);
}

static void down_message_has_tag_ref_from_and_reason(void **state)
{
    (void)state;
    OT_RUN(down_shape_main, NULL);
}

static void down_normal_main(void *arg)
{
    (void)arg;
    oak_ref r = 0;
    oak_pid p = OT_SPAWN_MONITOR(ot_body_return, NULL, 0, &r);
    ot_signal d = OT_RECV_DOWN(r, OT_LONG_MS);
    OT_CHECK_UINT_EQ(d.tag, OAK_TAG_DOWN);
    OT_CHECK_UINT_EQ(d.from, p);
    OT_CHECK_ATOM_EQ(d.reason, OAK_NORMAL);
    OT_CHECK(!d.has_detail);
}

static void process_returning_from_its_entry_gives_down_normal(void **state)
{
    (void)state;
    OT_RUN(down_normal_main, NULL);
}

static void down_detail_main(void *arg)
{
    (void)arg;
    oak_pid t = start_target(0);
    oak_ref ref = oak_monitor(t);
    tell_exit(t, OAK_SHUTDOWN, "{tcp_closed,3}");
    ot_signal d = OT_RECV_DOWN(ref, OT_LONG_MS);
    OT_CHECK_ATOM_EQ(d.reason, OAK_SHUTDOWN);
    OT_CHECK(d.has_detail);
    OT_CHECK_STR_EQ(d.detail, "{tcp_closed,3}");
}

static void down_carries_the_exit_detail(void **state)
{
    (void)state;
    OT_RUN(down_detail_main, NULL);
}

/* ---- noproc -------------------------------------------------------------------------- */

static void monitor_dead_main(void *arg)
{
    (void)arg;
    oak_pid dead = OT_DEAD_PID();
    oak_ref ref = oak_monitor(dead);
    OT_CHECK_UINT_NE(ref, 0);
    ot_signal d = OT_RECV_DOWN(ref, OT_LONG_MS);
    OT_CHECK_UINT_EQ(d.from, dead);
    OT_CHECK_ATOM_EQ(d.reason, OAK_NOPROC);
    OT_CHECK_ATOM_EQ(d.name, OAK_ATOM_NONE);
    OT_CHECK(!d.has_detail);
    OT_NO_MSG(0, OT_SETTLE_MS);
}

static void monitor_of_dead_pid_gives_noproc_down(void **state)
{
    (void)state;
    OT_RUN(monitor_dead_main, NULL);
}

static void monitor_unregistered_main(void *arg)
{
    (void)arg;
    oak_atom name = oak_atom_from("no_such_name");
    OT_CHECK_UINT_EQ(oak_whereis(name), OAK_NOPID);
    oak_ref ref = oak_monitor_name(name);
    OT_CHECK_UINT_NE(ref, 0);
    ot_signal d = OT_RECV_DOWN(ref, OT_LONG_MS);
    OT_CHECK_UINT_EQ(d.from, OAK_NOPID);
    OT_CHECK_ATOM_EQ(d.reason, OAK_NOPROC);
    OT_CHECK_ATOM_EQ(d.name, name);
    OT_NO_MSG(0, OT_SETTLE_MS);
}

static void monitor_of_unregistered_name_gives_noproc_down_with_the_name(void **state)
{
    (void)state;
    OT_RUN(monitor_unregistered_main, NULL);
}

/* ---- one DOWN per monitor --------------------------------------------------------------- */

static void each_monitor_main(void *arg)
{
    (void)arg;
    oak_atom name = oak_atom_from("target");
    oak_pid t = start_target(name);
    OT_CHECK_UINT_EQ(oak_whereis(name), t);
    oak_ref ra = oak_monitor(t);
    oak_ref rb = oak_monitor(t);
    oak_ref rc = oak_monitor_name(name);
    OT_CHECK_UINT_NE(ra, 0);
    OT_CHECK_UINT_NE(rb, 0);
    OT_CHECK_UINT_NE(rc, 0);
    OT_CHECK_UINT_NE(ra, rb);
    OT_CHECK_UINT_NE(rb, rc);
    OT_CHECK_UINT_NE(ra, rc);
    tell_exit(t, boom(), NULL);

    ot_signal a = OT_RECV_DOWN(ra, OT_LONG_MS);
    ot_signal b = OT_RECV_DOWN(rb, OT_LONG_MS);
    ot_signal c = OT_RECV_DOWN(rc, OT_LONG_MS);
    OT_CHECK_UINT_EQ(a.from, t);
    OT_CHECK_ATOM_EQ(a.reason, boom());
    OT_CHECK_ATOM_EQ(a.name, OAK_ATOM_NONE);
    OT_CHECK_UINT_EQ(b.from, t);
    OT_CHECK_ATOM_EQ(b.reason, boom());
    OT_CHECK_ATOM_EQ(b.name, OAK_ATOM_NONE);
    OT_CHECK_UINT_EQ(c.from, t);
    OT_CHECK_ATOM_EQ(c.reason, boom());
    OT_CHECK_ATOM_EQ(c.name, name);
    OT_NO_MSG(0, OT_SETTLE_MS);
}

static void each_monitor_gets_its_own_down_and_name_monitor_carries_the_name(void **state)
{
    (void)state;
    OT_RUN(each_monitor_main, NULL);
}

static void many_monitors_main(void *arg)
{
    (void)arg;
    enum { N = 200 };
    oak_pid t = start_target(0);
    static oak_ref refs[N];
    for (int i = 0; i < N; i++) {
        refs[i] = oak_monitor(t);
        OT_CHECK_UINT_NE(refs[i], 0);
    }
    tell_exit(t, boom(), NULL);
    /* Take them newest first: each is there exactly once. */
    for (int i = N - 1; i >= 0; i--) {
        ot_signal d = OT_RECV_DOWN(refs[i], OT_LONG_MS);
        OT_CHECK_ATOM_EQ(d.reason, boom());
    }
    OT_NO_MSG(0, OT_SETTLE_MS);
}

static void many_monitors_on_one_target_each_fire_once(void **state)
{
    (void)state;
    OT_RUN(many_monitors_main, NULL);
}

/* A monitor on a name follows the process that had the name when the
 * monitor was made, not the name. */
static void name_follow_main(void *arg)
{
    (void)arg;
    oak_atom name = oak_atom_from("svc");
    oak_pid t1 = start_target(name);
    oak_ref r = oak_monitor_name(name);
    OT_SEND_U64(t1, TAG_UNREGISTER, 0);
    oak_msg_free(OT_RECV_TAG(OT_TAG_DONE, OT_LONG_MS));
    oak_pid t2 = start_target(name);
    OT_CHECK_UINT_EQ(oak_whereis(name), t2);
    oak_ref r2 = oak_monitor(t2);

    tell_exit(t2, OAK_SHUTDOWN, NULL);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r2, OT_LONG_MS).reason, OAK_SHUTDOWN);
    uint64_t down = OAK_TAG_DOWN;
    OT_NO_MSG(down, OT_SETTLE_MS);

    tell_exit(t1, boom(), NULL);
    ot_signal d = OT_RECV_DOWN(r, OT_LONG_MS);
    OT_CHECK_UINT_EQ(d.from, t1);
    OT_CHECK_ATOM_EQ(d.name, name);
    OT_CHECK_ATOM_EQ(d.reason, boom());
}

static void name_monitor_follows_the_process_registered_when_it_was_made(void **state)
{
    (void)state;
    OT_RUN(name_follow_main, NULL);
}

/* ---- demonitor ------------------------------------------------------------------------------ */

static void demonitor_main(void *arg)
{
    (void)arg;
    oak_pid t = start_target(0);
    oak_ref r1 = oak_monitor(t);
    oak_ref r2 = oak_monitor(t);
    OT_CHECK_INT_EQ(oak_demonitor(r1, 0), 0);
    tell_exit(t, boom(), NULL);
    /* The other monitor still fires: the target did die. */
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r2, OT_LONG_MS).reason, boom());
    OT_NO_MSG(0, OT_SETTLE_MS);
}

static void demonitor_stops_the_down_message(void **state)
{
    (void)state;
    OT_RUN(demonitor_main, NULL);
}

static void flush_main(void *arg)
{
    (void)arg;
    oak_pid t = start_target(0);
    oak_ref r = oak_monitor(t);
    tell_exit(t, OAK_NORMAL, NULL);
    /* Wait until the DOWN is in the mailbox, without taking it. */
    OT_EVENTUALLY(oak_message_count() == 1, OT_LONG_MS);
    OT_CHECK_INT_EQ(oak_demonitor(r, OAK_DEMONITOR_FLUSH), 0);
    OT_CHECK_INT_EQ(oak_message_count(), 0);
    OT_NO_MSG(0, OT_SETTLE_MS);

    /* flush + info on a monitor that already fired: 0, and flushed. */
    oak_pid t2 = start_target(0);
    oak_ref r2 = oak_monitor(t2);
    tell_exit(t2, boom(), NULL);
    OT_EVENTUALLY(oak_message_count() == 1, OT_LONG_MS);
    OT_CHECK_INT_EQ(oak_demonitor(r2, OAK_DEMONITOR_FLUSH | OAK_DEMONITOR_INFO), 0);
    OT_CHECK_INT_EQ(oak_message_count(), 0);

    /* flush on an active monitor: removed, and no DOWN comes later. */
    oak_pid t3 = start_target(0);
    oak_ref r3 = oak_monitor(t3);
    OT_CHECK_INT_EQ(oak_demonitor(r3, OAK_DEMONITOR_FLUSH | OAK_DEMONITOR_INFO), 1);
    tell_exit(t3, boom(), NULL);
    OT_NO_MSG(0, OT_SETTLE_MS);
}

static void demonitor_flush_removes_a_down_already_received(void **state)
{
    (void)state;
    OT_RUN(flush_main, NULL);
}

static void info_active_main(void *arg)
{
    (void)arg;
    oak_pid t = start_target(0);
    oak_ref r = oak_monitor(t);
    OT_CHECK_INT_EQ(oak_demonitor(r, OAK_DEMONITOR_INFO), 1);
    /* A second demonitor finds nothing. */
    OT_CHECK_INT_EQ(oak_demonitor(r, OAK_DEMONITOR_INFO), 0);
    tell_exit(t, OAK_NORMAL, NULL);
    OT_NO_MSG(0, OT_SETTLE_MS);
    OT_CHECK_INT_EQ(oak_message_count(), 0);
}

static void demonitor_info_returns_1_for_an_active_monitor(void **state)
{
    (void)state;
    OT_RUN(info_active_main, NULL);
}

static void info_after_down_main(void *arg)
{
    (void)arg;
    oak_pid dead = OT_DEAD_PID();
    oak_ref r = oak_monitor(dead);
    OT_EVENTUALLY(oak_message_count() == 1, OT_LONG_MS);
    OT_CHECK_INT_EQ(oak_demonitor(r, OAK_DEMONITOR_INFO), 0);
    /* Without flush the DOWN stays in the mailbox. */
    OT_CHECK_INT_EQ(oak_message_count(), 1);
    ot_signal d = OT_RECV_DOWN(r, 0);
    OT_CHECK_UINT_EQ(d.from, dead);
    OT_CHECK_ATOM_EQ(d.reason, OAK_NOPROC);
}

static void demonitor_info_returns_0_after_down_and_the_down_stays(void **state)
{
    (void)state;
    OT_RUN(info_after_down_main, NULL);
}

static void unknown_ref_main(void *arg)
{
    (void)arg;
    oak_ref r = oak_make_ref();
    OT_CHECK_INT_EQ(oak_demonitor(r, 0), 0);
    OT_CHECK_INT_EQ(oak_demonitor(r, OAK_DEMONITOR_INFO), 0);
    OT_CHECK_INT_EQ(oak_demonitor(r, OAK_DEMONITOR_FLUSH | OAK_DEMONITOR_INFO), 0);
}

static void demonitor_of_unknown_ref_returns_0(void **state)
{
    (void)state;
    OT_RUN(unknown_ref_main, NULL);
}

/* ---- monitors are one-way ----------------------------------------------------------------- */

static void watcher(void *arg)
{
    oak_pid t = *(oak_pid *)arg;
    OT_CHECK_UINT_NE(oak_monitor(t), 0);
    oak_exit(boom());
}

static void one_way_main(void *arg)
{
    (void)arg;
    oak_pid t = start_target(0);
    oak_ref wr = 0;
    OT_SPAWN_COPY_MONITOR(watcher, &t, 0, &wr);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(wr, OT_LONG_MS).reason, boom());
    oak_sleep(OT_SETTLE_MS);
    OT_CHECK(oak_is_alive(t));

    oak_ref r = oak_monitor(t);
    OT_CHECK_INT_EQ(oak_exit_pid(t, OAK_KILL), 0);
    ot_signal d = OT_RECV_DOWN(r, OT_LONG_MS);
    OT_CHECK_UINT_EQ(d.from, t);
    OT_CHECK_ATOM_EQ(d.reason, OAK_KILLED);
}

static void monitors_are_one_way_and_killed_target_gives_down_killed(void **state)
{
    (void)state;
    OT_RUN(one_way_main, NULL);
}

static void kill_reason_main(void *arg)
{
    (void)arg;
    oak_pid t = start_target(0);
    oak_ref r = oak_monitor(t);
    tell_exit(t, OAK_KILL, NULL);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, OAK_KILL);
}

static void target_ending_with_reason_kill_gives_down_kill(void **state)
{
    (void)state;
    OT_RUN(kill_reason_main, NULL);
}

/* ---- spawn with a monitor ------------------------------------------------------------------ */

static void spawn_monitor_main(void *arg)
{
    (void)arg;
    oak_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.flags = OAK_SPAWN_MONITOR;
    oak_pid p = OAK_NOPID;
    /* The child ends before it could possibly be monitored afterwards: the
     * monitor must have been set up with the spawn. */
    OT_CHECK_INT_EQ(oak_spawn(ot_body_return, NULL, &o, &p), 0);
    OT_CHECK_UINT_NE(o.monitor_ref, 0);
    ot_signal d = OT_RECV_DOWN(o.monitor_ref, OT_LONG_MS);
    OT_CHECK_UINT_EQ(d.from, p);
    OT_CHECK_ATOM_EQ(d.reason, OAK_NORMAL);

    memset(&o, 0, sizeof o);
    o.flags = OAK_SPAWN_MONITOR | OAK_SPAWN_LINK;
    oak_trap_exit(true);
    OT_CHECK_INT_EQ(oak_spawn(ot_body_return, NULL, &o, &p), 0);
    OT_CHECK_UINT_NE(o.monitor_ref, 0);
    d = OT_RECV_DOWN(o.monitor_ref, OT_LONG_MS);
    OT_CHECK_ATOM_EQ(d.reason, OAK_NORMAL);
    ot_signal e = OT_RECV_EXIT(OT_LONG_MS);
    OT_CHECK_UINT_EQ(e.from, p);
    OT_CHECK_ATOM_EQ(e.reason, OAK_NORMAL);
}

static void spawn_monitor_returns_the_ref_in_opts_and_the_down_uses_it(void **state)
{
    (void)state;
    OT_RUN(spawn_monitor_main, NULL);
}

/* ---- counts in oak_process_info ------------------------------------------------------------ */

static uint64_t ask_monitored_by(oak_pid t)
{
    OT_SEND_U64(t, TAG_INFO, 0);
    return OT_RECV_U64(OT_TAG_REPORT, OT_LONG_MS);
}

static void info_counts_main(void *arg)
{
    (void)arg;
    oak_process_info info;
    oak_pid t = start_target(0);
    oak_ref r1 = oak_monitor(t);
    oak_ref r2 = oak_monitor(t);
    OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
    OT_CHECK_INT_EQ(info.monitors, 2);
    OT_EVENTUALLY(ask_monitored_by(t) == 2, OT_LONG_MS);

    OT_CHECK_INT_EQ(oak_demonitor(r1, 0), 0);
    OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
    OT_CHECK_INT_EQ(info.monitors, 1);
    OT_EVENTUALLY(ask_monitored_by(t) == 1, OT_LONG_MS);

    tell_exit(t, boom(), NULL);
    OT_RECV_DOWN(r2, OT_LONG_MS);
    OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
    OT_CHECK_INT_EQ(info.monitors, 0);
    OT_CHECK_INT_EQ(info.monitored_by, 0);
}

static void process_info_counts_monitors_on_both_sides(void **state)
{
    (void)state;
    OT_RUN(info_counts_main, NULL);
}

/* ---- outside a process ----------------------------------------------------------------------- */

static void monitor_outside_a_process_returns_0(void **state)
{
    (void)state;
    assert_int_equal(oak_monitor((oak_pid)12345), 0);
    assert_int_equal(oak_monitor_name(oak_atom_from("anything")), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(down_message_has_tag_ref_from_and_reason),
        cmocka_unit_test(process_returning_from_its_entry_gives_down_normal),
        cmocka_unit_test(down_carries_the_exit_detail),
        cmocka_unit_test(monitor_of_dead_pid_gives_noproc_down),
        cmocka_unit_test(monitor_of_unregistered_name_gives_noproc_down_with_the_name),
        cmocka_unit_test(each_monitor_gets_its_own_down_and_name_monitor_carries_the_name),
        cmocka_unit_test(many_monitors_on_one_target_each_fire_once),
        cmocka_unit_test(name_monitor_follows_the_process_registered_when_it_was_made),
        cmocka_unit_test(demonitor_stops_the_down_message),
        cmocka_unit_test(demonitor_flush_removes_a_down_already_received),
        cmocka_unit_test(demonitor_info_returns_1_for_an_active_monitor),
        cmocka_unit_test(demonitor_info_returns_0_after_down_and_the_down_stays),
        cmocka_unit_test(demonitor_of_unknown_ref_returns_0),
        cmocka_unit_test(monitors_are_one_way_and_killed_target_gives_down_killed),
        cmocka_unit_test(target_ending_with_reason_kill_gives_down_kill),
        cmocka_unit_test(spawn_monitor_returns_the_ref_in_opts_and_the_down_uses_it),
        cmocka_unit_test(process_info_counts_monitors_on_both_sides),
        cmocka_unit_test(monitor_outside_a_process_returns_0),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
