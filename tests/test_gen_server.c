/* test_gen_server.c - gen_server behaviour: start, call, cast, stop,
 * timeouts, deferred replies, late replies, names, terminate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "oak.h"

/* ---- a test server ----------------------------------------------------- */

typedef struct srv {
    int64_t val;
    int trap;
    oak_pid report_to; /* gets 'terminated' with the reason atom */
} srv;

static oak_atom A(const char *s) { return oak_atom_from(s); }

static int srv_init(oak_gen_server *gs, void *arg, void **state)
{
    const srv *cfg = arg;
    srv *s = oak_alloc(sizeof *s);
    *s = *cfg;
    *state = s;
    if (s->trap)
        oak_trap_exit(true);
    if (s->val == -1)
        return OAK_GS_IGNORE;
    if (s->val == -2) {
        oak_gen_server_set_stop(gs, A("nope"), NULL);
        return OAK_GS_STOP;
    }
    if (s->val == -3)
        oak_gen_server_exit(gs, A("init_crash"), "x");
    if (s->val == -4)
        return 42;
    if (s->val == -5) {
        oak_gen_server_set_timeout(gs, 50);
    }
    return OAK_GS_OK;
}

static int srv_call(oak_gen_server *gs, void *state, const oak_msg *req,
                    const oak_gen_from *from)
{
    srv *s = state;
    if (req->tag == A("get")) {
        oak_gen_server_set_reply(gs, A("val"), &s->val, sizeof s->val);
        return OAK_GS_REPLY;
    }
    if (req->tag == A("ping")) {
        oak_gen_server_set_reply(gs, A("pong"), NULL, 0);
        return OAK_GS_REPLY;
    }
    if (req->tag == A("sleep")) {
        int64_t ms;
        memcpy(&ms, req->data, sizeof ms);
        oak_sleep(ms);
        oak_gen_server_set_reply(gs, A("slept"), NULL, 0);
        return OAK_GS_REPLY;
    }
    if (req->tag == A("stop_reply")) {
        oak_gen_server_set_reply(gs, A("stopping"), NULL, 0);
        oak_gen_server_set_stop(gs, OAK_NORMAL, NULL);
        return OAK_GS_STOP;
    }
    if (req->tag == A("stop_noreply")) {
        oak_gen_server_set_stop(gs, A("bye"), NULL);
        return OAK_GS_STOP;
    }
    if (req->tag == A("crash"))
        oak_gen_server_exit(gs, A("boom"), NULL);
    if (req->tag == A("bad"))
        return 77;
    if (req->tag == A("later")) {
        /* reply from another process */
        oak_send(oak_self(), A("reply_later"), from, sizeof *from);
        return OAK_GS_NOREPLY;
    }
    return OAK_GS_NOREPLY;
}

static int srv_cast(oak_gen_server *gs, void *state, const oak_msg *req)
{
    srv *s = state;
    if (req->tag == A("add")) {
        int64_t d;
        memcpy(&d, req->data, sizeof d);
        s->val += d;
    }
    return OAK_GS_OK;
}

static void replier(void *arg)
{
    oak_gen_from from;
    memcpy(&from, arg, sizeof from);
    oak_sleep(20);
    oak_gen_server_reply(&from, A("late_reply"), NULL, 0);
}

static int srv_info(oak_gen_server *gs, void *state, const oak_msg *m)
{
    srv *s = state;
    if (m->tag == A("reply_later")) {
        oak_spawn_opts o = {.arg_size = m->size};
        oak_spawn(replier, m->data, &o, NULL);
    } else if (m->tag == OAK_TIMEOUT) {
        s->val = 1000;
    }
    return OAK_GS_OK;
}

static void srv_terminate(oak_gen_server *gs, void *state,
                          const oak_reason *reason)
{
    srv *s = state;
    if (s->report_to)
        oak_send(s->report_to, A("terminated"), &reason->atom,
                 sizeof reason->atom);
}

static const oak_gen_server_callbacks srv_cb = {
    .init = srv_init,
    .handle_call = srv_call,
    .handle_cast = srv_cast,
    .handle_info = srv_info,
    .terminate = srv_terminate,
};

static int start_srv(srv cfg, unsigned flags, oak_atom name, oak_pid *pid,
                     oak_reason *why)
{
    oak_gen_server_opts o = {.flags = flags, .name = name,
                             .arg_size = sizeof cfg};
    return oak_gen_server_start(&srv_cb, &cfg, &o, pid, why);
}

/* ---- running a test body in the runtime ---------------------------------- */

static void (*body)(void);
static void main_proc(void *arg) { body(); }
static void run(void (*fn)(void))
{
    body = fn;
    assert_int_equal(oak_run(main_proc, NULL, NULL), 0);
}

static int64_t get_val(oak_pid p)
{
    oak_msg *m = NULL;
    assert_int_equal(oak_gen_server_call(p, A("get"), NULL, 0, &m, 1000, NULL), 0);
    int64_t v;
    memcpy(&v, m->data, sizeof v);
    oak_msg_free(m);
    return v;
}

static bool match_terminated(const oak_msg *m, void *arg)
{
    return m->tag == oak_atom_from("terminated");
}

/* Wait for the test server's terminate to report; returns the reason. */
static oak_atom wait_terminated(void)
{
    oak_msg *m = NULL;
    oak_atom a = 0;
    if (oak_receive(&m, 2000, match_terminated, NULL) == 0) {
        memcpy(&a, m->data, sizeof a);
        oak_msg_free(m);
    }
    return a;
}

/* ---- tests ---------------------------------------------------------------- */

static void body_call_cast_stop(void)
{
    oak_pid p;
    srv cfg = {.val = 5, .report_to = oak_self()};
    assert_int_equal(start_srv(cfg, OAK_GEN_LINK, 0, &p, NULL), 0);
    assert_int_equal(get_val(p), 5);
    int64_t d = 10;
    assert_int_equal(oak_gen_server_cast(p, A("add"), &d, sizeof d), 0);
    assert_int_equal(get_val(p), 15);
    assert_int_equal(oak_gen_server_stop(p, OAK_NORMAL, NULL, 1000, NULL), 0);
    assert_int_equal(wait_terminated(), OAK_NORMAL);
    assert_false(oak_is_alive(p));
    oak_reason why;
    assert_int_equal(oak_gen_server_stop(p, OAK_NORMAL, NULL, 1000, &why), -ESRCH);
}
static void gen_server_call_cast_and_stop(void **st) { run(body_call_cast_stop); }

static void body_init_results(void)
{
    oak_pid p;
    oak_reason why;
    srv cfg = {.val = -1};
    assert_int_equal(start_srv(cfg, 0, 0, &p, &why), OAK_IGNORED);
    cfg.val = -2;
    assert_int_equal(start_srv(cfg, 0, 0, &p, &why), -ECANCELED);
    assert_int_equal(why.atom, A("nope"));
    cfg.val = -3;
    assert_int_equal(start_srv(cfg, 0, 0, &p, &why), -ECANCELED);
    assert_int_equal(why.atom, A("init_crash"));
    assert_string_equal(why.detail, "x");
    cfg.val = -4;
    assert_int_equal(start_srv(cfg, 0, 0, &p, &why), -ECANCELED);
    assert_int_equal(why.atom, A("bad_return_value"));
    assert_string_equal(why.detail, "42");
}
static void gen_server_init_results_reach_the_starter(void **st) { run(body_init_results); }

static void body_call_timeout(void)
{
    oak_pid p;
    srv cfg = {.val = 1};
    assert_int_equal(start_srv(cfg, OAK_GEN_LINK, 0, &p, NULL), 0);
    oak_msg *m = NULL;
    oak_reason why;
    int64_t ms = 300;
    int64_t t0 = oak_now_ms();
    assert_int_equal(oak_gen_server_call(p, A("sleep"), &ms, sizeof ms, &m, 50, &why), -ETIMEDOUT);
    assert_int_equal(why.atom, OAK_TIMEOUT);
    assert_true(oak_now_ms() - t0 < 250);
    oak_sleep(400);
    assert_int_equal(oak_message_count(), 0); /* the late reply was dropped */
    assert_int_equal(get_val(p), 1);
    assert_int_equal(oak_gen_server_call(p, A("ping"), NULL, 0, &m, OAK_INFINITY, NULL), 0);
    assert_int_equal(m->tag, A("pong"));
    oak_msg_free(m);
    ms = 50;
    assert_int_equal(oak_gen_server_call(p, A("sleep"), &ms, sizeof ms, &m, 0, &why), -ETIMEDOUT);
    oak_sleep(100);
    assert_int_equal(oak_message_count(), 0);
    oak_gen_server_stop(p, OAK_NORMAL, NULL, OAK_INFINITY, NULL);
}
static void gen_server_call_timeout_drops_the_late_reply(void **st) { run(body_call_timeout); }

static void body_call_failures(void)
{
    oak_pid p;
    oak_msg *m = NULL;
    oak_reason why;
    srv cfg = {.val = 1, .report_to = oak_self()};
    assert_int_equal(oak_gen_server_call(OAK_NOPID, A("ping"), NULL, 0, &m, 100, &why), -ESRCH);
    assert_int_equal(why.atom, OAK_NOPROC);
    assert_int_equal(oak_gen_server_call(oak_self(), A("ping"), NULL, 0, &m, 100, &why), -EDEADLK);
    assert_int_equal(why.atom, A("calling_self"));

    assert_int_equal(start_srv(cfg, 0, 0, &p, NULL), 0);
    assert_int_equal(oak_gen_server_call(p, A("stop_noreply"), NULL, 0, &m, 1000, &why), -ECONNRESET);
    assert_int_equal(why.atom, A("bye"));
    assert_int_equal(wait_terminated(), A("bye"));
    assert_int_equal(oak_gen_server_call(p, A("ping"), NULL, 0, &m, 100, &why), -ESRCH);

    assert_int_equal(start_srv(cfg, 0, 0, &p, NULL), 0);
    assert_int_equal(oak_gen_server_call(p, A("crash"), NULL, 0, &m, 1000, &why), -ECONNRESET);
    assert_int_equal(why.atom, A("boom"));
    assert_int_equal(wait_terminated(), A("boom"));

    assert_int_equal(start_srv(cfg, 0, 0, &p, NULL), 0);
    assert_int_equal(oak_gen_server_call(p, A("stop_reply"), NULL, 0, &m, 1000, &why), 0);
    assert_int_equal(m->tag, A("stopping"));
    oak_msg_free(m);
    assert_int_equal(wait_terminated(), OAK_NORMAL);

    assert_int_equal(start_srv(cfg, 0, 0, &p, NULL), 0);
    assert_int_equal(oak_gen_server_call(p, A("bad"), NULL, 0, &m, OAK_INFINITY, &why), -ECONNRESET);
    assert_int_equal(why.atom, A("bad_return_value"));
    assert_string_equal(why.detail, "77");
}
static void gen_server_call_failures_give_the_reason(void **st) { run(body_call_failures); }

static void body_deferred(void)
{
    oak_pid p;
    oak_msg *m = NULL;
    srv cfg = {.val = 1};
    assert_int_equal(start_srv(cfg, OAK_GEN_LINK, 0, &p, NULL), 0);
    assert_int_equal(oak_gen_server_call(p, A("later"), NULL, 0, &m, 1000, NULL), 0);
    assert_int_equal(m->tag, A("late_reply"));
    oak_msg_free(m);
    oak_gen_server_stop(p, OAK_NORMAL, NULL, OAK_INFINITY, NULL);
}
static void gen_server_deferred_reply_from_another_process(void **st) { run(body_deferred); }

static void body_names(void)
{
    oak_pid p, q;
    oak_reason why;
    srv cfg = {.val = 1};
    assert_int_equal(start_srv(cfg, OAK_GEN_LINK, A("named"), &p, NULL), 0);
    assert_int_equal(oak_whereis(A("named")), p);
    assert_int_equal(start_srv(cfg, OAK_GEN_LINK, A("named"), &q, &why), -EALREADY);
    assert_int_equal(q, p);
    assert_int_equal(why.atom, A("already_started"));
    cfg.val = -2;
    assert_int_equal(start_srv(cfg, 0, A("other"), &q, &why), -ECANCELED);
    assert_int_equal(oak_whereis(A("other")), OAK_NOPID);
    oak_gen_server_stop(p, OAK_NORMAL, NULL, OAK_INFINITY, NULL);
}
static void gen_server_name_taken_gives_already_started(void **st) { run(body_names); }

static void body_timeout(void)
{
    oak_pid p;
    srv cfg = {.val = -5};
    assert_int_equal(start_srv(cfg, OAK_GEN_LINK, 0, &p, NULL), 0);
    oak_sleep(200);
    assert_int_equal(get_val(p), 1000);
    oak_gen_server_stop(p, OAK_NORMAL, NULL, OAK_INFINITY, NULL);
}
static void gen_server_inactivity_timeout_reaches_handle_info(void **st) { run(body_timeout); }

static void body_parent_shutdown(void)
{
    oak_trap_exit(true);
    oak_pid p;
    srv cfg = {.val = 1, .trap = 1, .report_to = oak_self()};
    assert_int_equal(start_srv(cfg, OAK_GEN_LINK, 0, &p, NULL), 0);
    oak_exit_pid(p, OAK_SHUTDOWN);
    assert_int_equal(wait_terminated(), OAK_SHUTDOWN);
}
static void gen_server_terminate_runs_on_parent_shutdown_when_trapping(void **st) { run(body_parent_shutdown); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gen_server_call_cast_and_stop),
        cmocka_unit_test(gen_server_init_results_reach_the_starter),
        cmocka_unit_test(gen_server_call_timeout_drops_the_late_reply),
        cmocka_unit_test(gen_server_call_failures_give_the_reason),
        cmocka_unit_test(gen_server_deferred_reply_from_another_process),
        cmocka_unit_test(gen_server_name_taken_gives_already_started),
        cmocka_unit_test(gen_server_inactivity_timeout_reaches_handle_info),
        cmocka_unit_test(gen_server_terminate_runs_on_parent_shutdown_when_trapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
