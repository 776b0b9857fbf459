/* reaper.c - the process-wide side of OS children: the child subreaper
 * flag, a reaper thread for children whose mirror process was killed, and
 * a watchdog process that kills every live program's group when the oak
 * program dies (docs/design/osproc.md).
 *
 * Reaper thread. It owns a list of entries, each a process group being
 * finished:
 *
 *   ADOPTED  the leader was sent SIGKILL and is not reaped; the thread
 *            polls its pidfd (without pidfds: tries waitid(P_PID) every
 *            10 ms), reaps it, closes the pidfd  --> DRAINING
 *   DRAINING the leader is reaped; the rest of the group is
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
 *
 * cgroup v2. Where the runtime finds a writable cgroup v2 (its own cgroup
 * in the cgroup2 mount), it makes BASE = <its cgroup>/oak-<pid>, and each
 * program gets a leaf BASE/p-<N> that the child enters before exec. A
 * DRAINING entry with a cgroup also writes its cgroup.kill (which reaches
 * descendants that left the group) and is done only once the leaf could be
 * removed. The watchdog kills BASE and removes it.
 *
 * Strays. A descendant that left its program's group and was orphaned is
 * reparented to the runtime (subreaper). With a cgroup, the thread reaps
 * such strays: every child of the runtime whose cgroup is a program's leaf
 * and that is not a known program leader (the `known` set, filled under
 * `lock` right after the clone) is reaped with waitid(P_PID, WNOHANG) if
 * it has exited; a leaf whose spawn is in flight (cloned, pid not known
 * yet) is left alone, so a fresh child is never taken for a stray. The
 * pass runs at each wake-up, at least once a second.
 */
#include "osproc/reaper.h"
#include "core/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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
    bool adopted;     /* leader not reaped yet (ADOPTED) */
    int pidfd;        /* its pidfd while ADOPTED, or -1 (no pidfds) */
    pid_t pgid;
    unsigned cg;      /* the program's cgroup leaf BASE/p-<cg>, or 0 */
    int64_t since_ms; /* when it entered DRAINING */
} entry;

static struct {
    pthread_once_t once;
    int err;             /* written once inside `once`, read after it */
    pthread_mutex_t lock;
    entry *v;            /* under lock */
    size_t n, cap;       /* under lock */
    int wake[2];         /* wake pipe: any thread writes, the thread reads */
    pthread_mutex_t wd_lock; /* guards wd_fd against its close */
    int wd_fd;           /* write end of the watchdog's pipe; -1 when none;
                          * under wd_lock after `once` */
    int wd_pidfd;        /* the watchdog's pidfd (the thread reaps it),
                          * or -1 without pidfds */
    pid_t wd_pid;        /* written inside `once`; 0 once reaped (by the
                          * thread) */
    bool no_pidfd;       /* written inside `once` */
    atomic_bool wd_drop_logged;
    char cg_base[512];   /* BASE, or "" without a cgroup; set inside `once` */
    char cg_rel[320];    /* BASE as /proc/PID/cgroup names it, with a
                          * trailing '/'; set inside `once` */
    atomic_uint cg_next; /* the last leaf number handed out */
    pid_t *known;        /* open-addressing set of unreaped program
                          * leaders (0 empty, -1 deleted); under lock */
    size_t known_cap, known_used; /* slots, and slots not empty; under lock */
    unsigned *inflight;  /* cgroup leaves of spawns in flight (cloned or
                          * about to be, pid not yet known); under lock */
    size_t ninflight, inflight_cap; /* under lock */
} R = {PTHREAD_ONCE_INIT, 0, PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, {-1, -1},
       PTHREAD_MUTEX_INITIALIZER, -1, -1, 0, false,
       false, "", "", 0, NULL, 0, 0, NULL, 0, 0};

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

/* The child's stack for oak__reaper_spawn, above a guard page. Its code
 * (osproc.c's child setup) needs a few KiB: a frame with the descriptor
 * table and the libc system-call wrappers. */
#define SPAWN_STACK_SIZE (64 * 1024)

#if !OAK_OSPROC_SPAWN_BY_FORK
/* Child stacks not in use (their tops), under stack_lock. A spawn takes
 * one for as long as its clone lasts (until the child has exec'd), so
 * there are as many as spawns ever ran at once, at most one per thread
 * that spawns; they are never unmapped. */
static pthread_mutex_t stack_lock = PTHREAD_MUTEX_INITIALIZER;
static char **stack_free;
static size_t stack_nfree, stack_cap, stack_count;

static char *stack_take(void)
{
    pthread_mutex_lock(&stack_lock);
    char *top = stack_nfree ? stack_free[--stack_nfree] : NULL;
    /* Room to give every stack back, so stack_give never fails. */
    bool room = top || stack_count < stack_cap;
    if (!room) {
        size_t cap = stack_cap ? 2 * stack_cap : 8;
        char **v = realloc(stack_free, cap * sizeof *v);
        if (v) {
            stack_free = v;
            stack_cap = cap;
            room = true;
        }
    }
    if (!top && room)
        stack_count++; /* counted now: mapped below, outside the lock */
    pthread_mutex_unlock(&stack_lock);
    if (!room)
        errno = ENOMEM;
    if (top || !room)
        return top;
    long page = sysconf(_SC_PAGESIZE);
    char *s = mmap(NULL, (size_t)page + SPAWN_STACK_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (s != MAP_FAILED && mprotect(s, (size_t)page, PROT_NONE) == 0)
        return s + page + SPAWN_STACK_SIZE;
    int e = errno;
    if (s != MAP_FAILED)
        munmap(s, (size_t)page + SPAWN_STACK_SIZE);
    pthread_mutex_lock(&stack_lock);
    stack_count--;
    pthread_mutex_unlock(&stack_lock);
    errno = e;
    return NULL;
}

static void stack_give(char *top)
{
    pthread_mutex_lock(&stack_lock);
    stack_free[stack_nfree++] = top;
    pthread_mutex_unlock(&stack_lock);
}
#endif

pid_t oak__reaper_spawn(int (*child)(void *), void *arg)
{
#if OAK_OSPROC_SPAWN_BY_FORK
    pid_t pid = oak__reaper_fork();
    if (pid == 0)
        _exit(child(arg));
    return pid;
#else
    char *stack = stack_take();
    if (!stack)
        return -1;
    /* Every signal blocked, glibc's internal ones too (sigfillset and
     * pthread_sigmask leave those out): until the child has set every
     * disposition to default, no handler of ours may run on its stack,
     * in our memory. The raw call takes the kernel's 8-byte set. */
    sigset_t all, old;
    memset(&all, 0xff, sizeof all);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, (size_t)8);
    /* CLONE_VM: no page tables copied; CLONE_VFORK: this thread sleeps
     * until the child has exec'd or exited, so the child has the stack
     * and our memory to itself meanwhile, and the stack is free again
     * when clone returns. Not CLONE_SIGHAND: the child's dispositions
     * are its own copy. SIGCHLD: a normal child for waitid and pidfds. */
    pid_t pid = clone(child, stack, CLONE_VM | CLONE_VFORK | SIGCHLD, arg);
    int e = errno;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, (size_t)8);
    stack_give(stack);
    errno = e;
    return pid;
#endif
}

/* ---- the set of known program leaders (under R.lock) ---------------------- */

static size_t known_slot(pid_t pid, size_t cap)
{
    return ((size_t)pid * 2654435761u) & (cap - 1);
}

static bool known_has(pid_t pid)
{
    if (!R.known_cap)
        return false;
    for (size_t i = known_slot(pid, R.known_cap);; i = (i + 1) & (R.known_cap - 1)) {
        if (R.known[i] == pid)
            return true;
        if (R.known[i] == 0)
            return false;
    }
}

static bool known_put(pid_t pid);

static bool known_grow(void)
{
    size_t cap = R.known_cap ? 2 * R.known_cap : 64;
    pid_t *old = R.known;
    size_t old_cap = R.known_cap;
    pid_t *v = calloc(cap, sizeof *v);
    if (!v)
        return false;
    R.known = v;
    R.known_cap = cap;
    R.known_used = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i] > 0)
            known_put(old[i]);
    free(old);
    return true;
}

static bool known_put(pid_t pid)
{
    if (2 * (R.known_used + 1) > R.known_cap && !known_grow())
        return false;
    size_t i = known_slot(pid, R.known_cap);
    while (R.known[i] > 0)
        i = (i + 1) & (R.known_cap - 1);
    if (R.known[i] == 0)
        R.known_used++;
    R.known[i] = pid;
    return true;
}

static void known_del(pid_t pid)
{
    if (!R.known_cap)
        return;
    for (size_t i = known_slot(pid, R.known_cap);; i = (i + 1) & (R.known_cap - 1)) {
        if (R.known[i] == pid) {
            R.known[i] = -1;
            return;
        }
        if (R.known[i] == 0)
            return;
    }
}

/* ---- spawns in flight (under R.lock) -------------------------------------- */

static bool inflight_has(unsigned cg)
{
    for (size_t i = 0; i < R.ninflight; i++)
        if (R.inflight[i] == cg)
            return true;
    return false;
}

int oak__reaper_spawn_begin(unsigned cg)
{
    if (!cg)
        return 0;
    pthread_mutex_lock(&R.lock);
    if (R.ninflight == R.inflight_cap) {
        size_t cap = R.inflight_cap ? 2 * R.inflight_cap : 8;
        unsigned *v = realloc(R.inflight, cap * sizeof *v);
        if (!v) {
            pthread_mutex_unlock(&R.lock);
            return -ENOMEM;
        }
        R.inflight = v;
        R.inflight_cap = cap;
    }
    R.inflight[R.ninflight++] = cg;
    pthread_mutex_unlock(&R.lock);
    return 0;
}

void oak__reaper_spawn_end(unsigned cg, pid_t pid)
{
    pthread_mutex_lock(&R.lock);
    /* Out of memory: the child is not known, and a stray pass could reap it
     * once it exits; its mirror then reports the status as unknown. */
    if (pid > 0 && !known_put(pid))
        oak_log(OAK_LOG_ERROR, "runtime", "event=osproc_known_out_of_memory pid=%d",
                (int)pid);
    for (size_t i = 0; cg && i < R.ninflight; i++)
        if (R.inflight[i] == cg) {
            R.inflight[i] = R.inflight[--R.ninflight];
            break;
        }
    pthread_mutex_unlock(&R.lock);
}

void oak__reaper_reaped(pid_t pid)
{
    pthread_mutex_lock(&R.lock);
    known_del(pid);
    pthread_mutex_unlock(&R.lock);
}

static unsigned leaf_of(int pid);

/* Reap every exited child of the runtime that was in a program's cgroup
 * leaf and is not a known leader: a descendant of a program that left its
 * group. Children the program made some other way are never touched (their
 * status is their owner's), so without a cgroup there is no stray pass.
 * Under R.lock. */
static void reap_strays(void)
{
    if (!R.cg_base[0])
        return;
    int dfd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/self/task/%.255s/children", e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        int pid;
        while (fscanf(f, "%d", &pid) == 1) {
            if (pid == R.wd_pid || known_has(pid))
                continue;
            /* Not one of the programs' leaves, or one a spawn is entering:
             * a child of that spawn is not known until its clone returns. */
            unsigned cg = leaf_of(pid);
            if (!cg || inflight_has(cg))
                continue;
            siginfo_t si;
            memset(&si, 0, sizeof si);
            waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG);
        }
        fclose(f);
    }
    closedir(d);
}

/* ---- cgroup v2 ------------------------------------------------------------- */

/* BASE = <cgroup2 mount><our cgroup>/oak-<pid>, made here; "" if any step
 * fails (then programs get no cgroup). */
static void find_cgroup(void)
{
    char mnt[256] = "", cg[256] = "", line[1024];
    FILE *f = fopen("/proc/self/mountinfo", "re");
    while (f && fgets(line, sizeof line, f)) {
        /* ... mount-point ... - cgroup2 ... */
        char *dash = strstr(line, " - cgroup2 ");
        if (!dash)
            continue;
        char a[64], b[64], c[64], root[256], point[256];
        if (sscanf(line, "%63s %63s %63s %255s %255s", a, b, c, root, point) == 5 &&
            !strcmp(root, "/")) {
            snprintf(mnt, sizeof mnt, "%s", point);
            break;
        }
    }
    if (f)
        fclose(f);
    f = fopen("/proc/self/cgroup", "re");
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "0::", 3)) {
            line[strcspn(line, "\n")] = 0;
            if (strlen(line + 3) < sizeof cg)
                memcpy(cg, line + 3, strlen(line + 3) + 1);
            break;
        }
    }
    if (f)
        fclose(f);
    if (!mnt[0] || !cg[0])
        return;
    char base[sizeof R.cg_base];
    int n = snprintf(base, sizeof base, "%s%s/oak-%d", mnt, strcmp(cg, "/") ? cg : "",
                     (int)getpid());
    if (n <= 0 || (size_t)n >= sizeof base - 32)
        return;
    if (mkdir(base, 0755) < 0 && errno != EEXIST)
        return;
    memcpy(R.cg_base, base, (size_t)n + 1);
    snprintf(R.cg_rel, sizeof R.cg_rel, "%s/oak-%d/", strcmp(cg, "/") ? cg : "",
             (int)getpid());
}

/* The programs' cgroup leaf pid (a zombie, say) was in, or 0. */
static unsigned leaf_of(int pid)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/cgroup", pid);
    FILE *f = fopen(path, "re");
    unsigned cg = 0;
    size_t rl = strlen(R.cg_rel);
    while (f && !cg && fgets(line, sizeof line, f)) {
        char *at = strncmp(line, "0::", 3) ? NULL : strstr(line, R.cg_rel);
        if (at && !strncmp(at + rl, "p-", 2))
            cg = (unsigned)strtoul(at + rl + 2, NULL, 10);
    }
    if (f)
        fclose(f);
    return cg;
}

static void cg_path(unsigned cg, const char *file, char *buf, size_t size)
{
    if (file)
        snprintf(buf, size, "%s/p-%u/%s", R.cg_base, cg, file);
    else
        snprintf(buf, size, "%s/p-%u", R.cg_base, cg);
}

/* Empty leaves kept for the next programs (under leaf_lock): making a
 * leaf and removing it again cost more than a spawn of a small program
 * (mkdir and rmdir, and the kernel's work to set a new cgroup up and to
 * take it down), so a leaf whose processes are all gone is reused. A
 * zombie is not a member (its cgroup is still named in /proc/PID/cgroup,
 * which is all the stray pass needs). */
#define LEAF_POOL 64
static pthread_mutex_t leaf_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned leaf_pool[LEAF_POOL];
static size_t leaf_free;

unsigned oak__reaper_cgroup_new(char *procs, size_t size)
{
    if (!R.cg_base[0])
        return 0;
    pthread_mutex_lock(&leaf_lock);
    unsigned cg = leaf_free ? leaf_pool[--leaf_free] : 0;
    pthread_mutex_unlock(&leaf_lock);
    if (!cg) {
        cg = atomic_fetch_add_explicit(&R.cg_next, 1, memory_order_relaxed) + 1;
        char dir[sizeof R.cg_base + 32];
        cg_path(cg, NULL, dir, sizeof dir);
        if (mkdir(dir, 0755) < 0)
            return 0;
    }
    cg_path(cg, "cgroup.procs", procs, size);
    return cg;
}

void oak__reaper_cgroup_kill(unsigned cg)
{
    if (!cg)
        return;
    char path[sizeof R.cg_base + 48];
    cg_path(cg, "cgroup.kill", path, sizeof path);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t unused = write(fd, "1", 1);
        (void)unused;
        close(fd);
    }
}

/* Does leaf cg hold no live process? cgroup.events says "populated 0".
 * Unreadable: taken as populated (rmdir then decides). */
static bool cg_empty(unsigned cg)
{
    char path[sizeof R.cg_base + 48], buf[128];
    cg_path(cg, "cgroup.events", path, sizeof path);
    if (oak__read_text(path, buf, sizeof buf) < 0)
        return false;
    return strstr(buf, "populated 0") != NULL;
}

/* Give back leaf cg once it is empty: into the pool, or removed when the
 * pool is full. True once it is given back (false: it still holds a
 * process). */
static bool cg_release(unsigned cg)
{
    if (cg_empty(cg)) {
        pthread_mutex_lock(&leaf_lock);
        bool kept = leaf_free < LEAF_POOL;
        if (kept)
            leaf_pool[leaf_free++] = cg;
        pthread_mutex_unlock(&leaf_lock);
        if (kept)
            return true;
    }
    char dir[sizeof R.cg_base + 32];
    cg_path(cg, NULL, dir, sizeof dir);
    return rmdir(dir) == 0 || errno == ENOENT;
}

bool oak__reaper_cgroup_release(unsigned cg) { return !cg || cg_release(cg); }

/* ---- the watchdog process -------------------------------------------------- */

/* Runs in a forked copy of a multi-threaded program: only async-signal-safe
 * calls (and mmap). Reads "+PGID\n" / "-PGID\n" notes from fd 3; at end of
 * file (the oak program is gone, or ended the runtime's use of it) it sends
 * SIGKILL to every group still listed and exits. */
/* At the end: kill everything in BASE (cgroup.kill reaches every leaf)
 * and remove the leaves and BASE, retrying for up to 2 s while the killed
 * processes exit. getdents64 instead of opendir (no malloc here). */
static void watchdog_cgroup_end(const char *base)
{
    char path[sizeof R.cg_base + 300];
    size_t bl = strlen(base);
    memcpy(path, base, bl);
    memcpy(path + bl, "/cgroup.kill", sizeof "/cgroup.kill");
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t unused = write(fd, "1", 1);
        (void)unused;
        close(fd);
    }
    for (int tries = 0; tries < 200; tries++) {
        int dfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
            return;
        char buf[4096];
        long got;
        while ((got = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0) {
            for (long off = 0; off < got;) {
                struct {
                    uint64_t ino;
                    int64_t off;
                    unsigned short reclen;
                    unsigned char type;
                    char name[];
                } *de = (void *)(buf + off);
                if (de->type == DT_DIR && de->name[0] == 'p' && de->name[1] == '-') {
                    size_t nl = strlen(de->name);
                    if (bl + 1 + nl < sizeof path) {
                        path[bl] = '/';
                        memcpy(path + bl + 1, de->name, nl + 1);
                        rmdir(path);
                    }
                }
                off += de->reclen;
            }
        }
        close(dfd);
        if (rmdir(base) == 0 || errno == ENOENT)
            return;
        struct timespec ten_ms = {0, 10 * 1000 * 1000};
        nanosleep(&ten_ms, NULL);
    }
}

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
    if (R.cg_base[0])
        watchdog_cgroup_end(R.cg_base);
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
    int pfd = R.no_pidfd ? -1 : (int)syscall(SYS_pidfd_open, pid, 0);
    if (pfd < 0 && !R.no_pidfd) {
        int e = -errno;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(p[1]);
        return e;
    }
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    R.wd_pid = pid;
    R.wd_fd = p[1];
    R.wd_pidfd = pfd;
    return 0;
}

static void watchdog_note(char sign, pid_t pgid)
{
    char line[24];
    int len = snprintf(line, sizeof line, "%c%d\n", sign, (int)pgid);
    /* One write below PIPE_BUF is atomic: notes never interleave. */
    pthread_mutex_lock(&R.wd_lock);
    bool ok = R.wd_fd < 0 || write(R.wd_fd, line, (size_t)len) == len;
    pthread_mutex_unlock(&R.wd_lock);
    if (!ok && !atomic_exchange_explicit(&R.wd_drop_logged, true, memory_order_relaxed))
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

/* Reap the unreaped child pid (pidfd, or -1): returns 1 if it was reaped,
 * 0 if it has not exited yet (WNOHANG), -1 on an error. */
static int reap_child(int pidfd, pid_t pid, int options)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int rc = pidfd >= 0 ? waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | options)
                        : waitid(P_PID, (id_t)pid, &si, WEXITED | options);
    return rc < 0 ? -1 : si.si_pid != 0;
}

static void add_entry(bool adopted, int pidfd, pid_t pgid, unsigned cg)
{
    pthread_mutex_lock(&R.lock);
    if (R.n == R.cap) {
        size_t cap = R.cap ? 2 * R.cap : 16;
        entry *v = realloc(R.v, cap * sizeof *v);
        if (!v) {
            pthread_mutex_unlock(&R.lock);
            /* Out of memory: reap the leader here (it was sent SIGKILL) and
             * give up on the rest of the group. */
            if (adopted) {
                reap_child(pidfd, pgid, 0);
                if (pidfd >= 0)
                    close(pidfd);
            }
            oak_log(OAK_LOG_ERROR, "runtime",
                    "event=osproc_reaper_out_of_memory pgid=%d", (int)pgid);
            return;
        }
        R.v = v;
        R.cap = cap;
    }
    R.v[R.n++] = (entry){adopted, pidfd, pgid, cg, now_ms()};
    pthread_mutex_unlock(&R.lock);
    wake();
}

void oak__reaper_adopt(int pidfd, pid_t pgid, unsigned cg) { add_entry(true, pidfd, pgid, cg); }
void oak__reaper_drain(pid_t pgid, unsigned cg) { add_entry(false, -1, pgid, cg); }

/* A DRAINING entry: kill and reap what is left. True when the group is
 * empty. */
static bool drain(const entry *e)
{
    kill(-e->pgid, SIGKILL);
    oak__reaper_cgroup_kill(e->cg);
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PGID, (id_t)e->pgid, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
            break;
    }
    if (e->cg)
        reap_strays();
    return kill(-e->pgid, 0) < 0 && errno == ESRCH && (!e->cg || cg_release(e->cg));
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
        int timeout = 1000; /* the stray pass runs at least once a second */
        int64_t now = now_ms();
        if (pf_cap >= 2) {
            pf[k++] = (struct pollfd){R.wake[0], POLLIN, 0};
            pf[k++] = (struct pollfd){R.wd_pidfd, POLLIN, 0};
        }
        if (R.wd_pidfd < 0 && R.wd_pid > 0 && timeout > 100)
            timeout = 100; /* no pidfd: look for the watchdog's death */
        for (size_t i = 0; i < R.n; i++) {
            if (R.v[i].adopted) {
                if (R.v[i].pidfd >= 0 && k < pf_cap)
                    pf[k++] = (struct pollfd){R.v[i].pidfd, POLLIN, 0};
                else
                    timeout = 10;
            } else {
                int t = now - R.v[i].since_ms > 1000 ? 500 : 10;
                if (t < timeout)
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
        if (R.wd_pid > 0 && (R.wd_pidfd >= 0 ? k >= 2 && (pf[1].revents & POLLIN)
                                             : reap_child(-1, R.wd_pid, WNOHANG) == 1)) {
            /* The watchdog died (someone killed it): reap it; programs are
             * now protected by their death signal only. */
            if (R.wd_pidfd >= 0)
                reap_child(R.wd_pidfd, R.wd_pid, WNOHANG);
            oak_log(OAK_LOG_ERROR, "runtime", "event=osproc_watchdog_died");
            if (R.wd_pidfd >= 0)
                close(R.wd_pidfd);
            R.wd_pidfd = -1; /* only this thread reads them after `once` */
            R.wd_pid = 0;
            pthread_mutex_lock(&R.wd_lock);
            close(R.wd_fd);
            R.wd_fd = -1;
            pthread_mutex_unlock(&R.wd_lock);
        }

        pthread_mutex_lock(&R.lock);
        now = now_ms();
        for (size_t i = 0; i < R.n;) {
            entry *e = &R.v[i];
            if (e->adopted) {
                if (reap_child(e->pidfd, e->pgid, WNOHANG) == 0) {
                    i++;
                    continue; /* not dead yet */
                }
                if (e->pidfd >= 0)
                    close(e->pidfd);
                e->pidfd = -1;
                e->adopted = false;
                e->since_ms = now;
                known_del(e->pgid);
            }
            if (drain(e)) {
                watchdog_note('-', e->pgid);
                R.v[i] = R.v[--R.n];
                continue;
            }
            i++;
        }
        reap_strays();
        pthread_mutex_unlock(&R.lock);
    }
    return NULL;
}

static void init_once(void)
{
    /* Read once, at the first start: the fallback is chosen for the life
     * of the program. */
    const char *force = getenv("OAK_OSPROC_NO_PIDFD");
    if (force && strcmp(force, "1") == 0)
        R.no_pidfd = true;
    else {
        int probe = (int)syscall(SYS_pidfd_open, getpid(), 0);
        if (probe >= 0)
            close(probe);
        else if (errno == ENOSYS)
            R.no_pidfd = true;
    }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
        R.err = -errno;
        return;
    }
    if (pipe2(R.wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        R.err = -errno;
        return;
    }
    find_cgroup();
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

bool oak__reaper_no_pidfd(void) { return R.no_pidfd; }

int oak__reaper_use(void)
{
    pthread_once(&R.once, init_once);
    return R.err;
}
