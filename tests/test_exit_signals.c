/* test_exit_signals.c - exit signals through links and oak_exit_pid(): the
 * table of SEMANTICS.md section 1, row by row, trapping and not trapping,
 * as OTP 25 does it (scenario k01_link_exit_signals).
 *
 * Each case has a process B (trapping exits or not) that reports every EXIT
 * message it gets to the driver (the main process), and either a process A
 * linked to B that ends with a reason, or the driver sending B an exit signal
 * with oak_exit_pid(). The driver monitors B and sees one of three outcomes:
 *   - B died, with this reason (its DOWN);
 *   - B got an EXIT message {'EXIT', From, Reason} and lives on;
 *   - nothing happened: no report and no DOWN within OT_SETTLE_MS, B alive.
 */
#include "oak_test.h"

/* ---- the two processes of a case ------------------------------------------ */

typedef struct b_arg {
    oak_pid driver;
    bool trap;     /* call oak_trap_exit(true) first */
} b_arg;

/* B: optionally traps exits, says READY, then forwards each EXIT message to
 * the driver as a REPORT carrying the ot_signal, until STOP. */
static void proc_b(void *arg)
{
    b_arg a = *(b_arg *)arg;
    if (a.trap)
        OT_CHECK_INT_EQ(oak_trap_exit(true), 0);
    OT_SEND_U64(a.driver, OT_TAG_READY, oak_self());
    for (;;) {
        oak_msg *m = OT_RECV_ANY(OAK_INFINITY);
        if (m->tag == OAK_TAG_EXIT) {
            ot_signal s;
            OT_TAKE_SIGNAL(m, &s);
            OT_SEND(a.driver, OT_TAG_REPORT, &s, sizeof s);
        } else if (m->tag == OT_TAG_STOP) {
            oak_msg_free(m);
            return;
        } else {
            oak_msg_free(m);
        }
    }
}

typedef struct a_arg {
    oak_pid driver;
    oak_pid b;
    oak_atom reason;
    char detail[64]; /* "" = no detail */
} a_arg;

/* A: links to B, says READY, and on GO ends with the reason. */
static void proc_a(void *arg)
{
    a_arg a = *(a_arg *)arg;
    OT_CHECK_INT_EQ(oak_link(a.b), 0);
    OT_SEND_U64(a.driver, OT_TAG_READY, oak_self());
    oak_msg_free(OT_RECV_TAG(OT_TAG_GO, OAK_INFINITY));
    oak_exit_detail(a.reason, a.detail[0] ? a.detail : NULL);
}

typedef enum outcome { DIES, GETS_MESSAGE, NOTHING } outcome;

typedef struct scase {
    /* the signal */
    bool via_link;      /* A ends with reason; else oak_exit_pid() to B */
    bool trap;          /* does B trap exits */
    oak_atom reason;
    const char *detail; /* NULL = none */
    /* what must happen */
    outcome expect;
    oak_atom expect_reason; /* DOWN reason, or EXIT message reason */
    const char *expect_detail;
} scase;

static scase the_case;

static void check_detail(const ot_signal *s, const char *want)
{
    if (want) {
        OT_CHECK(s->has_detail);
        OT_CHECK_STR_EQ(s->detail, want);
    } else {
        OT_CHECK(!s->has_detail);
    }
}

static void driver(void *arg)
{
    (void)arg;
    const scase *c = &the_case;
    oak_pid me = oak_self();

    b_arg ba = {me, c->trap};
    oak_ref bref = 0;
    oak_pid b = OT_SPAWN_COPY_MONITOR(proc_b, &ba, 0, &bref);
    OT_CHECK_UINT_EQ(OT_RECV_U64(OT_TAG_READY, OT_LONG_MS), b);

    oak_pid from = me;
    if (c->via_link) {
        a_arg aa;
        memset(&aa, 0, sizeof aa);
        aa.driver = me;
        aa.b = b;
        aa.reason = c->reason;
        if (c->detail)
            snprintf(aa.detail, sizeof aa.detail, "%s", c->detail);
        oak_ref aref = 0;
        oak_pid a = OT_SPAWN_COPY_MONITOR(proc_a, &aa, 0, &aref);
        OT_CHECK_UINT_EQ(OT_RECV_U64(OT_TAG_READY, OT_LONG_MS), a);
        OT_SEND_U64(a, OT_TAG_GO, 0);
        ot_signal ad = OT_RECV_DOWN(aref, OT_LONG_MS);
        OT_CHECK_ATOM_EQ(ad.reason, c->reason);
        from = a;
    } else {
        OT_CHECK_INT_EQ(oak_exit_pid_detail(b, c->reason, c->detail), 0);
    }

    uint64_t report = OT_TAG_REPORT;
    switch (c->expect) {
    case DIES: {
        ot_signal d = OT_RECV_DOWN(bref, OT_LONG_MS);
        OT_CHECK_UINT_EQ(d.from, b);
        OT_CHECK_ATOM_EQ(d.reason, c->expect_reason);
        check_detail(&d, c->expect_detail);
        OT_NO_MSG(report, 0);
        OT_CHECK(!oak_is_alive(b));
        break;
    }
    case GETS_MESSAGE: {
        oak_msg *m = OT_RECV_TAG(OT_TAG_REPORT, OT_LONG_MS);
        OT_CHECK_INT_EQ(m->size, sizeof(ot_signal));
        ot_signal s;
        memcpy(&s, m->data, sizeof s);
        oak_msg_free(m);
        OT_CHECK_UINT_EQ(s.tag, OAK_TAG_EXIT);
        OT_CHECK_UINT_EQ(s.from, from);
        OT_CHECK_ATOM_EQ(s.reason, c->expect_reason);
        OT_CHECK_ATOM_EQ(s.name, OAK_ATOM_NONE);
        check_detail(&s, c->expect_detail);
        /* Exactly one EXIT message, and B lives on. */
        OT_NO_MSG(report, OT_SETTLE_MS);
        OT_CHECK(oak_is_alive(b));
        OT_SEND_U64(b, OT_TAG_STOP, 0);
        ot_signal d = OT_RECV_DOWN(bref, OT_LONG_MS);
        OT_CHECK_ATOM_EQ(d.reason, OAK_NORMAL);
        break;
    }
    case NOTHING: {
        OT_NO_MSG(report, OT_SETTLE_MS);
        OT_NO_MSG(OAK_TAG_DOWN, 0);
        OT_CHECK(oak_is_alive(b));
        OT_SEND_U64(b, OT_TAG_STOP, 0);
        ot_signal d = OT_RECV_DOWN(bref, OT_LONG_MS);
        OT_CHECK_ATOM_EQ(d.reason, OAK_NORMAL);
        OT_NO_MSG(report, 0);
        break;
    }
    }
}

static void run_case(scase c)
{
    the_case = c;
    OT_RUN(driver, NULL);
}

static oak_atom boom(void) { return oak_atom_from("boom"); }

/* ---- exits through a link ------------------------------------------------- */

static void link_normal_exit_is_ignored_by_non_trapping_process(void **state)
{
    (void)state;
    run_case((scase){true, false, OAK_NORMAL, NULL, NOTHING, 0, NULL});
}

static void link_normal_exit_becomes_exit_message_in_trapping_process(void **state)
{
    (void)state;
    run_case((scase){true, true, OAK_NORMAL, NULL, GETS_MESSAGE, OAK_NORMAL, NULL});
}

static void link_abnormal_exit_kills_non_trapping_process_with_same_reason(void **state)
{
    (void)state;
    run_case((scase){true, false, boom(), NULL, DIES, boom(), NULL});
}

static void link_abnormal_exit_becomes_exit_message_in_trapping_process(void **state)
{
    (void)state;
    run_case((scase){true, true, boom(), NULL, GETS_MESSAGE, boom(), NULL});
}

static void link_shutdown_exit_kills_non_trapping_process_with_shutdown(void **state)
{
    (void)state;
    run_case((scase){true, false, OAK_SHUTDOWN, NULL, DIES, OAK_SHUTDOWN, NULL});
}

static void link_exit_detail_travels_to_non_trapping_process(void **state)
{
    (void)state;
    run_case((scase){true, false, OAK_SHUTDOWN, "because", DIES, OAK_SHUTDOWN,
                     "because"});
}

static void link_exit_detail_travels_in_exit_message(void **state)
{
    (void)state;
    run_case((scase){true, true, boom(), "{1,2}", GETS_MESSAGE, boom(), "{1,2}"});
}

/* A process that itself ends with reason `kill`: the signal through the link
 * is an ordinary `kill` reason, not the untrappable exit(P, kill). */
static void link_exit_with_reason_kill_kills_non_trapping_process_with_kill(void **state)
{
    (void)state;
    run_case((scase){true, false, OAK_KILL, NULL, DIES, OAK_KILL, NULL});
}

static void link_exit_with_reason_kill_is_trapped_as_exit_message_kill(void **state)
{
    (void)state;
    run_case((scase){true, true, OAK_KILL, NULL, GETS_MESSAGE, OAK_KILL, NULL});
}

/* ---- oak_exit_pid() from another process ----------------------------------- */

static void exit_pid_normal_is_ignored_by_non_trapping_process(void **state)
{
    (void)state;
    run_case((scase){false, false, OAK_NORMAL, NULL, NOTHING, 0, NULL});
}

static void exit_pid_normal_becomes_exit_message_from_sender_when_trapping(void **state)
{
    (void)state;
    run_case((scase){false, true, OAK_NORMAL, NULL, GETS_MESSAGE, OAK_NORMAL, NULL});
}

static void exit_pid_abnormal_kills_non_trapping_process(void **state)
{
    (void)state;
    run_case((scase){false, false, boom(), NULL, DIES, boom(), NULL});
}

static void exit_pid_abnormal_becomes_exit_message_from_sender_when_trapping(void **state)
{
    (void)state;
    run_case((scase){false, true, boom(), NULL, GETS_MESSAGE, boom(), NULL});
}

static void exit_pid_detail_travels_in_exit_message(void **state)
{
    (void)state;
    run_case((scase){false, true, OAK_SHUTDOWN, "\"text\"", GETS_MESSAGE,
                     OAK_SHUTDOWN, "\"text\""});
}

static void exit_pid_detail_becomes_the_reason_detail_of_the_killed_process(void **state)
{
    (void)state;
    run_case((scase){false, false, OAK_SHUTDOWN, "x", DIES, OAK_SHUTDOWN, "x"});
}

static void exit_pid_kill_kills_non_trapping_process_with_killed(void **state)
{
    (void)state;
    run_case((scase){false, false, OAK_KILL, NULL, DIES, OAK_KILLED, NULL});
}

static void exit_kill_is_untrappable_and_reason_is_killed(void **state)
{
    (void)state;
    run_case((scase){false, true, OAK_KILL, NULL, DIES, OAK_KILLED, NULL});
}

/* ---- a killed process: its links see `killed` ------------------------------ */

static bool killed_case_trap;

static void killed_links_driver(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    b_arg ba = {me, killed_case_trap};
    oak_ref bref = 0;
    oak_pid b = OT_SPAWN_COPY_MONITOR(proc_b, &ba, 0, &bref);
    OT_CHECK_UINT_EQ(OT_RECV_U64(OT_TAG_READY, OT_LONG_MS), b);
    a_arg aa;
    memset(&aa, 0, sizeof aa);
    aa.driver = me;
    aa.b = b;
    aa.reason = OAK_NORMAL;
    oak_ref aref = 0;
    oak_pid a = OT_SPAWN_COPY_MONITOR(proc_a, &aa, 0, &aref);
    OT_CHECK_UINT_EQ(OT_RECV_U64(OT_TAG_READY, OT_LONG_MS), a);

    OT_CHECK_INT_EQ(oak_exit_pid(a, OAK_KILL), 0);
    ot_signal ad = OT_RECV_DOWN(aref, OT_LONG_MS);
    OT_CHECK_ATOM_EQ(ad.reason, OAK_KILLED);

    if (killed_case_trap) {
        oak_msg *m = OT_RECV_TAG(OT_TAG_REPORT, OT_LONG_MS);
        ot_signal s;
        memcpy(&s, m->data, sizeof s);
        oak_msg_free(m);
        OT_CHECK_UINT_EQ(s.from, a);
        OT_CHECK_ATOM_EQ(s.reason, OAK_KILLED);
        OT_CHECK(oak_is_alive(b));
        OT_SEND_U64(b, OT_TAG_STOP, 0);
        OT_CHECK_ATOM_EQ(OT_RECV_DOWN(bref, OT_LONG_MS).reason, OAK_NORMAL);
    } else {
        ot_signal d = OT_RECV_DOWN(bref, OT_LONG_MS);
        OT_CHECK_ATOM_EQ(d.reason, OAK_KILLED);
    }
}

static void killed_process_links_see_killed_as_exit_message_when_trapping(void **state)
{
    (void)state;
    killed_case_trap = true;
    OT_RUN(killed_links_driver, NULL);
}

static void killed_process_kills_non_trapping_links_with_killed(void **state)
{
    (void)state;
    killed_case_trap = false;
    OT_RUN(killed_links_driver, NULL);
}

/* ---- signals to self -------------------------------------------------------- */

static atomic_int survived_self_signal;

/* Sends itself an exit signal, then waits as the OTP scenario does
 * (receive after 1000): the signal takes effect in that receive. */
static void self_signal_proc(void *arg)
{
    oak_atom reason = *(oak_atom *)arg;
    OT_CHECK_INT_EQ(oak_exit_pid(oak_self(), reason), 0);
    oak_msg *m = NULL;
    (void)oak_receive(&m, 1000, ot_match_nothing, NULL);
    atomic_store(&survived_self_signal, 1);
    oak_exit(oak_atom_from("survived"));
}

static void self_normal_main(void *arg)
{
    (void)arg;
    oak_atom r = OAK_NORMAL;
    oak_ref ref = 0;
    oak_pid p = OT_SPAWN_COPY_MONITOR(self_signal_proc, &r, 0, &ref);
    ot_signal d = OT_RECV_DOWN(ref, OT_LONG_MS);
    OT_CHECK_UINT_EQ(d.from, p);
    OT_CHECK_ATOM_EQ(d.reason, OAK_NORMAL);
}

static void exit_pid_normal_to_self_exits_non_trapping_caller_normal(void **state)
{
    (void)state;
    atomic_store(&survived_self_signal, 0);
    OT_RUN(self_normal_main, NULL);
    assert_int_equal(atomic_load(&survived_self_signal), 0);
}

static void self_normal_trapping_proc(void *arg)
{
    oak_pid driver = *(oak_pid *)arg;
    oak_trap_exit(true);
    OT_CHECK_INT_EQ(oak_exit_pid(oak_self(), OAK_NORMAL), 0);
    ot_signal s = OT_RECV_EXIT(OT_LONG_MS);
    OT_CHECK_UINT_EQ(s.from, oak_self());
    OT_CHECK_ATOM_EQ(s.reason, OAK_NORMAL);
    OT_SEND_U64(driver, OT_TAG_DONE, 0);
}

static void self_normal_trapping_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    oak_ref ref = 0;
    OT_SPAWN_COPY_MONITOR(self_normal_trapping_proc, &me, 0, &ref);
    oak_msg_free(OT_RECV_TAG(OT_TAG_DONE, OT_LONG_MS));
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(ref, OT_LONG_MS).reason, OAK_NORMAL);
}

static void exit_pid_normal_to_self_becomes_exit_message_when_trapping(void **state)
{
    (void)state;
    OT_RUN(self_normal_trapping_main, NULL);
}

static void self_kill_proc(void *arg)
{
    (void)arg;
    oak_trap_exit(true);
    OT_CHECK_INT_EQ(oak_exit_pid(oak_self(), OAK_KILL), 0);
    oak_msg *m = NULL;
    (void)oak_receive(&m, 1000, NULL, NULL);
    atomic_store(&survived_self_signal, 1);
    oak_exit(oak_atom_from("survived"));
}

static void self_kill_main(void *arg)
{
    (void)arg;
    oak_ref ref = 0;
    OT_SPAWN_MONITOR(self_kill_proc, NULL, 0, &ref);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(ref, OT_LONG_MS).reason, OAK_KILLED);
}

static void exit_pid_kill_to_self_kills_caller_even_when_trapping(void **state)
{
    (void)state;
    atomic_store(&survived_self_signal, 0);
    OT_RUN(self_kill_main, NULL);
    assert_int_equal(atomic_load(&survived_self_signal), 0);
}

/* ---- link to a dead pid -------------------------------------------------------- */

static void link_dead_trapping_main(void *arg)
{
    (void)arg;
    oak_pid dead = OT_DEAD_PID();
    OT_CHECK_INT_EQ(oak_trap_exit(true), 0);
    OT_CHECK_INT_EQ(oak_link(dead), 0);
    ot_signal s = OT_RECV_EXIT(OT_LONG_MS);
    OT_CHECK_UINT_EQ(s.from, dead);
    OT_CHECK_ATOM_EQ(s.reason, OAK_NOPROC);
    OT_CHECK(!s.has_detail);
    oak_process_info info;
    OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
    OT_CHECK_INT_EQ(info.links, 0);
    OT_NO_MSG(0, OT_SETTLE_MS);
}

static void link_to_dead_pid_when_trapping_gives_noproc_exit_message(void **state)
{
    (void)state;
    OT_RUN(link_dead_trapping_main, NULL);
}

static void link_dead_nontrapping_proc(void *arg)
{
    oak_pid dead = *(oak_pid *)arg;
    OT_CHECK_INT_EQ(oak_link(dead), -ESRCH);
    /* The caller goes on: it is not killed, and gets no message. */
    OT_NO_MSG(0, OT_SETTLE_MS);
    oak_process_info info;
    OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
    OT_CHECK_INT_EQ(info.links, 0);
    oak_exit(oak_atom_from("went_on"));
}

static void link_dead_nontrapping_main(void *arg)
{
    (void)arg;
    oak_pid dead = OT_DEAD_PID();
    oak_ref ref = 0;
    OT_SPAWN_COPY_MONITOR(link_dead_nontrapping_proc, &dead, 0, &ref);
    ot_signal d = OT_RECV_DOWN(ref, OT_LONG_MS);
    OT_CHECK_ATOM_EQ(d.reason, oak_atom_from("went_on"));
}

static void link_to_dead_pid_when_not_trapping_returns_esrch_and_caller_lives(void **state)
{
    (void)state;
    OT_RUN(link_dead_nontrapping_main, NULL);
}

/* ---- unlink, double link, self link ------------------------------------------ */

typedef struct pair_arg {
    oak_pid driver;
    oak_pid b;
    int links;   /* how many times to call oak_link */
    int unlinks; /* how many times to call oak_unlink afterwards */
} pair_arg;

/* Links to B `links` times, unlinks `unlinks` times, reports its link count
 * and, on GO, ends with boom. */
static void linker_proc(void *arg)
{
    pair_arg a = *(pair_arg *)arg;
    for (int i = 0; i < a.links; i++)
        OT_CHECK_INT_EQ(oak_link(a.b), 0);
    for (int i = 0; i < a.unlinks; i++)
        OT_CHECK_INT_EQ(oak_unlink(a.b), 0);
    oak_process_info info;
    OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
    OT_SEND_U64(a.driver, OT_TAG_READY, info.links);
    oak_msg_free(OT_RECV_TAG(OT_TAG_GO, OAK_INFINITY));
    oak_exit(oak_atom_from("boom"));
}

static pair_arg pair_case;

static void pair_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    b_arg ba = {me, false};
    oak_ref bref = 0;
    oak_pid b = OT_SPAWN_COPY_MONITOR(proc_b, &ba, 0, &bref);
    OT_CHECK_UINT_EQ(OT_RECV_U64(OT_TAG_READY, OT_LONG_MS), b);
    pair_arg pa = pair_case;
    pa.driver = me;
    pa.b = b;
    oak_ref aref = 0;
    oak_pid a = OT_SPAWN_COPY_MONITOR(linker_proc, &pa, 0, &aref);
    uint64_t links = OT_RECV_U64(OT_TAG_READY, OT_LONG_MS);
    int want_links = pa.links > 0 && pa.unlinks == 0 ? 1 : 0;
    OT_CHECK_INT_EQ(links, want_links);
    OT_SEND_U64(a, OT_TAG_GO, 0);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(aref, OT_LONG_MS).reason, oak_atom_from("boom"));
    if (want_links) {
        OT_CHECK_ATOM_EQ(OT_RECV_DOWN(bref, OT_LONG_MS).reason,
                         oak_atom_from("boom"));
    } else {
        OT_NO_MSG(OAK_TAG_DOWN, OT_SETTLE_MS);
        OT_CHECK(oak_is_alive(b));
        OT_SEND_U64(b, OT_TAG_STOP, 0);
        OT_CHECK_ATOM_EQ(OT_RECV_DOWN(bref, OT_LONG_MS).reason, OAK_NORMAL);
    }
}

static void unlink_stops_exit_propagation(void **state)
{
    (void)state;
    pair_case = (pair_arg){0, 0, 1, 1};
    OT_RUN(pair_main, NULL);
}

static void linking_twice_is_one_link_removed_by_one_unlink(void **state)
{
    (void)state;
    pair_case = (pair_arg){0, 0, 2, 1};
    OT_RUN(pair_main, NULL);
}

static void linking_twice_counts_one_link_and_propagates_once(void **state)
{
    (void)state;
    pair_case = (pair_arg){0, 0, 2, 0};
    OT_RUN(pair_main, NULL);
}

/* A trapping process linked twice to a dying process gets one EXIT message. */
static void double_link_trap_main(void *arg)
{
    (void)arg;
    oak_trap_exit(true);
    oak_pid p = OT_SPAWN(ot_body_until_stop, NULL, 0);
    OT_CHECK_INT_EQ(oak_link(p), 0);
    OT_CHECK_INT_EQ(oak_link(p), 0);
    OT_CHECK_INT_EQ(oak_exit_pid(p, oak_atom_from("boom")), 0);
    ot_signal s = OT_RECV_EXIT(OT_LONG_MS);
    OT_CHECK_UINT_EQ(s.from, p);
    OT_CHECK_ATOM_EQ(s.reason, oak_atom_from("boom"));
    OT_NO_MSG(OAK_TAG_EXIT, OT_SETTLE_MS);
}

static void linking_twice_gives_one_exit_message(void **state)
{
    (void)state;
    OT_RUN(double_link_trap_main, NULL);
}

static void self_link_main(void *arg)
{
    (void)arg;
    OT_CHECK_INT_EQ(oak_link(oak_self()), 0);
    oak_process_info info;
    OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
    OT_CHECK_INT_EQ(info.links, 0);
    OT_CHECK_INT_EQ(oak_unlink(oak_self()), 0);
}

static void link_to_self_is_a_no_op(void **state)
{
    (void)state;
    OT_RUN(self_link_main, NULL);
}

static void unlink_not_linked_main(void *arg)
{
    (void)arg;
    oak_pid p = OT_SPAWN(ot_body_until_stop, NULL, 0);
    OT_CHECK_INT_EQ(oak_unlink(p), 0);
    OT_CHECK_INT_EQ(oak_unlink(OT_DEAD_PID()), 0);
    OT_SEND_U64(p, OT_TAG_STOP, 0);
}

static void unlink_without_link_returns_zero(void **state)
{
    (void)state;
    OT_RUN(unlink_not_linked_main, NULL);
}

/* ---- spawn_link ----------------------------------------------------------------- */

static void child_boom(void *arg)
{
    (void)arg;
    oak_exit(oak_atom_from("child_boom"));
}

static void spawn_link_trap_main(void *arg)
{
    (void)arg;
    oak_trap_exit(true);
    oak_pid c = OT_SPAWN(child_boom, NULL, OAK_SPAWN_LINK);
    ot_signal s = OT_RECV_EXIT(OT_LONG_MS);
    OT_CHECK_UINT_EQ(s.tag, OAK_TAG_EXIT);
    OT_CHECK_UINT_EQ(s.from, c);
    OT_CHECK_ATOM_EQ(s.reason, oak_atom_from("child_boom"));
    OT_CHECK(!s.has_detail);
}

static void spawn_link_child_crash_reaches_trapping_parent_as_exit_message(void **state)
{
    (void)state;
    OT_RUN(spawn_link_trap_main, NULL);
}

static void parent_proc(void *arg)
{
    oak_pid driver = *(oak_pid *)arg;
    oak_pid c = OT_SPAWN(ot_body_until_stop, NULL, OAK_SPAWN_LINK);
    OT_SEND_U64(driver, OT_TAG_READY, c);
    oak_msg_free(OT_RECV_TAG(OT_TAG_GO, OAK_INFINITY));
    oak_exit(oak_atom_from("parent_boom"));
}

static void spawn_link_parent_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    oak_pid parent = OT_SPAWN_COPY(parent_proc, &me, 0);
    oak_pid child = OT_RECV_U64(OT_TAG_READY, OT_LONG_MS);
    oak_ref cref = oak_monitor(child);
    OT_CHECK_UINT_NE(cref, 0);
    OT_SEND_U64(parent, OT_TAG_GO, 0);
    ot_signal d = OT_RECV_DOWN(cref, OT_LONG_MS);
    OT_CHECK_UINT_EQ(d.from, child);
    OT_CHECK_ATOM_EQ(d.reason, oak_atom_from("parent_boom"));
}

static void spawn_link_parent_exit_kills_non_trapping_child(void **state)
{
    (void)state;
    OT_RUN(spawn_link_parent_main, NULL);
}

/* ---- where exit signals take effect --------------------------------------------- */

static void yield_loop(void *arg)
{
    (void)arg;
    for (;;)
        oak_yield();
}

static void sleep_forever(void *arg)
{
    (void)arg;
    for (;;)
        oak_sleep(OAK_INFINITY);
}

static void signals_reach_busy_and_sleeping_main(void *arg)
{
    (void)arg;
    oak_ref r1 = 0, r2 = 0, r3 = 0, r4 = 0;
    oak_pid y = OT_SPAWN_MONITOR(yield_loop, NULL, 0, &r1);
    oak_pid s = OT_SPAWN_MONITOR(sleep_forever, NULL, 0, &r2);
    oak_pid yt = OT_SPAWN_MONITOR(yield_loop, NULL, OAK_SPAWN_TRAP_EXIT, &r3);
    oak_pid st = OT_SPAWN_MONITOR(sleep_forever, NULL, OAK_SPAWN_TRAP_EXIT, &r4);
    oak_sleep(20);
    OT_CHECK_INT_EQ(oak_exit_pid(y, oak_atom_from("boom")), 0);
    OT_CHECK_INT_EQ(oak_exit_pid(s, oak_atom_from("boom")), 0);
    OT_CHECK_INT_EQ(oak_exit_pid(yt, OAK_KILL), 0);
    OT_CHECK_INT_EQ(oak_exit_pid(st, OAK_KILL), 0);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r1, OT_LONG_MS).reason, oak_atom_from("boom"));
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r2, OT_LONG_MS).reason, oak_atom_from("boom"));
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r3, OT_LONG_MS).reason, OAK_KILLED);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r4, OT_LONG_MS).reason, OAK_KILLED);
}

static void exit_signals_reach_yielding_and_sleeping_processes(void **state)
{
    (void)state;
    OT_RUN(signals_reach_busy_and_sleeping_main, NULL);
}

/* ---- trap_exit flag ---------------------------------------------------------------- */

static void trap_flag_proc(void *arg)
{
    oak_pid driver = *(oak_pid *)arg;
    oak_process_info info;
    OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
    OT_CHECK(info.trap_exit);
    OT_CHECK_INT_EQ(oak_trap_exit(false), 1);
    OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
    OT_CHECK(!info.trap_exit);
    OT_CHECK_INT_EQ(oak_trap_exit(true), 0);
    OT_CHECK_INT_EQ(oak_trap_exit(true), 1);
    /* Trapping: boom becomes a message. */
    OT_SEND_U64(driver, OT_TAG_READY, 1);
    ot_signal s = OT_RECV_EXIT(OT_LONG_MS);
    OT_CHECK_ATOM_EQ(s.reason, oak_atom_from("boom"));
    OT_CHECK_UINT_EQ(s.from, driver);
    /* Not trapping any more: the next boom kills. */
    OT_CHECK_INT_EQ(oak_trap_exit(false), 1);
    OT_SEND_U64(driver, OT_TAG_READY, 2);
    ot_body_forever(NULL);
}

static void trap_flag_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    oak_ref ref = 0;
    oak_pid p = OT_SPAWN_COPY_MONITOR(trap_flag_proc, &me, OAK_SPAWN_TRAP_EXIT, &ref);
    OT_CHECK_INT_EQ(OT_RECV_U64(OT_TAG_READY, OT_LONG_MS), 1);
    OT_CHECK_INT_EQ(oak_exit_pid(p, oak_atom_from("boom")), 0);
    OT_CHECK_INT_EQ(OT_RECV_U64(OT_TAG_READY, OT_LONG_MS), 2);
    OT_CHECK_INT_EQ(oak_exit_pid(p, oak_atom_from("boom")), 0);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(ref, OT_LONG_MS).reason, oak_atom_from("boom"));
}

static void trap_exit_flag_starts_with_spawn_option_and_can_be_turned_off(void **state)
{
    (void)state;
    OT_RUN(trap_flag_main, NULL);
}

static void default_trap_main(void *arg)
{
    (void)arg;
    oak_process_info info;
    OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
    OT_CHECK(!info.trap_exit);
    OT_CHECK_INT_EQ(oak_trap_exit(false), 0);
}

static void trap_exit_is_off_by_default(void **state)
{
    (void)state;
    OT_RUN(default_trap_main, NULL);
}

/* ---- a kill before the first run -------------------------------------------------- */

#define UNRUN_N 2000
#define OT_TAG_RAN 0x52414eu

static void report_ran(void *arg)
{
    OT_SEND_U64(*(oak_pid *)arg, OT_TAG_RAN, oak_self());
}

/* On one scheduler a child spawned and killed at once has not run yet
 * (unless the spawner yielded in between, as a spawn does now and then):
 * the kill acts before its function, as BEAM handles a process's signals
 * before it executes. Every child dies with killed. */
static void killed_before_run_main(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    oak_ref refs[UNRUN_N];
    for (int i = 0; i < UNRUN_N; i++) {
        oak_pid c = OT_SPAWN_COPY_MONITOR(report_ran, &me, 0, &refs[i]);
        OT_CHECK_INT_EQ(oak_exit_pid(c, OAK_KILL), 0);
    }
    int killed = 0, normal = 0;
    for (int i = 0; i < UNRUN_N; i++) {
        oak_atom reason = OT_RECV_DOWN(refs[i], OT_LONG_MS).reason;
        killed += reason == OAK_KILLED;
        normal += reason == OAK_NORMAL;
    }
    OT_CHECK_INT_EQ(killed + normal, UNRUN_N);
    int ran = 0;
    uint64_t tag = OT_TAG_RAN;
    oak_msg *m = NULL;
    while (oak_receive(&m, 0, ot_match_tag, &tag) == 0) {
        ran++;
        oak_msg_free(m);
    }
    /* A child that ran ended normally before the kill came; the others
     * never ran. Every child used to run; the spawner's yields let a few. */
    OT_CHECK_INT_EQ(ran, normal);
    OT_CHECK_INT_LE(ran, UNRUN_N / 10);
}

static void a_process_killed_before_its_first_run_never_runs(void **state)
{
    (void)state;
    oak_config cfg = {.schedulers = 1};
    OT_RUN_CFG(killed_before_run_main, NULL, &cfg);
}

/* ---- argument errors ------------------------------------------------------------- */

static void exit_pid_errors_main(void *arg)
{
    (void)arg;
    oak_pid dead = OT_DEAD_PID();
    OT_CHECK_INT_EQ(oak_exit_pid(dead, OAK_KILL), 0);
    OT_CHECK_INT_EQ(oak_exit_pid(dead, oak_atom_from("boom")), 0);
    OT_CHECK_INT_EQ(oak_exit_pid(OAK_NOPID, OAK_KILL), -EINVAL);
    oak_pid p = OT_SPAWN(ot_body_until_stop, NULL, 0);
    OT_CHECK_INT_EQ(oak_exit_pid(p, OAK_ATOM_NONE), -EINVAL);
    OT_CHECK_INT_EQ(oak_exit_pid(p, (oak_atom)0x7ffffff0u), -EINVAL);
    OT_CHECK_INT_EQ(oak_exit_pid_detail(p, (oak_atom)0x7ffffff0u, "x"), -EINVAL);
    /* The bad calls did nothing to p. */
    OT_CHECK(oak_is_alive(p));
    oak_ref r = oak_monitor(p);
    OT_SEND_U64(p, OT_TAG_STOP, 0);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, OAK_NORMAL);
}

static void exit_pid_returns_zero_for_dead_pid_and_einval_for_bad_arguments(void **state)
{
    (void)state;
    OT_RUN(exit_pid_errors_main, NULL);
}

/* ---- an EXIT message's shape, end to end ----------------------------------------- */

static void exit_msg_shape_main(void *arg)
{
    (void)arg;
    oak_trap_exit(true);
    oak_pid c = OT_SPAWN(ot_body_until_stop, NULL, OAK_SPAWN_LINK);
    OT_CHECK_INT_EQ(oak_exit_pid_detail(c, oak_atom_from("bad_thing"),
                                        "{error,\"disk full\"}"), 0);
    /* c does not trap: it dies with (bad_thing, detail), and we, linked and
     * trapping, get the EXIT message for it. */
    uint64_t tag = OAK_TAG_EXIT;
    oak_msg *m = NULL;
    OT_CHECK_INT_EQ(oak_receive(&m, OT_LONG_MS, ot_match_tag, &tag), 0);
    OT_CHECK_UINT_EQ(m->tag, OAK_TAG_EXIT);
    OT_CHECK_UINT_EQ(m->from, c);
    OT_CHECK_UINT_EQ(m->ref, 0);
    OT_CHECK_INT_GE(m->size, sizeof(oak_down));
    const oak_down *d = m->data;
    OT_CHECK_ATOM_EQ(d->reason, oak_atom_from("bad_thing"));
    OT_CHECK_ATOM_EQ(d->name, OAK_ATOM_NONE);
    OT_CHECK_STR_EQ(d->detail, "{error,\"disk full\"}");
    OT_CHECK((const char *)d->detail >= (const char *)m->data &&
             (const char *)d->detail < (const char *)m->data + m->size);
    oak_msg_free(m);
}

static void exit_message_carries_sender_reason_and_detail_inside_the_message(void **state)
{
    (void)state;
    OT_RUN(exit_msg_shape_main, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(link_normal_exit_is_ignored_by_non_trapping_process),
        cmocka_unit_test(link_normal_exit_becomes_exit_message_in_trapping_process),
        cmocka_unit_test(link_abnormal_exit_kills_non_trapping_process_with_same_reason),
        cmocka_unit_test(link_abnormal_exit_becomes_exit_message_in_trapping_process),
        cmocka_unit_test(link_shutdown_exit_kills_non_trapping_process_with_shutdown),
        cmocka_unit_test(link_exit_detail_travels_to_non_trapping_process),
        cmocka_unit_test(link_exit_detail_travels_in_exit_message),
        cmocka_unit_test(link_exit_with_reason_kill_kills_non_trapping_process_with_kill),
        cmocka_unit_test(link_exit_with_reason_kill_is_trapped_as_exit_message_kill),
        cmocka_unit_test(exit_pid_normal_is_ignored_by_non_trapping_process),
        cmocka_unit_test(exit_pid_normal_becomes_exit_message_from_sender_when_trapping),
        cmocka_unit_test(exit_pid_abnormal_kills_non_trapping_process),
        cmocka_unit_test(exit_pid_abnormal_becomes_exit_message_from_sender_when_trapping),
        cmocka_unit_test(exit_pid_detail_travels_in_exit_message),
        cmocka_unit_test(exit_pid_detail_becomes_the_reason_detail_of_the_killed_process),
        cmocka_unit_test(exit_pid_kill_kills_non_trapping_process_with_killed),
        cmocka_unit_test(exit_kill_is_untrappable_and_reason_is_killed),
        cmocka_unit_test(killed_process_links_see_killed_as_exit_message_when_trapping),
        cmocka_unit_test(killed_process_kills_non_trapping_links_with_killed),
        cmocka_unit_test(exit_pid_normal_to_self_exits_non_trapping_caller_normal),
        cmocka_unit_test(exit_pid_normal_to_self_becomes_exit_message_when_trapping),
        cmocka_unit_test(exit_pid_kill_to_self_kills_caller_even_when_trapping),
        cmocka_unit_test(link_to_dead_pid_when_trapping_gives_noproc_exit_message),
        cmocka_unit_test(link_to_dead_pid_when_not_trapping_returns_esrch_and_caller_lives),
        cmocka_unit_test(unlink_stops_exit_propagation),
        cmocka_unit_test(linking_twice_is_one_link_removed_by_one_unlink),
        cmocka_unit_test(linking_twice_counts_one_link_and_propagates_once),
        cmocka_unit_test(linking_twice_gives_one_exit_message),
        cmocka_unit_test(link_to_self_is_a_no_op),
        cmocka_unit_test(unlink_without_link_returns_zero),
        cmocka_unit_test(spawn_link_child_crash_reaches_trapping_parent_as_exit_message),
        cmocka_unit_test(spawn_link_parent_exit_kills_non_trapping_child),
        cmocka_unit_test(exit_signals_reach_yielding_and_sleeping_processes),
        cmocka_unit_test(trap_exit_flag_starts_with_spawn_option_and_can_be_turned_off),
        cmocka_unit_test(trap_exit_is_off_by_default),
        cmocka_unit_test(a_process_killed_before_its_first_run_never_runs),
        cmocka_unit_test(exit_pid_returns_zero_for_dead_pid_and_einval_for_bad_arguments),
        cmocka_unit_test(exit_message_carries_sender_reason_and_detail_inside_the_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
