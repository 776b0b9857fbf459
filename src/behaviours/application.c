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
 * Signals reach the master through a self-pipe:
 *
 *   SIGTERM/SIGINT --handler: write(2) one byte--> pipe --reader thread-->
 *       oak_application_stop() --oak_send--> master
 *
 * The handler does nothing but write(2) (async-signal-safe) and keeps
 * errno. A zero byte written by oak_application_run() ends the reader.
 */
#include "behaviours/application.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* One application per program (as one runtime per program). */
static atomic_bool app_running;   /* oak_application_run() is active */
static _Atomic oak_pid master_pid; /* 0 until the master runs */
static atomic_bool stop_requested; /* a stop came, maybe before the master */

static int sig_pipe[2] = {-1, -1}; /* written by the handler, read by the reader */
static struct sigaction old_term, old_int;
static sigset_t old_mask; /* of the thread that called oak_application_run */
static pthread_t sig_reader_thread;

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

static void on_signal(int signo)
{
    int saved = errno;
    unsigned char b = (unsigned char)signo;
    ssize_t r = write(sig_pipe[1], &b, 1); /* non-blocking: never stalls */
    (void)r;
    errno = saved;
}

static void stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
}

static void *sig_reader(void *arg)
{
    (void)arg;
    /* The only thread of ours that takes the signals (see signals_on). */
    sigset_t set;
    stop_signals(&set);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    int seen = 0;
    int64_t first_ms = 0;
    for (;;) {
        /* Wait in poll(2): sanitizers that defer signal handlers to a safe
         * point treat it as a blocking call, where handlers run at once. */
        struct pollfd p = {sig_pipe[0], POLLIN, 0};
        if (poll(&p, 1, -1) < 0)
            continue;
        unsigned char b;
        ssize_t r = read(sig_pipe[0], &b, 1);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0 || b == 0)
            break;
        /* A signal within a second of the first is the same request
         * delivered twice (timeout(1) signals the process and then its
         * group); one that comes later is asked again: stop now. */
        if (++seen == 1) {
            first_ms = oak_now_ms();
            oak_application_stop();
        } else if (oak_now_ms() - first_ms >= OAK__APP_REPEAT_MS) {
            oak_shutdown(1);
        }
    }
    return NULL;
}

/* The calling thread blocks SIGTERM and SIGINT before oak_run() creates
 * the scheduler threads, which inherit the mask; the reader thread unblocks
 * them. So the handler runs on the reader (or on a thread of the program's
 * own), never on a scheduler thread in the middle of a process switch.
 * Signals that come before the reader is ready stay pending until it is. */
static int signals_on(void)
{
    /* Close-on-exec from the start: a program spawned by another thread
     * meanwhile must not inherit the pipe (docs/design/osproc.md). */
    if (pipe2(sig_pipe, O_CLOEXEC) < 0)
        return -errno;
    fcntl(sig_pipe[1], F_SETFL, fcntl(sig_pipe[1], F_GETFL) | O_NONBLOCK);
    sigset_t set;
    stop_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, &old_mask);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGINT, &sa, &old_int);
    int r = pthread_create(&sig_reader_thread, NULL, sig_reader, NULL);
    if (r != 0) {
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGINT, &old_int, NULL);
        pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
        close(sig_pipe[0]);
        close(sig_pipe[1]);
        sig_pipe[0] = sig_pipe[1] = -1;
        return -r;
    }
    return 0;
}

static void signals_off(void)
{
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGINT, &old_int, NULL);
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    unsigned char zero = 0;
    while (write(sig_pipe[1], &zero, 1) < 0 && errno == EINTR) {
    }
    pthread_join(sig_reader_thread, NULL);
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    sig_pipe[0] = sig_pipe[1] = -1;
}

/* ---- the master ------------------------------------------------------------------ */

static void report_exit(const oak_application *app, const char *reason)
{
    oak_log(OAK_LOG_NOTICE, "application_report",
            "application=%s event=exit reason=%s type=%s", app->name, reason,
            type_name(app->type));
}

static bool match_exit_from(const oak_msg *m, void *arg)
{
    return m->tag == OAK_TAG_EXIT && m->from == *(const oak_pid *)arg;
}

/* Shut the tree down as a supervisor shuts down a child supervisor. */
static void stop_tree(oak_pid top)
{
    oak_exit_pid(top, OAK_SHUTDOWN);
    oak_msg *m = NULL;
    if (oak_receive(&m, OAK_INFINITY, match_exit_from, &top) == 0)
        oak_msg_free(m);
}

static void master_main(void *p)
{
    const oak_application *app = p;
    oak_trap_exit(true);
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
        if (m->tag == app_stop_tag()) {
            oak_msg_free(m);
            if (alive) {
                if (app->prep_stop)
                    app->prep_stop(app->arg);
                stop_tree(top);
                if (app->stop)
                    app->stop(app->arg);
                report_exit(app, "stopped");
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
    bool sig = !(app->flags & OAK_APP_NO_SIGNALS);
    int r = sig ? signals_on() : 0;
    if (r == 0) {
        r = oak_run(master_main, (void *)app, app->config);
        atomic_store(&master_pid, OAK_NOPID);
        if (sig)
            signals_off();
    }
    atomic_store(&app_running, false);
    return r;
}
