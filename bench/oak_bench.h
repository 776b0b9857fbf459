/* oak_bench.h - the few helpers the oak benchmark programs share: a
 * monotonic clock, the resident set size, argument parsing, the RESULT line
 * and loud failure. Header-only; every program is one .c file.
 *
 * The peers (bench/erlang, bench/go, bench/caf) do the same things the same
 * way: time with the monotonic clock, memory as VmRSS from /proc/self/status.
 */
#ifndef OAK_BENCH_H
#define OAK_BENCH_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <oak.h>

static inline int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* VmRSS of this process in bytes, or -1. */
static inline int64_t bench_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    int64_t kb = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtoll(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

/* argv[i] as a positive count, or dflt when absent. */
static inline long bench_arg(int argc, char **argv, int i, long dflt)
{
    if (argc <= i)
        return dflt;
    char *end;
    long v = strtol(argv[i], &end, 10);
    if (*end || v <= 0) {
        fprintf(stderr, "FAIL bad argument %s\n", argv[i]);
        exit(2);
    }
    return v;
}

static inline OAK_NORETURN void bench_fail(const char *fmt, ...)
    OAK_PRINTF(1, 2);
static inline void bench_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stdout);
    _Exit(1);
}

/* oak_run() and check that the first process ended normally. */
static inline void bench_run(oak_entry main_proc, void *arg)
{
    int rc = oak_run(main_proc, arg, NULL);
    if (rc != 0)
        bench_fail("oak_run returned %d (%s)", rc,
                   rc < 0 ? oak_strerror(rc) : "main process crashed");
}

/* Check an oak call that returns 0 or -errno. */
#define BENCH_CHECK(call)                                                      \
    do {                                                                       \
        int bench_rc_ = (call);                                                \
        if (bench_rc_ < 0)                                                     \
            bench_fail("%s:%d: %s: %s", __FILE__, __LINE__, #call,             \
                       oak_strerror(bench_rc_));                               \
    } while (0)

#endif
