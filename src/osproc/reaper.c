/* reaper.c - the process-wide side of OS children: the child subreaper
 * flag, a reaper thread for children whose mirror process was killed, and
 * a watchdog process that kills every live program's group when the oak
 * program dies (docs/design/osproc.md).
 *
 * Reaper thread. It owns a list of entries, each a process group being
 * finished:
 *
 *   ADOPTED  pidfd >= 0: the leader was sent SIGKILL and is not reaped;
 *            the thread polls the pidfd, reaps the leader with
 *            waitid(P_PIDFD), closes the pidfd  --> DRAINING
 *   DRAINING pidfd == -1: the leader is reaped; the rest of the group is
 *            sent SIGKILL and reaped with waitid(P_PGID) as its members
 *            become the runtime's children (subreaper), until kill(-pgid, 0)
 *            says the group is empty  --> removed (watchdog told)
 *
 * While an entry drains, the thread wakes every 10 ms (every 500 ms once
 * the entry is older than 1 s). Entries come from any thread under `lock`;
 * a byte on the wake pipe makes the thread rebuild its poll set.
 *
 * The process group id is safe to signal while the leader is an unreaped
 * zombie, or while any member lives; a member that outlives the leader is
 * killed here and reaped by the runtime, which is what keeps the id from
 * being reused while the entry exists.
 */
#include "osproc/reaper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oak/log.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

typedef struct entry {
    int pidfd;        /* >= 0: leader not reaped yet (ADOPTED) */
    pid_t pgid;
    int64_t since_ms; /* when it entered DRAINING */
} entry;

static struct {
    pthread_once_t once;
    int err;             /* written once inside `once`, read after it */
    pthread_mutex_t lock;
    entry *v;            /* under lock */
    size_t n, cap;       /* under lock */
    int wake[2];         /* wake pipe: any thread writes, the thread reads */
    int wd_fd;           /* write end of the watchdog's pipe; -1 when none */
    int wd_pidfd;        /* the watchdog's pidfd (the thread reaps it) */
    atomic_bool wd_drop_logged;
} R = {PTHREAD_ONCE_INIT, 0, PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, {-1, -1}, -1, -1, false};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

pid_t oak__reaper_fork(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid != 0) {
        int e = errno;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        errno = e;
    }
    return pid;
}

/* ---- the watchdog process -------------------------------------------------- */

/* Runs in a forked copy of a multi-threaded program: only async-signal-safe
 * calls (and mmap). Reads "+PGID\n" / "-PGID\n" notes from fd 3; at end of
 * file (the oak program is gone, or ended the runtime's use of it) it sends
 * SIGKILL to every group still listed and exits. */
static void watchdog_main(int rfd)
{
    setpgid(0, 0); /* out of the terminal's reach: ^C does not stop it */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        sigaction(s, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGPIPE, &sa, NULL);
    if (rfd != 3) {
        dup2(rfd, 3);
        close(rfd);
    }
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        if (null > 3)
            close(null);
    }
    syscall(SYS_close_range, 4u, ~0u, 0u);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    size_t cap = 4096, n = 0;
    pid_t *set = mmap(NULL, cap * sizeof *set, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (set == MAP_FAILED)
        _exit(111);
    char buf[4096];
    long cur = 0;
    int sign = 0;
    for (;;) {
        ssize_t got = read(3, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        for (ssize_t i = 0; i < got; i++) {
            char c = buf[i];
            if (c == '+' || c == '-') {
                sign = c == '+' ? 1 : -1;
                cur = 0;
            } else if (c >= '0' && c <= '9') {
                cur = cur * 10 + (c - '0');
            } else if (c == '\n' && sign && cur > 0) {
                if (sign > 0) {
                    if (n == cap) {
                        pid_t *nv = mremap(set, cap * sizeof *set,
                                           2 * cap * sizeof *set, MREMAP_MAYMOVE);
                        if (nv == MAP_FAILED) { /* no room: this group is
                                                 * not covered */
                            sign = 0;
                            continue;
                        }
                        set = nv;
                        cap *= 2;
                    }
                    set[n++] = (pid_t)cur;
                } else {
                    for (size_t k = n; k-- > 0;)
                        if (set[k] == (pid_t)cur) {
                            set[k] = set[--n];
                            break;
                        }
                }
                sign = 0;
            }
        }
    }
    for (size_t k = 0; k < n; k++)
        kill(-set[k], SIGKILL);
    _exit(0);
}

static int start_watchdog(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = oak__reaper_fork();
    if (pid < 0) {
        int e = -errno;
        close(p[0]);
        close(p[1]);
        return e;
    }
    if (pid == 0) {
        close(p[1]);
        watchdog_main(p[0]);
    }
    close(p[0]);
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pfd < 0) {
        int e = -errno;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(p[1]);
        return e;
    }
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    R.wd_fd = p[1];
    R.wd_pidfd = pfd;
    return 0;
}

static void watchdog_note(char sign, pid_t pgid)
{
    int fd = R.wd_fd;
    if (fd < 0)
        return;
    char line[24];
    int len = snprintf(line, sizeof line, "%c%d\n", sign, (int)pgid);
    /* One write below PIPE_BUF is atomic: notes from several threads never
     * interleave. */
    if (write(fd, line, (size_t)len) != len &&
        !atomic_exchange_explicit(&R.wd_drop_logged, true, memory_order_relaxed))
        oak_log(OAK_LOG_WARNING, "runtime",
                "event=osproc_watchdog_note_dropped pgid=%d error=%s", (int)pgid,
                strerror(errno));
}

void oak__reaper_group_add(pid_t pgid) { watchdog_note('+', pgid); }
void oak__reaper_group_done(pid_t pgid) { watchdog_note('-', pgid); }

/* ---- the reaper thread ----------------------------------------------------- */

static void wake(void)
{
    char c = 0;
    while (write(R.wake[1], &c, 1) < 0 && errno == EINTR) {
    }
}

static void add_entry(int pidfd, pid_t pgid)
{
    pthread_mutex_lock(&R.lock);
    if (R.n == R.cap) {
        size_t cap = R.cap ? 2 * R.cap : 16;
        entry *v = realloc(R.v, cap * sizeof *v);
        if (!v) {
            pthread_mutex_unlock(&R.lock);
            /* Out of memory: reap the leader here (it was sent SIGKILL) and
             * give up on the rest of the group. */
            if (pidfd >= 0) {
                siginfo_t si;
                waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED);
                close(pidfd);
            }
            oak_log(OAK_LOG_ERROR, "runtime",
                    "event=osproc_reaper_out_of_memory pgid=%d", (int)pgid);
            return;
        }
        R.v = v;
        R.cap = cap;
    }
    R.v[R.n++] = (entry){pidfd, pgid, now_ms()};
    pthread_mutex_unlock(&R.lock);
    wake();
}

void oak__reaper_adopt(int pidfd, pid_t pgid) { add_entry(pidfd, pgid); }
void oak__reaper_drain(pid_t pgid) { add_entry(-1, pgid); }

/* A DRAINING entry: kill and reap what is left. True when the group is
 * empty. */
static bool drain(pid_t pgid)
{
    kill(-pgid, SIGKILL);
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PGID, (id_t)pgid, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
            break;
    }
    return kill(-pgid, 0) < 0 && errno == ESRCH;
}

static void *reaper_main(void *unused)
{
    (void)unused;
    struct pollfd *pf = NULL;
    size_t pf_cap = 0;
    for (;;) {
        /* Build the poll set: the wake pipe, the watchdog, every ADOPTED
         * leader. */
        pthread_mutex_lock(&R.lock);
        size_t need = R.n + 2;
        if (need > pf_cap) {
            struct pollfd *np = realloc(pf, need * sizeof *np);
            if (np) {
                pf = np;
                pf_cap = need;
            }
        }
        size_t k = 0;
        int timeout = -1;
        int64_t now = now_ms();
        if (pf_cap >= 2) {
            pf[k++] = (struct pollfd){R.wake[0], POLLIN, 0};
            pf[k++] = (struct pollfd){R.wd_pidfd, POLLIN, 0};
        }
        for (size_t i = 0; i < R.n; i++) {
            if (R.v[i].pidfd >= 0) {
                if (k < pf_cap)
                    pf[k++] = (struct pollfd){R.v[i].pidfd, POLLIN, 0};
                else
                    timeout = 10;
            } else {
                int t = now - R.v[i].since_ms > 1000 ? 500 : 10;
                if (timeout < 0 || t < timeout)
                    timeout = t;
            }
        }
        pthread_mutex_unlock(&R.lock);

        int rc = k ? poll(pf, k, timeout) : (usleep(10000), 0);
        if (rc < 0 && errno != EINTR)
            usleep(10000);
        if (k >= 1 && (pf[0].revents & POLLIN)) {
            char buf[256];
            while (read(R.wake[0], buf, sizeof buf) > 0) {
            }
        }
        if (k >= 2 && R.wd_pidfd >= 0 && (pf[1].revents & POLLIN)) {
            /* The watchdog died (someone killed it): reap it; programs are
             * now protected by their death signal only. */
            siginfo_t si;
            waitid((idtype_t)P_PIDFD, (id_t)R.wd_pidfd, &si, WEXITED | WNOHANG);
            oak_log(OAK_LOG_ERROR, "runtime", "event=osproc_watchdog_died");
            pthread_mutex_lock(&R.lock);
            close(R.wd_pidfd);
            R.wd_pidfd = -1;
            int fd = R.wd_fd;
            R.wd_fd = -1;
            pthread_mutex_unlock(&R.lock);
            close(fd);
        }

        pthread_mutex_lock(&R.lock);
        now = now_ms();
        for (size_t i = 0; i < R.n;) {
            entry *e = &R.v[i];
            if (e->pidfd >= 0) {
                siginfo_t si;
                memset(&si, 0, sizeof si);
                if (waitid((idtype_t)P_PIDFD, (id_t)e->pidfd, &si, WEXITED | WNOHANG) == 0 &&
                    si.si_pid == 0) {
                    i++;
                    continue; /* not dead yet */
                }
                close(e->pidfd);
                e->pidfd = -1;
                e->since_ms = now;
            }
            if (drain(e->pgid)) {
                watchdog_note('-', e->pgid);
                R.v[i] = R.v[--R.n];
                continue;
            }
            i++;
        }
        pthread_mutex_unlock(&R.lock);
    }
    return NULL;
}

static void init_once(void)
{
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
        R.err = -errno;
        return;
    }
    if (pipe2(R.wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        R.err = -errno;
        return;
    }
    int rc = start_watchdog();
    if (rc < 0) {
        R.err = rc;
        return;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread takes no signals */
    pthread_t t;
    int e = pthread_create(&t, &attr, reaper_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (e)
        R.err = -e;
}

int oak__reaper_use(void)
{
    pthread_once(&R.once, init_once);
    return R.err;
}
