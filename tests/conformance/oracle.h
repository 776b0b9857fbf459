/* oracle.h - the C side of the OTP conformance oracle.
 *
 * Mirrors ../shared/otp-oracle/scenarios/lib/oracle_lib.erl: one event per
 * line on stdout in the oracle's vocabulary, pid labels (<a.2> = second
 * incarnation of child a), an instrumented gen_server worker with scripted
 * start outcomes, an instrumented supervisor, the seed Sequence/Stash
 * servers, a log handler that turns oak's reports into `report ...` lines,
 * and the driver helpers (crash, exit_child, stop_top, show_children, ...).
 * A scenario is a short C file: see a01_one_for_one_crash_first.c.
 */
#ifndef OAK_ORACLE_H
#define OAK_ORACLE_H

#include "oak.h"

/* ---- bootstrap ----------------------------------------------------------- */

#define OR_REPORT_SUPERVISOR 0x1u
#define OR_REPORT_CRASH 0x2u
#define OR_REPORT_PROGRESS 0x4u

/* Run scenario() as the driver process (trapping exits, labelled
 * <driver>) with the given report kinds; returns the exit status. */
int or_run(void (*scenario)(void), unsigned reports);

/* ---- output ------------------------------------------------------------- */

/* Print one line (printf format); pids inside must be printed with or_p(). */
void or_ev(const char *fmt, ...) OAK_PRINTF(1, 2);

/* Text for a pid: its label "<a.1>" or "<pid>". Rotating buffers: valid for
 * a few calls. */
const char *or_p(oak_pid pid);

/* A reason as a term, with pids replaced by labels. Rotating buffers. */
const char *or_r(const oak_reason *r);

/* Parse a term text into a reason: "{shutdown,bye}" -> (shutdown, "bye"). */
oak_reason or_reason(const char *term);

/* Print "DESC -> RESULT" for an admin call result (code, why, pid). id is
 * the child id of a start_child (for OTP's #child{} record). */
const char *or_result(int code, oak_pid pid, const oak_reason *why,
                      const char *id);

/* ---- labels -------------------------------------------------------------- */

void or_label(oak_pid pid, const char *label);
oak_pid or_pid_of(const char *id);

/* ---- scripted start outcomes -------------------------------------------- */

/* Each start attempt of id consumes one entry: "ok", "ignore", "stop:R",
 * "exit:R", "bad:X", "sleep:MS", "return:X", "raise:R". */
void or_set_script(const char *id, int n, const char *const *steps);

/* ---- the instrumented worker ---------------------------------------------- */

typedef struct or_wopts {
    char id[32];
    int no_trap;         /* trap => false */
    int terminate_sleep; /* ms */
    int quiet;
    int quiet_shutdown;
    char name[32];       /* register locally */
    char init[32];       /* default behaviour when no script ("ok") */
} or_wopts;

/* Child specs for the worker (spec options as OTP map keys). */
oak_child_spec or_w(const char *id);
oak_child_spec or_w_opts(const char *id, const or_wopts *o);

/* The worker's start function (arg: or_wopts). */
int or_start_worker(const oak_child_args *a, oak_pid *pid, oak_reason *why);
/* simple_one_for_one template start: arg = or_wopts (without id), extra =
 * the id text. */
int or_start_dyn(const oak_child_args *a, oak_pid *pid, oak_reason *why);

/* Start an unlinked / linked worker directly (gen_server scenarios). */
int or_worker_start(const char *id, const or_wopts *o, unsigned flags,
                    oak_pid *pid, oak_reason *why);

/* ---- supervisors ------------------------------------------------------------ */

oak_sup_flags or_flags(oak_strategy s, int intensity, int period);
/* A child spec for an instrumented supervisor (type supervisor). The
 * children array is copied. */
oak_child_spec or_sup(const char *id, oak_sup_flags f, const oak_child_spec *c,
                      size_t n);
/* Start a top supervisor linked to the driver and watch it. Prints
 * "start_link Id -> R" on failure. Returns the result code. */
int or_top(const char *id, oak_sup_flags f, const oak_child_spec *c, size_t n);
/* The same without printing and watching (for api()). */
int or_start_sup(const char *id, oak_sup_flags f, const oak_child_spec *c,
                 size_t n, oak_pid *pid, oak_reason *why);

/* ---- driver helpers -------------------------------------------------------- */

void or_settle(int ms);
void or_crash(const char *id, const char *reason);
void or_exit_child(const char *id, const char *reason);
void or_kill_child(const char *id, const char *signal);
void or_stop_top(const char *id, const char *reason);
void or_await_top(const char *id);
/* The same for a supervisor watched with or_watch(): "sup_exit NAME R". */
void or_await_sup(oak_ref ref, const char *name);
void or_show_children(const char *id);
void or_show_counts(const char *id);
oak_ref or_watch(oak_pid pid);
void or_await_down(oak_ref ref, const char *name);
void or_await_silent(oak_ref ref);
void or_elapsed_check(int64_t t0, int64_t lo, int64_t hi);
/* Print the driver's mailbox (not EXIT/DOWN) as a list, flushing it. */
const char *or_mailbox(void);

/* ---- the seed: Sequence + Stash -------------------------------------------- */

oak_child_spec or_stash_spec(long value);
oak_child_spec or_seq_spec(void);
/* next_number call; prints "next_number -> N" */
void or_seq_next(const char *desc);
void or_seq_increment_int(long d);
void or_seq_increment_term(const char *term); /* e.g. "\"cat\"" */
long or_stash_get_value(void);

/* A child spec as the oracle prints get_childspec results. */
const char *or_childspec(const oak_child_spec *s);

#endif
