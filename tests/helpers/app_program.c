/* app_program.c - a small application that test_application.c runs in a
 * child process. It prints one line per event on stdout:
 *   start ID / stop ID REASON       worker init / terminate (they trap exits)
 *   ready                           the start callback has started the tree
 *   prep_stop / app_stop            the application callbacks
 *   report app_started NAME / report app_exit NAME REASON TYPE
 *
 * Modes (argv[1]):
 *   stop       top(one_for_one): a, b, sub(one_for_one: d), c; waits for a
 *              signal
 *   giveup     top(one_for_one, intensity 2): a, x; x crashes 50 ms after
 *              each start, so top gives up (argv[2]: permanent, transient or
 *              temporary; default permanent)
 *   stuck      top: a, s; s takes 30 s to terminate (shutdown infinity)
 *   badstart   top: a, f; f's init fails, so the application cannot start
 *   badreturn  the start callback returns 42, a code it may not return
 */
#include "oak.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static oak_atom A(const char *s) { return oak_atom_from(s); }

typedef struct wcfg {
    char id[16];
    int crash_after_ms;
    int terminate_ms;
    int fail_init;
} wcfg;

static int w_init(oak_gen_server *gs, void *arg, void **state)
{
    wcfg *c = oak_alloc(sizeof *c);
    *c = *(const wcfg *)arg;
    *state = c;
    oak_trap_exit(true);
    if (c->fail_init) {
        printf("init_stop %s nope\n", c->id);
        oak_gen_server_set_stop(gs, A("nope"), NULL);
        return OAK_GS_STOP;
    }
    printf("start %s\n", c->id);
    if (c->crash_after_ms)
        oak_send_after(c->crash_after_ms, oak_self(), A("crash"), NULL, 0);
    return OAK_GS_OK;
}

static int w_info(oak_gen_server *gs, void *state, const oak_msg *m)
{
    if (m->tag == A("crash"))
        oak_gen_server_exit(gs, A("crashed"), NULL);
    return OAK_GS_OK;
}

static void w_terminate(oak_gen_server *gs, void *state, const oak_reason *r)
{
    const wcfg *c = state;
    char b[600];
    oak_reason_str(r, b, sizeof b);
    printf("stop %s %s\n", c->id, b);
    if (c->terminate_ms)
        oak_sleep(c->terminate_ms);
}

static const oak_gen_server_callbacks w_cb = {
    .init = w_init, .handle_info = w_info, .terminate = w_terminate};

static int w_start(const oak_child_args *a, oak_pid *pid, oak_reason *why)
{
    oak_gen_server_opts o = {.flags = OAK_GEN_LINK, .arg_size = sizeof(wcfg)};
    return oak_gen_server_start(&w_cb, (void *)a->arg, &o, pid, why);
}

static wcfg cfg_a = {"a", 0, 0}, cfg_b = {"b", 0, 0}, cfg_c = {"c", 0, 0},
            cfg_d = {"d", 0, 0}, cfg_x = {"x", 50, 0}, cfg_s = {"s", 0, 30000},
            cfg_f = {"f", 0, 0, 1};

#define W(cfg) {.id = 0, .start = w_start, .arg = &(cfg), .arg_size = sizeof(cfg)}

static oak_child_spec sub_children[1] = {W(cfg_d)};
static oak_supervisor_def sub_def = {.flags = {OAK_ONE_FOR_ONE, 3, 5},
                                     .children = sub_children, .count = 1};
static oak_child_spec stop_children[4] = {
    W(cfg_a), W(cfg_b),
    {.id = 0, .start = oak_supervisor_start_fn, .arg = &sub_def, .type = OAK_SUPERVISOR},
    W(cfg_c)};
static oak_child_spec giveup_children[2] = {W(cfg_a), W(cfg_x)};
static oak_child_spec stuck_children[2] = {W(cfg_a), W(cfg_s)};
static oak_child_spec badstart_children[2] = {W(cfg_a), W(cfg_f)};
static oak_supervisor_def top_def = {.flags = {OAK_ONE_FOR_ONE, 2, 5}};

static int app_start(void *arg, oak_pid *top, oak_reason *why)
{
    int r = oak_supervisor_start(&top_def, OAK_GEN_LINK, top, why);
    if (r == 0)
        printf("ready\n");
    return r;
}

static int app_start_42(void *arg, oak_pid *top, oak_reason *why)
{
    printf("app_start_callback returns 42\n");
    return 42;
}

static void app_prep_stop(void *arg) { printf("prep_stop\n"); }
static void app_stop(void *arg) { printf("app_stop\n"); }

static void on_log(oak_log_level level, const char *kind, const char *line,
                   void *ctx)
{
    if (strcmp(kind, "application_report") != 0)
        return;
    char app[64] = "", ev[32] = "", reason[256] = "", type[32] = "";
    sscanf(line, "application=%63s event=%31s reason=%255s type=%31s", app, ev,
           reason, type);
    if (!strcmp(ev, "started"))
        printf("report app_started %s\n", app);
    else
        printf("report app_exit %s %s %s\n", app, reason, type);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *mode = argc > 1 ? argv[1] : "stop";
    sub_children[0].id = A("d");
    stop_children[0].id = A("a");
    stop_children[1].id = A("b");
    stop_children[2].id = A("sub");
    stop_children[3].id = A("c");
    giveup_children[0].id = A("a");
    giveup_children[1].id = A("x");
    stuck_children[0].id = A("a");
    stuck_children[1].id = A("s");
    stuck_children[1].shutdown = OAK_INFINITY;
    badstart_children[0].id = A("a");
    badstart_children[1].id = A("f");
    oak_application app = {.name = "demo", .start = app_start,
                           .prep_stop = app_prep_stop, .stop = app_stop};
    if (!strcmp(mode, "stop")) {
        top_def.children = stop_children;
        top_def.count = 4;
    } else if (!strcmp(mode, "giveup")) {
        top_def.children = giveup_children;
        top_def.count = 2;
        const char *t = argc > 2 ? argv[2] : "permanent";
        app.type = !strcmp(t, "temporary")   ? OAK_APP_TEMPORARY
                   : !strcmp(t, "transient") ? OAK_APP_TRANSIENT
                                             : OAK_APP_PERMANENT;
    } else if (!strcmp(mode, "badstart")) {
        top_def.children = badstart_children;
        top_def.count = 2;
    } else if (!strcmp(mode, "badreturn")) {
        app.start = app_start_42;
    } else if (!strcmp(mode, "stuck")) {
        top_def.children = stuck_children;
        top_def.count = 2;
    } else {
        fprintf(stderr, "app_program: usage: app_program stop|giveup [type]|stuck|badstart|badreturn\n");
        return 100;
    }
    oak_log_set_handler(on_log, NULL);
    oak_log_set_level(OAK_LOG_INFO);
    return oak_application_run(&app);
}
