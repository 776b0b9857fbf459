/* oak/log.h - the runtime's log: crash reports and warnings of the core, and
 * the reports of the behaviours (supervisor, gen_server, application).
 *
 * One event is one line. By default lines at or above OAK_LOG_NOTICE go to
 * stderr; a handler can be installed instead. Any thread.
 */
#ifndef OAK_LOG_H
#define OAK_LOG_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum oak_log_level {
    OAK_LOG_DEBUG = 0,
    OAK_LOG_INFO = 1,    /* progress reports */
    OAK_LOG_NOTICE = 2,
    OAK_LOG_WARNING = 3,
    OAK_LOG_ERROR = 4,   /* crash and supervisor reports */
    OAK_LOG_NONE = 5     /* as a level: log nothing */
} oak_log_level;

/* An event: its level, a short kind ("crash_report", "supervisor_report",
 * "progress", ...) and the formatted line (no trailing newline).
 *
 * Every line the runtime and the behaviours log has one shape: key=value
 * fields separated by one space, keys in [a-z_], values without spaces
 * except the last field's (a reason or an error text), which runs to the end
 * of the line. A report about a process starts with the process as OTP
 * names it, its registered name where it has one, and then its pid:
 *   crash_report       process=NAME pid=PID class=exit|error reason=R
 *                      (a fault: class=error reason={sigsegv,"..."})
 *   long_schedule      process=NAME pid=PID scheduler=N held_ms=MS
 *   gen_server_report  server=NAME last_message=TAG reason=R (error);
 *                      server=NAME event=cast_dropped|info_dropped ... (warning)
 *   supervisor_report  supervisor=NAME context=C id=ID pid=PID action=A reason=R
 *                      (context=unexpected_message: supervisor=NAME
 *                      context=unexpected_message tag=TAG)
 *   progress           supervisor=NAME event=started id=ID pid=PID
 *   application_report application=APP event=started|exit ...
 *   runtime            event=E ...
 * where NAME is the registered name, or the pid when there is none. */
typedef void (*oak_log_handler)(oak_log_level level, const char *kind,
                                const char *line, void *ctx);

/* Install a handler (NULL restores the stderr default). The handler may be
 * called from any scheduler thread at once; it must not block for long. */
OAK_API void oak_log_set_handler(oak_log_handler fn, void *ctx);

/* Events below level are dropped before they are formatted. Returns the old
 * level. */
OAK_API oak_log_level oak_log_set_level(oak_log_level level);

/* Would an event at this level be logged? */
OAK_API bool oak_log_enabled(oak_log_level level);

/* Log one event. Returns 0, or -EINVAL for a bad level or NULL format. */
OAK_API int oak_log(oak_log_level level, const char *kind, const char *fmt, ...)
    OAK_PRINTF(3, 4);

#ifdef __cplusplus
}
#endif
#endif
