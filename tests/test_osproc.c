/* Programs as oak processes: exits mirrored, start errors, output lines,
 * stdin, descriptors, stop sequences, supervisors with OS children, no
 * zombie left.
 *
 * ctest groups: status errors output stdin fds setup stop grandchild supervisor intensity ready many fn fn_tree pty nopidfd
 */
#include <alloca.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oak_test.h"
#include "helpers/cgroup2.h"

#ifndef OAK_OSPROC_HELPER
#error "OAK_OSPROC_HELPER must name the helper program"
#endif
#define HELPER OAK_OSPROC_HELPER

/* Is OS pid p gone (no such process)? The runtime reaps its children, so a
 * zombie counts as not gone. */
static bool os_gone(pid_t p) { return kill(p, 0) < 0 && errno == ESRCH; }

/* Zombie children of this program, from /proc. */
static int zombie_children(void)
{
    DIR *d = opendir("/proc");
    int n = 0;
    struct dirent *e;
    pid_t me = getpid();
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[got] = 0;
        char *rp = strrchr(buf, ')');
        char st;
        int ppid;
        if (rp && sscanf(rp + 2, "%c %d", &st, &ppid) == 2 && ppid == me && st == 'Z')
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

/* Open pidfds of this program, from /proc/self/fd. */
static int pidfds_open(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[64], target[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, target, sizeof target - 1);
        if (len > 0) {
            target[len] = 0;
            n += strcmp(target, "anon_inode:[pidfd]") == 0;
        }
    }
    if (d)
        closedir(d);
    return n;
}

/* Start opts linked to the caller, which traps exits: the mirror's exit
 * comes as an EXIT message however soon the program ends (a monitor made
 * after the start could come too late and see noproc). *mon is the pid to
 * wait for with recv_exit_of(). */
static oak_pid start_mon(const oak_osproc_opts *o, oak_pid *mon)
{
    oak_pid pid = OAK_NOPID;
    oak_reason why = {0};
    oak_trap_exit(true);
    int rc = oak_osproc_start(o, OAK_GEN_LINK, &pid, &why);
    char r[600];
    oak_reason_str(&why, r, sizeof r);
    if (rc != 0)
        OT_FAIL("oak_osproc_start: %d (%s) why %s", rc, oak_strerror(rc), r);
    *mon = pid;
    return pid;
}

static bool match_exit_from(const oak_msg *m, void *arg)
{
    return m->tag == OAK_TAG_EXIT && m->from == *(oak_pid *)arg;
}

static ot_signal recv_exit_of_(oak_pid pid, const char *file, int line)
{
    oak_msg *m = NULL;
    ot_signal s;
    memset(&s, 0, sizeof s);
    int rc = oak_receive(&m, OT_LONG_MS, match_exit_from, &pid);
    if (rc != 0) {
        ot_fail_(true, file, line, "no EXIT from the mirror: %d", rc);
        return s;
    }
    ot_take_signal_(m, &s, file, line);
    return s;
}
#define recv_exit_of(pid) recv_exit_of_((pid), __FILE__, __LINE__)

static ot_signal run_to_exit(const char *const *argv)
{
    oak_osproc_opts o = {.path = HELPER, .argv = argv, .stdout_mode = OAK_STDIO_NULL};
    oak_pid mon;
    start_mon(&o, &mon);
    return recv_exit_of(mon);
}

/* ---- status ------------------------------------------------------------- */

static void status_main(void *arg)
{
    (void)arg;
    oak_log_set_level(OAK_LOG_NONE);
    const char *ok[] = {HELPER, "exit", "0", NULL};
    ot_signal s = run_to_exit(ok);
    OT_CHECK_ATOM_EQ(s.reason, OAK_NORMAL);
    OT_CHECK(!s.has_detail);

    const char *three[] = {HELPER, "exit", "3", NULL};
    s = run_to_exit(three);
    OT_CHECK_ATOM_EQ(s.reason, oak_atom_from("exit_status"));
    OT_CHECK_STR_EQ(s.detail, "3");

    const char *segv[] = {HELPER, "signal", "segv", NULL};
    s = run_to_exit(segv);
    OT_CHECK_ATOM_EQ(s.reason, oak_atom_from("signal"));
    OT_CHECK_STR_EQ(s.detail, "sigsegv");

    const char *abrt[] = {HELPER, "signal", "abrt", NULL};
    s = run_to_exit(abrt);
    OT_CHECK_STR_EQ(s.detail, "sigabrt");

    /* /bin/sh and a name looked up in PATH. */
    const char *sh[] = {"sh", "-c", "exit 7", NULL};
    oak_osproc_opts o = {.path = "sh", .argv = sh};
    oak_pid mon;
    start_mon(&o, &mon);
    s = recv_exit_of(mon);
    OT_CHECK_STR_EQ(s.detail, "7");
}

static void exits_mirror_the_program_status(void **state)
{
    (void)state;
    OT_RUN(status_main, NULL);
}

/* ---- start errors --------------------------------------------------------- */

static void errors_main(void *arg)
{
    (void)arg;
    oak_log_set_level(OAK_LOG_NONE);
    oak_reason why = {0};
    oak_pid pid = OAK_NOPID;
    oak_osproc_opts o = {.path = "/no/such/program"};
    OT_CHECK_INT_EQ(oak_osproc_start(&o, 0, &pid, &why), -ENOENT);
    OT_CHECK_ATOM_EQ(why.atom, oak_atom_from("enoent"));
    OT_CHECK_STR_EQ(why.detail, "\"/no/such/program\"");

    o.path = "no-such-program-in-path-oak";
    OT_CHECK_INT_EQ(oak_osproc_start(&o, 0, &pid, &why), -ENOENT);
    OT_CHECK_STR_EQ(why.detail, "\"no-such-program-in-path-oak\"");

    /* Not executable. */
    char plain[64];
    snprintf(plain, sizeof plain, "/tmp/oak-plain-%d", (int)getpid());
    FILE *pf = fopen(plain, "w");
    OT_CHECK(pf != NULL);
    fputs("not a program\n", pf);
    fclose(pf);
    chmod(plain, 0644);
    o.path = plain;
    OT_CHECK_INT_EQ(oak_osproc_start(&o, 0, &pid, &why), -EACCES);
    OT_CHECK_ATOM_EQ(why.atom, oak_atom_from("eacces"));
    unlink(plain);

    /* A bad working directory. */
    o.path = HELPER;
    o.cwd = "/no/such/dir";
    OT_CHECK_INT_EQ(oak_osproc_start(&o, 0, &pid, &why), -ENOENT);
    OT_CHECK_STR_EQ(why.detail, "{cwd,\"/no/such/dir\"}");

    /* Bad options. */
    OT_CHECK_INT_EQ(oak_osproc_start(NULL, 0, &pid, &why), -EINVAL);
    oak_osproc_opts p = {.path = HELPER, .stdout_mode = OAK_STDIO_PIPE};
    OT_CHECK_INT_EQ(oak_osproc_start(&p, 0, &pid, &why), -EINVAL);
    OT_CHECK_STR_EQ(why.detail, "output_to");
    p.stdout_mode = (oak_osproc_stdio)9;
    OT_CHECK_INT_EQ(oak_osproc_start(&p, 0, &pid, &why), -EINVAL);
    oak_osproc_opts q = {.path = HELPER, .stop_timeout_ms = -7};
    OT_CHECK_INT_EQ(oak_osproc_start(&q, 0, &pid, &why), -EINVAL);
    int bad_fd = 999;
    oak_osproc_opts f = {.path = HELPER, .fds = &bad_fd, .fd_count = 1};
    OT_CHECK_INT_EQ(oak_osproc_start(&f, 0, &pid, &why), -EINVAL);

    /* Linked start by a process that traps exits: the error comes back and
     * the caller lives. */
    oak_trap_exit(true);
    o.cwd = NULL;
    o.path = "/no/such/program";
    OT_CHECK_INT_EQ(oak_osproc_start(&o, OAK_GEN_LINK, &pid, &why), -ENOENT);
    OT_CHECK_INT_EQ(oak_osproc_os_pid(OT_DEAD_PID()), -ESRCH);
    OT_CHECK_INT_EQ(zombie_children(), 0);
}

static void a_missing_program_is_a_clear_start_error(void **state)
{
    (void)state;
    assert_int_equal(oak_osproc_start(&(oak_osproc_opts){.path = HELPER}, 0, NULL, NULL),
                     -EPERM);
    OT_RUN(errors_main, NULL);
}

/* ---- output ----------------------------------------------------------------- */

typedef struct line_copy {
    int stream;
    unsigned flags;
    size_t len;
    char text[128];
} line_copy;

static line_copy recv_line_(const char *file, int line)
{
    oak_msg *m = ot_recv_tag_(OAK_OSPROC_TAG_OUTPUT, OT_LONG_MS, file, line);
    line_copy c = {0};
    const oak_osproc_line *l = m->data;
    OT_CHECK_UINT_EQ(m->size, sizeof *l + l->len + 1);
    c.stream = l->stream;
    c.flags = l->flags;
    c.len = l->len;
    snprintf(c.text, sizeof c.text, "%s", l->text);
    oak_msg_free(m);
    return c;
}
#define recv_line() recv_line_(__FILE__, __LINE__)

static void output_main(void *arg)
{
    (void)arg;
    const char *flood[] = {HELPER, "flood", "3", "5", NULL};
    oak_osproc_opts o = {.path = HELPER, .argv = flood, .stdout_mode = OAK_STDIO_PIPE,
                         .output_to = oak_self()};
    oak_pid mon;
    start_mon(&o, &mon);
    for (int i = 0; i < 3; i++) {
        line_copy c = recv_line();
        OT_CHECK_INT_EQ(c.stream, 1);
        OT_CHECK_STR_EQ(c.text, "xxxxx");
        OT_CHECK_UINT_EQ(c.flags, 0);
    }
    ot_signal s = recv_exit_of(mon);
    OT_CHECK_ATOM_EQ(s.reason, OAK_NORMAL);
    OT_NO_MSG(OAK_OSPROC_TAG_OUTPUT, OT_SETTLE_MS);

    /* A 40-byte line with max_line 16: 16 + 16 partial, then the rest. */
    const char *lng[] = {HELPER, "long", "40", NULL};
    oak_osproc_opts l = {.path = HELPER, .argv = lng, .stdout_mode = OAK_STDIO_PIPE,
                         .output_to = oak_self(), .max_line = 16};
    start_mon(&l, &mon);
    line_copy a = recv_line(), b = recv_line(), c = recv_line();
    OT_CHECK_UINT_EQ(a.len, 16);
    OT_CHECK_UINT_EQ(a.flags, OAK_OSPROC_LINE_PARTIAL);
    OT_CHECK_UINT_EQ(b.len, 16);
    OT_CHECK_UINT_EQ(c.len, 8);
    OT_CHECK_UINT_EQ(c.flags, OAK_OSPROC_LINE_PARTIAL); /* no newline at the end */
    recv_exit_of(mon);

    /* stderr with its own stream number, and a rate bound: 30 lines at 20
     * per second take more than a second and all arrive. */
    const char *sh[] = {"sh", "-c", "i=0; while [ $i -lt 30 ]; do echo e$i >&2; i=$((i+1)); done", NULL};
    oak_osproc_opts r = {.path = "/bin/sh", .argv = sh, .stderr_mode = OAK_STDIO_PIPE,
                         .output_to = oak_self(), .lines_per_sec = 20};
    int64_t t0 = ot_now_ns();
    start_mon(&r, &mon);
    for (int i = 0; i < 30; i++) {
        line_copy e = recv_line();
        char want[8];
        snprintf(want, sizeof want, "e%d", i);
        OT_CHECK_INT_EQ(e.stream, 2);
        OT_CHECK_STR_EQ(e.text, want);
    }
    OT_CHECK_INT_GE(ot_ms_since(t0), 900);
    recv_exit_of(mon);
}

static void output_comes_as_bounded_lines(void **state)
{
    (void)state;
    OT_RUN(output_main, NULL);
}

/* ---- stdin --------------------------------------------------------------------- */

static void stdin_main(void *arg)
{
    (void)arg;
    const char *cat[] = {HELPER, "cat", NULL};
    oak_osproc_opts o = {.path = HELPER, .argv = cat, .stdin_mode = OAK_STDIO_PIPE,
                         .stdout_mode = OAK_STDIO_PIPE, .output_to = oak_self()};
    oak_pid mon;
    oak_pid pid = start_mon(&o, &mon);
    OT_CHECK_INT_EQ(oak_osproc_write(pid, "hello\nworld\n", 12, OT_LONG_MS), 0);
    OT_CHECK_STR_EQ(recv_line().text, "hello");
    OT_CHECK_STR_EQ(recv_line().text, "world");
    /* Idle past its hibernate_after (OAK_GEN_IDLE_HIBERNATE_MS), the
     * mirror has given its stack up; it wakes for the next request with
     * its state, and its program's output still comes. */
    int os_pid = oak_osproc_os_pid(pid);
    OT_CHECK_INT_GT(os_pid, 0);
    oak_sleep(OAK_GEN_IDLE_HIBERNATE_MS + 300);
    OT_CHECK_INT_EQ(oak_osproc_os_pid(pid), os_pid);
    OT_CHECK_INT_EQ(oak_osproc_write(pid, "again\n", 6, OT_LONG_MS), 0);
    OT_CHECK_STR_EQ(recv_line().text, "again");
    /* More than a pipe holds, while the program drains it. */
    size_t big = 256 * 1024;
    char *buf = malloc(big);
    memset(buf, 'z', big);
    buf[big - 1] = '\n';
    OT_CHECK_INT_EQ(oak_osproc_write(pid, buf, big, OT_LONG_MS), 0);
    free(buf);
    /* cat ends at the end of its input, and its mirror with it: the
     * closed-stdin errors are checked on the sleeper below. */
    OT_CHECK_INT_EQ(oak_osproc_close_stdin(pid), 0);
    size_t total = 0;
    for (;;) {
        line_copy c = recv_line();
        total += c.len;
        if (!(c.flags & OAK_OSPROC_LINE_PARTIAL))
            break;
    }
    OT_CHECK_UINT_EQ(total, big - 1);
    ot_signal s = recv_exit_of(mon);
    OT_CHECK_ATOM_EQ(s.reason, OAK_NORMAL);

    /* A program that does not read: the write times out. */
    const char *slp[] = {HELPER, "sleep", NULL};
    oak_osproc_opts z = {.path = HELPER, .argv = slp, .stdin_mode = OAK_STDIO_PIPE};
    pid = start_mon(&z, &mon);
    char *huge = calloc(1, 1 << 20);
    OT_CHECK_INT_EQ(oak_osproc_write(pid, huge, 1 << 20, 100), -ETIMEDOUT);
    free(huge);
    /* Its stdin closed (it does not end at that): once, then -EBADF. */
    OT_CHECK_INT_EQ(oak_osproc_close_stdin(pid), 0);
    OT_CHECK_INT_EQ(oak_osproc_close_stdin(pid), -EBADF);
    OT_CHECK_INT_EQ(oak_osproc_write(pid, "x", 1, 0), -EBADF);
    OT_CHECK_INT_EQ(oak_osproc_stop(pid), 0);
}

static void stdin_is_writable_from_oak(void **state)
{
    (void)state;
    OT_RUN(stdin_main, NULL);
}

/* ---- descriptors ------------------------------------------------------------- */

static void fds_main(void *arg)
{
    (void)arg;
    /* A descriptor the program opened without close-on-exec is not passed
     * on either. */
    int leak[2];
    OT_CHECK_INT_EQ(pipe(leak), 0);
    const char *fds[] = {HELPER, "fds", NULL};
    oak_osproc_opts o = {.path = HELPER, .argv = fds, .stdout_mode = OAK_STDIO_PIPE,
                         .output_to = oak_self()};
    oak_pid mon;
    start_mon(&o, &mon);
    OT_CHECK_STR_EQ(recv_line().text, "fds 0 1 2");
    recv_exit_of(mon);

    int given[2] = {leak[1], leak[0]};
    o.fds = given;
    o.fd_count = 2;
    start_mon(&o, &mon);
    OT_CHECK_STR_EQ(recv_line().text, "fds 0 1 2 3 4");
    recv_exit_of(mon);
    close(leak[0]);
    close(leak[1]);
}

static void a_child_sees_only_0_1_2_and_the_fds_it_was_given(void **state)
{
    (void)state;
    OT_RUN(fds_main, NULL);
}

/* ---- setup: cwd, umask, rlimits, env, group ---------------------------------- */

/* How many threads of this process do not have all of uid and gid 0 (real,
 * effective, saved, fs): a program's child shares the runtime's memory
 * until exec, and its change of user must stay its own. */
static int threads_not_root(void)
{
    DIR *d = opendir("/proc/self/task");
    OT_CHECK(d != NULL);
    int bad = 0, seen = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[64], line[128];
        snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue; /* the thread ended */
        seen++;
        while (fgets(line, sizeof line, f))
            if ((strncmp(line, "Uid:", 4) == 0 || strncmp(line, "Gid:", 4) == 0) &&
                strcmp(line + 4, "\t0\t0\t0\t0\n") != 0)
                bad++;
        fclose(f);
    }
    closedir(d);
    OT_CHECK(seen > 1); /* the runtime's threads are there */
    return bad;
}

static void ignore_signal(int sig) { (void)sig; }

static void setup_main(void *arg)
{
    (void)arg;
    const char *info[] = {HELPER, "info", NULL};
    const char *env[] = {"OAK_T=forty-two", NULL};
    oak_osproc_rlimit rl = {RLIMIT_NOFILE, 77, 77};
    oak_osproc_opts o = {.path = HELPER, .argv = info, .env = env, .cwd = "/tmp",
                         .set_umask = true, .umask = 027, .rlimits = &rl,
                         .rlimit_count = 1, .stdout_mode = OAK_STDIO_PIPE,
                         .output_to = oak_self()};
    oak_pid mon;
    start_mon(&o, &mon);
    OT_CHECK_STR_EQ(recv_line().text, "cwd=/tmp");
    OT_CHECK_STR_EQ(recv_line().text, "umask=027");
    OT_CHECK_STR_EQ(recv_line().text, "nofile=77");
    OT_CHECK_STR_EQ(recv_line().text, "env=forty-two");
    OT_CHECK_STR_EQ(recv_line().text, "pgrp=1");
    recv_exit_of(mon);

    o.new_session = true;
    o.rlimit_count = 0;
    start_mon(&o, &mon);
    for (int i = 0; i < 4; i++)
        recv_line();
    OT_CHECK_STR_EQ(recv_line().text, "pgrp=1");
    recv_exit_of(mon);

    /* The program starts with every signal at its default action and
     * none blocked, though the runtime catches faults (its handlers) and
     * this process ignores one signal and handles another. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, hnd = {.sa_handler = ignore_signal};
    struct sigaction old_usr2, old_winch;
    sigaction(SIGUSR2, &ign, &old_usr2);
    sigaction(SIGWINCH, &hnd, &old_winch);
    /* Its lines under a tag of their own: those after SigCgt, which are
     * not read, can never be taken for the next program's. */
    const uint64_t sig_tag = OAK_OSPROC_TAG_OUTPUT + 1;
    const char *sigs[] = {"cat", "/proc/self/status", NULL};
    oak_osproc_opts g = {.path = "cat", .argv = sigs, .stdout_mode = OAK_STDIO_PIPE,
                         .output_to = oak_self(), .output_tag = sig_tag};
    start_mon(&g, &mon);
    int sig_lines = 0;
    bool last = false;
    while (!last) { /* SigBlk, SigIgn, SigCgt (cat installs no handler), in order */
        oak_msg *m = OT_RECV_TAG(sig_tag, OT_LONG_MS);
        const oak_osproc_line *l = m->data;
        last = strncmp(l->text, "SigCgt:", 7) == 0;
        if (strncmp(l->text, "SigBlk:", 7) == 0 || strncmp(l->text, "SigIgn:", 7) == 0 || last) {
            OT_CHECK_STR_EQ(l->text + 7, "\t0000000000000000");
            sig_lines++;
        }
        oak_msg_free(m);
    }
    OT_CHECK_INT_EQ(sig_lines, 3);
    OT_CHECK_ATOM_EQ(recv_exit_of(mon).reason, OAK_NORMAL);
    sigaction(SIGUSR2, &old_usr2, NULL);
    sigaction(SIGWINCH, &old_winch, NULL);

    /* Another user, when running as root. */
    if (geteuid() == 0) {
        const char *ids[] = {HELPER, "ids", NULL};
        oak_osproc_opts u = {.path = HELPER, .argv = ids, .set_user = true, .uid = 65534,
                             .gid = 65534, .cwd = "/", .stdout_mode = OAK_STDIO_PIPE,
                             .output_to = oak_self()};
        start_mon(&u, &mon);
        line_copy l = recv_line();
        OT_CHECK(strncmp(l.text, "uid=65534 gid=65534 groups=", 27) == 0);
        OT_CHECK_ATOM_EQ(recv_exit_of(mon).reason, OAK_NORMAL);
        /* A directory that user may not enter. */
        char dir[64];
        snprintf(dir, sizeof dir, "/tmp/oak-private-%d", (int)getpid());
        OT_CHECK_INT_EQ(mkdir(dir, 0700), 0);
        u.cwd = dir;
        oak_reason uw;
        OT_CHECK_INT_EQ(oak_osproc_start(&u, 0, NULL, &uw), -EACCES);
        rmdir(dir);
        /* The child's user is its own: every thread of the runtime is
         * still root. */
        OT_CHECK_INT_EQ(threads_not_root(), 0);
    }

    /* An rlimit the kernel refuses is a start error naming the step. */
    oak_osproc_rlimit bad = {RLIMIT_NOFILE, 10, 5};
    o.rlimits = &bad;
    o.rlimit_count = 1;
    oak_reason why;
    OT_CHECK_INT_EQ(oak_osproc_start(&o, 0, NULL, &why), -EINVAL);
    OT_CHECK_ATOM_EQ(why.atom, oak_atom_from("einval"));
}

static void the_child_gets_cwd_umask_rlimits_env_and_its_own_group(void **state)
{
    (void)state;
    oak_log_set_level(OAK_LOG_NONE);
    OT_RUN(setup_main, NULL);
}

/* ---- stop sequences ------------------------------------------------------------ */

static oak_pid start_ready(oak_osproc_opts *o, const char *const *argv, int *os)
{
    o->path = HELPER;
    o->argv = argv;
    o->stdout_mode = OAK_STDIO_PIPE;
    o->output_to = oak_self();
    oak_pid pid = OAK_NOPID;
    OT_CHECK_INT_EQ(oak_osproc_start(o, 0, &pid, NULL), 0);
    OT_CHECK_STR_EQ(recv_line().text, "ready");
    *os = oak_osproc_os_pid(pid);
    return pid;
}

static void stop_main(void *arg)
{
    (void)arg;
    const char *ign[] = {HELPER, "ignore-term", NULL};
    int os;
    /* Ignores SIGTERM: SIGKILL after the timeout. */
    oak_osproc_opts o = {.stop_timeout_ms = 300};
    oak_pid pid = start_ready(&o, ign, &os);
    int64_t t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_osproc_stop(pid), 0);
    int64_t ms = ot_ms_since(t0);
    OT_CHECK_INT_GE(ms, 280);
    OT_CHECK_INT_LT(ms, 5000);
    OT_CHECK(os_gone(os));

    /* brutal_kill: at once. */
    oak_osproc_opts b = {.stop_timeout_ms = OAK_BRUTAL_KILL};
    pid = start_ready(&b, ign, &os);
    t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_osproc_stop(pid), 0);
    OT_CHECK_INT_LT(ot_ms_since(t0), 250);
    OT_CHECK(os_gone(os));

    /* Another stop signal: SIGINT stops it though it ignores SIGTERM. */
    oak_osproc_opts i = {.stop_signal = SIGINT, .stop_timeout_ms = OAK_INFINITY};
    pid = start_ready(&i, ign, &os);
    t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_osproc_stop(pid), 0);
    OT_CHECK_INT_LT(ot_ms_since(t0), 2000);
    OT_CHECK(os_gone(os));

    /* Killing the mirror kills the program; the runtime reaps it. */
    oak_osproc_opts k = {0};
    pid = start_ready(&k, ign, &os);
    oak_exit_pid(pid, OAK_KILL);
    OT_EVENTUALLY(os_gone(os), OT_LONG_MS);
}

static void stop_signals_the_group_then_kills_after_the_timeout(void **state)
{
    (void)state;
    oak_log_set_level(OAK_LOG_NONE);
    OT_RUN(stop_main, NULL);
}

/* ---- grandchildren ------------------------------------------------------------- */

static pid_t read_pid_file(const char *path)
{
    FILE *f = fopen(path, "r");
    int p = 0;
    if (f) {
        if (fscanf(f, "%d", &p) != 1)
            p = 0;
        fclose(f);
    }
    return p;
}

static void grandchild_main(void *arg)
{
    (void)arg;
    char file[64];
    snprintf(file, sizeof file, "/tmp/oak-gc-%d", (int)getpid());
    unlink(file);
    const char *gc[] = {HELPER, "grandchild", file, NULL};
    int os;
    oak_osproc_opts o = {.stop_timeout_ms = 2000};
    oak_pid pid = start_ready(&o, gc, &os);
    pid_t g = read_pid_file(file);
    OT_CHECK_INT_GT(g, 0);
    OT_CHECK(!os_gone(g));
    OT_CHECK_INT_EQ(oak_osproc_stop(pid), 0);
    OT_CHECK(os_gone(os));
    OT_EVENTUALLY(os_gone(g), OT_LONG_MS);
    unlink(file);

    /* The program exits by itself: what is left of its group goes too. */
    const char *sh[] = {"/bin/sh", "-c", "(" HELPER " sleep &) ; echo $$; exit 0", NULL};
    oak_osproc_opts s = {.path = "/bin/sh", .argv = sh, .stdout_mode = OAK_STDIO_PIPE,
                         .output_to = oak_self()};
    oak_pid mon;
    start_mon(&s, &mon);
    int shpid = atoi(recv_line().text);
    OT_CHECK_INT_GT(shpid, 0);
    recv_exit_of(mon);
    /* The background helper was in the shell's group. */
    OT_EVENTUALLY(kill(-shpid, 0) < 0, OT_LONG_MS);
    OT_EVENTUALLY(zombie_children() == 0, OT_LONG_MS);

    /* A descendant that left the group (setsid): with a writable cgroup v2
     * the program's cgroup reaches it when the program exits, and the
     * runtime reaps it; without one it lives on (docs/design/osproc.md). */
    if (writable_cgroup2()) {
        const char *esc[] = {"/bin/sh", "-c", "(setsid " HELPER " sleep & echo $!) ; sleep 0.2; exit 0", NULL};
        oak_osproc_opts e = {.path = "/bin/sh", .argv = esc, .stdout_mode = OAK_STDIO_PIPE,
                             .output_to = oak_self()};
        start_mon(&e, &mon);
        int escaped = atoi(recv_line().text);
        OT_CHECK_INT_GT(escaped, 0);
        recv_exit_of(mon);
        /* Leaves are reused, but only once empty: the next program's leaf
         * holds that program alone, even while the escaped one is still
         * being killed. (Shell builtins only: no other process of it.) */
        const char *own[] = {"/bin/sh", "-c",
                             "while read l; do case $l in 0::*) echo \"${l#0::}\";; esac; done"
                             " </proc/self/cgroup; exec " HELPER " sleep",
                             NULL};
        oak_osproc_opts w = {.path = "/bin/sh", .argv = own, .stdout_mode = OAK_STDIO_PIPE,
                             .output_to = oak_self()};
        oak_pid next = start_mon(&w, &mon);
        char procs[700];
        OT_CHECK(cgroup2_file(recv_line().text, "cgroup.procs", procs, sizeof procs));
        FILE *f = fopen(procs, "r");
        OT_CHECK(f != NULL);
        int members[4], n = 0;
        while (f && n < 4 && fscanf(f, "%d", &members[n]) == 1)
            n++;
        if (f)
            fclose(f);
        OT_CHECK_INT_EQ(n, 1);
        OT_CHECK_INT_EQ(members[0], oak_osproc_os_pid(next));
        OT_CHECK_INT_EQ(oak_osproc_stop(next), 0);
        recv_exit_of(mon);
        OT_EVENTUALLY(os_gone(escaped), OT_LONG_MS);
        OT_EVENTUALLY(zombie_children() == 0, OT_LONG_MS);
    }
}

static void grandchildren_go_with_their_program(void **state)
{
    (void)state;
    oak_log_set_level(OAK_LOG_NONE);
    OT_RUN(grandchild_main, NULL);
}

/* ---- supervisors ----------------------------------------------------------------- */

static const char *const sleep_argv[] = {HELPER, "sleep", NULL};
static const oak_osproc_opts sleeper = {.path = HELPER, .argv = sleep_argv,
                                        .stop_timeout_ms = 2000};

static int worker_init(oak_gen_server *gs, void *arg, void **st)
{
    (void)gs;
    (void)arg;
    *st = NULL;
    return OAK_GS_OK;
}
static const oak_gen_server_callbacks worker_cb = {.init = worker_init};
static int start_worker(const oak_child_args *a, oak_pid *pid, oak_reason *why)
{
    (void)a;
    oak_gen_server_opts o = {.flags = OAK_GEN_LINK};
    return oak_gen_server_start(&worker_cb, NULL, &o, pid, why);
}

static oak_pid child_pid(oak_pid sup, oak_atom id)
{
    oak_child_info info[8];
    int n = oak_supervisor_which_children(sup, info, 8);
    for (int i = 0; i < n && i < 8; i++)
        if (info[i].id == id)
            return info[i].pid;
    return OAK_NOPID;
}

static void sup_strategy(oak_strategy strategy)
{
    oak_atom a = oak_atom_from("os_a"), w = oak_atom_from("worker"),
             b = oak_atom_from("os_b");
    oak_child_spec specs[3];
    oak_osproc_child_spec(&specs[0], a, &sleeper);
    specs[1] = (oak_child_spec){.id = w, .start = start_worker};
    oak_osproc_child_spec(&specs[2], b, &sleeper);
    oak_supervisor_def def = {.flags = {strategy, 10, 5, OAK_AUTO_SHUTDOWN_NEVER},
                              .children = specs, .count = 3};
    oak_pid sup;
    OT_CHECK_INT_EQ(oak_supervisor_start(&def, 0, &sup, NULL), 0);
    oak_pid pa = child_pid(sup, a), pw = child_pid(sup, w), pb = child_pid(sup, b);
    int osa = oak_osproc_os_pid(pa), osb = oak_osproc_os_pid(pb);
    OT_CHECK_INT_GT(osa, 0);
    OT_CHECK_INT_GT(osb, 0);
    /* The first program is killed from outside. */
    oak_ref mon = oak_monitor(pa);
    kill(osa, SIGKILL);
    ot_signal s = OT_RECV_DOWN(mon, OT_LONG_MS);
    OT_CHECK_ATOM_EQ(s.reason, oak_atom_from("signal"));
    OT_CHECK_STR_EQ(s.detail, "sigkill");
    OT_EVENTUALLY(child_pid(sup, a) != OAK_NOPID && child_pid(sup, a) != pa, OT_LONG_MS);
    if (strategy == OAK_ONE_FOR_ONE) {
        OT_CHECK_UINT_EQ(child_pid(sup, w), pw);
        OT_CHECK_UINT_EQ(child_pid(sup, b), pb);
        OT_CHECK(!os_gone(osb));
    } else {
        /* one_for_all and rest_for_one: the later siblings restarted,
         * the later program stopped and started again. */
        OT_EVENTUALLY(child_pid(sup, b) != pb && child_pid(sup, b) != OAK_NOPID, OT_LONG_MS);
        OT_CHECK_UINT_NE(child_pid(sup, w), pw);
        OT_CHECK(os_gone(osb));
    }
    int new_a = oak_osproc_os_pid(child_pid(sup, a));
    int new_b = oak_osproc_os_pid(child_pid(sup, b));
    OT_CHECK_INT_GT(new_a, 0);
    OT_CHECK_INT_NE(new_a, osa);
    OT_CHECK_INT_EQ(oak_supervisor_stop(sup), 0);
    OT_CHECK(os_gone(new_a));
    OT_CHECK(os_gone(new_b));
}

static void supervisor_main(void *arg)
{
    (void)arg;
    oak_log_set_level(OAK_LOG_NONE);
    sup_strategy(OAK_ONE_FOR_ONE);
    sup_strategy(OAK_ONE_FOR_ALL);
    sup_strategy(OAK_REST_FOR_ONE);

    /* Transient: status 0 is normal (not restarted), status 1 is. And
     * terminate_child / brutal_kill. */
    static const char *const ok_argv[] = {HELPER, "exit", "0", NULL};
    static const oak_osproc_opts ok = {.path = HELPER, .argv = ok_argv};
    oak_child_spec spec;
    oak_osproc_child_spec(&spec, oak_atom_from("once"), &ok);
    spec.restart = OAK_TRANSIENT;
    oak_supervisor_def def = {.flags = OAK_SUP_FLAGS_DEFAULT, .children = &spec, .count = 1};
    oak_pid sup;
    OT_CHECK_INT_EQ(oak_supervisor_start(&def, 0, &sup, NULL), 0);
    OT_EVENTUALLY(child_pid(sup, oak_atom_from("once")) == OAK_NOPID, OT_LONG_MS);
    oak_child_counts cc;
    OT_CHECK_INT_EQ(oak_supervisor_count_children(sup, &cc), 0);
    OT_CHECK_UINT_EQ(cc.active, 0);
    OT_CHECK_INT_EQ(oak_supervisor_stop(sup), 0);

    static const oak_osproc_opts brutal = {.path = HELPER, .argv = sleep_argv,
                                           .stop_timeout_ms = OAK_BRUTAL_KILL};
    oak_osproc_child_spec(&spec, oak_atom_from("brutal"), &brutal);
    OT_CHECK_INT_EQ(spec.shutdown, OAK_BRUTAL_KILL);
    OT_CHECK_INT_EQ(oak_supervisor_start(&def, 0, &sup, NULL), 0);
    int os = oak_osproc_os_pid(child_pid(sup, oak_atom_from("brutal")));
    OT_CHECK_INT_GT(os, 0);
    OT_CHECK_INT_EQ(oak_supervisor_terminate_child(sup, oak_atom_from("brutal")), 0);
    OT_EVENTUALLY(os_gone(os), OT_LONG_MS);
    OT_CHECK_INT_EQ(oak_supervisor_restart_child(sup, oak_atom_from("brutal"), NULL, NULL), 0);
    OT_CHECK_INT_EQ(oak_supervisor_stop(sup), 0);

    /* A missing program: the supervisor's start fails with the reason. */
    static const oak_osproc_opts missing = {.path = "/no/such/program"};
    oak_osproc_child_spec(&spec, oak_atom_from("missing"), &missing);
    oak_reason why;
    OT_CHECK_INT_EQ(oak_supervisor_start(&def, 0, &sup, &why), -ECANCELED);
    char r[600];
    oak_reason_str(&why, r, sizeof r);
    OT_CHECK_STR_EQ(r, "{shutdown,{failed_to_start_child,missing,{enoent,\"/no/such/program\"}}}");
    OT_EVENTUALLY(zombie_children() == 0, OT_LONG_MS);
}

static void supervisors_run_programs_with_every_strategy(void **state)
{
    (void)state;
    OT_RUN(supervisor_main, NULL);
}

/* ---- intensity -------------------------------------------------------------------- */

static void intensity_main(void *arg)
{
    (void)arg;
    oak_log_set_level(OAK_LOG_NONE);
    oak_trap_exit(true);
    /* A program that exits 1 at once, permanent, in a sub-supervisor with
     * intensity 3: the sub-supervisor gives up, the top one restarts it
     * until its own intensity (1) is spent, and exits shutdown. */
    static const char *const one_argv[] = {HELPER, "exit", "1", NULL};
    static const oak_osproc_opts one = {.path = HELPER, .argv = one_argv};
    static oak_child_spec inner_spec;
    oak_osproc_child_spec(&inner_spec, oak_atom_from("crashy"), &one);
    static oak_supervisor_def inner = {.flags = {OAK_ONE_FOR_ONE, 3, 5, OAK_AUTO_SHUTDOWN_NEVER},
                                       .children = &inner_spec, .count = 1};
    oak_child_spec top_spec = {.id = oak_atom_from("inner"), .start = oak_supervisor_start_fn,
                               .arg = &inner, .type = OAK_SUPERVISOR};
    oak_supervisor_def top = {.flags = {OAK_ONE_FOR_ONE, 1, 5, OAK_AUTO_SHUTDOWN_NEVER},
                              .children = &top_spec, .count = 1};
    oak_pid sup;
    int rc = oak_supervisor_start(&top, OAK_GEN_LINK, &sup, NULL);
    if (rc == 0) {
        ot_signal s = OT_RECV_EXIT(OT_LONG_MS);
        OT_CHECK_UINT_EQ(s.from, sup);
        OT_CHECK_ATOM_EQ(s.reason, OAK_SHUTDOWN);
    } else {
        /* It may already give up during the start. */
        OT_CHECK_INT_EQ(rc, -ECANCELED);
    }
    OT_EVENTUALLY(zombie_children() == 0, OT_LONG_MS);
}

static void restart_intensity_escalates_up_the_tree(void **state)
{
    (void)state;
    OT_RUN(intensity_main, NULL);
}

/* ---- readiness ---------------------------------------------------------------- */

static void ready_main(void *arg)
{
    (void)arg;
    oak_log_set_level(OAK_LOG_NONE);
    oak_reason why;
    oak_pid pid;
    /* s6's notification fd: ready 300 ms after the exec. */
    const char *late[] = {HELPER, "ready-fd", "300", "5", NULL};
    oak_osproc_opts o = {.path = HELPER, .argv = late, .notify_fd = 5};
    int64_t t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_osproc_start(&o, 0, &pid, &why), 0);
    OT_CHECK_INT_GE(ot_ms_since(t0), 250);
    OT_CHECK_INT_EQ(oak_osproc_stop(pid), 0);

    /* Not ready in time: killed, and the start fails. */
    const char *slow[] = {HELPER, "ready-fd", "5000", "3", NULL};
    oak_osproc_opts s = {.path = HELPER, .argv = slow, .notify_fd = 3, .ready_timeout_ms = 200};
    t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_osproc_start(&s, 0, &pid, &why), -ETIMEDOUT);
    OT_CHECK_INT_LT(ot_ms_since(t0), 3000);
    char r[600];
    oak_reason_str(&why, r, sizeof r);
    OT_CHECK_STR_EQ(r, "{etimedout,{ready,\"" HELPER "\"}}");

    /* Exits before it is ready: its reason. */
    const char *quit[] = {HELPER, "exit", "3", NULL};
    oak_osproc_opts q = {.path = HELPER, .argv = quit, .notify_fd = 3};
    OT_CHECK_INT_EQ(oak_osproc_start(&q, 0, &pid, &why), -ECHILD);
    oak_reason_str(&why, r, sizeof r);
    OT_CHECK_STR_EQ(r, "{exit_status,3}");

    /* Closes the descriptor without a newline. */
    const char *shut[] = {HELPER, "close-fd", "3", NULL};
    oak_osproc_opts c = {.path = HELPER, .argv = shut, .notify_fd = 3};
    OT_CHECK_INT_EQ(oak_osproc_start(&c, 0, &pid, &why), -EPIPE);

    /* A bad descriptor number. */
    oak_osproc_opts b = {.path = HELPER, .notify_fd = 2};
    OT_CHECK_INT_EQ(oak_osproc_start(&b, 0, &pid, &why), -EINVAL);

    /* systemd's NOTIFY_SOCKET. */
    const char *sock[] = {HELPER, "ready-socket", "300", NULL};
    oak_osproc_opts n = {.path = HELPER, .argv = sock, .notify_socket = true,
                         .ready_timeout_ms = OT_LONG_MS};
    t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_osproc_start(&n, 0, &pid, &why), 0);
    OT_CHECK_INT_GE(ot_ms_since(t0), 250);
    OT_CHECK_INT_EQ(oak_osproc_stop(pid), 0);
    OT_EVENTUALLY(zombie_children() == 0, OT_LONG_MS);
}

static void a_program_counts_as_started_when_it_says_it_is_ready(void **state)
{
    (void)state;
    OT_RUN(ready_main, NULL);
}

/* ---- many ---------------------------------------------------------------------------- */

#if defined(OAK_TEST_UNDER_TSAN) || defined(__SANITIZE_ADDRESS__)
#define MANY 1000
#else
#define MANY 10000
#endif

typedef struct many_arg {
    oak_pid driver;
    int count;
} many_arg;

static void many_worker(void *arg)
{
    many_arg a = *(many_arg *)arg;
    static const char *const t[] = {"/bin/true", NULL};
    oak_osproc_opts o = {.path = "/bin/true", .argv = t};
    int bad = 0;
    oak_trap_exit(true);
    for (int i = 0; i < a.count; i++) {
        oak_pid pid;
        oak_reason why = {0};
        int rc = oak_osproc_start(&o, OAK_GEN_LINK, &pid, &why);
        if (rc != 0) {
            if (!bad++)
                fprintf(stderr, "start: %d %s %s\n", rc, oak_atom_name(why.atom), why.detail);
            continue;
        }
        oak_msg *m;
        if (oak_receive(&m, OT_LONG_MS, match_exit_from, &pid) != 0) {
            bad++;
            continue;
        }
        const oak_down *d = m->data;
        if (d->reason != OAK_NORMAL && !bad++)
            fprintf(stderr, "exit: %s %s\n", oak_atom_name(d->reason), d->detail ? d->detail : "");
        oak_msg_free(m);
    }
    OT_SEND_U64(a.driver, OT_TAG_DONE, bad);
}

static void many_main(void *arg)
{
    (void)arg;
    enum { WORKERS = 4 };
    for (int i = 0; i < WORKERS; i++) {
        many_arg a = {oak_self(), MANY / WORKERS};
        OT_SPAWN_COPY(many_worker, &a, 0);
    }
    for (int i = 0; i < WORKERS; i++)
        OT_CHECK_UINT_EQ(OT_RECV_U64(OT_TAG_DONE, 20 * OT_LONG_MS), 0);
    OT_CHECK_INT_EQ(zombie_children(), 0);
}

static void many_short_lived_programs_leave_no_zombie(void **state)
{
    (void)state;
    ot_run_limit_s = 240;
    OT_RUN(many_main, NULL);
    assert_int_equal(zombie_children(), 0);
}

/* ---- a function in a forked child ----------------------------------------------- */

/* What the functions below do runs in the child of a fork of this
 * multi-threaded program: async-signal-safe calls only (write, read,
 * fcntl, fork, pause, getpid, open, signal dispositions), numbers
 * formatted by hand. */
static void put(int fd, const char *s) { ssize_t unused = write(fd, s, strlen(s)); (void)unused; }

static void put_int(int fd, long v)
{
    char b[24];
    int k = (int)sizeof b;
    b[--k] = 0;
    do
        b[--k] = (char)('0' + v % 10);
    while ((v /= 10) && k > 0);
    put(fd, b + k);
}

static int fn_exit(void *arg) { return (int)(intptr_t)arg; }

static int fn_crash(void *arg)
{
    (void)arg;
    raise(SIGSEGV);
    return 0;
}

/* The open descriptors below 1024, as one line "0 1 2 ...". */
static int fn_fds(void *arg)
{
    (void)arg;
    char line[512] = "";
    size_t n = 0;
    for (int fd = 0; fd < 1024 && n + 8 < sizeof line; fd++) {
        if (fcntl(fd, F_GETFD) < 0)
            continue;
        if (n)
            line[n++] = ' ';
        int k = fd, w = fd >= 100 ? 3 : fd >= 10 ? 2 : 1;
        for (int i = w - 1; i >= 0; i--, k /= 10)
            line[n + (size_t)i] = (char)('0' + k % 10);
        n += (size_t)w;
    }
    line[n++] = '\n';
    ssize_t unused = write(1, line, n);
    (void)unused;
    return 0;
}

/* Reads one line from stdin, writes "got LINE" and the value of OAK_FN_X. */
static int fn_echo(void *arg)
{
    (void)arg;
    char buf[64];
    size_t n = 0;
    while (n + 1 < sizeof buf && read(0, buf + n, 1) == 1 && buf[n] != '\n')
        n++;
    buf[n] = 0;
    put(1, "got ");
    put(1, buf);
    put(1, "\n");
    const char *x = getenv("OAK_FN_X");
    put(1, x ? x : "(none)");
    put(1, "\n");
    return 0;
}

/* A grandchild in its group; prints its pid and waits to be stopped,
 * ignoring SIGTERM when arg is non-NULL. */
static int fn_grandchild(void *arg)
{
    if (arg)
        signal(SIGTERM, SIG_IGN);
    pid_t g = fork();
    if (g == 0)
        for (;;)
            pause();
    put_int(1, g);
    put(1, "\n");
    for (;;)
        pause();
}

/* Touches arg bytes of stack, a page at a time, on the real stack (alloca:
 * not moved to the heap by a sanitizer's fake stacks). */
static int fn_deep(void *arg)
{
    size_t n = (size_t)(uintptr_t)arg;
    volatile char *p = alloca(n);
    for (size_t i = 0; i < n; i += 4096)
        p[i] = 1;
    return p[0] == 1 ? 0 : 1;
}

/* Says it is ready on descriptor 3 after 200 ms, then waits to be stopped. */
static int fn_ready_late(void *arg)
{
    (void)arg;
    struct timespec t = {0, 200 * 1000 * 1000};
    nanosleep(&t, NULL);
    put(3, "\n");
    for (;;)
        pause();
}

static ot_signal run_fn_to_exit(int (*fn)(void *), void *arg)
{
    oak_osproc_opts o = {.fn = fn, .fn_arg = arg};
    oak_pid mon;
    start_mon(&o, &mon);
    return recv_exit_of(mon);
}

static void fn_main(void *arg)
{
    (void)arg;
    ot_signal s = run_fn_to_exit(fn_exit, (void *)0);
    OT_CHECK_ATOM_EQ(s.reason, OAK_NORMAL);
    s = run_fn_to_exit(fn_exit, (void *)(intptr_t)7);
    OT_CHECK_ATOM_EQ(s.reason, oak_atom_from("exit_status"));
    OT_CHECK_STR_EQ(s.detail, "7");
    s = run_fn_to_exit(fn_exit, (void *)(intptr_t)256); /* & 255 */
    OT_CHECK_ATOM_EQ(s.reason, OAK_NORMAL);
    s = run_fn_to_exit(fn_crash, NULL);
    OT_CHECK_ATOM_EQ(s.reason, oak_atom_from("signal"));
    OT_CHECK_STR_EQ(s.detail, "sigsegv");

    /* Descriptors: only 0, 1, 2 and the one given (as 3), although this
     * program holds many more (the runtime's, a pipe opened without
     * O_CLOEXEC here). */
    int leak[2];
    OT_CHECK_INT_EQ(pipe(leak), 0);
    oak_osproc_opts f = {.fn = fn_fds, .stdout_mode = OAK_STDIO_PIPE, .output_to = oak_self(),
                         .fds = &leak[0], .fd_count = 1};
    oak_pid mon;
    start_mon(&f, &mon);
    OT_CHECK_STR_EQ(recv_line().text, "0 1 2 3");
    OT_CHECK_ATOM_EQ(recv_exit_of(mon).reason, OAK_NORMAL);
    close(leak[0]);
    close(leak[1]);

    /* stdin from oak, stdout lines back, env as its environ. */
    const char *env[] = {"OAK_FN_X=42", NULL};
    oak_osproc_opts e = {.fn = fn_echo, .env = env, .stdin_mode = OAK_STDIO_PIPE,
                         .stdout_mode = OAK_STDIO_PIPE, .output_to = oak_self()};
    oak_pid pid = start_mon(&e, &mon);
    OT_CHECK_INT_EQ(oak_osproc_write(pid, "hello\n", 6, OT_LONG_MS), 0);
    OT_CHECK_STR_EQ(recv_line().text, "got hello");
    OT_CHECK_STR_EQ(recv_line().text, "42");
    OT_CHECK_ATOM_EQ(recv_exit_of(mon).reason, OAK_NORMAL);

    /* Bad input is a clear error. */
    const char *argv[] = {"x", NULL};
    oak_osproc_opts bad = {.fn = fn_exit, .argv = argv};
    oak_reason why = {0};
    OT_CHECK_INT_EQ(oak_osproc_start(&bad, 0, NULL, &why), -EINVAL);
    OT_CHECK_ATOM_EQ(why.atom, OAK_BADARG);
    OT_CHECK_STR_EQ(oak_reason_detail(&why), "argv");
    oak_osproc_opts tiny = {.fn = fn_exit, .stack_size = 16};
    OT_CHECK_INT_EQ(oak_osproc_start(&tiny, 0, NULL, &why), -EINVAL);

    /* fn runs on the mirror's stack: 256 KiB fit in a 1 MiB one; on the
     * default 64 KiB they reach the guard gap below it. */
    void *deep = (void *)(uintptr_t)(256 * 1024);
    oak_osproc_opts big = {.fn = fn_deep, .fn_arg = deep, .stack_size = 1024 * 1024};
    start_mon(&big, &mon);
    OT_CHECK_ATOM_EQ(recv_exit_of(mon).reason, OAK_NORMAL);
    ot_signal over = run_fn_to_exit(fn_deep, deep);
    OT_CHECK_STR_EQ(over.detail, "sigsegv");

    /* Readiness: the start returns once fn has said so. */
    oak_osproc_opts rd = {.fn = fn_ready_late, .notify_fd = 3, .ready_timeout_ms = OT_LONG_MS};
    int64_t t0 = ot_now_ns();
    pid = start_mon(&rd, &mon);
    OT_CHECK_INT_GE(ot_ms_since(t0), 150);
    OT_CHECK_INT_EQ(oak_osproc_stop(pid), 0);
    OT_CHECK_ATOM_EQ(recv_exit_of(mon).reason, OAK_SHUTDOWN);
    OT_CHECK_INT_EQ(zombie_children(), 0);
}

static void a_function_runs_in_a_forked_child_as_a_program_does(void **state)
{
    (void)state;
    oak_log_set_level(OAK_LOG_NONE);
    OT_RUN(fn_main, NULL);
}

/* Stopped and restarted as programs are; its grandchildren go with it. */
static void fn_tree_main(void *arg)
{
    (void)arg;
    for (int ignore = 0; ignore < 2; ignore++) {
        oak_osproc_opts o = {.fn = fn_grandchild, .fn_arg = ignore ? (void *)1 : NULL,
                             .stdout_mode = OAK_STDIO_PIPE, .output_to = oak_self(),
                             .stop_timeout_ms = 200};
        oak_pid mon;
        oak_pid pid = start_mon(&o, &mon);
        int os = oak_osproc_os_pid(pid);
        OT_CHECK_INT_GE(pidfds_open(), 1); /* the program's, the watchdog's */
        int g = atoi(recv_line().text);
        OT_CHECK_INT_GT(g, 0);
        OT_CHECK(!os_gone(g));
        int64_t t0 = ot_now_ns();
        OT_CHECK_INT_EQ(oak_osproc_stop(pid), 0);
        if (ignore)
            OT_CHECK_INT_GE(ot_ms_since(t0), 150); /* SIGTERM ignored: killed at the timeout */
        OT_CHECK(os_gone(os));
        OT_EVENTUALLY(os_gone(g), OT_LONG_MS);
        OT_CHECK_ATOM_EQ(recv_exit_of(mon).reason, OAK_SHUTDOWN);
    }

    /* In a supervisor: exit 1 is abnormal, so it is restarted. */
    static oak_osproc_opts again = {.fn = fn_exit, .fn_arg = (void *)1, .path = "exit_one"};
    oak_child_spec spec;
    OT_CHECK_INT_EQ(oak_osproc_child_spec(&spec, oak_atom_from("f"), &again), 0);
    OT_CHECK_STR_EQ(spec.name, "exit_one");
    static oak_supervisor_def def;
    def = (oak_supervisor_def){
        .flags = {.strategy = OAK_ONE_FOR_ONE, .intensity = 3, .period = 60},
        .children = &spec,
        .count = 1,
    };
    oak_pid sup;
    oak_reason why;
    OT_CHECK_INT_EQ(oak_supervisor_start(&def, OAK_GEN_LINK, &sup, &why), 0);
    /* Four exits within the period: the fourth restart is one too many. */
    ot_signal s = recv_exit_of(sup);
    OT_CHECK_ATOM_EQ(s.reason, OAK_SHUTDOWN);
    OT_EVENTUALLY(zombie_children() == 0, OT_LONG_MS);
}

static void a_forked_function_is_stopped_and_restarted_with_its_tree(void **state)
{
    (void)state;
    oak_log_set_level(OAK_LOG_NONE);
    OT_RUN(fn_tree_main, NULL);
}

/* ---- a pty -------------------------------------------------------------------- */

static int fn_isatty(void *arg)
{
    (void)arg;
    int ctty = open("/dev/tty", O_RDWR | O_CLOEXEC);
    put(1, isatty(0) && isatty(1) && isatty(2) ? "tty" : "notty");
    put(1, ctty >= 0 ? " ctty\n" : " noctty\n");
    return 0;
}

static void pty_main(void *arg)
{
    (void)arg;
    const char *sh[] = {"sh", "-c", "tty; [ -t 0 ] && echo in; [ -t 1 ] && echo out; [ -t 2 ] && echo err >&2", NULL};
    oak_osproc_opts o = {.path = "/bin/sh", .argv = sh, .pty = true, .output_to = oak_self()};
    oak_pid mon;
    start_mon(&o, &mon);
    line_copy c = recv_line();
    OT_CHECK_INT_EQ(strncmp(c.text, "/dev/pts/", 9), 0);
    OT_CHECK_INT_EQ(c.stream, 1);
    OT_CHECK_STR_EQ(recv_line().text, "in");
    OT_CHECK_STR_EQ(recv_line().text, "out");
    c = recv_line();
    OT_CHECK_STR_EQ(c.text, "err"); /* stderr is the terminal too: stream 1 */
    OT_CHECK_INT_EQ(c.stream, 1);
    OT_CHECK_ATOM_EQ(recv_exit_of(mon).reason, OAK_NORMAL);

    /* Typed input is read, not echoed; ^D ends cat's input. */
    const char *rd[] = {"sh", "-c", "read x; echo \"got $x\"; exec cat", NULL};
    oak_osproc_opts r = {.path = "/bin/sh", .argv = rd, .pty = true, .output_to = oak_self()};
    oak_pid pid = start_mon(&r, &mon);
    OT_CHECK_INT_EQ(oak_osproc_write(pid, "hi\n", 3, OT_LONG_MS), 0);
    OT_CHECK_STR_EQ(recv_line().text, "got hi");
    OT_CHECK_INT_EQ(oak_osproc_write(pid, "more\n", 5, OT_LONG_MS), 0);
    OT_CHECK_STR_EQ(recv_line().text, "more");
    OT_CHECK_INT_EQ(oak_osproc_close_stdin(pid), 0);
    OT_CHECK_ATOM_EQ(recv_exit_of(mon).reason, OAK_NORMAL);
    OT_NO_MSG(OAK_OSPROC_TAG_OUTPUT, OT_SETTLE_MS);

    /* A function sees the terminal as its controlling terminal. */
    oak_osproc_opts f = {.fn = fn_isatty, .pty = true, .output_to = oak_self()};
    start_mon(&f, &mon);
    OT_CHECK_STR_EQ(recv_line().text, "tty ctty");
    OT_CHECK_ATOM_EQ(recv_exit_of(mon).reason, OAK_NORMAL);

    /* A stop reaches the session. */
    const char *slp[] = {HELPER, "sleep", NULL};
    oak_osproc_opts z = {.path = HELPER, .argv = slp, .pty = true, .output_to = oak_self()};
    pid = start_mon(&z, &mon);
    int os = oak_osproc_os_pid(pid);
    OT_CHECK_INT_EQ(oak_osproc_stop(pid), 0);
    OT_CHECK(os_gone(os));
    recv_exit_of(mon);

    /* A pty with a stdio mode, or with nowhere to send its output. */
    oak_osproc_opts bad = {.path = "/bin/sh", .pty = true, .stdout_mode = OAK_STDIO_PIPE,
                           .output_to = oak_self()};
    oak_reason why = {0};
    OT_CHECK_INT_EQ(oak_osproc_start(&bad, 0, NULL, &why), -EINVAL);
    OT_CHECK_STR_EQ(oak_reason_detail(&why), "pty");
    oak_osproc_opts nowhere = {.path = "/bin/sh", .pty = true};
    OT_CHECK_INT_EQ(oak_osproc_start(&nowhere, 0, NULL, &why), -EINVAL);
    OT_CHECK_STR_EQ(oak_reason_detail(&why), "output_to");
    OT_CHECK_INT_EQ(zombie_children(), 0);
}

static void a_pty_on_request_is_the_childs_terminal(void **state)
{
    (void)state;
    oak_log_set_level(OAK_LOG_NONE);
    OT_RUN(pty_main, NULL);
}

/* ---- without pidfds ----------------------------------------------------------- */

/* main() sets OAK_OSPROC_NO_PIDFD=1 for this group before the runtime
 * starts: exits are then seen through SIGCHLD and waitid(P_PID). */
static void nopidfd_main(void *arg)
{
    (void)arg;
    const char *slp[] = {HELPER, "sleep", NULL};
    oak_osproc_opts z = {.path = HELPER, .argv = slp, .stop_timeout_ms = 2000};
    oak_pid mon;
    oak_pid pid = start_mon(&z, &mon);
    int os = oak_osproc_os_pid(pid);
    OT_CHECK_INT_GT(os, 0);
    OT_CHECK_INT_EQ(pidfds_open(), 0); /* the fallback is in use */

    /* Stopped, then reaped. */
    OT_CHECK_INT_EQ(oak_osproc_stop(pid), 0);
    OT_CHECK(os_gone(os));
    OT_CHECK_ATOM_EQ(recv_exit_of(mon).reason, OAK_SHUTDOWN);

    /* Exits mirrored, for programs (the status group's checks, here in
     * this process) and functions. */
    status_main(NULL);
    ot_signal s = run_fn_to_exit(fn_exit, (void *)(intptr_t)5);
    OT_CHECK_STR_EQ(s.detail, "5");

    /* A killed mirror: the reaper thread reaps its program by pid. */
    pid = start_mon(&z, &mon);
    os = oak_osproc_os_pid(pid);
    oak_exit_pid(pid, OAK_KILL);
    OT_CHECK_ATOM_EQ(recv_exit_of(mon).reason, OAK_KILLED);
    OT_EVENTUALLY(os_gone(os), OT_LONG_MS);

    /* Several at once, each waiter woken by every SIGCHLD: all mirrored,
     * no zombie. */
    enum { N = 20 };
    oak_pid mons[N];
    const char *quick[] = {HELPER, "exit", "4", NULL};
    oak_osproc_opts q = {.path = HELPER, .argv = quick};
    for (int i = 0; i < N; i++)
        start_mon(&q, &mons[i]);
    for (int i = 0; i < N; i++)
        OT_CHECK_STR_EQ(recv_exit_of(mons[i]).detail, "4");
    OT_EVENTUALLY(zombie_children() == 0, OT_LONG_MS);
    OT_CHECK_INT_EQ(pidfds_open(), 0);
}

static void without_pidfds_exits_are_seen_through_sigchld(void **state)
{
    (void)state;
    oak_log_set_level(OAK_LOG_NONE);
    OT_RUN(nopidfd_main, NULL);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest status[] = {cmocka_unit_test(exits_mirror_the_program_status)};
    const struct CMUnitTest errors[] = {cmocka_unit_test(a_missing_program_is_a_clear_start_error)};
    const struct CMUnitTest output[] = {cmocka_unit_test(output_comes_as_bounded_lines)};
    const struct CMUnitTest in[] = {cmocka_unit_test(stdin_is_writable_from_oak)};
    const struct CMUnitTest fds[] = {cmocka_unit_test(a_child_sees_only_0_1_2_and_the_fds_it_was_given)};
    const struct CMUnitTest setup[] = {cmocka_unit_test(the_child_gets_cwd_umask_rlimits_env_and_its_own_group)};
    const struct CMUnitTest stop[] = {cmocka_unit_test(stop_signals_the_group_then_kills_after_the_timeout)};
    const struct CMUnitTest gc[] = {cmocka_unit_test(grandchildren_go_with_their_program)};
    const struct CMUnitTest sup[] = {cmocka_unit_test(supervisors_run_programs_with_every_strategy)};
    const struct CMUnitTest inten[] = {cmocka_unit_test(restart_intensity_escalates_up_the_tree)};
    const struct CMUnitTest ready[] = {cmocka_unit_test(a_program_counts_as_started_when_it_says_it_is_ready)};
    const struct CMUnitTest many[] = {cmocka_unit_test(many_short_lived_programs_leave_no_zombie)};
    const struct CMUnitTest fn[] = {cmocka_unit_test(a_function_runs_in_a_forked_child_as_a_program_does)};
    const struct CMUnitTest fn_tree[] = {cmocka_unit_test(a_forked_function_is_stopped_and_restarted_with_its_tree)};
    const struct CMUnitTest pty[] = {cmocka_unit_test(a_pty_on_request_is_the_childs_terminal)};
    const struct CMUnitTest nopidfd[] = {cmocka_unit_test(without_pidfds_exits_are_seen_through_sigchld)};
    const char *g = argc > 1 ? argv[1] : "";
#define GROUP(name, t) if (!strcmp(g, name)) return cmocka_run_group_tests(t, NULL, NULL)
    GROUP("status", status);
    GROUP("errors", errors);
    GROUP("output", output);
    GROUP("stdin", in);
    GROUP("fds", fds);
    GROUP("setup", setup);
    GROUP("stop", stop);
    GROUP("grandchild", gc);
    GROUP("supervisor", sup);
    GROUP("intensity", inten);
    GROUP("ready", ready);
    GROUP("many", many);
    GROUP("fn", fn);
    GROUP("fn_tree", fn_tree);
    GROUP("pty", pty);
    if (!strcmp(g, "nopidfd"))
        setenv("OAK_OSPROC_NO_PIDFD", "1", 1);
    GROUP("nopidfd", nopidfd);
    fprintf(stderr, "usage: test_osproc GROUP\n");
    return 100;
}
