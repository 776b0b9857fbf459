/* osproc.c - a program as an oak process: the mirror (a gen_server on the
 * public API), its waiter and its output readers.
 *
 * Life of one OS child, as its mirror sees it:
 *
 *   STARTING  (mirror's init) clone (fork for fn); the child sets its
 *      |       group/session, death signal, descriptors, cwd, umask,
 *      |       rlimits, then execs.
 *      |       The mirror waits (oak_wait_fd) on a close-on-exec error pipe:
 *      |       end of file = exec done; a record = the errno of a step.
 *      |--exec failed--> reap the child; init fails {Errno, Path}
 *      v
 *   RUNNING   (ready = the exec succeeded) the waiter process waits on the
 *      |       pidfd; readers frame stdout/stderr into lines
 *      |----------------------------.------------------------------.
 *      | program exits              | parent's EXIT / stop         | mirror killed
 *      v                            v                              v
 *      |                         STOPPING: stop signal to the    KILLED: cleanup
 *      |                          group, wait stop_timeout_ms,     sends SIGKILL to
 *      |                          then SIGKILL to the group;       the group, hands
 *      |                          wait for the waiter's note       the pidfd to the
 *      v                            |                              reaper thread
 *   REAPED: SIGKILL to what is left of the group (the zombie leader still
 *           holds its id), waitid(P_PIDFD), the rest of the group to the
 *           reaper thread; the mirror exits with the program's status
 *           (normal, {exit_status,N}, {signal,S}) or, when stopped, with
 *           the reason it was stopped with.
 *
 * With fn, the child runs a function instead of exec (and closes every
 * descriptor it was not given first); with pty, its 0, 1 and 2 are a
 * pseudo-terminal whose master the mirror holds. Without pidfds (an old
 * kernel, or OAK_OSPROC_NO_PIDFD=1), exits are watched by pid through
 * SIGCHLD messages.
 *
 * Every descriptor here is opened close-on-exec. The mirror's state is
 * malloc()ed and freed by its cleanup (oak_defer), which runs however the
 * mirror ends; until then only the mirror touches it. See
 * docs/design/osproc.md.
 */
#include "osproc/osproc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <pwd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "osproc/reaper.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

/* ---- private tags (atoms, so they never meet a user's integer tag) ------- */

static pthread_once_t tags_once = PTHREAD_ONCE_INIT;
static oak_atom tag_exited, tag_os_pid, tag_write, tag_close_stdin, tag_result;

static void tags_init(void)
{
    tag_exited = oak_atom_from("$osproc_exited");
    tag_os_pid = oak_atom_from("$osproc_os_pid");
    tag_write = oak_atom_from("$osproc_write");
    tag_close_stdin = oak_atom_from("$osproc_close_stdin");
    tag_result = oak_atom_from("$osproc_result");
}

static void tags(void) { pthread_once(&tags_once, tags_init); }

/* ---- names of errnos and signals, as Erlang spells them ------------------ */

static oak_atom errno_atom(int e)
{
    const char *n = strerrorname_np(e);
    char buf[32];
    if (!n) {
        snprintf(buf, sizeof buf, "errno_%d", e);
        return oak_atom_from(buf);
    }
    size_t i = 0;
    for (; n[i] && i + 1 < sizeof buf; i++)
        buf[i] = (char)tolower((unsigned char)n[i]);
    buf[i] = 0;
    return oak_atom_from(buf);
}

/* The errno whose atom is a, or 0. */
static int errno_of_atom(oak_atom a)
{
    for (int e = 1; e < 4096; e++) {
        const char *n = strerrorname_np(e);
        if (n && errno_atom(e) == a)
            return e;
    }
    return 0;
}

static void signal_name(int sig, char *buf, size_t size)
{
    const char *n = sigabbrev_np(sig);
    if (!n) {
        snprintf(buf, size, "%d", sig);
        return;
    }
    size_t i = snprintf(buf, size, "sig");
    for (; *n && i + 1 < size; n++)
        buf[i++] = (char)tolower((unsigned char)*n);
    buf[i] = 0;
}

/* The Erlang string "s" (quotes and backslashes escaped). */
static void erl_string(const char *s, char *buf, size_t size)
{
    size_t i = 0;
    if (size < 3) {
        if (size)
            buf[0] = 0;
        return;
    }
    buf[i++] = '"';
    for (; *s && i + 3 < size; s++) {
        if (*s == '"' || *s == '\\')
            buf[i++] = '\\';
        buf[i++] = *s;
    }
    buf[i++] = '"';
    buf[i] = 0;
}

/* ---- the child between fork and exec -------------------------------------- */

enum step { STEP_EXEC = 0, STEP_CWD, STEP_RLIMIT, STEP_SETUP, STEP_USER };

typedef struct plan {
    const char *path;       /* resolved */
    char *const *argv;
    char *const *envp;
    const oak_osproc_opts *o;
    int stdio[3];           /* descriptor for 0, 1, 2, or -1: keep */
    int errfd;              /* write end of the error pipe */
    pid_t parent;
    const char *cg_procs;   /* its cgroup leaf's cgroup.procs, or NULL */
    int notify;             /* child end of the notification pipe, or -1 */
    gid_t groups[64];       /* supplementary groups for set_user */
    size_t ngroups;
} plan;

typedef struct err_rec {
    int err;
    int step;
    int index;              /* which rlimit */
} err_rec;

/* The child of a program shares the mirror's memory until exec
 * (oak__reaper_spawn): glibc's write, close and open are cancellation
 * points, which flip a flag in the calling thread's descriptor (the
 * mirror's thread's), and its set*id wrappers, in a threaded process,
 * take the lock of the thread list and mark every other thread of the
 * runtime for a credential change (a lock another thread may hold at the
 * clone, and writes to threads that keep running). So the child calls
 * the kernel directly for those; the other libc calls it makes are
 * plain system-call wrappers. The only memory of the runtime it writes
 * is the mirror thread's errno, which nobody reads before clone
 * returns. */
static long sys_write(int fd, const void *buf, size_t n)
{
    return syscall(SYS_write, fd, buf, n);
}

static int sys_close(int fd) { return (int)syscall(SYS_close, fd); }

static OAK_NORETURN void child_fail(int errfd, int err, int step, int index)
{
    err_rec r = {err, step, index};
    (void)sys_write(errfd, &r, sizeof r);
    _exit(127);
}

/* Every signal to its default action. A cloned child uses the raw call:
 * glibc's sigaction refuses its own two internal signals, whose handlers
 * would stay and could run in the runtime's memory. An all-zero kernel
 * sigaction is SIG_DFL with no flags and an empty mask on every
 * architecture (its fields only differ in order); the kernel's signal set
 * is 8 bytes. A forked fn child keeps glibc's two handlers (threads it
 * starts may need them), as it always did. */
static void child_default_signals(bool cloned)
{
    unsigned long ksa[4] = {0, 0, 0, 0};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) {
        if (s == SIGKILL || s == SIGSTOP)
            continue;
        if (cloned)
            syscall(SYS_rt_sigaction, s, ksa, NULL, (size_t)8);
        else
            sigaction(s, &sa, NULL);
    }
}

/* Close every descriptor from lo up but keep. close_range where there is
 * one, else one by one up to the descriptor limit (getrlimit is
 * async-signal-safe in practice: a system call). */
static void close_from(int lo, int keep)
{
    unsigned k = (unsigned)keep; /* keep >= lo */
    if ((k == (unsigned)lo || syscall(SYS_close_range, (unsigned)lo, k - 1, 0) == 0) &&
        syscall(SYS_close_range, k + 1, ~0u, 0) == 0)
        return;
    struct rlimit rl;
    int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (1u << 20) ? (int)rl.rlim_cur
                                                                          : 1 << 16;
    for (int fd = lo; fd < max; fd++)
        if (fd != keep)
            close(fd);
}

/* The child, cloned for a program (in the mirror's memory, on a stack of
 * its own) or forked for fn: only system calls, no malloc, no lock, no
 * write to memory it shares (then, with fn, the user's function under the
 * rule of oak/osproc.h). It starts with every signal blocked. */
static OAK_NORETURN void child_main(const plan *p)
{
    const oak_osproc_opts *o = p->o;
    child_default_signals(!o->fn);
    /* Dies with the thread that started it: a scheduler thread, which
     * lives as long as the runtime (see docs/design/osproc.md). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != p->parent)
        _exit(127);
    if (o->new_session || o->pty ? setsid() < 0 : setpgid(0, 0) < 0)
        child_fail(p->errfd, errno, STEP_SETUP, 0);
    if (p->cg_procs) {
        /* Into its cgroup leaf before it can fork: then everything it
         * starts is in there too. A failure leaves it where it is. */
        int cfd = (int)syscall(SYS_openat, AT_FDCWD, p->cg_procs, O_WRONLY | O_CLOEXEC);
        if (cfd >= 0) {
            char num[16];
            int k = (int)sizeof num;
            unsigned v = (unsigned)getpid();
            do
                num[--k] = (char)('0' + v % 10);
            while ((v /= 10) && k > 0);
            (void)sys_write(cfd, num + k, sizeof num - (size_t)k);
            sys_close(cfd);
        }
    }

    /* Descriptors: copy every source above the targets first, so that no
     * dup2 overwrites a source still needed. */
    int hi = 3 + (int)o->fd_count;
    if (p->notify >= 0 && o->notify_fd >= hi)
        hi = o->notify_fd + 1;
    int errfd = fcntl(p->errfd, F_DUPFD_CLOEXEC, hi);
    if (errfd < 0)
        child_fail(p->errfd, errno, STEP_SETUP, 0);
    int notify = -1;
    if (p->notify >= 0 && (notify = fcntl(p->notify, F_DUPFD_CLOEXEC, hi)) < 0)
        child_fail(errfd, errno, STEP_SETUP, 0);
    int tmp[3 + OAK_OSPROC_MAX_FDS];
    for (int i = 0; i < 3; i++) {
        tmp[i] = -1;
        if (p->stdio[i] >= 0 && (tmp[i] = fcntl(p->stdio[i], F_DUPFD_CLOEXEC, hi)) < 0)
            child_fail(errfd, errno, STEP_SETUP, 0);
    }
    for (size_t i = 0; i < o->fd_count; i++)
        if ((tmp[3 + i] = fcntl(o->fds[i], F_DUPFD_CLOEXEC, hi)) < 0)
            child_fail(errfd, errno, STEP_SETUP, 0);
    for (int i = 0; i < 3 + (int)o->fd_count; i++)
        if (tmp[i] >= 0 && dup2(tmp[i], i) < 0)
            child_fail(errfd, errno, STEP_SETUP, 0);
    if (notify >= 0 && dup2(notify, o->notify_fd) < 0)
        child_fail(errfd, errno, STEP_SETUP, 0);
    /* The terminal (now 0, 1 and 2) becomes the session's controlling
     * terminal. */
    if (o->pty && ioctl(0, TIOCSCTTY, 0) < 0)
        child_fail(errfd, errno, STEP_SETUP, 0);
    /* Everything from hi up closes on exec, whoever opened it. */
    syscall(SYS_close_range, (unsigned)hi, ~0u, CLOSE_RANGE_CLOEXEC);

    /* Limits while still privileged (raising a hard limit needs it), then
     * the user, then the directory as that user sees it. */
    for (size_t i = 0; i < o->rlimit_count; i++) {
        struct rlimit rl = {(rlim_t)o->rlimits[i].cur, (rlim_t)o->rlimits[i].max};
        if (setrlimit(o->rlimits[i].resource, &rl) < 0)
            child_fail(errfd, errno, STEP_RLIMIT, (int)i);
    }
    if (o->set_user && (syscall(SYS_setgroups, p->ngroups, p->groups) < 0 ||
                        syscall(SYS_setgid, (gid_t)o->gid) < 0 ||
                        syscall(SYS_setuid, (uid_t)o->uid) < 0))
        child_fail(errfd, errno, STEP_USER, 0);
    if (o->cwd && chdir(o->cwd) < 0)
        child_fail(errfd, errno, STEP_CWD, 0);
    if (o->set_umask)
        umask((mode_t)o->umask);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (o->fn) {
        /* No exec will close the rest: close it now (the runtime's epoll
         * and pipes, other programs' pipes, the watchdog's pipe, whose
         * end of file must not wait for this child), the error pipe last:
         * its end of file tells the mirror the child is running. */
        environ = (char **)p->envp;
        close_from(hi, errfd);
        close(errfd);
        _exit(o->fn(o->fn_arg) & 0xff);
    }
    execve(p->path, p->argv, p->envp);
    child_fail(errfd, errno, STEP_EXEC, 0);
}

static int child_entry(void *arg) { child_main(arg); }

/* The name of what runs, in reasons and reports. */
static const char *label(const oak_osproc_opts *o)
{
    return o->path ? o->path : "fn";
}

/* ---- the mirror's state ---------------------------------------------------- */

typedef struct mirror {
    oak_pid self;
    pid_t os_pid;        /* also its process group's id */
    bool unreaped;       /* forked and not reaped yet */
    int pidfd;           /* while unreaped; -1 without pidfds
                          * (oak__reaper_no_pidfd(): watched by os_pid) */
    int stdin_fd;        /* our end of its stdin pipe, or -1 */
    int out_fd[2];       /* read ends not yet handed to a reader, or -1 */
    int stop_signal;
    int64_t stop_timeout; /* ms, OAK_INFINITY, OAK_BRUTAL_KILL, OAK_SHUTDOWN_ZERO */
    oak_pid waiter;      /* waits on the pidfd; OAK_NOPID when gone */
    oak_pid readers[2];  /* stdout, stderr readers; OAK_NOPID when none */
    bool watched;        /* the watchdog knows the group */
    unsigned cg;         /* its cgroup leaf (osproc/reaper.h), or 0 */
    int notify_fd;       /* read end of the notification pipe, or -1 */
    int notify_sock;     /* the NOTIFY_SOCKET datagram socket, or -1 */
    bool pty;            /* stdin_fd and out_fd[0] are a pty's master */
} mirror;
/* Every field: the mirror process only (and its cleanup, which runs in its
 * place when it ends). */

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void mirror_cleanup(void *arg)
{
    mirror *m = arg;
    if (m->waiter)
        oak_exit_pid(m->waiter, OAK_KILL);
    for (int i = 0; i < 2; i++) {
        if (m->readers[i])
            oak_exit_pid(m->readers[i], OAK_KILL);
        close_fd(&m->out_fd[i]);
    }
    close_fd(&m->stdin_fd);
    close_fd(&m->notify_fd);
    close_fd(&m->notify_sock);
    if (m->unreaped) {
        /* Killed before the program was reaped: SIGKILL the group (its id
         * is held by the unreaped leader) and let the reaper finish. */
        kill(-m->os_pid, SIGKILL);
        if (m->pidfd >= 0)
            syscall(SYS_pidfd_send_signal, m->pidfd, SIGKILL, NULL, 0);
        else
            kill(m->os_pid, SIGKILL); /* unreaped: the pid is still its */
        oak__reaper_cgroup_kill(m->cg);
        oak__reaper_adopt(m->pidfd, m->os_pid, m->cg);
        m->pidfd = -1;
        m->unreaped = false;
    }
    free(m);
}

/* ---- helper processes -------------------------------------------------------- */

typedef struct waiter_arg {
    oak_pid mirror;
    int pidfd;           /* or -1: wait for os_pid through SIGCHLD */
    pid_t os_pid;
} waiter_arg;

/* Has the unreaped child pid exited? It stays a zombie (WNOWAIT): the
 * mirror reaps it. */
static bool exited_by_pid(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid != 0;
}

static bool is_sigchld(const oak_msg *msg, void *arg)
{
    (void)arg;
    return msg->tag == OAK_SIGNAL_TAG;
}

/* Without pidfds: subscribed to SIGCHLD before the first look, so an exit
 * after that look comes as a message. Deliveries close together may
 * merge, and any child's exit wakes every waiter: each looks at its own
 * pid. The 1 s slice covers a delivery dropped by a full signal queue. */
static void wait_by_pid(pid_t pid)
{
    bool subscribed = oak_signal_subscribe(SIGCHLD) == 0;
    while (!exited_by_pid(pid)) {
        oak_msg *msg = NULL;
        if (oak_receive(&msg, subscribed ? 1000 : 10, is_sigchld, NULL) == 0)
            oak_msg_free(msg);
    }
    if (subscribed)
        oak_signal_unsubscribe(SIGCHLD);
}

static void waiter_main(void *arg)
{
    waiter_arg a = *(waiter_arg *)arg;
    if (a.pidfd < 0) {
        wait_by_pid(a.os_pid);
    } else {
        int rc;
        do
            rc = oak_wait_fd(a.pidfd, OAK_FD_READ, OAK_INFINITY);
        while (rc == -ENOMEM && oak_sleep(10) == 0);
    }
    oak_send(a.mirror, tag_exited, NULL, 0);
}

/* Has the program exited (not reaped yet)? Waits up to ms for it. */
static bool program_exited(const struct mirror *m, int ms)
{
    if (m->pidfd >= 0) {
        struct pollfd pf = {m->pidfd, POLLIN, 0};
        return poll(&pf, 1, ms) > 0;
    }
    for (int t = 0;; t += 5) {
        if (exited_by_pid(m->os_pid))
            return true;
        if (t >= ms)
            return false;
        oak_sleep(5);
    }
}

/* Reap the program: 1 reaped (*si filled), 0 not exited yet (WNOHANG),
 * -1 an error. */
static int reap_program(const struct mirror *m, siginfo_t *si, int options)
{
    memset(si, 0, sizeof *si);
    int rc = m->pidfd >= 0 ? waitid((idtype_t)P_PIDFD, (id_t)m->pidfd, si, WEXITED | options)
                           : waitid(P_PID, (id_t)m->os_pid, si, WEXITED | options);
    return rc < 0 ? -1 : si->si_pid != 0;
}

typedef struct reader_arg {
    oak_pid mirror, to;
    uint64_t tag;
    int fd;
    int os_pid;
    int stream;
    bool log;
    size_t max_line;
    unsigned lines_per_sec;
} reader_arg;

typedef struct reader {
    reader_arg a;
    oak_osproc_line *msg; /* header + max_line + 1 bytes */
    int64_t window_ms;
    unsigned in_window;
} reader;

static void reader_close(void *arg) { close(*(int *)arg); }

static void emit(reader *r, const char *text, size_t len, unsigned flags)
{
    if (r->a.lines_per_sec) {
        int64_t now = oak_now_ms();
        if (now - r->window_ms >= 1000) {
            r->window_ms = now;
            r->in_window = 0;
        }
        if (++r->in_window > r->a.lines_per_sec) {
            /* Over the bound: stop reading until the next second; the
             * pipe fills and the program waits. */
            oak_sleep(r->window_ms + 1000 - now);
            r->window_ms = oak_now_ms();
            r->in_window = 1;
        }
    }
    if (r->a.to) {
        r->msg->flags = flags;
        r->msg->len = len;
        memmove(r->msg->text, text, len);
        r->msg->text[len] = 0;
        oak_send(r->a.to, r->a.tag, r->msg, sizeof *r->msg + len + 1);
    }
    if (r->a.log && oak_log_enabled(OAK_LOG_INFO)) {
        char who[40];
        oak_pid_format(r->a.mirror, who, sizeof who);
        oak_log(OAK_LOG_INFO, "osproc_output", "pid=%s os_pid=%d stream=%s%s line=%.*s",
                who, r->a.os_pid, r->a.stream == 1 ? "stdout" : "stderr",
                flags & OAK_OSPROC_LINE_PARTIAL ? " partial=true" : "", (int)len, text);
    }
}

static void reader_main(void *arg)
{
    reader *r = oak_alloc(sizeof *r);
    if (!r) {
        close(((reader_arg *)arg)->fd);
        return;
    }
    r->a = *(reader_arg *)arg;
    oak_defer(reader_close, &r->a.fd);
    size_t max = r->a.max_line;
    r->msg = oak_alloc(sizeof *r->msg + max + 1);
    char *buf = oak_alloc(max);
    if (!r->msg || !buf)
        return;
    r->msg->proc = r->a.mirror;
    r->msg->os_pid = r->a.os_pid;
    r->msg->stream = r->a.stream;
    r->window_ms = oak_now_ms();
    size_t len = 0;
    for (;;) {
        ssize_t n = read(r->a.fd, buf + len, max - len);
        if (n > 0) {
            size_t start = 0, from = len;
            len += (size_t)n;
            for (size_t i = from; i < len; i++)
                if (buf[i] == '\n') {
                    emit(r, buf + start, i - start, 0);
                    start = i + 1;
                }
            if (start) {
                memmove(buf, buf + start, len - start);
                len -= start;
            }
            if (len == max) {
                emit(r, buf, len, OAK_OSPROC_LINE_PARTIAL);
                len = 0;
            }
        } else if (n == 0) {
            if (len)
                emit(r, buf, len, OAK_OSPROC_LINE_PARTIAL);
            return;
        } else if (errno == EAGAIN) {
            if (oak_wait_fd(r->a.fd, OAK_FD_READ, OAK_INFINITY) < 0)
                oak_sleep(10);
        } else if (errno == EIO) {
            /* A pty's master once no one holds the slave: end of file. */
            if (len)
                emit(r, buf, len, OAK_OSPROC_LINE_PARTIAL);
            return;
        } else if (errno != EINTR) {
            return;
        }
    }
}

/* ---- readiness ------------------------------------------------------------ */

static void reap(mirror *m, oak_reason *r);
static void kill_all(mirror *m);

/* A datagram socket with an abstract address for NOTIFY_SOCKET, and a copy
 * of envp with NOTIFY_SOCKET=@... in it (one malloc()ed block). */
static int notify_socket_open(int *sock, char *const *envp, char ***copy)
{
    static atomic_uint next;
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0)
        return -errno;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int len = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "oak-notify-%d-%u",
                       (int)getpid(),
                       atomic_fetch_add_explicit(&next, 1, memory_order_relaxed));
    if (bind(s, (struct sockaddr *)&a,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len)) < 0) {
        int e = -errno;
        close(s);
        return e;
    }
    size_t n = 0;
    while (envp[n])
        n++;
    size_t var = sizeof "NOTIFY_SOCKET=@" + (size_t)len;
    char **v = malloc((n + 2) * sizeof *v + var);
    if (!v) {
        close(s);
        return -ENOMEM;
    }
    char *str = (char *)(v + n + 2);
    memcpy(str, "NOTIFY_SOCKET=@", 15);
    memcpy(str + 15, a.sun_path + 1, (size_t)len);
    str[15 + len] = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(envp[i], "NOTIFY_SOCKET=", 14) != 0)
            v[k++] = envp[i];
    v[k++] = str;
    v[k] = NULL;
    *sock = s;
    *copy = v;
    return 0;
}

static bool has_ready_line(const char *buf, size_t n)
{
    for (size_t i = 0; i + 7 <= n; i++)
        if ((i == 0 || buf[i - 1] == '\n') && !memcmp(buf + i, "READY=1", 7) &&
            (i + 7 == n || buf[i + 7] == '\n'))
            return true;
    return false;
}

/* Wait until the program says it is ready. Returns 0, -ETIMEDOUT, -EPIPE
 * (the notification pipe closed without a newline), or -ECHILD (it exited:
 * reaped, *r its reason). */
static int wait_ready(mirror *m, int64_t timeout, oak_reason *r)
{
    int64_t deadline = timeout < 0 ? -1 : oak_now_ms() + timeout;
    for (;;) {
        char buf[512];
        if (m->notify_fd >= 0) {
            ssize_t n = read(m->notify_fd, buf, sizeof buf);
            if (n > 0 && memchr(buf, '\n', (size_t)n))
                return 0;
            if (n == 0) {
                /* Closed: by its exit, or without a word. */
                if (program_exited(m, 50))
                    goto exited;
                return -EPIPE;
            }
        }
        if (m->notify_sock >= 0) {
            ssize_t n;
            while ((n = recv(m->notify_sock, buf, sizeof buf, 0)) >= 0)
                if (has_ready_line(buf, (size_t)n))
                    return 0;
        }
        if (program_exited(m, 0))
            goto exited;
        int64_t t = 50;
        if (deadline >= 0) {
            int64_t left = deadline - oak_now_ms();
            if (left <= 0)
                return -ETIMEDOUT;
            if (left < t)
                t = left;
        }
        /* A slice at a time: the program's exit must be seen too. */
        oak_wait_fd(m->notify_fd >= 0 ? m->notify_fd : m->notify_sock, OAK_FD_READ, t);
    }
exited:
    reap(m, r);
    return -ECHILD;
}

/* ---- starting the program (the mirror's init) ------------------------------ */

/* Look a name without '/' up in PATH. Returns 0 with the path in buf. */
static int resolve(const char *name, char *buf, size_t size)
{
    if (strchr(name, '/')) {
        if (strlen(name) >= size)
            return -ENAMETOOLONG;
        strcpy(buf, name);
        return 0;
    }
    if (!*name)
        return -ENOENT;
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    int err = -ENOENT;
    while (*path) {
        const char *end = strchr(path, ':');
        size_t dl = end ? (size_t)(end - path) : strlen(path);
        int n = dl ? snprintf(buf, size, "%.*s/%s", (int)dl, path, name)
                   : snprintf(buf, size, "./%s", name);
        struct stat st;
        if (n > 0 && (size_t)n < size && stat(buf, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(buf, X_OK) == 0)
                return 0;
            err = -EACCES;
        }
        if (!end)
            break;
        path = end + 1;
    }
    return err;
}

static int fail(oak_gen_server *gs, int err, const char *step, const char *arg)
{
    char s[OAK_REASON_DETAIL_MAX - 40], d[OAK_REASON_DETAIL_MAX];
    erl_string(arg, s, sizeof s);
    if (step)
        snprintf(d, sizeof d, "{%s,%s}", step, s);
    else
        snprintf(d, sizeof d, "%s", s);
    oak_gen_server_set_stop(gs, errno_atom(err), d);
    return OAK_GS_STOP;
}

static int make_pipe(int fds[2], bool ours_is_read)
{
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    int ours = ours_is_read ? fds[0] : fds[1];
    fcntl(ours, F_SETFL, fcntl(ours, F_GETFL) | O_NONBLOCK);
    return 0;
}

/* A pseudo-terminal for the child: the master's read side goes to the
 * stdout reader (m->out_fd[0]), a second descriptor of it takes stdin
 * writes (m->stdin_fd), and *slave is what the child gets as 0, 1 and 2.
 * Echo off and no NL -> CR-NL mapping: lines come as the program wrote
 * them, and what oak types is not sent back as output. */
static int pty_open(mirror *m, int *slave)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
        return -errno;
    fcntl(master, F_SETFD, FD_CLOEXEC);
    char name[128];
    int rc = 0;
    if (grantpt(master) < 0 || unlockpt(master) < 0 || ptsname_r(master, name, sizeof name) != 0)
        rc = -errno;
    int s = rc ? -1 : open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (!rc && s < 0)
        rc = -errno;
    struct termios t;
    if (!rc && tcgetattr(s, &t) == 0) {
        t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        t.c_oflag &= ~(tcflag_t)ONLCR;
        tcsetattr(s, TCSANOW, &t);
    }
    struct winsize ws = {.ws_row = 24, .ws_col = 80};
    if (!rc)
        ioctl(master, TIOCSWINSZ, &ws);
    int in = rc ? -1 : fcntl(master, F_DUPFD_CLOEXEC, 0);
    if (!rc && in < 0)
        rc = -errno;
    if (rc) {
        if (s >= 0)
            close(s);
        close(master);
        return rc;
    }
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK); /* shared with in */
    m->out_fd[0] = master;
    m->stdin_fd = in;
    m->pty = true;
    *slave = s;
    return 0;
}

static int spawn_helper(oak_entry fn, void *arg, size_t size, oak_pid *pid)
{
    oak_spawn_opts so = {.flags = OAK_SPAWN_LINK, .arg_size = size};
    return oak_spawn(fn, arg, &so, pid);
}

static int mirror_init(oak_gen_server *gs, void *arg, void **state)
{
    const oak_osproc_opts *o = arg;
    oak_trap_exit(true);
    mirror *m = calloc(1, sizeof *m);
    if (!m)
        return fail(gs, ENOMEM, NULL, label(o));
    m->self = oak_self();
    m->pidfd = m->stdin_fd = m->out_fd[0] = m->out_fd[1] = -1;
    m->notify_fd = m->notify_sock = -1;
    m->stop_signal = o->stop_signal ? o->stop_signal : SIGTERM;
    m->stop_timeout = o->stop_timeout_ms ? o->stop_timeout_ms : 5000;
    if (oak_defer(mirror_cleanup, m) < 0) {
        free(m);
        return fail(gs, ENOMEM, NULL, label(o));
    }

    char path[PATH_MAX];
    int rc = o->fn ? 0 : resolve(o->path, path, sizeof path);
    if (rc < 0)
        return fail(gs, -rc, NULL, o->path);

    plan p = {.path = path, .o = o, .stdio = {-1, -1, -1}, .parent = getpid()};
    const char *argv0[2] = {o->path, NULL};
    p.argv = (char *const *)(o->argv ? o->argv : argv0);
    p.envp = o->env ? (char *const *)o->env : environ;

    /* Descriptors for the child; each is closed here once the child has
     * its copy (the ends we keep are in m). */
    int child_end[3] = {-1, -1, -1};
    int errp[2] = {-1, -1};
    oak_osproc_stdio mode[3] = {o->stdin_mode, o->stdout_mode, o->stderr_mode};
    if (o->pty) {
        rc = pty_open(m, &child_end[0]);
        for (int i = 0; i < 3; i++)
            p.stdio[i] = child_end[0];
    }
    for (int i = 0; i < 3 && rc == 0 && !o->pty; i++) {
        if (mode[i] == OAK_STDIO_NULL) {
            child_end[i] = open("/dev/null", (i ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
            if (child_end[i] < 0)
                rc = -errno;
        } else if (mode[i] == OAK_STDIO_PIPE) {
            int fds[2];
            rc = make_pipe(fds, i != 0);
            if (rc == 0 && i == 0) {
                child_end[0] = fds[0];
                m->stdin_fd = fds[1];
            } else if (rc == 0) {
                child_end[i] = fds[1];
                m->out_fd[i - 1] = fds[0];
            }
        }
        p.stdio[i] = child_end[i];
    }
    if (rc == 0 && pipe2(errp, O_CLOEXEC | O_NONBLOCK) < 0)
        rc = -errno;
    p.errfd = errp[1];
    int notify[2] = {-1, -1};
    p.notify = -1;
    if (rc == 0 && o->notify_fd > 0) {
        if (pipe2(notify, O_CLOEXEC) < 0)
            rc = -errno;
        else
            fcntl(notify[0], F_SETFL, O_NONBLOCK);
        p.notify = notify[1];
    }
    int nsock = -1;
    char **env_copy = NULL;
    if (rc == 0 && o->notify_socket) {
        rc = notify_socket_open(&nsock, p.envp, &env_copy);
        if (rc == 0)
            p.envp = env_copy;
    }

    if (rc == 0 && o->set_user) {
        /* The user's supplementary groups (as initgroups), found here:
         * the child may not read /etc/group. No entry: the group alone. */
        struct passwd pw, *pwp = NULL;
        char pwbuf[4096];
        int ng = (int)(sizeof p.groups / sizeof p.groups[0]);
        if (getpwuid_r((uid_t)o->uid, &pw, pwbuf, sizeof pwbuf, &pwp) == 0 && pwp &&
            getgrouplist(pw.pw_name, (gid_t)o->gid, p.groups, &ng) >= 0) {
            p.ngroups = (size_t)ng;
        } else {
            p.groups[0] = (gid_t)o->gid;
            p.ngroups = 1;
        }
    }
    char cg_procs[700];
    if (rc == 0 && (m->cg = oak__reaper_cgroup_new(cg_procs, sizeof cg_procs)))
        p.cg_procs = cg_procs;
    pid_t pid = -1;
    if (rc == 0) {
        /* A program: cloned, sharing our memory until exec (p, path,
         * argv and envp stay put on this stack meanwhile). fn: forked,
         * since it runs on and must not return into our memory. */
        rc = oak__reaper_spawn_begin(m->cg);
        if (rc == 0) {
            if (o->fn) {
                pid = oak__reaper_fork();
                if (pid == 0)
                    child_main(&p);
            } else {
                pid = oak__reaper_spawn(child_entry, &p);
            }
            int e = errno;
            oak__reaper_spawn_end(m->cg, pid);
            if (pid < 0)
                rc = -e;
        }
    }
    for (int i = 0; i < 3; i++)
        close_fd(&child_end[i]);
    close_fd(&errp[1]);
    close_fd(&notify[1]);
    free(env_copy);
    m->notify_fd = notify[0];
    m->notify_sock = nsock;
    if (rc < 0) {
        close_fd(&errp[0]);
        oak__reaper_cgroup_release(m->cg);
        m->cg = 0;
        return fail(gs, -rc, "spawn", label(o));
    }
    m->os_pid = pid;
    m->unreaped = true;
    m->pidfd = oak__reaper_no_pidfd() ? -1 : (int)syscall(SYS_pidfd_open, pid, 0);
    if (m->pidfd < 0 && !oak__reaper_no_pidfd()) {
        /* Never reaped by anyone else, so still ours to kill and reap. */
        int e = errno;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        oak__reaper_reaped(pid);
        oak__reaper_cgroup_release(m->cg);
        m->cg = 0;
        close_fd(&errp[0]);
        return fail(gs, e, "pidfd_open", label(o));
    }
    if (m->pidfd >= 0)
        fcntl(m->pidfd, F_SETFD, FD_CLOEXEC);

    /* Wait for the exec: end of file, or an error record. */
    err_rec er = {0, 0, 0};
    ssize_t got;
    for (;;) {
        got = read(errp[0], &er, sizeof er);
        if (got >= 0 || (errno != EAGAIN && errno != EINTR))
            break;
        if (errno == EAGAIN)
            oak_wait_fd(errp[0], OAK_FD_READ, OAK_INFINITY);
    }
    close_fd(&errp[0]);
    if (got == (ssize_t)sizeof er) {
        /* The child exits 127 right after the record: reap it. */
        siginfo_t si;
        while (reap_program(m, &si, WNOHANG) == 0)
            oak_sleep(1);
        close_fd(&m->pidfd);
        m->unreaped = false;
        oak__reaper_reaped(pid);
        oak__reaper_cgroup_release(m->cg);
        m->cg = 0;
        char what[32];
        switch (er.step) {
        case STEP_CWD:
            return fail(gs, er.err, "cwd", o->cwd);
        case STEP_RLIMIT:
            snprintf(what, sizeof what, "%d", o->rlimits[er.index].resource);
            return fail(gs, er.err, "rlimit", what);
        case STEP_USER:
            snprintf(what, sizeof what, "%u", o->uid);
            return fail(gs, er.err, "user", what);
        case STEP_SETUP:
            return fail(gs, er.err, "setup", label(o));
        default:
            return fail(gs, er.err, NULL, label(o));
        }
    }

    oak__reaper_group_add(m->os_pid);
    m->watched = true;
    if (m->notify_fd >= 0 || m->notify_sock >= 0) {
        oak_reason r;
        int wr = wait_ready(m, o->ready_timeout_ms ? o->ready_timeout_ms : OAK_INFINITY, &r);
        close_fd(&m->notify_fd);
        close_fd(&m->notify_sock);
        if (wr == -ECHILD) {
            oak_gen_server_set_stop(gs, r.atom, oak_reason_detail(&r));
            return OAK_GS_STOP;
        }
        if (wr < 0) {
            kill_all(m);
            oak_reason ignored;
            reap(m, &ignored);
            return fail(gs, -wr, "ready", label(o));
        }
    }

    /* Running. */
    waiter_arg wa = {m->self, m->pidfd, m->os_pid};
    if (spawn_helper(waiter_main, &wa, sizeof wa, &m->waiter) < 0)
        return fail(gs, ENOMEM, "waiter", label(o));
    for (int i = 0; i < 2; i++) {
        if (m->out_fd[i] < 0)
            continue;
        reader_arg ra = {
            .mirror = m->self,
            .to = o->output_to,
            .tag = o->output_tag ? o->output_tag : OAK_OSPROC_TAG_OUTPUT,
            .fd = m->out_fd[i],
            .os_pid = m->os_pid,
            .stream = i + 1,
            .log = o->log_output,
            .max_line = o->max_line ? o->max_line : OAK_OSPROC_DEFAULT_MAX_LINE,
            .lines_per_sec = o->lines_per_sec,
        };
        if (spawn_helper(reader_main, &ra, sizeof ra, &m->readers[i]) < 0)
            return fail(gs, ENOMEM, "reader", label(o));
        m->out_fd[i] = -1; /* the reader owns it now */
    }
    *state = m;
    return OAK_GS_OK;
}

/* ---- reaping and stopping ------------------------------------------------------ */

static bool match_tag(const oak_msg *msg, void *arg)
{
    return msg->tag == *(uint64_t *)arg;
}

/* Reap the exited program; *r gets the reason its exit stands for. */
static void reap(mirror *m, oak_reason *r)
{
    /* The rest of the group first, while the zombie leader holds its id. */
    kill(-m->os_pid, SIGKILL);
    siginfo_t si;
    for (;;) {
        int rc = reap_program(m, &si, WNOHANG);
        if (rc < 0) {
            oak_reason_set(r, oak_atom_from("exit_status"), "unknown");
            si.si_pid = -1;
            break;
        }
        if (rc)
            break;
        if (m->pidfd >= 0)
            oak_wait_fd(m->pidfd, OAK_FD_READ, 10);
        else
            oak_sleep(1);
    }
    close_fd(&m->pidfd);
    m->unreaped = false;
    oak__reaper_reaped(m->os_pid);
    /* Usually nothing is left (the leader was the group): the leaf is
     * given back here and the reaper thread is not involved. Otherwise
     * the leaf's cgroup.kill reaches what left the group, and the reaper
     * drains both. */
    if (kill(-m->os_pid, 0) == 0 || !oak__reaper_cgroup_release(m->cg)) {
        oak__reaper_cgroup_kill(m->cg);
        oak__reaper_drain(m->os_pid, m->cg); /* the reaper tells the watchdog */
    } else if (m->watched) {
        oak__reaper_group_done(m->os_pid);
    }
    m->watched = false;
    m->cg = 0; /* the reaper's now */
    if (si.si_pid < 0)
        return;
    char d[32];
    if (si.si_code == CLD_EXITED && si.si_status == 0) {
        oak_reason_set(r, OAK_NORMAL, NULL);
    } else if (si.si_code == CLD_EXITED) {
        snprintf(d, sizeof d, "%d", si.si_status);
        oak_reason_set(r, oak_atom_from("exit_status"), d);
    } else {
        signal_name(si.si_status, d, sizeof d);
        oak_reason_set(r, oak_atom_from("signal"), d);
    }
}

static bool match_exit_of(const oak_msg *msg, void *arg)
{
    const mirror *m = arg;
    return msg->tag == OAK_TAG_EXIT &&
           ((m->readers[0] && msg->from == m->readers[0]) ||
            (m->readers[1] && msg->from == m->readers[1]));
}

/* Let the readers pass on the last lines before the mirror exits: wait up
 * to 500 ms for them to reach end of file. A reader still at work then (a
 * rate bound slows it, or a descendant that left the group holds the pipe)
 * is unlinked and goes on alone until end of file, so no line is lost;
 * its last lines then come after the mirror's exit. */
static void wait_readers(mirror *m)
{
    int64_t deadline = oak_now_ms() + 500;
    while (m->readers[0] || m->readers[1]) {
        int64_t t = deadline - oak_now_ms();
        oak_msg *msg = NULL;
        if (t < 0 || oak_receive(&msg, t, match_exit_of, m) != 0) {
            for (int i = 0; i < 2; i++) {
                if (m->readers[i])
                    oak_unlink(m->readers[i]);
                m->readers[i] = OAK_NOPID;
            }
            return;
        }
        for (int i = 0; i < 2; i++)
            if (msg->from == m->readers[i])
                m->readers[i] = OAK_NOPID;
        oak_msg_free(msg);
    }
}

static bool wait_exited(int64_t timeout)
{
    uint64_t t = tag_exited;
    oak_msg *msg = NULL;
    if (oak_receive(&msg, timeout, match_tag, &t) != 0)
        return false;
    oak_msg_free(msg);
    return true;
}

/* SIGKILL to the group and, with a cgroup, to everything in its leaf. */
static void kill_all(mirror *m)
{
    kill(-m->os_pid, SIGKILL);
    oak__reaper_cgroup_kill(m->cg);
}

static void stop_program(mirror *m)
{
    if (!m->unreaped)
        return;
    if (m->stop_timeout == OAK_BRUTAL_KILL) {
        kill_all(m);
    } else {
        kill(-m->os_pid, m->stop_signal);
        int64_t t = m->stop_timeout == OAK_SHUTDOWN_ZERO ? 0 : m->stop_timeout;
        if (!wait_exited(t))
            kill_all(m);
        else
            goto reap;
    }
    wait_exited(OAK_INFINITY);
reap:;
    oak_reason r;
    reap(m, &r);
    m->waiter = OAK_NOPID; /* it sent its note and ended */
}

static void mirror_terminate(oak_gen_server *gs, void *state, const oak_reason *reason)
{
    (void)gs;
    (void)reason;
    if (state)
        stop_program(state);
}

static int mirror_info(oak_gen_server *gs, void *state, const oak_msg *msg)
{
    mirror *m = state;
    if (msg->tag == tag_exited) {
        oak_reason r;
        reap(m, &r);
        m->waiter = OAK_NOPID;
        wait_readers(m);
        oak_gen_server_set_stop(gs, r.atom, oak_reason_detail(&r));
        return OAK_GS_STOP;
    }
    if (msg->tag == OAK_TAG_EXIT) {
        if (msg->from == m->waiter || msg->from == m->readers[0] ||
            msg->from == m->readers[1]) {
            for (int i = 0; i < 2; i++)
                if (msg->from == m->readers[i])
                    m->readers[i] = OAK_NOPID;
            if (msg->from == m->waiter)
                m->waiter = OAK_NOPID;
            return OAK_GS_OK;
        }
        /* Another linked process exited: as a port closes when its owner
         * dies, an abnormal exit stops the program. */
        const oak_down *d = msg->data;
        if (!d || d->reason == OAK_NORMAL)
            return OAK_GS_OK;
        oak_gen_server_set_stop(gs, d->reason, d->detail);
        return OAK_GS_STOP;
    }
    return OAK_GS_OK;
}

static int write_all(mirror *m, const char *p, size_t n, int64_t timeout)
{
    if (m->stdin_fd < 0)
        return -EBADF;
    int64_t deadline = timeout < 0 ? -1 : oak_now_ms() + timeout;
    /* EPIPE must not kill the program: hold SIGPIPE blocked in this thread
     * over the write and take a SIGPIPE it raised. */
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigset_t pending;
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    int rc = 0;
    while (n > 0) {
        ssize_t w = write(m->stdin_fd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            int64_t t = deadline < 0 ? OAK_INFINITY : deadline - oak_now_ms();
            if (deadline >= 0 && t <= 0) {
                rc = -ETIMEDOUT;
                break;
            }
            int wr = oak_wait_fd(m->stdin_fd, OAK_FD_WRITE, t);
            if (wr == -ETIMEDOUT) {
                rc = -ETIMEDOUT;
                break;
            }
            continue;
        }
        rc = -errno;
        break;
    }
    if (rc == -EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* A pty stays open: end of file is its VEOF character, at the start of a
 * line in canonical mode (a newline first would end a partial line). */
static int type_eof(mirror *m)
{
    struct termios t;
    char eof = 4; /* ^D */
    if (tcgetattr(m->stdin_fd, &t) == 0 && t.c_cc[VEOF] != _POSIX_VDISABLE)
        eof = (char)t.c_cc[VEOF];
    return write_all(m, &eof, 1, OAK_INFINITY);
}

static int reply_int(oak_gen_server *gs, int v)
{
    int64_t x = v;
    oak_gen_server_set_reply(gs, tag_result, &x, sizeof x);
    return OAK_GS_REPLY;
}

static int mirror_call(oak_gen_server *gs, void *state, const oak_msg *req,
                       const oak_gen_from *from)
{
    (void)from;
    mirror *m = state;
    if (req->tag == tag_os_pid)
        return reply_int(gs, m->os_pid);
    if (req->tag == tag_close_stdin) {
        if (m->pty)
            return reply_int(gs, type_eof(m));
        int rc = m->stdin_fd >= 0 ? 0 : -EBADF;
        close_fd(&m->stdin_fd);
        return reply_int(gs, rc);
    }
    if (req->tag == tag_write && req->size >= sizeof(int64_t)) {
        int64_t timeout;
        memcpy(&timeout, req->data, sizeof timeout);
        return reply_int(gs, write_all(m, (const char *)req->data + sizeof timeout,
                                       req->size - sizeof timeout, timeout));
    }
    return reply_int(gs, -EPROTO);
}

static const oak_gen_server_callbacks mirror_cb = {
    .init = mirror_init,
    .handle_call = mirror_call,
    .handle_info = mirror_info,
    .terminate = mirror_terminate,
};

/* ---- the public API ------------------------------------------------------------- */

static int bad(oak_reason *why, const char *what)
{
    oak_reason_set(why, OAK_BADARG, what);
    return -EINVAL;
}

static int check_opts(const oak_osproc_opts *o, oak_reason *why)
{
    if (!o)
        return bad(why, "opts");
    if (!o->path && !o->fn)
        return bad(why, "path");
    if (o->fn && o->argv)
        return bad(why, "argv");
    if (o->pty && (o->stdin_mode || o->stdout_mode || o->stderr_mode))
        return bad(why, "pty");
    if (o->rlimit_count > OAK_OSPROC_MAX_RLIMITS || (o->rlimit_count && !o->rlimits))
        return bad(why, "rlimits");
    if (o->fd_count > OAK_OSPROC_MAX_FDS || (o->fd_count && !o->fds))
        return bad(why, "fds");
    for (size_t i = 0; i < o->fd_count; i++)
        if (fcntl(o->fds[i], F_GETFD) < 0)
            return bad(why, "fds");
    if ((unsigned)o->stdin_mode > OAK_STDIO_PIPE || (unsigned)o->stdout_mode > OAK_STDIO_PIPE ||
        (unsigned)o->stderr_mode > OAK_STDIO_PIPE)
        return bad(why, "stdio");
    bool piped = o->pty || o->stdout_mode == OAK_STDIO_PIPE || o->stderr_mode == OAK_STDIO_PIPE;
    if (piped && !o->output_to && !o->log_output)
        return bad(why, "output_to");
    if (o->output_tag >> 63)
        return bad(why, "output_tag");
    if (o->stop_signal < 0 || o->stop_signal >= NSIG)
        return bad(why, "stop_signal");
    if (o->stop_timeout_ms < 0 && o->stop_timeout_ms != OAK_INFINITY &&
        o->stop_timeout_ms != OAK_BRUTAL_KILL && o->stop_timeout_ms != OAK_SHUTDOWN_ZERO)
        return bad(why, "stop_timeout_ms");
    if (o->notify_fd < 0 || (o->notify_fd > 0 && (o->notify_fd < 3 + (int)o->fd_count ||
                                                  o->notify_fd >= 1024)))
        return bad(why, "notify_fd");
    if (o->ready_timeout_ms < 0 && o->ready_timeout_ms != OAK_INFINITY)
        return bad(why, "ready_timeout_ms");
    if (o->max_line > ((size_t)1 << 24))
        return bad(why, "max_line");
    return 0;
}

int oak_osproc_start(const oak_osproc_opts *opts, unsigned flags, oak_pid *pid,
                     oak_reason *why)
{
    if (oak_self() == OAK_NOPID)
        return -EPERM;
    int rc = check_opts(opts, why);
    if (rc < 0)
        return rc;
    if ((rc = oak__reaper_use()) < 0) {
        oak_reason_set(why, errno_atom(-rc), "osproc");
        return rc;
    }
    tags();
    /* An idle mirror (its program runs, nothing is asked of it) gives
     * its stack up, as oak's own behaviours do. */
    oak_gen_server_opts go = {
        .flags = flags & OAK_GEN_LINK,
        .name = opts->name,
        .stack_size = opts->stack_size,
        .hibernate_after_ms = OAK_GEN_IDLE_HIBERNATE_MS,
    };
    oak_reason r = {0};
    rc = oak_gen_server_start(&mirror_cb, (void *)opts, &go, pid, &r);
    if (why)
        *why = r;
    if (rc == -ECANCELED) {
        int e = errno_of_atom(r.atom);
        if (e)
            rc = -e;
        else if (r.atom == OAK_NORMAL || r.atom == oak_atom_from("exit_status") ||
                 r.atom == oak_atom_from("signal"))
            rc = -ECHILD; /* it exited before it was ready */
    }
    return rc;
}

int oak_osproc_start_fn(const oak_child_args *args, oak_pid *pid, oak_reason *why)
{
    if (!args || !args->arg)
        return bad(why, "opts");
    return oak_osproc_start(args->arg, OAK_GEN_LINK, pid, why);
}

int oak_osproc_child_spec(oak_child_spec *spec, oak_atom id, const oak_osproc_opts *opts)
{
    if (!spec || !opts)
        return -EINVAL;
    memset(spec, 0, sizeof *spec);
    spec->id = id;
    spec->start = oak_osproc_start_fn;
    spec->arg = opts;
    spec->shutdown = opts->stop_timeout_ms ? opts->stop_timeout_ms : 5000;
    spec->type = OAK_WORKER;
    spec->name = label(opts);
    return 0;
}

static int call_int(oak_pid proc, uint64_t tag, const void *data, size_t size)
{
    if (oak_self() == OAK_NOPID)
        return -EPERM;
    tags();
    oak_msg *reply = NULL;
    int rc = oak_gen_server_call(proc, tag, data, size, &reply, OAK_INFINITY, NULL);
    if (rc == -ECONNRESET || rc == -ESRCH)
        return -ESRCH;
    if (rc < 0)
        return rc;
    int64_t v = -EPROTO;
    if (reply->tag == tag_result && reply->size == sizeof v)
        memcpy(&v, reply->data, sizeof v);
    oak_msg_free(reply);
    return (int)v;
}

int oak_osproc_os_pid(oak_pid proc)
{
    tags();
    return call_int(proc, tag_os_pid, NULL, 0);
}

int oak_osproc_write(oak_pid proc, const void *data, size_t size, int64_t timeout_ms)
{
    if ((!data && size) || (timeout_ms < 0 && timeout_ms != OAK_INFINITY))
        return -EINVAL;
    if (oak_self() == OAK_NOPID)
        return -EPERM;
    tags();
    char *buf = oak_alloc(sizeof(int64_t) + size);
    if (!buf)
        return -ENOMEM;
    memcpy(buf, &timeout_ms, sizeof timeout_ms);
    if (size)
        memcpy(buf + sizeof timeout_ms, data, size);
    int rc = call_int(proc, tag_write, buf, sizeof timeout_ms + size);
    oak_free(buf);
    return rc;
}

int oak_osproc_close_stdin(oak_pid proc)
{
    tags();
    return call_int(proc, tag_close_stdin, NULL, 0);
}

int oak_osproc_stop(oak_pid proc)
{
    if (oak_self() == OAK_NOPID)
        return -EPERM;
    if (!oak_is_alive(proc))
        return -ESRCH;
    oak_reason why;
    int rc = oak_gen_server_stop(proc, OAK_SHUTDOWN, NULL, OAK_INFINITY, &why);
    return rc;
}
