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
 *                      (a fault: class=error where=PLACE
 *                      backtrace=PLACE;PLACE;... reason={sigsegv,"..."})
 *   long_schedule      process=NAME pid=PID scheduler=N held_ms=MS
 *                      where=syscall:PLACE|running
 *   gen_server_report  server=NAME last_message=TAG reason=R (error);
 *                      server=NAME event=cast_dropped|info_dropped ... (warning)
 *   supervisor_report  supervisor=NAME context=C id=ID pid=PID action=A reason=R
 *                      (context=unexpected_message: supervisor=NAME
 *                      context=unexpected_message tag=TAG)
 *   progress           supervisor=NAME event=started id=ID pid=PID
 *   application_report application=APP event=started|exit ...
 *   runtime            event=E ...
 * where NAME is the registered name, or the pid when there is none, and a
 * PLACE, a code address, is one of
 *   FUNC+OFF(MODULE+OFF)@FILE:LINE   FUNC+OFF(MODULE+OFF)
 *   MODULE+OFF@FILE:LINE             MODULE+OFF             0xADDR
 * (OFF in hex, 0x...; MODULE the file's base name, MODULE+OFF what
 * addr2line -e takes; FILE the source's base name; @FILE:LINE where the
 * module has DWARF line info and libdw.so.1 is installed; a backtrace
 * frame's line is that of its call). */
typedef void (*oak_log_handler)(oak_log_level level, const char *kind,
                                const char *line, void *ctx);

/* Install a handler (NULL restores the stderr default). The handler may be
 * called from any scheduler thread at once; it must not block for long. */
OAK_API void oak_log_set_handler(oak_log_handler fn, void *ctx);

/* ---- structured events ---------------------------------------------------- */

/* One key=value field of a line: pointers into the line, not terminated. */
typedef struct oak_log_field {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
} oak_log_field;

/* Split a line of the shape above into its fields; at most max are
 * written to out. A value ends at a space outside quotes and brackets
 * ({}, [], <>) that is followed by another key=; so the last field's value
 * may hold spaces. Returns the number of fields (which may exceed max). */
OAK_API size_t oak_log_parse(const char *line, oak_log_field *out, size_t max);

#define OAK_LOG_MAX_FIELDS 16

/* An event with its fields parsed, and the wall-clock time it was logged. */
typedef struct oak_log_record {
    oak_log_level level;
    const char *kind;
    const char *line;
    int64_t time_ms;             /* wall clock, ms since 1970 (UTC)       */
    const oak_log_field *fields; /* parsed from line                      */
    size_t nfields;              /* at most OAK_LOG_MAX_FIELDS            */
} oak_log_record;

typedef void (*oak_log_record_handler)(const oak_log_record *rec, void *ctx);

/* Install a handler of structured events instead (NULL: the default
 * output). Replaces a handler set with oak_log_set_handler(), and the
 * other way round. Same threads and rules. */
OAK_API void oak_log_set_record_handler(oak_log_record_handler fn, void *ctx);

/* ---- the default output ------------------------------------------------- */

#define OAK_LOG_TIME 0x1u   /* begin each line with an ISO 8601 UTC time,
                             * milliseconds: 2026-12-02T06:42:27.123Z */
#define OAK_LOG_JSON 0x2u   /* one JSON object per line: time, level, kind,
                             * then every field, values as strings */
#define OAK_LOG_SYSLOG 0x4u /* to syslog(3) (LOG_DAEMON, level mapped)
                             * instead of fd */

/* How the default output writes: flags above, to fd (-1 keeps the current
 * one; stderr by default). The fd is not closed by oak. Any thread. */
OAK_API void oak_log_set_output(unsigned flags, int fd);

/* Append the default output to the file at path (created 0644, opened
 * close-on-exec), with flags. Returns 0 or -errno. */
OAK_API int oak_log_open(const char *path, unsigned flags);

/* A level of its own for one kind of event ("progress",
 * "supervisor_report", ...): events of that kind below it are dropped. At
 * most 16 kinds; level OAK_LOG_DEBUG removes the kind's own level. Returns
 * 0, -EINVAL, or -ENOSPC. */
OAK_API int oak_log_set_kind_level(const char *kind, oak_log_level level);

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
