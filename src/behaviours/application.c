/* application.c - OTP's application master for one application per
 * program, on the public API.
 *
 * The master is the runtime's first process. It traps exits, starts the
 * top supervisor linked to itself, and then only waits for two kinds of
 * message: '$app_stop' (a stop request) and the EXIT of the top
 * supervisor. Being the top supervisor's parent, it stops the tree the way
 * a supervisor stops a child: exit(Top, shutdown), then wait for the EXIT
 * (the top supervisor's own shutdown is infinity; the timeouts that bound
 * the stop are those of the children).
 *
 * Signals come from the runtime's signal source (oak/signal.h): unless
 * the application asks for none, the master subscribes to SIGTERM and
 * SIGINT and takes the first as a stop request. One that comes within a
 * second of the first is the same request delivered twice (timeout(1)
 * signals the process and then its group); one that comes later, while
 * the stop is under way, is asked again: the runtime stops at once.
 */
#include "behaviours/application.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "oak/signal.h"

/* One application per program (as one runtime per program). */
static atomic_bool app_running;   /* oak_application_run() is active */
static _Atomic oak_pid master_pid; /* 0 until the master runs */
static atomic_bool stop_requested; /* a stop came, maybe before the master */

static oak_atom app_stop_tag(void)
{
    return oak_atom_from("$app_stop");
}

static const char *type_name(oak_app_type t)
{
    static const char *const names[] = {"permanent", "transient", "temporary"};
    return names[t];
}

int oak_application_stop(void)
{
    if (!atomic_load(&app_running))
        return -ESRCH;
    /* seq_cst on both sides: either the master sees the flag after
     * publishing its pid, or we see its pid here (or both: the master
     * takes a second stop request as a no-op). */
    atomic_store(&stop_requested, true);
    oak_pid m = atomic_load(&master_pid);
    if (m)
        oak_send(m, app_stop_tag(), NULL, 0);
    return 0;
}

/* ---- signals ------------------------------------------------------------------- */

#define OAK__APP_REPEAT_MS 1000
/* How long the master keeps its signal subscription after the tree has
 * stopped (see the master loop). */
#define OAK__APP_HOLD_MS 100

static bool is_stop_signal(const oak_msg *m)
{
    return m->tag == OAK_SIGNAL_TAG && m->size == sizeof(oak_signal_info);
}

static bool match_stop_signal(const oak_msg *m, void *arg)
{
    (void)arg;
    return is_stop_signal(m);
}

/* A stop signal came. The first asks for the stop (returns true); a
 * later one, a second or more after it, ends the runtime at once. */
static bool take_stop_signal(int64_t *first_ms)
{
    if (*first_ms < 0) {
        *first_ms = oak_now_ms();
        return true;
    }
    if (oak_now_ms() - *first_ms >= OAK__APP_REPEAT_MS)
        oak_shutdown(1);
    return false;
}

/* ---- the master ------------------------------------------------------------------ */

static void report_exit(const oak_application *app, const char *reason)
{
    oak_log(OAK_LOG_NOTICE, "application_report",
            "application=%s event=exit reason=%s type=%s", app->name, reason,
            type_name(app->type));
}

static bool match_exit_or_signal(const oak_msg *m, void *arg)
{
    return (m->tag == OAK_TAG_EXIT && m->from == *(const oak_pid *)arg) || is_stop_signal(m);
}

/* Shut the tree down as a supervisor shuts down a child supervisor,
 * watching for a stop signal asked again meanwhile. */
static void stop_tree(oak_pid top, int64_t *first_signal_ms)
{
    oak_exit_pid(top, OAK_SHUTDOWN);
    for (;;) {
        oak_msg *m = NULL;
        if (oak_receive(&m, OAK_INFINITY, match_exit_or_signal, &top) < 0)
            continue;
        bool signal = is_stop_signal(m);
        oak_msg_free(m);
        if (!signal)
            return;
        take_stop_signal(first_signal_ms);
    }
}

static void master_main(void *p)
{
    const oak_application *app = p;
    oak_trap_exit(true);
    int64_t first_signal_ms = -1;
    if (!(app->flags & OAK_APP_NO_SIGNALS)) {
        oak_signal_subscribe(SIGTERM);
        oak_signal_subscribe(SIGINT);
    }
    atomic_store(&master_pid, oak_self());
    if (atomic_load(&stop_requested))
        oak_send(oak_self(), app_stop_tag(), NULL, 0);

    oak_pid top = OAK_NOPID;
    oak_reason why;
    oak_reason_set(&why, OAK_ATOM_NONE, NULL);
    int r = app->start ? app->start(app->arg, &top, &why)
                       : oak_supervisor_start(app->supervisor, OAK_GEN_LINK,
                                              &top, &why);
    if (r != 0 || !top) {
        char reason[OAK_REASON_DETAIL_MAX + 64], d[OAK_REASON_DETAIL_MAX + 128];
        if (r < 0 && why.atom)
            oak_reason_str(&why, reason, sizeof reason);
        else if (r < 0)
            snprintf(reason, sizeof reason, "%s", oak_strerror(r));
        else if (r == OAK_IGNORED)
            snprintf(reason, sizeof reason, "{bad_return,ignore}");
        else if (r > 0) /* a code the callback may not return, kept as OTP keeps X */
            snprintf(reason, sizeof reason, "{bad_return,%d}", r);
        else /* 0 without a pid: OTP's bad_return of {ok, undefined} */
            snprintf(reason, sizeof reason, "{bad_return,undefined}");
        report_exit(app, reason);
        snprintf(d, sizeof d, "%s,%s", app->name, reason);
        oak_exit_detail(oak_atom_from("application_start_failure"), d);
    }
    oak_log(OAK_LOG_INFO, "application_report",
            "application=%s event=started", app->name);

    bool alive = true;
    for (;;) {
        oak_msg *m = NULL;
        if (oak_receive(&m, OAK_INFINITY, NULL, NULL) < 0)
            continue;
        bool stop = m->tag == app_stop_tag();
        if (is_stop_signal(m))
            stop = take_stop_signal(&first_signal_ms);
        if (stop) {
            oak_msg_free(m);
            if (alive) {
                if (app->prep_stop)
                    app->prep_stop(app->arg);
                stop_tree(top, &first_signal_ms);
                if (app->stop)
                    app->stop(app->arg);
                report_exit(app, "stopped");
            }
            /* Stay subscribed a little longer: a repeat of the signal
             * that comes with it (timeout(1) signals the group too) must
             * not meet the default action once the master is gone. Until
             * a second after the first signal, but no more than
             * OAK__APP_HOLD_MS after the tree has stopped, so a stop by
             * signal is not made slower than the tree's own. */
            int64_t hold_until = oak_now_ms() + OAK__APP_HOLD_MS;
            if (first_signal_ms >= 0 && first_signal_ms + OAK__APP_REPEAT_MS < hold_until)
                hold_until = first_signal_ms + OAK__APP_REPEAT_MS;
            while (first_signal_ms >= 0) {
                int64_t left = hold_until - oak_now_ms();
                oak_msg *d = NULL;
                if (left <= 0 || oak_receive(&d, left, match_stop_signal, NULL) != 0)
                    break;
                oak_msg_free(d);
            }
            return; /* normal: oak_run() returns 0 */
        }
        if (m->tag == OAK_TAG_EXIT && m->from == top && alive) {
            oak_reason r2;
            const oak_down *dn = m->data;
            oak_reason_set(&r2, dn->reason, dn->detail);
            oak_msg_free(m);
            alive = false;
            if (app->prep_stop)
                app->prep_stop(app->arg);
            if (app->stop)
                app->stop(app->arg);
            char reason[OAK_REASON_DETAIL_MAX + 64], d[OAK_REASON_DETAIL_MAX + 128];
            oak_reason_str(&r2, reason, sizeof reason);
            report_exit(app, reason);
            bool normal = r2.atom == OAK_NORMAL && !r2.detail[0];
            if (app->type == OAK_APP_PERMANENT ||
                (app->type == OAK_APP_TRANSIENT && !normal)) {
                snprintf(d, sizeof d, "%s,%s", app->name, reason);
                oak_exit_detail(oak_atom_from("application_terminated"), d);
            }
            continue; /* temporary: run on until asked to stop */
        }
        oak_msg_free(m); /* anything else is not ours */
    }
}

int oak_application_run(const oak_application *app)
{
    if (!app || !app->name || !*app->name ||
        (!app->start && !app->supervisor) ||
        (unsigned)app->type > OAK_APP_TEMPORARY)
        return -EINVAL;
    bool expected = false;
    if (!atomic_compare_exchange_strong(&app_running, &expected, true))
        return -EBUSY;
    atomic_store(&stop_requested, false);
    atomic_store(&master_pid, OAK_NOPID);
    int r = oak_run(master_main, (void *)app, app->config);
    atomic_store(&master_pid, OAK_NOPID);
    atomic_store(&app_running, false);
    return r;
}
