/* test_contract.c - every result as the headers document it: bad input to
 * the supervisor, gen_server and process APIs, calls outside a running
 * runtime, and the shape of the reports the runtime logs.
 */
#include "oak_test.h"

static oak_atom A(const char *s) { return oak_atom_from(s); }

/* ---- a plain gen_server (no supervisor) --------------------------------------------------- */

static int plain_init(oak_gen_server *gs, void *arg, void **state)
{
    (void)gs, (void)arg, (void)state;
    return OAK_GS_OK;
}

/* Answers every call with 8 bytes, as many servers would. */
static int plain_call(oak_gen_server *gs, void *state, const oak_msg *req,
                      const oak_gen_from *from)
{
    (void)state, (void)req, (void)from;
    uint64_t v = 8026488;
    oak_gen_server_set_reply(gs, OAK_OK, &v, sizeof v);
    return OAK_GS_REPLY;
}

static const oak_gen_server_callbacks plain_cb = {.init = plain_init,
                                                  .handle_call = plain_call};

static int worker_start(const oak_child_args *a, oak_pid *pid, oak_reason *why)
{
    (void)a;
    oak_gen_server_opts o = {.flags = OAK_GEN_LINK};
    return oak_gen_server_start(&plain_cb, NULL, &o, pid, why);
}

/* ---- supervisor calls to a process that is no supervisor ---------------------------------- */

static void not_a_supervisor_main(void *arg)
{
    (void)arg;
    oak_pid gs = 0;
    OT_CHECK_INT_EQ(oak_gen_server_start(&plain_cb, NULL, NULL, &gs, NULL), 0);
    OT_CHECK_INT_EQ(oak_supervisor_terminate_child(gs, A("a")), -EPROTO);
    OT_CHECK_INT_EQ(oak_supervisor_terminate_child_pid(gs, oak_self()), -EPROTO);
    OT_CHECK_INT_EQ(oak_supervisor_delete_child(gs, A("a")), -EPROTO);
    oak_pid p = 77;
    oak_reason why;
    OT_CHECK_INT_EQ(oak_supervisor_restart_child(gs, A("a"), &p, &why), -EPROTO);
    oak_child_spec spec = {.id = A("a"), .start = worker_start};
    OT_CHECK_INT_EQ(oak_supervisor_start_child(gs, &spec, &p, &why), -EPROTO);
    oak_child_info info[2];
    memset(info, 0x5a, sizeof info);
    OT_CHECK_INT_EQ(oak_supervisor_which_children(gs, info, 2), -EPROTO);
    OT_CHECK_UINT_EQ(info[0].pid, 0x5a5a5a5a5a5a5a5aull);
    oak_child_counts k;
    memset(&k, 0x5a, sizeof k);
    OT_CHECK_INT_EQ(oak_supervisor_count_children(gs, &k), -EPROTO);
    OT_CHECK_UINT_EQ(k.specs, 0x5a5a5a5a5a5a5a5aull);
    oak_msg *holder = (oak_msg *)&k;
    OT_CHECK_INT_EQ(oak_supervisor_get_childspec(gs, A("a"), &spec, &holder), -EPROTO);
    OT_CHECK(holder == NULL);
    /* The server is unharmed. */
    OT_CHECK(oak_is_alive(gs));
    OT_CHECK_INT_EQ(oak_gen_server_stop(gs, OAK_NORMAL, NULL, OAK_INFINITY, NULL), 0);
}

static void supervisor_calls_to_a_plain_gen_server_return_eproto(void **state)
{
    (void)state;
    OT_RUN(not_a_supervisor_main, NULL);
}

/* ---- start_child's argument and the already_started code ----------------------------------- */

static void start_child_main(void *arg)
{
    (void)arg;
    oak_supervisor_def def = {.name = A("csup"), .flags = OAK_SUP_FLAGS_DEFAULT};
    oak_pid sup = 0;
    oak_reason why;
    OT_CHECK_INT_EQ(oak_supervisor_start(&def, OAK_GEN_LINK, &sup, &why), 0);
    oak_child_spec spec = {.id = A("a"), .start = worker_start, .arg = NULL,
                           .arg_size = 16};
    oak_pid p = 0;
    OT_CHECK_INT_EQ(oak_supervisor_start_child(sup, &spec, &p, &why), -EINVAL);
    OT_CHECK_ATOM_EQ(why.atom, A("invalid_arg"));
    OT_CHECK_STR_EQ(why.detail, "16");
    OT_CHECK_INT_EQ(oak_supervisor_check_childspecs(&spec, 1, OAK_AUTO_SHUTDOWN_NEVER, &why),
                    -EINVAL);
    OT_CHECK_ATOM_EQ(why.atom, A("invalid_arg"));
    OT_CHECK_INT_EQ(oak_supervisor_start_child_args(sup, NULL, 4, &p, &why), -EINVAL);
    OT_CHECK_INT_EQ(oak_supervisor_count_children(sup, NULL), 0);

    /* {already_started, Pid}: one code everywhere. */
    spec.arg_size = 0;
    oak_pid a = 0;
    OT_CHECK_INT_EQ(oak_supervisor_start_child(sup, &spec, &a, &why), 0);
    OT_CHECK_INT_EQ(oak_supervisor_start_child(sup, &spec, &p, &why), -EALREADY);
    OT_CHECK_UINT_EQ(p, a);
    OT_CHECK_ATOM_EQ(why.atom, A("already_started"));
    OT_CHECK_INT_EQ(oak_supervisor_terminate_child(sup, A("a")), 0);
    OT_CHECK_INT_EQ(oak_supervisor_start_child(sup, &spec, &p, &why), -EEXIST);
    OT_CHECK_ATOM_EQ(why.atom, A("already_present"));
    oak_pid other = 0;
    OT_CHECK_INT_EQ(oak_supervisor_start(&def, 0, &other, &why), -EALREADY);
    OT_CHECK_UINT_EQ(other, sup);
    OT_CHECK_ATOM_EQ(why.atom, A("already_started"));
    oak_gen_server_opts o = {.name = A("csup")};
    OT_CHECK_INT_EQ(oak_gen_server_start(&plain_cb, NULL, &o, &other, &why), -EALREADY);
    OT_CHECK_INT_EQ(oak_supervisor_stop(sup), 0);
}

static void start_child_rejects_a_null_arg_and_already_started_is_ealready(void **state)
{
    (void)state;
    OT_RUN(start_child_main, NULL);
}

/* ---- out-of-range enums and check_childspecs -------------------------------------------- */

static void enums_main(void *arg)
{
    (void)arg;
    oak_reason why;
    oak_child_spec good = {.id = A("a"), .start = worker_start};
    oak_child_spec bad = {.id = A("b")};
    /* auto_shutdown out of range: {badarg, N}, before any spec. */
    OT_CHECK_INT_EQ(oak_supervisor_check_childspecs(&bad, 1, (oak_auto_shutdown)7, &why), -EINVAL);
    OT_CHECK_ATOM_EQ(why.atom, OAK_BADARG);
    OT_CHECK_STR_EQ(why.detail, "7");
    OT_CHECK_INT_EQ(oak_supervisor_check_childspecs(&good, 1, (oak_auto_shutdown)-2, &why), -EINVAL);
    OT_CHECK_STR_EQ(why.detail, "-2");
    /* check_childspecs/1. */
    oak_child_spec sig = good;
    sig.significant = true;
    sig.restart = OAK_TRANSIENT;
    OT_CHECK_INT_EQ(oak_supervisor_check_childspecs(&sig, 1, OAK_AUTO_SHUTDOWN_UNDEFINED, &why), 0);
    OT_CHECK_INT_EQ(oak_supervisor_check_childspecs(&sig, 1, OAK_AUTO_SHUTDOWN_NEVER, &why), -EINVAL);
    OT_CHECK_ATOM_EQ(why.atom, A("bad_combination"));
    sig.restart = OAK_PERMANENT;
    OT_CHECK_INT_EQ(oak_supervisor_check_childspecs(&sig, 1, OAK_AUTO_SHUTDOWN_UNDEFINED, &why), -EINVAL);
    OT_CHECK_STR_EQ(why.detail, "[{restart,permanent},{significant,true}]");
    /* Each enum of a spec, out of range, the same documented way. */
    oak_child_spec s = good;
    s.restart = (oak_restart)9;
    OT_CHECK_INT_EQ(oak_supervisor_check_childspecs(&s, 1, OAK_AUTO_SHUTDOWN_NEVER, &why), -EINVAL);
    OT_CHECK_ATOM_EQ(why.atom, A("invalid_restart_type"));
    OT_CHECK_STR_EQ(why.detail, "9");
    s = good;
    s.type = (oak_child_type)9;
    OT_CHECK_INT_EQ(oak_supervisor_check_childspecs(&s, 1, OAK_AUTO_SHUTDOWN_NEVER, &why), -EINVAL);
    OT_CHECK_ATOM_EQ(why.atom, A("invalid_child_type"));
    OT_CHECK_STR_EQ(why.detail, "9");
    /* ... and of the flags. */
    oak_supervisor_def def = {.flags = OAK_SUP_FLAGS_DEFAULT};
    def.flags.strategy = (oak_strategy)9;
    oak_pid p = 0;
    OT_CHECK_INT_EQ(oak_supervisor_start(&def, 0, &p, &why), -ECANCELED);
    OT_CHECK_ATOM_EQ(why.atom, A("supervisor_data"));
    OT_CHECK_STR_EQ(why.detail, "{invalid_strategy,9}");
    def.flags.strategy = OAK_ONE_FOR_ONE;
    def.flags.auto_shutdown = (oak_auto_shutdown)9;
    OT_CHECK_INT_EQ(oak_supervisor_start(&def, 0, &p, &why), -ECANCELED);
    OT_CHECK_STR_EQ(why.detail, "{invalid_auto_shutdown,9}");
    def.flags.auto_shutdown = OAK_AUTO_SHUTDOWN_UNDEFINED; /* not a supervisor's value */
    OT_CHECK_INT_EQ(oak_supervisor_start(&def, 0, &p, &why), -ECANCELED);
    OT_CHECK_STR_EQ(why.detail, "{invalid_auto_shutdown,-1}");
}

static void out_of_range_enums_are_reported_with_their_value(void **state)
{
    (void)state;
    OT_RUN(enums_main, NULL);
}

/* ---- gen_server arguments ------------------------------------------------------------------ */

static void gen_server_args_main(void *arg)
{
    (void)arg;
    oak_pid gs = 0;
    OT_CHECK_INT_EQ(oak_gen_server_start(&plain_cb, NULL, NULL, &gs, NULL), 0);
    oak_msg *m = NULL;
    oak_reason why;
    OT_CHECK_INT_EQ(oak_gen_server_call(gs, A("x"), NULL, 0, &m, -2, &why), -EINVAL);
    OT_CHECK_INT_EQ(oak_gen_server_call(gs, A("x"), NULL, 0, &m, INT64_MIN, &why), -EINVAL);
    OT_CHECK_INT_EQ(oak_gen_server_call(gs, OAK_TAG_EXIT, NULL, 0, &m, 100, &why), -EINVAL);
    OT_CHECK_INT_EQ(oak_gen_server_call(gs, OAK_TAG_DOWN, NULL, 0, &m, 100, &why), -EINVAL);
    OT_CHECK_INT_EQ(oak_gen_server_call(gs, A("x"), NULL, 0, &m, OAK_INFINITY, &why), 0);
    oak_msg_free(m);
    /* A timeout too long for the clock is valid. */
    OT_CHECK_INT_EQ(oak_gen_server_call(gs, A("x"), NULL, 0, &m, INT64_MAX, &why), 0);
    oak_msg_free(m);
    oak_gen_server_opts o = {.timeout_ms = -5};
    oak_pid p = 0;
    OT_CHECK_INT_EQ(oak_gen_server_start(&plain_cb, NULL, &o, &p, &why), -EINVAL);
    o.timeout_ms = 0;
    o.arg_size = 8;
    OT_CHECK_INT_EQ(oak_gen_server_start(&plain_cb, NULL, &o, &p, &why), -EINVAL);
    o.arg_size = 0;
    o.timeout_ms = OAK_INFINITY;
    OT_CHECK_INT_EQ(oak_gen_server_start(&plain_cb, NULL, &o, &p, &why), 0);
    OT_CHECK_INT_EQ(oak_gen_server_stop(p, OAK_NORMAL, NULL, OAK_INFINITY, NULL), 0);
    /* Stopping oneself is OTP's calling_self. */
    OT_CHECK_INT_EQ(oak_gen_server_stop(oak_self(), OAK_NORMAL, NULL, 100, &why), -EDEADLK);
    OT_CHECK_ATOM_EQ(why.atom, A("calling_self"));
    OT_CHECK_INT_EQ(oak_gen_server_stop(gs, OAK_NORMAL, NULL, OAK_INFINITY, NULL), 0);
}

static void gen_server_rejects_bad_timeouts_and_runtime_tags(void **state)
{
    (void)state;
    OT_RUN(gen_server_args_main, NULL);
}

/* ---- the process API ------------------------------------------------------------------------ */

static void process_api_main(void *arg)
{
    (void)arg;
    OT_CHECK_INT_EQ(oak_link(OAK_NOPID), -EINVAL);
    OT_CHECK_INT_EQ(oak_register(A("some_name"), OAK_NOPID), -EINVAL);
    OT_CHECK_UINT_EQ(oak_monitor_name(OAK_ATOM_NONE), 0);
    OT_CHECK_UINT_EQ(oak_monitor_name((oak_atom)0x7ffffff0u), 0);
    OT_NO_MSG(OAK_TAG_DOWN, OT_SETTLE_MS);
    /* An atom that names nobody: a DOWN with noproc. */
    oak_ref r = oak_monitor_name(A("nobody_has_this_name"));
    OT_CHECK_UINT_NE(r, 0);
    ot_signal d = OT_RECV_DOWN(r, OT_LONG_MS);
    OT_CHECK_ATOM_EQ(d.reason, OAK_NOPROC);
    oak_msg *m = NULL;
    OT_CHECK_INT_EQ(oak_receive_ref(&m, 0, 10), -EINVAL);
    OT_CHECK_INT_EQ(oak_receive(&m, -7, NULL, NULL), -EINVAL);
}

static void process_api_bad_input_returns_the_documented_codes(void **state)
{
    (void)state;
    OT_RUN(process_api_main, NULL);
}

static void first_main(void *arg) { *(oak_pid *)arg = oak_self(); }

static void outside_a_running_runtime_no_process_is_alive(void **state)
{
    (void)state;
    oak_pid gone = 0;
    OT_RUN(first_main, &gone);
    assert_int_not_equal(gone, 0);
    /* After the run, and so before any run too. */
    assert_int_equal(oak_send(gone, 5, NULL, 0), -ESRCH);
    assert_int_equal(oak_exit_pid(gone, OAK_KILL), -ESRCH);
    assert_int_equal(oak_make_ref(), 0);
    assert_int_equal(oak_send_after(10, gone, 5, NULL, 0), 0);
    assert_int_equal(oak_register(A("x"), gone), -ESRCH);
}

/* ---- reports ------------------------------------------------------------------------------------ */

static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static char seen_kind[32], seen_line[512];

static void capture(oak_log_level level, const char *kind, const char *line, void *ctx)
{
    (void)ctx;
    if (level < OAK_LOG_WARNING)
        return;
    pthread_mutex_lock(&seen_lock);
    if (!seen_line[0] && (!strcmp(kind, "crash_report") || !strcmp(kind, "long_schedule"))) {
        snprintf(seen_kind, sizeof seen_kind, "%s", kind);
        snprintf(seen_line, sizeof seen_line, "%s", line);
    }
    pthread_mutex_unlock(&seen_lock);
}

#if defined(__GNUC__)
#define FAULTING __attribute__((noinline, no_sanitize("address", "undefined")))
#else
#define FAULTING
#endif

static FAULTING void null_store(void)
{
    volatile int *volatile p = NULL;
    *p = 42;
}

static void faulty(void *arg)
{
    (void)arg;
    oak_register(A("faulty"), oak_self());
    null_store();
}

static void hog(void *arg)
{
    (void)arg;
    oak_register(A("hog"), oak_self());
    int64_t t0 = ot_now_ns();
    volatile uint64_t x = 0;
    while (ot_ms_since(t0) < 900)
        x++; /* never yields */
}

static void report_main(void *arg)
{
    oak_ref r = 0;
    oak_pid p = OT_SPAWN_MONITOR((oak_entry)arg, NULL, 0, &r);
    OT_RECV_DOWN(r, OT_LONG_MS);
    char want[128], pid[40];
    oak_pid_format(p, pid, sizeof pid);
    pthread_mutex_lock(&seen_lock);
    if (!strcmp(seen_kind, "crash_report")) {
        /* where= and backtrace= come between; the reason is last. */
        snprintf(want, sizeof want, "process=faulty pid=%s class=error where=", pid);
        OT_EXPECT(strstr(seen_line, " reason={sigsegv,") != NULL);
    } else
        snprintf(want, sizeof want, "process=hog pid=%s scheduler=", pid);
    OT_EXPECT(strncmp(seen_line, want, strlen(want)) == 0);
    if (strncmp(seen_line, want, strlen(want)) != 0)
        fprintf(stderr, "got  %s: %s\nwant %s...\n", seen_kind, seen_line, want);
    pthread_mutex_unlock(&seen_lock);
}

static void run_report(oak_entry fn)
{
    seen_line[0] = seen_kind[0] = '\0';
    oak_log_set_handler(capture, NULL);
    oak_config cfg = {.schedulers = 2, .long_schedule_ms = 300,
                      .time_slice_ms = -1 /* a loop is preempted otherwise */};
    OT_RUN_CFG(report_main, (void *)fn, &cfg);
    oak_log_set_handler(NULL, NULL);
    assert_true(seen_line[0] != '\0');
}

static void fault_report_is_key_value_and_names_the_registered_name(void **state)
{
    (void)state;
    run_report(faulty);
    assert_string_equal(seen_kind, "crash_report");
}

static void long_schedule_warning_is_key_value_and_names_the_registered_name(void **state)
{
    (void)state;
    run_report(hog);
    assert_string_equal(seen_kind, "long_schedule");
}

/* ---- gen_server report reasons ------------------------------------------------------------ */

static char gs_reason[256];

static void capture_gs(oak_log_level level, const char *kind, const char *line, void *ctx)
{
    (void)ctx;
    const char *r = strstr(line, "reason=");
    if (level == OAK_LOG_ERROR && !strcmp(kind, "gen_server_report") && r) {
        pthread_mutex_lock(&seen_lock);
        snprintf(gs_reason, sizeof gs_reason, "%s", r + strlen("reason="));
        pthread_mutex_unlock(&seen_lock);
    }
}

static int crash_call(oak_gen_server *gs, void *state, const oak_msg *req,
                      const oak_gen_from *from)
{
    (void)state, (void)from;
    const char *detail = req->size ? (const char *)req->data : NULL;
    if (req->tag == A("stop")) {
        oak_gen_server_set_stop(gs, A("boom"), detail);
        return OAK_GS_STOP;
    }
    oak_gen_server_exit(gs, (oak_atom)req->tag, detail);
}

static const oak_gen_server_callbacks crash_cb = {.init = plain_init,
                                                  .handle_call = crash_call};

/* Crash a fresh server with call (tag, detail); return the reported reason. */
static const char *reported(const char *tag, const char *detail)
{
    oak_pid p = 0;
    OT_CHECK_INT_EQ(oak_gen_server_start(&crash_cb, NULL, NULL, &p, NULL), 0);
    oak_ref r = oak_monitor(p);
    oak_msg *m = NULL;
    oak_reason why;
    pthread_mutex_lock(&seen_lock);
    gs_reason[0] = '\0';
    pthread_mutex_unlock(&seen_lock);
    OT_CHECK_INT_EQ(oak_gen_server_call(p, A(tag), detail, detail ? strlen(detail) + 1 : 0,
                                        &m, OT_LONG_MS, &why), -ECONNRESET);
    ot_signal d = OT_RECV_DOWN(r, OT_LONG_MS);
    /* The exit reason is the bare reason. */
    OT_CHECK_ATOM_EQ(d.reason, !strcmp(tag, "stop") ? A("boom") : A(tag));
    OT_CHECK_INT_EQ(d.has_detail, detail != NULL);
    static char out[256];
    pthread_mutex_lock(&seen_lock);
    snprintf(out, sizeof out, "%s", gs_reason);
    pthread_mutex_unlock(&seen_lock);
    return out;
}

static void gen_server_report_main(void *arg)
{
    (void)arg;
    OT_CHECK_STR_EQ(reported("boom", NULL), "{boom,_}");
    OT_CHECK_STR_EQ(reported("boom", "detail"), "{{boom,detail},_}");
    OT_CHECK_STR_EQ(reported("badarith", "_"), "{badarith,_}");
    OT_CHECK_STR_EQ(reported("stop", NULL), "boom");
    OT_CHECK_STR_EQ(reported("stop", "detail"), "{boom,detail}");
}

static void gen_server_report_wraps_a_crash_reason_once(void **state)
{
    (void)state;
    oak_log_set_handler(capture_gs, NULL);
    OT_RUN(gen_server_report_main, NULL);
    oak_log_set_handler(NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(supervisor_calls_to_a_plain_gen_server_return_eproto),
        cmocka_unit_test(start_child_rejects_a_null_arg_and_already_started_is_ealready),
        cmocka_unit_test(out_of_range_enums_are_reported_with_their_value),
        cmocka_unit_test(gen_server_rejects_bad_timeouts_and_runtime_tags),
        cmocka_unit_test(process_api_bad_input_returns_the_documented_codes),
        cmocka_unit_test(outside_a_running_runtime_no_process_is_alive),
        cmocka_unit_test(fault_report_is_key_value_and_names_the_registered_name),
        cmocka_unit_test(long_schedule_warning_is_key_value_and_names_the_registered_name),
        cmocka_unit_test(gen_server_report_wraps_a_crash_reason_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
