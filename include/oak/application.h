/* oak/application.h - applications, as OTP's application: a program that
 * runs one supervision tree from start to orderly stop.
 *
 * oak_application_run() starts the runtime with an application master as
 * its first process. The master starts the top supervisor (through the
 * spec's start callback, or from a supervisor definition), logs
 * `app_started`, and waits:
 *
 *  - for a stop request: SIGTERM or SIGINT, or oak_application_stop(). It
 *    then runs prep_stop, shuts the tree down (the top supervisor stops its
 *    children in reverse start order, each within its shutdown timeout),
 *    runs stop, logs `app_exit App stopped` and returns 0;
 *
 *  - for the top supervisor to exit on its own (it reached its restart
 *    intensity). prep_stop and stop run, `app_exit App Reason Type` is
 *    logged, and then, by the application's type (OTP's restart type):
 *      permanent  the program ends: oak_application_run() returns 1;
 *      transient  the same, unless the reason is `normal`;
 *      temporary  the program keeps running (with no tree) until a stop
 *                 request, then returns 0, as an Erlang node goes on after
 *                 a temporary application died.
 *
 * Signals. The master subscribes to SIGTERM and SIGINT through the
 * runtime's signal source (oak/signal.h), so other processes may subscribe
 * to them too and no handler of its own is installed. A second signal
 * while stopping, a second or more after the first, makes the runtime end
 * at once (oak_shutdown(1)): every process still alive is killed. One
 * sooner is taken for the first delivered twice (timeout(1) signals the
 * process, then its process group) and ignored. A signal that comes
 * before the master has started takes the program's own disposition.
 *
 * Reports, through oak_log with kind "application_report":
 *   info    application=NAME event=started
 *   notice  application=NAME event=exit reason=R type=T
 */
#ifndef OAK_APPLICATION_H
#define OAK_APPLICATION_H

#include "supervisor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum oak_app_type {
    OAK_APP_PERMANENT = 0,
    OAK_APP_TRANSIENT = 1,
    OAK_APP_TEMPORARY = 2,
} oak_app_type;

/* Do not subscribe the master to SIGTERM and SIGINT (oak/signal.h): the
 * program handles signals itself and calls oak_application_stop(). */
#define OAK_APP_NO_SIGNALS 0x1u

typedef struct oak_application {
    const char *name;   /* for reports; required */
    oak_app_type type;

    /* The top supervisor. Either start, run in the master process, which
     * must start it linked to the caller and return 0 with its pid (or a
     * negative code with *why: the start fails with that reason), e.g.
     *     return oak_supervisor_start(&top, OAK_GEN_LINK, pid, why);
     * or, when start is NULL, the definition of a supervisor to start. */
    int (*start)(void *arg, oak_pid *top, oak_reason *why);
    const oak_supervisor_def *supervisor;

    /* Optional, run in the master process: prep_stop before the tree is
     * shut down, stop after (OTP's prep_stop/1 and stop/1). */
    void (*prep_stop)(void *arg);
    void (*stop)(void *arg);
    void *arg;

    const oak_config *config; /* for oak_run(); may be NULL */
    unsigned flags;           /* OAK_APP_* */
} oak_application;

/* Run the application until it stops (see above). Returns 0 after an
 * orderly stop; 1 when the application failed to start, or when its tree
 * died and its type ends the program; a negative code if the runtime could
 * not start (oak_run()'s errors; -EINVAL for a spec without name or top
 * supervisor). Call it from outside any process (typically from main());
 * it blocks. */
OAK_API int oak_application_run(const oak_application *app);

/* Ask the running application to stop, as SIGTERM does. Returns 0, or
 * -ESRCH when no application runs. Any thread (not from a signal handler:
 * there, send the signal instead or use oak_shutdown()). */
OAK_API int oak_application_stop(void);

#ifdef __cplusplus
}
#endif
#endif
