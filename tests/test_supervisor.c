/* test_supervisor.c - supervisor behaviours that the OTP conformance
 * scenarios do not cover: restart backoff (an oak extension), auto_shutdown
 * with significant children, child spec validation, many dynamic children,
 * and restart storms that trip the intensity and escalate.
 *
 * ctest groups: backoff auto_shutdown childspec_validation many_children restart_storm
 *
 * Each group is its own CTest test (the program takes the group's name as
 * its argument; without one it runs them all). Timing checks have wide
 * tolerances: they tell "no delay" from "a delay of 200 ms", never 200 from
 * 210.
 */
#include "oak_test.h"

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

static oak_atom A(const char *s) { return oak_atom_from(s); }

/* Slack allowed above an expected delay (sanitizer builds are slow). */
#define LATE_MS 400
/* A timer may fire up to a millisecond early by rounding. */
#define EARLY_MS 5

/* ---- reports: counted, not printed ------------------------------------------ */

static atomic_int n_reached_max; /* supervisor gave up */
static atomic_int n_start_error;
static atomic_int n_child_terminated;

static void count_reports(oak_log_level level, const char *kind,
                          const char *line, void *ctx)
{
    if (strcmp(kind, "supervisor_report") != 0)
        return;
    if (strstr(line, "reason=reached_max_restart_intensity"))
        atomic_fetch_add(&n_reached_max, 1);
    else if (strstr(line, "context=start_error"))
        atomic_fetch_add(&n_start_error, 1);
    else if (strstr(line, "context=child_terminated"))
        atomic_fetch_add(&n_child_terminated, 1);
}

static void reset_counts(void);

/* A counter's value (a function, so that failed checks print its name). */
static int count(atomic_int *c) { return atomic_load(c); }

/* ---- the test worker ----------------------------------------------------------- */

/* A gen_server that tells the test process when it starts (tag
 * OT_TAG_READY, payload started_msg), stops or crashes on request, and
 * counts its starts and terminates. */
enum { MAXW = 8 };
static atomic_int starts[MAXW];
static atomic_int terminates[MAXW];
static _Atomic oak_pid watcher; /* who gets the READY messages, or none */

typedef struct wcfg {
    int idx;             /* which counters (0..MAXW-1) */
    int fail_from;       /* init fails from this start on (1-based); 0 never */
    bool crash_at_once;  /* crash with `boom` right after init */
    bool silent;         /* no READY message (many children) */
    int init_sleep_ms;   /* init takes this long */
} wcfg;

typedef struct started_msg {
    int idx;
    oak_pid pid;
    int64_t at_ms;
} started_msg;

static int w_init(oak_gen_server *gs, void *arg, void **state)
{
    const wcfg *c = arg;
    oak_trap_exit(true);
    int n = atomic_fetch_add(&starts[c->idx], 1) + 1;
    if (c->init_sleep_ms)
        oak_sleep(c->init_sleep_ms);
    if (c->fail_from && n >= c->fail_from) {
        oak_gen_server_set_stop(gs, A("init_failed"), NULL);
        return OAK_GS_STOP;
    }
    wcfg *s = oak_alloc(sizeof *s);
    *s = *c;
    *state = s;
    if (c->crash_at_once)
        oak_gen_server_set_timeout(gs, 0);
    oak_pid w = atomic_load(&watcher);
    if (w && !c->silent) {
        started_msg m = {c->idx, oak_self(), oak_now_ms()};
        oak_send(w, OT_TAG_READY, &m, sizeof m);
    }
    return OAK_GS_OK;
}

/* A cast whose tag is a reason atom: stop with it (`boom` crashes). */
static int w_cast(oak_gen_server *gs, void *state, const oak_msg *req)
{
    oak_gen_server_set_stop(gs, (oak_atom)req->tag, NULL);
    return OAK_GS_STOP;
}

static int w_info(oak_gen_server *gs, void *state, const oak_msg *m)
{
    if (m->tag == OAK_TIMEOUT)
        oak_gen_server_exit(gs, A("boom"), NULL);
    return OAK_GS_OK;
}

static void w_terminate(oak_gen_server *gs, void *state, const oak_reason *r)
{
    const wcfg *c = state;
    if (c)
        atomic_fetch_add(&terminates[c->idx], 1);
}

static const oak_gen_server_callbacks worker_cb = {
    .init = w_init, .handle_cast = w_cast, .handle_info = w_info,
    .terminate = w_terminate};

/* Start function: arg is a wcfg; the extra bytes of a simple_one_for_one
 * start_child, when given, are an int that replaces idx. */
static int w_start(const oak_child_args *a, oak_pid *pid, oak_reason *why)
{
    wcfg c = *(const wcfg *)a->arg;
    if (a->extra_size == sizeof(int))
        memcpy(&c.idx, a->extra, sizeof c.idx);
    oak_gen_server_opts o = {.flags = OAK_GEN_LINK, .arg_size = sizeof c};
    return oak_gen_server_start(&worker_cb, &c, &o, pid, why);
}

/* A worker spec; the wcfg is copied by the supervisor. */
static oak_child_spec wspec(const char *id, const wcfg *c)
{
    oak_child_spec s;
    memset(&s, 0, sizeof s);
    s.id = A(id);
    s.start = w_start;
    s.arg = c;
    s.arg_size = sizeof *c;
    return s;
}

static started_msg recv_started(int64_t timeout_ms)
{
    started_msg s;
    memset(&s, 0, sizeof s);
    oak_msg *m = OT_RECV_TAG(OT_TAG_READY, timeout_ms);
    if (m) {
        memcpy(&s, m->data, sizeof s);
        oak_msg_free(m);
    }
    return s;
}

static void tell(oak_pid worker, const char *reason)
{
    oak_gen_server_cast(worker, A(reason), NULL, 0);
}

static void reset_counts(void)
{
    for (int i = 0; i < MAXW; i++) {
        atomic_store(&starts[i], 0);
        atomic_store(&terminates[i], 0);
    }
    atomic_store(&n_reached_max, 0);
    atomic_store(&n_start_error, 0);
    atomic_store(&n_child_terminated, 0);
}

/* ---- running a body -------------------------------------------------------------- */

static void (*body)(void);

static void main_proc(void *arg)
{
    oak_trap_exit(true);
    atomic_store(&watcher, oak_self());
    body();
    atomic_store(&watcher, OAK_NOPID);
}

static void run(void (*fn)(void))
{
    reset_counts();
    body = fn;
    oak_log_set_handler(count_reports, NULL);
    OT_RUN(main_proc, NULL);
    oak_log_set_handler(NULL, NULL);
}

static oak_pid start_sup(const oak_supervisor_def *def)
{
    oak_pid pid = OAK_NOPID;
    oak_reason why;
    int rc = oak_supervisor_start(def, OAK_GEN_LINK, &pid, &why);
    if (rc != 0) {
        char r[600];
        oak_reason_str(&why, r, sizeof r);
        OT_FAIL("oak_supervisor_start: %d (%s), %s", rc, oak_strerror(rc), r);
    }
    return pid;
}

static oak_sup_flags flags(oak_strategy s, int intensity, int period,
                           oak_auto_shutdown as)
{
    oak_sup_flags f = {s, intensity, period, as};
    return f;
}

static oak_child_status status_of(oak_pid sup, oak_atom id)
{
    oak_child_info v[16];
    int n = oak_supervisor_which_children(sup, v, 16);
    OT_CHECK_INT_GE(n, 0);
    for (int i = 0; i < n && i < 16; i++)
        if (v[i].id == id)
            return v[i].status;
    OT_FAIL("no child %s", oak_atom_name(id));
    return OAK_CHILD_UNDEFINED;
}

/* The supervisor's exit reason as text (after a DOWN or EXIT of it). */
static void expect_exit(oak_pid sup, oak_ref mon, const char *want)
{
    ot_signal s = OT_RECV_DOWN(mon, OT_LONG_MS);
    /* It was linked to us: its EXIT message comes too. */
    ot_signal e = OT_RECV_EXIT(OT_LONG_MS);
    OT_CHECK_UINT_EQ(e.from, sup);
    /* A supervisor that gives up fast can be gone before the monitor was
     * set (DOWN noproc); the link was set at its start, so its EXIT
     * carries the reason in any case. */
    if (s.reason == OAK_NOPROC && !s.has_detail)
        s = e;
    oak_reason r;
    oak_reason_set(&r, s.reason, s.has_detail ? s.detail : NULL);
    char text[600];
    oak_reason_str(&r, text, sizeof text);
    OT_CHECK_STR_EQ(text, want);
}

/* =========================================================================
 * backoff
 * ========================================================================= */

/* Crash the worker that just started and return how long its restart took. */
static int64_t crash_and_time_restart(oak_pid *worker)
{
    int64_t t0 = oak_now_ms();
    tell(*worker, "boom");
    started_msg s = recv_started(OT_LONG_MS);
    *worker = s.pid;
    return s.at_ms - t0;
}

static void body_no_backoff_by_default(void)
{
    wcfg c = {.idx = 0};
    oak_child_spec ch[] = {wspec("w", &c)};
    oak_supervisor_def def = {.flags = flags(OAK_ONE_FOR_ONE, 10, 60, 0),
                              .children = ch, .count = 1};
    oak_pid sup = start_sup(&def);
    oak_pid w = recv_started(OT_LONG_MS).pid;
    for (int i = 0; i < 3; i++) {
        int64_t d = crash_and_time_restart(&w);
        OT_CHECK_INT_LT(d, 150); /* the backoff tests below wait >= 200 */
    }
    OT_CHECK_INT_EQ(count(&starts[0]), 4);
    OT_CHECK_INT_EQ(oak_supervisor_stop(sup), 0);
}

static void supervisor_restarts_at_once_without_backoff(void **st)
{
    run(body_no_backoff_by_default);
}

static void check_delay(int64_t got, int64_t want)
{
    if (got < want - EARLY_MS || got > want + LATE_MS)
        OT_FAIL("restart delay %lld ms, want %lld (-%d/+%d)", (long long)got,
                (long long)want, EARLY_MS, LATE_MS);
}

static void body_backoff_grows(void)
{
    wcfg c = {.idx = 0};
    oak_child_spec ch[] = {wspec("w", &c)};
    ch[0].backoff = (oak_backoff){.initial_ms = 200, .max_ms = 800,
                                  .jitter_pct = 0, .reset_after_ms = 1000};
    oak_supervisor_def def = {.flags = flags(OAK_ONE_FOR_ONE, 100, 60, 0),
                              .children = ch, .count = 1};
    oak_pid sup = start_sup(&def);
    oak_pid w = recv_started(OT_LONG_MS).pid;

    /* The first delayed restart: while it waits the child shows as
     * restarting and is not active. */
    int64_t t0 = oak_now_ms();
    tell(w, "boom");
    oak_sleep(60);
    OT_CHECK_INT_EQ(status_of(sup, A("w")), OAK_CHILD_RESTARTING);
    oak_child_counts k;
    OT_CHECK_INT_EQ(oak_supervisor_count_children(sup, &k), 0);
    OT_CHECK_UINT_EQ(k.active, 0);
    OT_CHECK_UINT_EQ(k.specs, 1);
    started_msg s = recv_started(OT_LONG_MS);
    check_delay(s.at_ms - t0, 200);
    w = s.pid;
    OT_CHECK_INT_EQ(status_of(sup, A("w")), OAK_CHILD_RUNNING);

    /* Doubling, then the cap. */
    check_delay(crash_and_time_restart(&w), 400);
    check_delay(crash_and_time_restart(&w), 800);
    check_delay(crash_and_time_restart(&w), 800);

    /* Up for longer than reset_after_ms: the next delay starts over. */
    oak_sleep(1300);
    check_delay(crash_and_time_restart(&w), 200);
    check_delay(crash_and_time_restart(&w), 400);

    /* Every crash was reported and restarted; none was lost. */
    OT_CHECK_INT_EQ(count(&starts[0]), 7);
    OT_CHECK_INT_EQ(count(&n_child_terminated), 6);
    OT_CHECK_INT_EQ(oak_supervisor_stop(sup), 0);
}

static void supervisor_backoff_doubles_to_the_cap_and_resets_after_uptime(void **st)
{
    run(body_backoff_grows);
}

static void body_backoff_jitter(void)
{
    wcfg c = {.idx = 0};
    oak_child_spec ch[] = {wspec("w", &c)};
    ch[0].backoff = (oak_backoff){.initial_ms = 400, .max_ms = 400, .jitter_pct = 50};
    oak_supervisor_def def = {.flags = flags(OAK_ONE_FOR_ONE, 100, 60, 0),
                              .children = ch, .count = 1};
    oak_pid sup = start_sup(&def);
    oak_pid w = recv_started(OT_LONG_MS).pid;
    for (int i = 0; i < 4; i++) {
        int64_t d = crash_and_time_restart(&w);
        /* 400 ms minus up to 50 %. */
        if (d < 200 - EARLY_MS || d > 400 + LATE_MS)
            OT_FAIL("jittered delay %lld ms, want 200..400", (long long)d);
    }
    OT_CHECK_INT_EQ(oak_supervisor_stop(sup), 0);
}

static void supervisor_backoff_jitter_only_shortens_the_delay(void **st)
{
    run(body_backoff_jitter);
}

static void body_backoff_counts_when_decided(void)
{
    wcfg c = {.idx = 0};
    oak_child_spec ch[] = {wspec("w", &c)};
    ch[0].backoff = (oak_backoff){.initial_ms = 100, .max_ms = 100};
    oak_supervisor_def def = {.flags = flags(OAK_ONE_FOR_ONE, 2, 60, 0),
                              .children = ch, .count = 1};
    oak_pid sup = start_sup(&def);
    oak_ref mon = oak_monitor(sup);
    oak_pid w = recv_started(OT_LONG_MS).pid;
    crash_and_time_restart(&w);
    crash_and_time_restart(&w);
    /* The third restart is one too many: the supervisor gives up at once,
     * without waiting for a delay first. */
    int64_t t0 = oak_now_ms();
    tell(w, "boom");
    expect_exit(sup, mon, "shutdown");
    OT_CHECK_INT_LT(oak_now_ms() - t0, 100 + LATE_MS);
    OT_CHECK_INT_EQ(count(&starts[0]), 3);
    OT_CHECK_INT_EQ(count(&n_reached_max), 1);
    OT_NO_MSG(OT_TAG_READY, OT_SETTLE_MS);
}

static void supervisor_backoff_restarts_count_toward_intensity_when_decided(void **st)
{
    run(body_backoff_counts_when_decided);
}

static void body_backoff_cancelled(void)
{
    wcfg c = {.idx = 0};
    oak_child_spec ch[] = {wspec("w", &c)};
    ch[0].backoff = (oak_backoff){.initial_ms = 300};
    oak_supervisor_def def = {.flags = flags(OAK_ONE_FOR_ONE, 10, 60, 0),
                              .children = ch, .count = 1};
    oak_pid sup = start_sup(&def);
    oak_pid w = recv_started(OT_LONG_MS).pid;
    tell(w, "boom");
    oak_sleep(50);
    OT_CHECK_INT_EQ(status_of(sup, A("w")), OAK_CHILD_RESTARTING);
    /* terminate_child while the restart waits: the restart never comes. */
    OT_CHECK_INT_EQ(oak_supervisor_terminate_child(sup, A("w")), 0);
    OT_CHECK_INT_EQ(status_of(sup, A("w")), OAK_CHILD_UNDEFINED);
    OT_NO_MSG(OT_TAG_READY, 600);
    OT_CHECK_INT_EQ(count(&starts[0]), 1);
    /* restart_child starts it at once: a delay is for crashes only. */
    int64_t t0 = oak_now_ms();
    oak_pid p = OAK_NOPID;
    OT_CHECK_INT_EQ(oak_supervisor_restart_child(sup, A("w"), &p, NULL), 0);
    started_msg s = recv_started(OT_LONG_MS);
    OT_CHECK_UINT_EQ(s.pid, p);
    OT_CHECK_INT_LT(s.at_ms - t0, 150);
    /* A supervisor stopped while a delayed restart waits leaves nothing. */
    tell(p, "boom");
    oak_sleep(50);
    OT_CHECK_INT_EQ(status_of(sup, A("w")), OAK_CHILD_RESTARTING);
    OT_CHECK_INT_EQ(oak_supervisor_stop(sup), 0);
    OT_NO_MSG(OT_TAG_READY, 600);
    OT_EVENTUALLY(oak_process_count() == 1, OT_LONG_MS);
}

static void supervisor_backoff_wait_is_cancelled_by_terminate_child_and_stop(void **st)
{
    run(body_backoff_cancelled);
}

/* =========================================================================
 * auto_shutdown and significant children
 * ========================================================================= */

/* Children: 0 = a (permanent, not significant), 1 = b, 2 = c (restart
 * given, significant). */
static oak_pid start_significant(oak_strategy strat, oak_auto_shutdown as,
                                 oak_restart r, int nsig, oak_pid *kids,
                                 oak_child_spec *ch)
{
    static wcfg cfg[3];
    static const char *const ids[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        cfg[i] = (wcfg){.idx = i};
        ch[i] = wspec(ids[i], &cfg[i]);
        if (i > 0 && i <= nsig) {
            ch[i].restart = r;
            ch[i].significant = true;
        }
    }
    static oak_supervisor_def def;
    def = (oak_supervisor_def){.flags = flags(strat, 10, 60, as),
                               .children = ch, .count = (size_t)(1 + nsig)};
    oak_pid sup = start_sup(&def);
    for (int i = 0; i <= nsig; i++) {
        started_msg s = recv_started(OT_LONG_MS);
        kids[s.idx] = s.pid;
    }
    return sup;
}

static void body_any_significant(void)
{
    oak_child_spec ch[3];
    oak_pid k[3];
    /* A significant transient child that crashes is just restarted. */
    oak_pid sup = start_significant(OAK_ONE_FOR_ONE, OAK_ANY_SIGNIFICANT,
                                    OAK_TRANSIENT, 1, k, ch);
    oak_ref mon = oak_monitor(sup);
    tell(k[1], "boom");
    k[1] = recv_started(OT_LONG_MS).pid;
    OT_CHECK(oak_is_alive(sup));
    /* Its normal exit shuts the supervisor down: the others are stopped
     * and the supervisor exits `shutdown`. */
    tell(k[1], "normal");
    expect_exit(sup, mon, "shutdown");
    OT_CHECK(!oak_is_alive(k[0]));
    OT_CHECK_INT_EQ(count(&terminates[0]), 1);
    OT_CHECK_INT_EQ(count(&starts[1]), 2);
}

static void supervisor_any_significant_stops_when_one_exits_on_its_own(void **st)
{
    run(body_any_significant);
}

static void body_any_significant_temporary(void)
{
    oak_child_spec ch[3];
    oak_pid k[3];
    /* A temporary significant child: any exit reason counts. */
    oak_pid sup = start_significant(OAK_ONE_FOR_ONE, OAK_ANY_SIGNIFICANT,
                                    OAK_TEMPORARY, 1, k, ch);
    oak_ref mon = oak_monitor(sup);
    tell(k[1], "boom");
    expect_exit(sup, mon, "shutdown");
    OT_CHECK_INT_EQ(count(&starts[1]), 1);
    OT_CHECK_INT_EQ(count(&terminates[0]), 1);
}

static void supervisor_any_significant_temporary_child_crash_stops_it(void **st)
{
    run(body_any_significant_temporary);
}

static void body_all_significant(void)
{
    oak_child_spec ch[3];
    oak_pid k[3];
    oak_pid sup = start_significant(OAK_ONE_FOR_ONE, OAK_ALL_SIGNIFICANT,
                                    OAK_TRANSIENT, 2, k, ch);
    oak_ref mon = oak_monitor(sup);
    /* The first of two significant children ends: nothing happens. */
    tell(k[1], "shutdown");
    oak_sleep(OT_SETTLE_MS);
    OT_CHECK(oak_is_alive(sup));
    OT_CHECK(oak_is_alive(k[0]));
    OT_CHECK_INT_EQ(status_of(sup, A("b")), OAK_CHILD_UNDEFINED);
    /* The last one ends: the supervisor shuts down. */
    tell(k[2], "normal");
    expect_exit(sup, mon, "shutdown");
    OT_CHECK_INT_EQ(count(&terminates[0]), 1);
}

static void supervisor_all_significant_stops_when_the_last_one_exits(void **st)
{
    run(body_all_significant);
}

static void body_terminate_child_significant(void)
{
    oak_child_spec ch[3];
    oak_pid k[3];
    oak_pid sup = start_significant(OAK_ONE_FOR_ONE, OAK_ANY_SIGNIFICANT,
                                    OAK_TRANSIENT, 1, k, ch);
    /* Stopping a significant child through the API never shuts down. */
    OT_CHECK_INT_EQ(oak_supervisor_terminate_child(sup, A("b")), 0);
    oak_sleep(OT_SETTLE_MS);
    OT_CHECK(oak_is_alive(sup));
    OT_CHECK_INT_EQ(oak_supervisor_stop(sup), 0);
    OT_CHECK_INT_EQ(count(&terminates[0]), 1);
    OT_CHECK_INT_EQ(count(&terminates[1]), 1);
}

static void supervisor_terminate_child_of_a_significant_child_never_shuts_down(void **st)
{
    run(body_terminate_child_significant);
}

static void body_simple_all_significant(void)
{
    static wcfg c = {.idx = 0};
    static oak_child_spec ch[1];
    ch[0] = wspec("tmpl", &c);
    ch[0].restart = OAK_TEMPORARY;
    ch[0].significant = true;
    static oak_supervisor_def def;
    def = (oak_supervisor_def){
        .flags = flags(OAK_SIMPLE_ONE_FOR_ONE, 10, 60, OAK_ALL_SIGNIFICANT),
        .children = ch, .count = 1};
    oak_pid sup = start_sup(&def);
    oak_ref mon = oak_monitor(sup);
    oak_pid k[3];
    for (int i = 0; i < 3; i++) {
        int idx = i;
        OT_CHECK_INT_EQ(oak_supervisor_start_child_args(sup, &idx, sizeof idx, &k[i], NULL), 0);
        OT_CHECK_UINT_EQ(recv_started(OT_LONG_MS).pid, k[i]);
    }
    tell(k[0], "normal");
    tell(k[1], "boom");
    oak_sleep(OT_SETTLE_MS);
    OT_CHECK(oak_is_alive(sup));
    tell(k[2], "shutdown");
    expect_exit(sup, mon, "shutdown");
}

static void supervisor_simple_one_for_one_all_significant(void **st)
{
    run(body_simple_all_significant);
}

/* all_significant: a significant child that is being restarted still
 * counts as alive (OTP: its pid is {restarting, Old}, not undefined), so the
 * exit of the other one does not shut the supervisor down. Checked with OTP
 * 25: the supervisor stays up while b's restarts keep failing. */
static void all_significant_while_restarting(bool by_backoff)
{
    static wcfg cb, cc;
    cb = (wcfg){.idx = 1};
    cc = (wcfg){.idx = 2};
    if (!by_backoff) {
        cb.fail_from = 2; /* every restart fails, slowly */
        cb.init_sleep_ms = 10;
    }
    static oak_child_spec ch[2];
    ch[0] = wspec("b", &cb);
    ch[1] = wspec("c", &cc);
    for (int i = 0; i < 2; i++) {
        ch[i].restart = OAK_TRANSIENT;
        ch[i].significant = true;
    }
    if (by_backoff)
        ch[0].backoff = (oak_backoff){.initial_ms = 400};
    static oak_supervisor_def def;
    def = (oak_supervisor_def){
        .flags = flags(OAK_ONE_FOR_ONE, 1000, 5, OAK_ALL_SIGNIFICANT),
        .children = ch, .count = 2};
    oak_pid sup = start_sup(&def);
    oak_pid k[3];
    for (int i = 0; i < 2; i++) {
        started_msg m = recv_started(OT_LONG_MS);
        k[m.idx] = m.pid;
    }
    tell(k[1], "boom");
    oak_sleep(100);
    OT_CHECK_INT_EQ(status_of(sup, A("b")), OAK_CHILD_RESTARTING);
    tell(k[2], "normal");
    oak_sleep(200);
    OT_CHECK(oak_is_alive(sup));
    OT_CHECK_INT_EQ(oak_supervisor_stop(sup), 0);
}

static void body_all_significant_restarting(void) { all_significant_while_restarting(false); }
static void body_all_significant_backoff(void) { all_significant_while_restarting(true); }

static void supervisor_all_significant_counts_a_restarting_child_as_alive(void **st)
{
    run(body_all_significant_restarting);
}

static void supervisor_all_significant_counts_a_backoff_wait_as_alive(void **st)
{
    run(body_all_significant_backoff);
}

static void body_significant_rejected(void)
{
    wcfg c = {.idx = 0};
    oak_child_spec ch[] = {wspec("w", &c)};
    ch[0].restart = OAK_TRANSIENT;
    ch[0].significant = true;
    oak_supervisor_def def = {.flags = flags(OAK_ONE_FOR_ONE, 1, 5, OAK_AUTO_SHUTDOWN_NEVER),
                              .children = ch, .count = 1};
    oak_reason why;
    char r[600];
    OT_CHECK_INT_EQ(oak_supervisor_start(&def, OAK_GEN_LINK, NULL, &why), -ECANCELED);
    oak_reason_str(&why, r, sizeof r);
    OT_CHECK_STR_EQ(r, "{start_spec,{bad_combination,[{auto_shutdown,never},{significant,true}]}}");
    OT_CHECK_INT_EQ(count(&starts[0]), 0);
    /* The failed supervisor's exit reaches us through the link. */
    ot_signal e = OT_RECV_EXIT(OT_LONG_MS);
    OT_CHECK_ATOM_EQ(e.reason, A("start_spec"));
}

static void supervisor_significant_needs_auto_shutdown(void **st)
{
    run(body_significant_rejected);
}

/* =========================================================================
 * child spec validation: every bad field, and the order of the checks
 * ========================================================================= */

static int dummy_start(const oak_child_args *a, oak_pid *pid, oak_reason *why)
{
    return OAK_IGNORED;
}

static oak_child_spec good(const char *id)
{
    oak_child_spec s;
    memset(&s, 0, sizeof s);
    s.id = A(id);
    s.start = dummy_start;
    return s;
}

/* check_childspecs of specs gives err, with the reason text want. */
static void expect_spec_error(const oak_child_spec *specs, size_t n,
                              oak_auto_shutdown as, const char *want)
{
    oak_reason why;
    char r[600];
    int rc = oak_supervisor_check_childspecs(specs, n, as, &why);
    oak_reason_str(&why, r, sizeof r);
    if (want) {
        assert_int_equal(rc, -EINVAL);
        assert_string_equal(r, want);
    } else {
        if (rc != 0)
            fail_msg("spec rejected: %s", r);
    }
}

static void supervisor_check_childspecs_names_every_bad_field(void **st)
{
    oak_child_spec s = good("a");
    expect_spec_error(&s, 1, OAK_AUTO_SHUTDOWN_NEVER, NULL);

    s = good("a");
    s.id = OAK_ATOM_NONE;
    expect_spec_error(&s, 1, 0, "missing_id");

    s = good("a");
    s.start = NULL;
    expect_spec_error(&s, 1, 0, "missing_start");

    s = good("a");
    s.restart = (oak_restart)7;
    expect_spec_error(&s, 1, 0, "{invalid_restart_type,7}");

    s = good("a");
    s.type = (oak_child_type)5;
    expect_spec_error(&s, 1, 0, "{invalid_child_type,5}");

    s = good("a");
    s.shutdown = -5;
    expect_spec_error(&s, 1, 0, "{invalid_shutdown,-5}");
    /* The special values and positive timeouts are all valid. */
    const int64_t ok_shutdowns[] = {OAK_SHUTDOWN_DEFAULT, OAK_BRUTAL_KILL,
                                    OAK_SHUTDOWN_ZERO, OAK_INFINITY, 1, 5000};
    for (size_t i = 0; i < sizeof ok_shutdowns / sizeof *ok_shutdowns; i++) {
        s = good("a");
        s.shutdown = ok_shutdowns[i];
        expect_spec_error(&s, 1, 0, NULL);
    }

    s = good("a");
    s.restart = OAK_TRANSIENT;
    s.significant = true;
    expect_spec_error(&s, 1, OAK_AUTO_SHUTDOWN_NEVER,
                      "{bad_combination,[{auto_shutdown,never},{significant,true}]}");
    expect_spec_error(&s, 1, OAK_ANY_SIGNIFICANT, NULL);
    expect_spec_error(&s, 1, OAK_ALL_SIGNIFICANT, NULL);
    s.restart = OAK_TEMPORARY;
    expect_spec_error(&s, 1, OAK_ANY_SIGNIFICANT, NULL);
    s.restart = OAK_PERMANENT;
    expect_spec_error(&s, 1, OAK_ANY_SIGNIFICANT,
                      "{bad_combination,[{restart,permanent},{significant,true}]}");

    s = good("a");
    s.backoff.initial_ms = -1;
    expect_spec_error(&s, 1, 0, "{invalid_backoff,{initial_ms,-1}}");
    s = good("a");
    s.backoff = (oak_backoff){.initial_ms = 10, .max_ms = -1};
    expect_spec_error(&s, 1, 0, "{invalid_backoff,{max_ms,-1}}");
    s = good("a");
    s.backoff = (oak_backoff){.initial_ms = 10, .jitter_pct = 101};
    expect_spec_error(&s, 1, 0, "{invalid_backoff,{jitter_pct,101}}");
    s = good("a");
    s.backoff = (oak_backoff){.initial_ms = 10, .jitter_pct = -1};
    expect_spec_error(&s, 1, 0, "{invalid_backoff,{jitter_pct,-1}}");
    s = good("a");
    s.backoff = (oak_backoff){.initial_ms = 10, .reset_after_ms = -3};
    expect_spec_error(&s, 1, 0, "{invalid_backoff,{reset_after_ms,-3}}");

    oak_child_spec two[] = {good("a"), good("a")};
    expect_spec_error(two, 2, 0, "{duplicate_child_name,a}");
    expect_spec_error(NULL, 1, 0, "badarg");
    expect_spec_error(NULL, 0, 0, NULL);
}

static void supervisor_check_childspecs_reports_the_first_failing_check(void **st)
{
    /* OTP's order (checked with OTP 25): restart type, significant,
     * child type, shutdown; each spec in full before the duplicate check. */
    oak_child_spec s = good("a");
    s.restart = (oak_restart)7;
    s.type = (oak_child_type)5;
    s.shutdown = -5;
    expect_spec_error(&s, 1, 0, "{invalid_restart_type,7}");
    s.restart = OAK_PERMANENT;
    s.significant = true;
    expect_spec_error(&s, 1, OAK_ANY_SIGNIFICANT,
                      "{bad_combination,[{restart,permanent},{significant,true}]}");
    expect_spec_error(&s, 1, OAK_AUTO_SHUTDOWN_NEVER,
                      "{bad_combination,[{auto_shutdown,never},{significant,true}]}");
    s.significant = false;
    expect_spec_error(&s, 1, 0, "{invalid_child_type,5}");
    oak_child_spec two[] = {good("a"), good("a")};
    two[1].restart = (oak_restart)9;
    expect_spec_error(two, 2, 0, "{invalid_restart_type,9}");
    oak_child_spec none[] = {good("a")};
    none[0].id = OAK_ATOM_NONE;
    none[0].start = NULL;
    expect_spec_error(none, 1, 0, "missing_id");
}

/* Start-time errors, as the starter sees them. */
static void expect_start_error(const oak_supervisor_def *def, const char *want)
{
    oak_reason why;
    char r[600];
    int rc = oak_supervisor_start(def, 0, NULL, &why);
    oak_reason_str(&why, r, sizeof r);
    OT_CHECK_INT_EQ(rc, -ECANCELED);
    OT_CHECK_STR_EQ(r, want);
}

static void body_start_errors(void)
{
    oak_child_spec ok[] = {good("a")};
    oak_supervisor_def d = {.flags = flags(OAK_ONE_FOR_ONE, 1, 5, 0),
                            .children = ok, .count = 1};
    d.flags.strategy = (oak_strategy)9;
    expect_start_error(&d, "{supervisor_data,{invalid_strategy,9}}");
    d.flags = flags(OAK_ONE_FOR_ONE, -1, 5, 0);
    expect_start_error(&d, "{supervisor_data,{invalid_intensity,-1}}");
    d.flags = flags(OAK_ONE_FOR_ONE, 1, -2, 0);
    expect_start_error(&d, "{supervisor_data,{invalid_period,-2}}");
    d.flags = flags(OAK_ONE_FOR_ONE, 1, 5, (oak_auto_shutdown)4);
    expect_start_error(&d, "{supervisor_data,{invalid_auto_shutdown,4}}");

    oak_child_spec bad[] = {good("a"), good("b")};
    bad[1].shutdown = -7;
    d = (oak_supervisor_def){.flags = flags(OAK_ONE_FOR_ONE, 1, 5, 0),
                             .children = bad, .count = 2};
    expect_start_error(&d, "{start_spec,{invalid_shutdown,-7}}");
    d.flags.strategy = OAK_SIMPLE_ONE_FOR_ONE;
    expect_start_error(&d, "{bad_start_spec,2}");
    d.count = 1;
    bad[0].start = NULL;
    expect_start_error(&d, "{start_spec,missing_start}");

    /* start_child checks the spec and leaves the supervisor running. */
    oak_supervisor_def empty = {.flags = flags(OAK_ONE_FOR_ONE, 1, 5, 0)};
    oak_pid sup = start_sup(&empty);
    oak_child_spec s = good("x");
    s.type = (oak_child_type)3;
    oak_reason why;
    char r[600];
    OT_CHECK_INT_EQ(oak_supervisor_start_child(sup, &s, NULL, &why), -EINVAL);
    oak_reason_str(&why, r, sizeof r);
    OT_CHECK_STR_EQ(r, "{invalid_child_type,3}");
    OT_CHECK_INT_EQ(oak_supervisor_start_child(sup, NULL, NULL, &why), -EINVAL);
    OT_CHECK_INT_EQ(oak_supervisor_which_children(sup, NULL, 0), 0);

    /* A DynamicSupervisor wants shutdown > 0 (Elixir 1.14) and no id. */
    oak_supervisor_def dyn = {.flags = flags(OAK_DYNAMIC, 3, 5, 0)};
    oak_pid ds = start_sup(&dyn);
    s = good("x");
    s.shutdown = OAK_SHUTDOWN_ZERO;
    OT_CHECK_INT_EQ(oak_supervisor_start_child(ds, &s, NULL, &why), -EINVAL);
    oak_reason_str(&why, r, sizeof r);
    OT_CHECK_STR_EQ(r, "{invalid_shutdown,0}");
    s = good("x");
    s.id = OAK_ATOM_NONE;
    OT_CHECK_INT_EQ(oak_supervisor_start_child(ds, &s, NULL, &why), OAK_IGNORED);

    OT_CHECK_INT_EQ(oak_supervisor_stop(ds), 0);
    OT_CHECK_INT_EQ(oak_supervisor_stop(sup), 0);
    OT_CHECK(oak_is_alive(oak_self()));
}

static void supervisor_start_reports_bad_flags_and_specs(void **st)
{
    run(body_start_errors);
}

/* =========================================================================
 * many dynamic children
 * ========================================================================= */

#ifdef UNDER_TSAN
enum { MANY = 2000 }; /* TSan dies beyond 8128 live fibers */
#else
enum { MANY = 10000 };
#endif

static void start_many_and_stop(oak_strategy strat)
{
    static wcfg c = {.idx = 0, .silent = true};
    static oak_child_spec ch[1];
    ch[0] = wspec("tmpl", &c);
    ch[0].restart = OAK_TEMPORARY;
    static oak_supervisor_def def;
    def = (oak_supervisor_def){.flags = flags(strat, 3, 5, 0),
                               .children = strat == OAK_DYNAMIC ? NULL : ch,
                               .count = strat == OAK_DYNAMIC ? 0 : 1};
    size_t before = oak_process_count();
    oak_pid sup = start_sup(&def);
    oak_ref mon = oak_monitor(sup);
    int64_t t0 = ot_now_ns();
    for (int i = 0; i < MANY; i++) {
        oak_pid p = OAK_NOPID;
        int rc = strat == OAK_DYNAMIC
                     ? oak_supervisor_start_child(sup, &ch[0], &p, NULL)
                     : oak_supervisor_start_child_args(sup, NULL, 0, &p, NULL);
        if (rc != 0 || !p)
            OT_FAIL("start_child %d: %d (%s)", i, rc, oak_strerror(rc));
    }
    int64_t started_ms = ot_ms_since(t0);
    oak_child_counts k;
    OT_CHECK_INT_EQ(oak_supervisor_count_children(sup, &k), 0);
    OT_CHECK_UINT_EQ(k.active, MANY);
    OT_CHECK_UINT_EQ(k.workers, MANY);
    OT_CHECK_INT_EQ(oak_supervisor_which_children(sup, NULL, 0), MANY);
    OT_CHECK_UINT_EQ(oak_process_count(), before + 1 + MANY);
    OT_CHECK_INT_EQ(count(&starts[0]), MANY);

    t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_supervisor_stop(sup), 0);
    int64_t stopped_ms = ot_ms_since(t0);
    /* Every child ran its terminate before the supervisor was gone. */
    OT_CHECK_INT_EQ(count(&terminates[0]), MANY);
    expect_exit(sup, mon, "normal");
    OT_EVENTUALLY(oak_process_count() == before, OT_LONG_MS);
    /* Nothing was left with us: no message, link or monitor. */
    OT_NO_MSG(0, 50);
    oak_process_info info;
    OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
    OT_CHECK_UINT_EQ(info.links, 0);
    OT_CHECK_UINT_EQ(info.monitors, 0);
    OT_CHECK_UINT_EQ(info.message_queue, 0);
    print_message("%d children: started in %lld ms, stopped in %lld ms\n", MANY,
                  (long long)started_ms, (long long)stopped_ms);
}

static void body_many_simple(void) { start_many_and_stop(OAK_SIMPLE_ONE_FOR_ONE); }
static void body_many_dynamic(void) { start_many_and_stop(OAK_DYNAMIC); }

static void supervisor_simple_one_for_one_stops_ten_thousand_children(void **st)
{
    run(body_many_simple);
}

static void supervisor_dynamic_stops_ten_thousand_children(void **st)
{
    run(body_many_dynamic);
}

static void body_many_killed_parent(void)
{
    /* The supervisor's parent sends `shutdown` (as a parent supervisor
     * does): the same orderly stop, and the supervisor exits shutdown. */
    static wcfg c = {.idx = 0, .silent = true};
    static oak_child_spec ch[1];
    ch[0] = wspec("tmpl", &c);
    static oak_supervisor_def def;
    def = (oak_supervisor_def){.flags = flags(OAK_SIMPLE_ONE_FOR_ONE, 3, 5, 0),
                               .children = ch, .count = 1};
    oak_pid sup = start_sup(&def);
    oak_ref mon = oak_monitor(sup);
    for (int i = 0; i < MANY / 4; i++)
        OT_CHECK_INT_EQ(oak_supervisor_start_child_args(sup, NULL, 0, NULL, NULL), 0);
    oak_exit_pid(sup, OAK_SHUTDOWN);
    expect_exit(sup, mon, "shutdown");
    OT_CHECK_INT_EQ(count(&terminates[0]), MANY / 4);
    OT_EVENTUALLY(oak_process_count() == 1, OT_LONG_MS);
}

static void supervisor_exit_from_parent_stops_all_dynamic_children(void **st)
{
    run(body_many_killed_parent);
}

/* =========================================================================
 * restart storms
 * ========================================================================= */

/* top (one_for_one, intensity 1) -> mid (one_for_one, intensity 3) ->
 * storm (crashes right after every start). */
static void body_storm_escalates(void)
{
    static wcfg storm = {.idx = 0, .crash_at_once = true, .silent = true};
    static wcfg calm = {.idx = 1};
    static oak_child_spec mid_children[1];
    static oak_supervisor_def mid_def;
    static oak_child_spec top_children[2];
    static oak_supervisor_def top_def;
    mid_children[0] = wspec("storm", &storm);
    mid_def = (oak_supervisor_def){.flags = flags(OAK_ONE_FOR_ONE, 3, 5, 0),
                                   .children = mid_children, .count = 1};
    top_children[0] = wspec("calm", &calm);
    top_children[1] = (oak_child_spec){.id = A("mid"),
                                       .start = oak_supervisor_start_fn,
                                       .arg = &mid_def,
                                       .type = OAK_SUPERVISOR};
    top_def = (oak_supervisor_def){.flags = flags(OAK_ONE_FOR_ONE, 1, 5, 0),
                                   .children = top_children, .count = 2};
    int64_t t0 = oak_now_ms();
    oak_pid top = start_sup(&top_def);
    oak_ref mon = oak_monitor(top);
    recv_started(OT_LONG_MS); /* calm */
    /* mid gives up after 3 restarts (4 starts), top restarts it once, mid
     * gives up again, and that is one restart too many for top. */
    expect_exit(top, mon, "shutdown");
    OT_CHECK_INT_LT(oak_now_ms() - t0, 3000);
    OT_CHECK_INT_EQ(count(&starts[0]), 8);
    OT_CHECK_INT_EQ(count(&n_reached_max), 3);
    /* The calm sibling was stopped in order, never restarted. */
    OT_CHECK_INT_EQ(count(&starts[1]), 1);
    OT_CHECK_INT_EQ(count(&terminates[1]), 1);
    OT_EVENTUALLY(oak_process_count() == 1, OT_LONG_MS);
}

static void supervisor_restart_storm_escalates_to_the_top(void **st)
{
    run(body_storm_escalates);
}

static void body_failing_restarts(void)
{
    /* Started once, then every restart fails: each failed attempt counts,
     * so intensity 3 allows exactly 3 attempts. */
    wcfg c = {.idx = 0, .fail_from = 2};
    oak_child_spec ch[] = {wspec("w", &c)};
    oak_supervisor_def def = {.flags = flags(OAK_ONE_FOR_ONE, 3, 5, 0),
                              .children = ch, .count = 1};
    oak_pid sup = start_sup(&def);
    oak_ref mon = oak_monitor(sup);
    oak_pid w = recv_started(OT_LONG_MS).pid;
    tell(w, "boom");
    expect_exit(sup, mon, "shutdown");
    OT_CHECK_INT_EQ(count(&starts[0]), 4);
    OT_CHECK_INT_EQ(count(&n_start_error), 3);
    OT_CHECK_INT_EQ(count(&n_reached_max), 1);
}

static void supervisor_failing_restarts_count_and_trip_intensity(void **st)
{
    run(body_failing_restarts);
}

static void body_group_storm(void)
{
    /* one_for_all with three children, one of which crashes at once each
     * time: every round restarts the group once (one restart each). */
    static wcfg cs[3] = {{.idx = 0, .silent = true},
                         {.idx = 1, .crash_at_once = true, .silent = true},
                         {.idx = 2, .silent = true}};
    static oak_child_spec ch[3];
    ch[0] = wspec("a", &cs[0]);
    ch[1] = wspec("b", &cs[1]);
    ch[2] = wspec("c", &cs[2]);
    static oak_supervisor_def def;
    def = (oak_supervisor_def){.flags = flags(OAK_ONE_FOR_ALL, 2, 5, 0),
                               .children = ch, .count = 3};
    oak_pid sup = start_sup(&def);
    oak_ref mon = oak_monitor(sup);
    expect_exit(sup, mon, "shutdown");
    /* The first start and two group restarts; the third is refused. */
    OT_CHECK_INT_EQ(count(&starts[1]), 3);
    OT_CHECK_INT_EQ(count(&starts[0]), 3);
    OT_CHECK_INT_EQ(count(&terminates[0]), 3);
    OT_CHECK_INT_EQ(count(&n_reached_max), 1);
}

static void supervisor_one_for_all_storm_counts_one_restart_per_round(void **st)
{
    run(body_group_storm);
}

/* ---- main ------------------------------------------------------------------------------ */

typedef struct group {
    const char *name;
    const struct CMUnitTest *tests;
    size_t count;
} group;

int main(int argc, char **argv)
{
    static const struct CMUnitTest backoff[] = {
        cmocka_unit_test(supervisor_restarts_at_once_without_backoff),
        cmocka_unit_test(supervisor_backoff_doubles_to_the_cap_and_resets_after_uptime),
        cmocka_unit_test(supervisor_backoff_jitter_only_shortens_the_delay),
        cmocka_unit_test(supervisor_backoff_restarts_count_toward_intensity_when_decided),
        cmocka_unit_test(supervisor_backoff_wait_is_cancelled_by_terminate_child_and_stop),
    };
    static const struct CMUnitTest auto_shutdown[] = {
        cmocka_unit_test(supervisor_any_significant_stops_when_one_exits_on_its_own),
        cmocka_unit_test(supervisor_any_significant_temporary_child_crash_stops_it),
        cmocka_unit_test(supervisor_all_significant_stops_when_the_last_one_exits),
        cmocka_unit_test(supervisor_terminate_child_of_a_significant_child_never_shuts_down),
        cmocka_unit_test(supervisor_simple_one_for_one_all_significant),
        cmocka_unit_test(supervisor_all_significant_counts_a_restarting_child_as_alive),
        cmocka_unit_test(supervisor_all_significant_counts_a_backoff_wait_as_alive),
        cmocka_unit_test(supervisor_significant_needs_auto_shutdown),
    };
    static const struct CMUnitTest validation[] = {
        cmocka_unit_test(supervisor_check_childspecs_names_every_bad_field),
        cmocka_unit_test(supervisor_check_childspecs_reports_the_first_failing_check),
        cmocka_unit_test(supervisor_start_reports_bad_flags_and_specs),
    };
    static const struct CMUnitTest many[] = {
        cmocka_unit_test(supervisor_simple_one_for_one_stops_ten_thousand_children),
        cmocka_unit_test(supervisor_dynamic_stops_ten_thousand_children),
        cmocka_unit_test(supervisor_exit_from_parent_stops_all_dynamic_children),
    };
    static const struct CMUnitTest storm[] = {
        cmocka_unit_test(supervisor_restart_storm_escalates_to_the_top),
        cmocka_unit_test(supervisor_failing_restarts_count_and_trip_intensity),
        cmocka_unit_test(supervisor_one_for_all_storm_counts_one_restart_per_round),
    };
#define GROUP(n, v) {n, v, sizeof v / sizeof v[0]}
    static const group groups[] = {
        GROUP("backoff", backoff),
        GROUP("auto_shutdown", auto_shutdown),
        GROUP("childspec_validation", validation),
        GROUP("many_children", many),
        GROUP("restart_storm", storm),
    };
    int failed = 0, ran = 0;
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        if (argc > 1 && strcmp(argv[1], groups[i].name) != 0)
            continue;
        failed += _cmocka_run_group_tests(groups[i].name, groups[i].tests,
                                          groups[i].count, NULL, NULL);
        ran++;
    }
    if (!ran) {
        fprintf(stderr, "test_supervisor: fatal: unable to run: no group %s\n", argv[1]);
        return 100;
    }
    return failed;
}
