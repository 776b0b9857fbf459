/* osload - the driver of the OS-process figures (bench/os.sh). Plain C, no
 * oak.
 *
 *   osload spawn N PROG
 *       the floor of os_spawn: N times fork, execve(PROG) with no
 *       arguments, waitpid; prints RESULT c.os_spawn <us per child> us
 *   osload cycles DIR N TIMEOUT_S IMPL
 *       os_restart: waits until DIR/stamps (written by osstamp, one line per
 *       start) has N + 1 lines, at most TIMEOUT_S seconds, and prints
 *       RESULT IMPL.os_restart <us per cycle> us: (last - first) / N over
 *       the first N + 1 starts. The stamps are taken by the program itself,
 *       so the polling here adds nothing to the figure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long count_arg(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v <= 0) {
        fprintf(stderr, "FAIL bad count %s\n", s);
        exit(2);
    }
    return v;
}

static int spawn_floor(long n, const char *prog)
{
    char *argv[] = {(char *)prog, NULL};
    long long t0 = now_ns();
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            execve(prog, argv, environ);
            _exit(127);
        }
        int st;
        if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) == 127) {
            fprintf(stderr, "FAIL spawn %ld of %s: %s\n", i, prog,
                    pid < 0 ? strerror(errno) : "did not run");
            return 1;
        }
    }
    printf("RESULT c.os_spawn %.1f us\n", (double)(now_ns() - t0) / (double)n / 1000.0);
    return 0;
}

/* Up to max stamps of DIR/stamps in t; returns how many. */
static long read_stamps(const char *path, long long *t, long max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    long k = 0;
    while (k < max && fscanf(f, "%lld", &t[k]) == 1)
        k++;
    fclose(f);
    return k;
}

static int cycles(const char *dir, long n, long timeout_s, const char *impl)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/stamps", dir);
    long long *t = calloc((size_t)n + 1, sizeof *t);
    if (!t)
        return 1;
    long long deadline = now_ns() + timeout_s * 1000000000LL;
    long k;
    while ((k = read_stamps(path, t, n + 1)) < n + 1) {
        if (now_ns() > deadline) {
            fprintf(stderr, "FAIL %s.os_restart: %ld starts in %ld s, wanted %ld\n", impl, k,
                    timeout_s, n + 1);
            return 1;
        }
        usleep(20000);
    }
    printf("RESULT %s.os_restart %.1f us\n", impl, (double)(t[n] - t[0]) / (double)n / 1000.0);
    free(t);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "spawn") == 0)
        return spawn_floor(count_arg(argv[2]), argv[3]);
    if (argc == 6 && strcmp(argv[1], "cycles") == 0)
        return cycles(argv[2], count_arg(argv[3]), count_arg(argv[4]), argv[5]);
    fprintf(stderr, "usage: osload spawn N PROG | osload cycles DIR N TIMEOUT_S IMPL\n");
    return 2;
}
