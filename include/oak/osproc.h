/* oak/osproc.h - programs as oak processes: OS children in a supervision
 * tree.
 *
 * oak_osproc_start() runs a program and stands for it in the runtime as an
 * oak process (a gen_server, the "mirror"). The mirror's exit is the
 * program's:
 *
 *   exit status 0        normal         (so a transient child is not restarted)
 *   exit status N > 0    {exit_status, N}
 *   killed by signal S   {signal, S}    e.g. {signal, sigsegv}, {signal, sigkill}
 *
 * and when the mirror is told to stop (an exit signal from its parent, or
 * oak_osproc_stop()), it stops the program: the stop signal (default
 * SIGTERM) to the program's process group, up to stop_timeout_ms, then
 * SIGKILL to the group; it then exits with the reason it was given
 * (`shutdown` from a supervisor). When the mirror is killed (exit reason
 * `kill`, a supervisor's brutal_kill, the end of the runtime), its cleanup
 * sends SIGKILL to the group at once and the runtime reaps the program.
 *
 * So a program is a worker like any other: oak_osproc_child_spec() makes a
 * supervisor child spec of it, and every strategy, restart type, intensity
 * and shutdown applies unchanged, mixed with oak processes in one
 * supervisor.
 *
 * Each program runs in its own process group (or session), so that the
 * group is the unit that is stopped: a program's own children go with it.
 * When a program exits, what is left of its group is killed and reaped.
 * Where a cgroup v2 is writable, each program also gets a cgroup of its
 * own, whose cgroup.kill reaches descendants that left the group. The
 * runtime becomes a child subreaper (PR_SET_CHILD_SUBREAPER) at the first
 * start, so orphaned descendants are reparented to it, and a small
 * watchdog process kills the groups (and cgroups) of all live programs if
 * the oak program dies, by kill -9 included. docs/design/osproc.md tells
 * what each mechanism covers and what happens without it.
 *
 * Exits are seen through pidfds (Linux 5.3). On a kernel without them, or
 * with OAK_OSPROC_NO_PIDFD=1 in the environment at the first start, they
 * are seen through SIGCHLD (the runtime's signal source, oak/signal.h) and
 * waitid() on each program's pid; nothing else changes.
 *
 * Descriptors: every descriptor oak opens is close-on-exec, and the child
 * is given 0, 1, 2 and the descriptors of `fds` (as 3, 4, ...); every other
 * descriptor is closed on exec (with `fn`, closed before fn runs).
 *
 * Instead of a program, the child may run a C function (`fn`): a fork that
 * runs fn and _exit()s with what it returns, with the same exit mirroring,
 * stop, I/O and reaping. The child of a fork in a multi-threaded program
 * has only the forking thread: see `fn` below for what fn may do.
 *
 * Unless said otherwise, functions must be called from inside an oak
 * process and return -EPERM elsewhere.
 */
#ifndef OAK_OSPROC_H
#define OAK_OSPROC_H

#include "gen_server.h"
#include "supervisor.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the child's stdin, stdout or stderr is. */
typedef enum oak_osproc_stdio {
    OAK_STDIO_INHERIT = 0, /* the oak program's own descriptor */
    OAK_STDIO_NULL = 1,    /* /dev/null */
    OAK_STDIO_PIPE = 2,    /* stdin: written with oak_osproc_write();
                            * stdout/stderr: framed into lines, sent to
                            * output_to and/or logged (see below) */
} oak_osproc_stdio;

/* At most this many rlimits and given descriptors per program. */
#define OAK_OSPROC_MAX_RLIMITS 16
#define OAK_OSPROC_MAX_FDS 64

typedef struct oak_osproc_rlimit {
    int resource;  /* RLIMIT_NOFILE, RLIMIT_CORE, ... */
    uint64_t cur;  /* soft limit (RLIM_INFINITY allowed) */
    uint64_t max;  /* hard limit */
} oak_osproc_rlimit;

/* Default longest line of output (bytes, newline excluded). */
#define OAK_OSPROC_DEFAULT_MAX_LINE 4096

/* How to run a program. Zero-initialise, then fill. Everything is read
 * during oak_osproc_start() only (and again at each restart by a
 * supervisor: then give it static storage). */
typedef struct oak_osproc_opts {
    const char *path;          /* required: the program; a name without '/'
                                * is looked up in PATH */
    const char *const *argv;   /* NULL-terminated; NULL = {path, NULL} */
    const char *const *env;    /* NULL-terminated "K=V"; NULL = inherit */
    const char *cwd;           /* NULL = inherit */
    bool set_umask;            /* false = inherit */
    unsigned umask;
    bool new_session;          /* setsid(): its own session (and group);
                                * false: its own process group */
    bool set_user;             /* run as uid/gid, with uid's supplementary
                                * groups (as initgroups); needs root. A
                                * refusal is {Errno,{user,"Uid"}} */
    unsigned uid, gid;
    const oak_osproc_rlimit *rlimits; /* set in the child before exec */
    size_t rlimit_count;
    const int *fds;            /* given to the child as 3, 4, ... */
    size_t fd_count;

    oak_osproc_stdio stdin_mode, stdout_mode, stderr_mode;
    oak_pid output_to;         /* with OAK_STDIO_PIPE: each line of output
                                * goes to this process as a message (tag
                                * output_tag, payload oak_osproc_line) */
    uint64_t output_tag;       /* 0 = OAK_OSPROC_TAG_OUTPUT */
    bool log_output;           /* with OAK_STDIO_PIPE: also log each line
                                * (kind "osproc_output", level info) */
    size_t max_line;           /* 0 = OAK_OSPROC_DEFAULT_MAX_LINE; longer
                                * lines come in pieces of max_line bytes,
                                * each but the last flagged
                                * OAK_OSPROC_LINE_PARTIAL */
    unsigned lines_per_sec;    /* per stream; 0 = no bound. Beyond it the
                                * reader stops reading until the next
                                * second: the pipe fills and the program
                                * waits (nothing is buffered or dropped) */

    int stop_signal;           /* 0 = SIGTERM */
    int64_t stop_timeout_ms;   /* ms from the stop signal to SIGKILL; 0 =
                                * 5000 (a worker's default), OAK_INFINITY,
                                * OAK_BRUTAL_KILL (SIGKILL at once),
                                * OAK_SHUTDOWN_ZERO (SIGKILL right after
                                * the stop signal) */
    oak_atom name;             /* register the mirror under it, or 0 */

    /* Readiness. Without either, the program counts as started as soon
     * as its exec succeeded. With one (or both), oak_osproc_start() returns
     * once the program says it is ready, and a supervisor starts the next
     * child only then. */
    int notify_fd;             /* > 0: s6's notification-fd: the program
                                * gets a pipe as this descriptor (at least
                                * 3 + fd_count, below 1024) and is ready
                                * when it writes a newline to it */
    bool notify_socket;        /* systemd's: NOTIFY_SOCKET is set in its
                                * environment; ready on a datagram with a
                                * line READY=1 */
    int64_t ready_timeout_ms;  /* how long to wait; 0 = OAK_INFINITY. On
                                * timeout the program is killed and the
                                * start fails {etimedout,{ready,"Path"}};
                                * if it exits first, the start fails with
                                * its reason, e.g. {exit_status,"1"} */

    /* A function in a forked child instead of a program. With fn set, the
     * child is set up as for a program (group or session, death signal,
     * cgroup, descriptors, rlimits, user, cwd, umask, default signal
     * dispositions, an empty mask; env, if given, becomes its environ),
     * then every descriptor but 0, 1, 2 and `fds` is closed, and it runs
     * fn(fn_arg) and _exit()s with its return value & 255: 0 is `normal`,
     * N is {exit_status, N}, a crash {signal, S}. path is then only the
     * name used in reasons and reports (NULL: "fn"); argv must be NULL.
     *
     * The child is a fork of a multi-threaded program: only the thread
     * that forked (a scheduler thread) exists in it, and locks that other
     * threads held at the fork stay held. Truly safe there: only
     * async-signal-safe calls (write, read, close, dup2, execve, _exit,
     * ...). glibc keeps malloc usable after fork, but locks of other
     * libraries, stdio streams used by other threads, and oak's own are
     * not: no oak call may be made in the child (it is not an oak
     * process, and the runtime is not there). stdio buffers are those of
     * the parent at the fork, and _exit does not flush them: write output
     * with write(2) (or fflush what fn printed before returning). fn runs
     * on the mirror's stack, `stack_size` bytes, of which the mirror has
     * used a few KiB; overflowing it reaches the 1 MiB guard gap below a
     * stack: {signal, sigsegv}. */
    int (*fn)(void *arg);
    void *fn_arg;
    size_t stack_size;         /* the mirror's stack; 0 = the runtime's
                                * default (OAK_DEFAULT_STACK_SIZE) */

    /* A pseudo-terminal: stdin, stdout and stderr are all its slave side,
     * which is the controlling terminal of the child's own session
     * (setsid, TIOCSCTTY; new_session is implied). stdin_mode, stdout_mode
     * and stderr_mode must be left 0. What the child writes to it comes
     * as lines of stream 1 (stdout and stderr mixed, as on a terminal),
     * framed and bounded as from a pipe; oak_osproc_write() types into
     * it. The terminal starts with echo off and no output mapping of NL
     * to CR-NL, so lines come as written and what oak writes is not sent
     * back; 80 columns by 24 rows. The program may change its modes. */
    bool pty;
} oak_osproc_opts;

/* A line of output, the payload of an output message (from = the reader
 * process; `proc` is the mirror). text is NUL-terminated, without the
 * newline, `len` bytes long. */
#define OAK_OSPROC_TAG_OUTPUT ((uint64_t)0x6f736f7574707574) /* "osoutput" */
#define OAK_OSPROC_LINE_PARTIAL 0x1u /* cut at max_line, or no newline at end */

typedef struct oak_osproc_line {
    oak_pid proc;  /* the mirror of the program */
    int os_pid;    /* the program's OS pid */
    int stream;    /* 1 stdout, 2 stderr */
    unsigned flags;
    size_t len;
    char text[];   /* len bytes and a NUL */
} oak_osproc_line;

/* Start the program and its mirror. flags: OAK_GEN_LINK (link the mirror to
 * the caller, as a supervisor's start function must) or 0. Returns once the
 * exec has succeeded or failed.
 * Returns 0 (mirror's pid in *pid), or:
 *   -ENOENT, -EACCES, -ENOEXEC, -ENOTDIR, ... the program could not run:
 *               *why is {Errno, "Path"}, e.g. {enoent,"/no/such"}; a
 *               failure to set up the child (a bad cwd, an rlimit) is
 *               {Errno, {Step, "Arg"}}, e.g. {enoent,{cwd,"/x"}}
 *   -ETIMEDOUT  not ready within ready_timeout_ms (killed); *why
 *               {etimedout,{ready,"Path"}}
 *   -ECHILD     it exited before it was ready; *why is its exit reason
 *   -EPIPE      it closed its notification descriptor without a newline
 *               (killed); *why {epipe,{ready,"Path"}}
 *   -EINVAL     opts NULL, neither path nor fn, argv with fn, too many
 *               rlimits or fds, a bad stdio mode, a stdio mode with pty,
 *               a bad stop signal or timeout, PIPE output (or a pty) with
 *               neither output_to nor log_output ({badarg, What})
 *   -EALREADY   name taken (*pid: the owner)
 *   -EMFILE, -ENOMEM, -EAGAIN   resources (descriptors, memory, processes)
 * pid and why may be NULL. Process context; blocks until the exec (and
 * the readiness asked for). */
OAK_API int oak_osproc_start(const oak_osproc_opts *opts, unsigned flags,
                             oak_pid *pid, oak_reason *why);

/* A supervisor start function: args->arg points to an oak_osproc_opts
 * (arg_size 0), which must stay valid while the child may be restarted.
 * Starts the program linked to the supervisor. */
OAK_API int oak_osproc_start_fn(const oak_child_args *args, oak_pid *pid,
                                oak_reason *why);

/* Fill *spec as a worker child with id that runs opts (kept by pointer:
 * static storage), its shutdown taken from opts->stop_timeout_ms so that the
 * supervisor and the mirror agree on it. Other fields (restart,
 * significant, backoff) are zero: change them afterwards. Returns 0 or
 * -EINVAL (spec or opts NULL). Any thread. */
OAK_API int oak_osproc_child_spec(oak_child_spec *spec, oak_atom id,
                                  const oak_osproc_opts *opts);

/* The OS pid of the program that mirror proc runs (a call). Returns the
 * pid (> 0), or -ESRCH (proc is gone), -EPROTO (not a program's mirror).
 * Process context; blocks. */
OAK_API int oak_osproc_os_pid(oak_pid proc);

/* Write size bytes to the program's stdin (OAK_STDIO_PIPE), waiting up to
 * timeout_ms (OAK_INFINITY: no limit) for the pipe to take them all.
 * Returns 0, -ETIMEDOUT (part may have been written), -EPIPE (stdin closed,
 * or the program closed its end), -EBADF (stdin is not a pipe), -ESRCH,
 * -EPROTO, -EINVAL. Process context; blocks. */
OAK_API int oak_osproc_write(oak_pid proc, const void *data, size_t size,
                             int64_t timeout_ms);

/* Close the program's stdin (it reads end of file). With a pty, the
 * terminal's end-of-file character (VEOF, ^D) is typed instead, which a
 * program reading in canonical mode takes as end of file; the terminal
 * stays open. Returns 0, -EBADF (not a pipe or already closed), -ESRCH,
 * -EPROTO. Process context; blocks. */
OAK_API int oak_osproc_close_stdin(oak_pid proc);

/* Stop the program as a supervisor's shutdown does (stop signal, timeout,
 * SIGKILL) and wait until it has been reaped and the mirror is gone.
 * Returns 0, -ESRCH, or an oak_gen_server_stop() error. Process context;
 * blocks. */
OAK_API int oak_osproc_stop(oak_pid proc);

#ifdef __cplusplus
}
#endif
#endif
