/* An oak program that runs programs dies, by SIGTERM or by SIGKILL: none of
 * its programs, nor their children, survive. The oak programs under test
 * (tests/helpers/osproc_tree.c and examples/ostree) run as children of
 * this test, which uses no runtime itself.
 *
 * ctest groups: kill9 kill9_setsid ostree_term ostree_kill
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oak_test.h"
#include "helpers/cgroup2.h"

extern char **environ;

/* Start argv with stdout to a pipe; returns the pid, *out the read end. */
static pid_t run(char *const argv[], int *out)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    *out = p[0];
    return pid;
}

/* One line from fd within timeout_ms (into buf, without the newline). */
static bool read_line(int fd, char *buf, size_t size, int timeout_ms)
{
    size_t len = 0;
    int64_t t0 = ot_now_ns();
    while (len + 1 < size) {
        int left = timeout_ms - (int)ot_ms_since(t0);
        struct pollfd pf = {fd, POLLIN, 0};
        if (left <= 0 || poll(&pf, 1, left) <= 0)
            return false;
        ssize_t n = read(fd, buf + len, 1);
        if (n <= 0)
            return false;
        if (buf[len] == '\n') {
            buf[len] = 0;
            return true;
        }
        len++;
    }
    return false;
}

/* Is pid a live process (a zombie is not)? */
static bool alive(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[got] = 0;
    char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

/* Every live descendant of root, from /proc. Returns how many. */
static int descendants(pid_t root, pid_t *out, int max)
{
    enum { N = 65536 };
    static pid_t pid_of[N], ppid_of[N];
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) && n < N) {
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
        int pp;
        if (rp && sscanf(rp + 2, "%c %d", &st, &pp) == 2 && st != 'Z') {
            pid_of[n] = atoi(e->d_name);
            ppid_of[n++] = pp;
        }
    }
    if (d)
        closedir(d);
    int k = 0;
    out[k++] = root;
    for (int i = 0; i < k; i++) /* breadth first */
        for (int j = 0; j < n && k < max; j++)
            if (ppid_of[j] == out[i])
                out[k++] = pid_of[j];
    for (int i = 1; i < k; i++)
        out[i - 1] = out[i];
    return k - 1;
}

/* Wait until none of pids is alive, at most timeout_ms; returns a survivor
 * or 0. */
static pid_t survivor_after(const pid_t *pids, int n, int timeout_ms)
{
    int64_t t0 = ot_now_ns();
    for (;;) {
        pid_t s = 0;
        for (int i = 0; i < n && !s; i++)
            if (alive(pids[i]))
                s = pids[i];
        if (!s || ot_ms_since(t0) > timeout_ms)
            return s;
        usleep(10000);
    }
}

static int wait_status(pid_t pid, int timeout_ms)
{
    int64_t t0 = ot_now_ns();
    int st = 0;
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (ot_ms_since(t0) > timeout_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        usleep(10000);
    }
    return st;
}

static void kill9_run(char *const *argv, int want)
{
    int out;
    pid_t tree = run(argv, &out);
    char line[256];
    assert_true(read_line(out, line, sizeof line, 20000));
    assert_int_equal(strncmp(line, "os_pids ", 8), 0);
    /* Let the shells start their own children. */
    pid_t all[64];
    int n = 0;
    for (int tries = 0; tries < 200 && n < want; tries++) {
        usleep(10000);
        n = descendants(tree, all, 64);
    }
    assert_true(n >= want);
    kill(tree, SIGKILL);
    int st = wait_status(tree, 10000);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    pid_t s = survivor_after(all, n, 5000);
    if (s) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "ps -o pid,ppid,pgid,sid,args -p %d", (int)s);
        if (system(cmd) < 0)
            fprintf(stderr, "survivor %d\n", (int)s);
        for (int i = 0; i < n; i++)
            kill(all[i], SIGKILL);
    }
    assert_int_equal(s, 0);
    close(out);
}

static void kill9_leaves_no_process_of_the_tree(void **state)
{
    (void)state;
    /* The watchdog; shell 1 and its two sleeps; the sleep that replaced
     * shell 2; shell 3, its child shell and that one's sleep: 8. */
    char *argv[] = {OAK_OSPROC_TREE, "sleep 25 & sleep 25 & wait", "exec sleep 25",
                    "/bin/sh -c 'sleep 25 & wait' & wait", NULL};
    kill9_run(argv, 8);
}

/* A grandchild in a session of its own is out of every group the runtime
 * knows: only the program's cgroup reaches it. */
static void kill9_reaches_a_grandchild_that_left_the_group(void **state)
{
    (void)state;
    if (!writable_cgroup2())
        skip();
    char *argv[] = {OAK_OSPROC_TREE, "setsid sleep 25 & wait", NULL};
    kill9_run(argv, 3); /* the watchdog, the shell, the sleep */
}

static void ostree_run(int sig)
{
#ifndef OAK_OSTREE
    (void)sig;
    skip();
#else
    char *argv[] = {OAK_OSTREE, NULL};
    int out;
    pid_t tree = run(argv, &out);
    char line[256];
    assert_true(read_line(out, line, sizeof line, 20000));
    pid_t p[3];
    assert_int_equal(sscanf(line, "os_pids %d %d %d", &p[0], &p[1], &p[2]), 3);
    for (int i = 0; i < 3; i++) {
        assert_true(alive(p[i]));
        char path[64], comm[64] = "";
        snprintf(path, sizeof path, "/proc/%d/comm", (int)p[i]);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        assert_non_null(fgets(comm, sizeof comm, f));
        fclose(f);
        assert_string_equal(comm, "sleep\n");
    }
    pid_t all[64];
    int n = descendants(tree, all, 64);
    assert_true(n >= 4); /* three programs and the watchdog */
    kill(tree, sig);
    int st = wait_status(tree, 20000);
    if (sig == SIGTERM)
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    else
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    pid_t s = survivor_after(all, n, 5000);
    for (int i = 0; s && i < n; i++)
        kill(all[i], SIGKILL);
    assert_int_equal(s, 0);
    close(out);
#endif
}

static void ostree_stops_its_programs_on_sigterm_and_exits_0(void **state)
{
    (void)state;
    ostree_run(SIGTERM);
}

static void ostree_killed_with_sigkill_leaves_none_alive(void **state)
{
    (void)state;
    ostree_run(SIGKILL);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest k9[] = {cmocka_unit_test(kill9_leaves_no_process_of_the_tree)};
    const struct CMUnitTest k9s[] = {
        cmocka_unit_test(kill9_reaches_a_grandchild_that_left_the_group)};
    const struct CMUnitTest term[] = {cmocka_unit_test(ostree_stops_its_programs_on_sigterm_and_exits_0)};
    const struct CMUnitTest kill[] = {cmocka_unit_test(ostree_killed_with_sigkill_leaves_none_alive)};
    const char *g = argc > 1 ? argv[1] : "";
    if (!strcmp(g, "kill9"))
        return cmocka_run_group_tests(k9, NULL, NULL);
    if (!strcmp(g, "kill9_setsid"))
        return cmocka_run_group_tests(k9s, NULL, NULL);
    if (!strcmp(g, "ostree_term"))
        return cmocka_run_group_tests(term, NULL, NULL);
    if (!strcmp(g, "ostree_kill"))
        return cmocka_run_group_tests(kill, NULL, NULL);
    fprintf(stderr, "usage: test_osproc_tree GROUP\n");
    return 100;
}
