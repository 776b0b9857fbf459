/* oak_test.h - what the behaviour tests share.
 *
 * Every tests/test_*.c is one cmocka program. Each test function is one
 * behaviour; it starts the runtime with ot_run() / OT_RUN() and its own main
 * process, and checks what the processes saw.
 *
 * Checking inside processes
 * -------------------------
 * cmocka's assert_*() report a failure by longjmp()ing back to the test
 * runner. Inside an oak process that jump would leave the process's own
 * stack (usually on another thread than the one that called setjmp) and land
 * in the test function's frame with a scheduler half-way through a context
 * switch: undefined behaviour at best, a hang or a crash of the whole program
 * at worst. So code that runs inside a process never calls assert_*().
 *
 * It uses the OT_CHECK*() macros of this file instead. A failed check
 *   1. records the first failure of the run: file, line, the expression and
 *      both sides as text (later failures are printed, not kept);
 *   2. calls oak_shutdown(OT_STATUS_FAILED), so that a test whose main
 *      process now waits for a message that will never come ends at once
 *      instead of hanging until the watchdog fires;
 *   3. ends the calling process with reason `ot_check_failed` (detail
 *      "file:line"), so that the code after a failed check never runs on bad
 *      values (a message pointer that was never set, ...).
 * ot_run() calls oak_run() and, back on the test thread, turns a recorded
 * failure into a cmocka failure that names the place of the check. That is
 * the only place where cmocka's assertions meet the runtime: after
 * oak_run() has returned.
 *
 * Step 3 is wrong where a process may not end itself: in oak_defer()
 * cleanups (they run after the process has left its stack) and in match
 * functions of oak_receive(). There, use OT_EXPECT*(): the same checks with
 * steps 1 and 2 only. On a thread that is not a process (a foreign pthread,
 * the test thread) OT_CHECK*() skip step 3 by themselves and return.
 *
 * Hangs
 * -----
 * Each ot_run() starts a watchdog thread. When the run takes longer than
 * ot_run_limit_s seconds (default OT_RUN_LIMIT_S, times the environment
 * variable OAK_TEST_TIMEOUT_SCALE for slow sanitizer builds) it records a
 * failure and calls oak_shutdown(OT_STATUS_TIMEOUT); if oak_run() still has
 * not returned OT_ABORT_GRACE_S seconds later, the runtime is wedged and the
 * watchdog aborts the program (CTest reports the test as failed).
 *
 * After every run ot_run() also checks what the runtime promises about its
 * end: no process is left (oak_process_count() == 0) and no scheduler runs
 * (oak_scheduler_count() == 0). Leaks of stacks, messages, timers and
 * process-owned memory are found by the ASan+UBSan build of the suite.
 *
 * Timeouts in the tests
 * ---------------------
 * A wait for something that must happen uses OT_LONG_MS (10 s, scaled): it
 * normally ends within microseconds, the limit only turns a bug into a
 * failure instead of a hang. A window in which something must NOT happen is
 * short (OT_SETTLE_MS). Timing checks have wide tolerances.
 */
#ifndef OAK_TEST_H
#define OAK_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <elf.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <oak.h>

#if defined(__GNUC__)
#define OT_UNUSED __attribute__((unused))
#define OT_NOINLINE __attribute__((noinline))
#else
#define OT_UNUSED
#define OT_NOINLINE
#endif

/* oak_run() returns these when a check failed or the watchdog fired. */
#define OT_STATUS_FAILED 86
#define OT_STATUS_TIMEOUT 87

#define OT_RUN_LIMIT_S 60
#define OT_ABORT_GRACE_S 20

/* Tags used by the tests (any value below 2^63 is the user's). */
enum {
    OT_TAG_READY = 1001,
    OT_TAG_GO,
    OT_TAG_STOP,
    OT_TAG_DATA,
    OT_TAG_REPORT,
    OT_TAG_PING,
    OT_TAG_PONG,
    OT_TAG_DONE,
    OT_TAG_STRAY,
    OT_TAG_OTHER
};

/* ---- the failure record -------------------------------------------------- */

typedef struct ot_failure {
    pthread_mutex_t lock;
    int count;           /* failures of the current run; under lock */
    char file[256];      /* the first failure; under lock */
    int line;
    char text[1024];
} ot_failure;

static ot_failure ot_fail_rec OT_UNUSED = {PTHREAD_MUTEX_INITIALIZER, 0, "", 0, ""};

/* Seconds a run may take before the watchdog stops it. A test may raise it
 * before ot_run(); ot_run() resets it to the default afterwards. */
static int ot_run_limit_s OT_UNUSED = OT_RUN_LIMIT_S;

static inline double ot_timeout_scale(void)
{
    const char *s = getenv("OAK_TEST_TIMEOUT_SCALE");
    double v = s ? atof(s) : 1.0;
    return v >= 1.0 ? v : 1.0;
}

/* Long waits for what must happen; short windows for what must not. */
#define OT_LONG_MS ((int64_t)(10000 * ot_timeout_scale()))
#define OT_SETTLE_MS ((int64_t)150)

static inline oak_atom ot_failed_atom(void)
{
    return oak_atom_from("ot_check_failed");
}

/* Record a failure (steps 1 and 2 above); with end_process, also end the
 * calling process if there is one (step 3). */
static inline void ot_fail_(bool end_process, const char *file, int line,
                            const char *fmt, ...) OAK_PRINTF(4, 5);
static inline void ot_fail_(bool end_process, const char *file, int line,
                            const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s:%d: %s\n", file, line, text);
    fflush(stderr);

    pthread_mutex_lock(&ot_fail_rec.lock);
    if (ot_fail_rec.count++ == 0) {
        snprintf(ot_fail_rec.file, sizeof ot_fail_rec.file, "%s", file);
        ot_fail_rec.line = line;
        snprintf(ot_fail_rec.text, sizeof ot_fail_rec.text, "%s", text);
    }
    pthread_mutex_unlock(&ot_fail_rec.lock);

    (void)oak_shutdown(OT_STATUS_FAILED);
    if (end_process && oak_self() != OAK_NOPID) {
        char where[300];
        snprintf(where, sizeof where, "\"%s:%d\"", file, line);
        oak_exit_detail(ot_failed_atom(), where);
    }
}

static inline int ot_failure_count(void)
{
    pthread_mutex_lock(&ot_fail_rec.lock);
    int n = ot_fail_rec.count;
    pthread_mutex_unlock(&ot_fail_rec.lock);
    return n;
}

/* ---- checks ---------------------------------------------------------------
 * OT_CHECK*: end the process on failure. OT_EXPECT*: only record. */

static inline const char *ot_atom_text(oak_atom a)
{
    const char *n = a ? oak_atom_name(a) : "(none)";
    return n ? n : "(not an atom)";
}

#define OT_COND_(end, cond)                                                    \
    do {                                                                       \
        if (!(cond))                                                           \
            ot_fail_((end), __FILE__, __LINE__, "%s is false", #cond);         \
    } while (0)

#define OT_INT_(end, a, op, b)                                                 \
    do {                                                                       \
        long long ot_a_ = (long long)(a), ot_b_ = (long long)(b);              \
        if (!(ot_a_ op ot_b_))                                                 \
            ot_fail_((end), __FILE__, __LINE__,                                \
                     "%s %s %s failed: left %lld, right %lld", #a, #op, #b,    \
                     ot_a_, ot_b_);                                            \
    } while (0)

#define OT_UINT_(end, a, op, b)                                                \
    do {                                                                       \
        unsigned long long ot_a_ = (unsigned long long)(a),                    \
                           ot_b_ = (unsigned long long)(b);                    \
        if (!(ot_a_ op ot_b_))                                                 \
            ot_fail_((end), __FILE__, __LINE__,                                \
                     "%s %s %s failed: left %#llx, right %#llx", #a, #op, #b,  \
                     ot_a_, ot_b_);                                            \
    } while (0)

#define OT_ATOM_(end, a, b)                                                    \
    do {                                                                       \
        oak_atom ot_a_ = (a), ot_b_ = (b);                                     \
        if (ot_a_ != ot_b_)                                                    \
            ot_fail_((end), __FILE__, __LINE__,                                \
                     "%s == %s failed: left %s (%u), right %s (%u)", #a, #b,   \
                     ot_atom_text(ot_a_), (unsigned)ot_a_,                     \
                     ot_atom_text(ot_b_), (unsigned)ot_b_);                    \
    } while (0)

#define OT_STR_(end, a, b)                                                     \
    do {                                                                       \
        const char *ot_a_ = (a), *ot_b_ = (b);                                 \
        if (!ot_a_ || !ot_b_ || strcmp(ot_a_, ot_b_) != 0)                     \
            ot_fail_((end), __FILE__, __LINE__,                                \
                     "%s == %s failed: left \"%s\", right \"%s\"", #a, #b,     \
                     ot_a_ ? ot_a_ : "(null)", ot_b_ ? ot_b_ : "(null)");      \
    } while (0)

#define OT_CHECK(cond) OT_COND_(true, cond)
#define OT_CHECK_INT_EQ(a, b) OT_INT_(true, a, ==, b)
#define OT_CHECK_INT_NE(a, b) OT_INT_(true, a, !=, b)
#define OT_CHECK_INT_LT(a, b) OT_INT_(true, a, <, b)
#define OT_CHECK_INT_LE(a, b) OT_INT_(true, a, <=, b)
#define OT_CHECK_INT_GT(a, b) OT_INT_(true, a, >, b)
#define OT_CHECK_INT_GE(a, b) OT_INT_(true, a, >=, b)
#define OT_CHECK_UINT_EQ(a, b) OT_UINT_(true, a, ==, b)
#define OT_CHECK_UINT_NE(a, b) OT_UINT_(true, a, !=, b)
#define OT_CHECK_ATOM_EQ(a, b) OT_ATOM_(true, a, b)
#define OT_CHECK_STR_EQ(a, b) OT_STR_(true, a, b)

#define OT_EXPECT(cond) OT_COND_(false, cond)
#define OT_EXPECT_INT_EQ(a, b) OT_INT_(false, a, ==, b)
#define OT_EXPECT_INT_GE(a, b) OT_INT_(false, a, >=, b)
#define OT_EXPECT_UINT_EQ(a, b) OT_UINT_(false, a, ==, b)
#define OT_EXPECT_ATOM_EQ(a, b) OT_ATOM_(false, a, b)
#define OT_EXPECT_STR_EQ(a, b) OT_STR_(false, a, b)

/* Fail unconditionally (end the process). */
#define OT_FAIL(...) ot_fail_(true, __FILE__, __LINE__, __VA_ARGS__)

/* ---- clocks -------------------------------------------------------------- */

static inline int64_t ot_clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
static inline int64_t ot_now_ns(void) { return ot_clock_ns(CLOCK_MONOTONIC); }
static inline int64_t ot_ms_since(int64_t t0_ns)
{
    return (ot_now_ns() - t0_ns) / 1000000;
}
/* The process's resident memory in KiB, or -1. */
static inline long ot_resident_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    long size = 0, res = 0;
    if (fscanf(f, "%ld %ld", &size, &res) != 2)
        res = -1;
    fclose(f);
    return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* How many descriptors the program has open, or -1: compared before and
 * after, it tells whether something was left open. */
static inline int ot_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own */
}

/* The same, for a baseline taken in a process just after the runtime
 * started: scheduler threads that are still starting may hold a
 * descriptor for a moment (glibc reads /proc/self/maps for the main
 * thread's stack under ASan), so take the least of a few looks. */
static inline int ot_open_fds_baseline(void)
{
    int least = ot_open_fds();
    for (int i = 0; i < 5; i++) {
        oak_sleep(10);
        int n = ot_open_fds();
        if (n < least)
            least = n;
    }
    return least;
}

static inline int64_t ot_cpu_ns(void)
{
    return ot_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

/* Sleep the calling OS thread (never used inside processes). */
static inline void ot_thread_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* ---- running the runtime ------------------------------------------------- */

typedef struct ot_watchdog {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done; /* oak_run() has returned; under lock */
    int limit_s;
} ot_watchdog;

static inline void *ot_watchdog_main(void *p)
{
    ot_watchdog *wd = p;
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += wd->limit_s;
    pthread_mutex_lock(&wd->lock);
    while (!wd->done)
        if (pthread_cond_timedwait(&wd->cond, &wd->lock, &dl) != 0)
            break;
    if (!wd->done) {
        pthread_mutex_unlock(&wd->lock);
        ot_fail_(false, __FILE__, __LINE__,
                 "the run did not end within %d s (deadlock or lost wake-up?)",
                 wd->limit_s);
        (void)oak_shutdown(OT_STATUS_TIMEOUT);
        pthread_mutex_lock(&wd->lock);
        dl.tv_sec += OT_ABORT_GRACE_S;
        while (!wd->done)
            if (pthread_cond_timedwait(&wd->cond, &wd->lock, &dl) != 0)
                break;
        if (!wd->done) {
            fprintf(stderr, "oak_run() did not return %d s after "
                            "oak_shutdown(): runtime wedged, aborting\n",
                    OT_ABORT_GRACE_S);
            abort();
        }
    }
    pthread_mutex_unlock(&wd->lock);
    return NULL;
}

/* Run main_fn(arg) as the first process under cfg (may be NULL) with a
 * watchdog; fail the test (at the place of the first failed check) if a check
 * failed; check that nothing is left running; return oak_run()'s result. */
static inline int ot_run_(oak_entry main_fn, void *arg, const oak_config *cfg,
                          const char *file, int line)
{
    pthread_mutex_lock(&ot_fail_rec.lock);
    ot_fail_rec.count = 0;
    pthread_mutex_unlock(&ot_fail_rec.lock);

    ot_watchdog wd;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wd.cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&wd.lock, NULL);
    wd.done = false;
    wd.limit_s = (int)(ot_run_limit_s * ot_timeout_scale());
    pthread_t th;
    int prc = pthread_create(&th, NULL, ot_watchdog_main, &wd);
    assert_int_equal(prc, 0);

    int rc = oak_run(main_fn, arg, cfg);

    pthread_mutex_lock(&wd.lock);
    wd.done = true;
    pthread_cond_signal(&wd.cond);
    pthread_mutex_unlock(&wd.lock);
    pthread_join(th, NULL);
    pthread_cond_destroy(&wd.cond);
    pthread_mutex_destroy(&wd.lock);
    ot_run_limit_s = OT_RUN_LIMIT_S;

    pthread_mutex_lock(&ot_fail_rec.lock);
    int failed = ot_fail_rec.count;
    char ffile[256], ftext[1024];
    int fline = ot_fail_rec.line;
    snprintf(ffile, sizeof ffile, "%s", ot_fail_rec.file);
    snprintf(ftext, sizeof ftext, "%s", ot_fail_rec.text);
    pthread_mutex_unlock(&ot_fail_rec.lock);
    if (failed) {
        print_error("%s:%d: %s (%d failed check%s in this run; oak_run() "
                    "returned %d)\n",
                    ffile, fline, ftext, failed, failed == 1 ? "" : "s", rc);
        _fail(ffile, fline);
    }
    if (oak_process_count() != 0 || oak_scheduler_count() != 0) {
        print_error("%s:%d: after oak_run() returned: %zu processes, %u "
                    "schedulers (expected none)\n",
                    file, line, oak_process_count(), oak_scheduler_count());
        _fail(file, line);
    }
    return rc;
}

#define ot_run(fn, arg, cfg) ot_run_((fn), (arg), (cfg), __FILE__, __LINE__)
/* Run with the default configuration; the main process must end normal. */
#define OT_RUN(fn, arg) assert_int_equal(ot_run((fn), (arg), NULL), 0)
/* Run with cfg; the main process must end normal. */
#define OT_RUN_CFG(fn, arg, cfg) assert_int_equal(ot_run((fn), (arg), (cfg)), 0)

/* ---- processes and messages ---------------------------------------------- */

/* Spawn fn(arg) with flags; the arg is copied when arg_size > 0. Fails the
 * check (ends the caller) if the spawn fails. *mref gets the monitor ref. */
static inline oak_pid ot_spawn_(oak_entry fn, const void *arg, size_t arg_size,
                                unsigned flags, oak_ref *mref, const char *file,
                                int line)
{
    oak_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.flags = flags;
    o.arg_size = arg_size;
    oak_pid pid = OAK_NOPID;
    int rc = oak_spawn(fn, (void *)arg, &o, &pid);
    if (rc != 0 || pid == OAK_NOPID)
        ot_fail_(true, file, line, "oak_spawn: rc %d (%s), pid %#llx", rc,
                 oak_strerror(rc), (unsigned long long)pid);
    if (mref)
        *mref = o.monitor_ref;
    return pid;
}
/* OT_SPAWN(fn, arg, flags): arg passed as is. */
#define OT_SPAWN(fn, arg, flags)                                               \
    ot_spawn_((fn), (arg), 0, (flags), NULL, __FILE__, __LINE__)
/* OT_SPAWN_COPY(fn, &value, flags): *value copied into the new process. */
#define OT_SPAWN_COPY(fn, ptr, flags)                                          \
    ot_spawn_((fn), (ptr), sizeof *(ptr), (flags), NULL, __FILE__, __LINE__)
/* Spawn with OAK_SPAWN_MONITOR added; the ref goes to *mref. */
#define OT_SPAWN_MONITOR(fn, arg, flags, mref)                                 \
    ot_spawn_((fn), (arg), 0, (flags) | OAK_SPAWN_MONITOR, (mref), __FILE__,   \
              __LINE__)
#define OT_SPAWN_COPY_MONITOR(fn, ptr, flags, mref)                            \
    ot_spawn_((fn), (ptr), sizeof *(ptr), (flags) | OAK_SPAWN_MONITOR, (mref), \
              __FILE__, __LINE__)

static inline void ot_send_(oak_pid to, uint64_t tag, const void *data,
                            size_t size, const char *file, int line)
{
    int rc = oak_send(to, tag, data, size);
    if (rc != 0)
        ot_fail_(true, file, line, "oak_send: rc %d (%s)", rc,
                 oak_strerror(rc));
}
#define OT_SEND(to, tag, data, size)                                           \
    ot_send_((to), (tag), (data), (size), __FILE__, __LINE__)
/* Send one 64-bit value. */
#define OT_SEND_U64(to, tag, v)                                                \
    do {                                                                       \
        uint64_t ot_v_ = (uint64_t)(v);                                        \
        ot_send_((to), (tag), &ot_v_, sizeof ot_v_, __FILE__, __LINE__);       \
    } while (0)

/* The 64-bit value of a message sent with OT_SEND_U64. */
static inline uint64_t ot_u64(const oak_msg *m)
{
    uint64_t v = 0;
    if (m && m->data && m->size >= sizeof v)
        memcpy(&v, m->data, sizeof v);
    return v;
}

static inline bool ot_match_tag(const oak_msg *m, void *arg)
{
    return m->tag == *(const uint64_t *)arg;
}

static inline oak_msg *ot_recv_tag_(uint64_t tag, int64_t timeout_ms,
                                    const char *file, int line)
{
    oak_msg *m = NULL;
    int rc = oak_receive(&m, timeout_ms, ot_match_tag, &tag);
    if (rc != 0 || !m) {
        ot_fail_(true, file, line,
                 "no message with tag %#llx within %lld ms: rc %d (%s)",
                 (unsigned long long)tag, (long long)timeout_ms, rc,
                 oak_strerror(rc));
        return NULL;
    }
    if (m->tag != tag)
        ot_fail_(true, file, line, "match took tag %#llx, wanted %#llx",
                 (unsigned long long)m->tag, (unsigned long long)tag);
    return m;
}
/* The first message with tag (others stay queued); fails after timeout. */
#define OT_RECV_TAG(tag, timeout_ms)                                           \
    ot_recv_tag_((tag), (timeout_ms), __FILE__, __LINE__)

static inline oak_msg *ot_recv_any_(int64_t timeout_ms, const char *file,
                                    int line)
{
    oak_msg *m = NULL;
    int rc = oak_receive(&m, timeout_ms, NULL, NULL);
    if (rc != 0 || !m)
        ot_fail_(true, file, line, "no message within %lld ms: rc %d (%s)",
                 (long long)timeout_ms, rc, oak_strerror(rc));
    return m;
}
#define OT_RECV_ANY(timeout_ms) ot_recv_any_((timeout_ms), __FILE__, __LINE__)

/* Receive the value of the next message with tag and free it. */
static inline uint64_t ot_recv_u64_(uint64_t tag, int64_t timeout_ms,
                                    const char *file, int line)
{
    oak_msg *m = ot_recv_tag_(tag, timeout_ms, file, line);
    uint64_t v = ot_u64(m);
    oak_msg_free(m);
    return v;
}
#define OT_RECV_U64(tag, timeout_ms)                                           \
    ot_recv_u64_((tag), (timeout_ms), __FILE__, __LINE__)

/* An EXIT or DOWN message, copied out of the message. */
typedef struct ot_signal {
    uint64_t tag;
    oak_ref ref;
    oak_pid from;
    oak_atom reason;
    oak_atom name;
    bool has_detail;
    char detail[256];
} ot_signal;

/* Copy an EXIT or DOWN message into *s, checking its documented shape: an
 * oak_down payload, 16-byte aligned, whose detail is NULL or a NUL-terminated
 * text inside the same message. Frees the message. */
static inline void ot_take_signal_(oak_msg *m, ot_signal *s, const char *file,
                                   int line)
{
    memset(s, 0, sizeof *s);
    s->tag = m->tag;
    s->ref = m->ref;
    s->from = m->from;
    if (m->size < sizeof(oak_down) || !m->data) {
        ot_fail_(true, file, line, "signal message of %zu bytes, want >= %zu",
                 m->size, sizeof(oak_down));
        oak_msg_free(m);
        return;
    }
    if ((uintptr_t)m->data % 16 != 0)
        ot_fail_(true, file, line, "payload at %p is not 16-byte aligned",
                 m->data);
    const oak_down *d = m->data;
    s->reason = d->reason;
    s->name = d->name;
    if (d->detail) {
        const char *lo = m->data, *hi = lo + m->size;
        if (d->detail < lo || d->detail >= hi ||
            !memchr(d->detail, 0, (size_t)(hi - d->detail)))
            ot_fail_(true, file, line,
                     "detail %p is not a NUL-terminated text inside the "
                     "message [%p, %p)",
                     (const void *)d->detail, (const void *)lo,
                     (const void *)hi);
        s->has_detail = true;
        snprintf(s->detail, sizeof s->detail, "%s", d->detail);
    }
    oak_msg_free(m);
}
#define OT_TAKE_SIGNAL(m, s) ot_take_signal_((m), (s), __FILE__, __LINE__)

typedef struct ot_ref_match {
    uint64_t tag;
    oak_ref ref;
} ot_ref_match;

static inline bool ot_match_tag_ref(const oak_msg *m, void *arg)
{
    const ot_ref_match *w = arg;
    return m->tag == w->tag && m->ref == w->ref;
}

/* Wait for the DOWN message of monitor ref. */
static inline ot_signal ot_recv_down_(oak_ref ref, int64_t timeout_ms,
                                      const char *file, int line)
{
    ot_signal s;
    memset(&s, 0, sizeof s);
    ot_ref_match w = {OAK_TAG_DOWN, ref};
    oak_msg *m = NULL;
    int rc = oak_receive(&m, timeout_ms, ot_match_tag_ref, &w);
    if (rc != 0 || !m) {
        ot_fail_(true, file, line,
                 "no DOWN for ref %#llx within %lld ms: rc %d (%s)",
                 (unsigned long long)ref, (long long)timeout_ms, rc,
                 oak_strerror(rc));
        return s;
    }
    ot_take_signal_(m, &s, file, line);
    return s;
}
#define OT_RECV_DOWN(ref, timeout_ms)                                          \
    ot_recv_down_((ref), (timeout_ms), __FILE__, __LINE__)

/* Wait for the next EXIT message. */
static inline ot_signal ot_recv_exit_(int64_t timeout_ms, const char *file,
                                      int line)
{
    ot_signal s;
    memset(&s, 0, sizeof s);
    uint64_t tag = OAK_TAG_EXIT;
    oak_msg *m = NULL;
    int rc = oak_receive(&m, timeout_ms, ot_match_tag, &tag);
    if (rc != 0 || !m) {
        ot_fail_(true, file, line, "no EXIT message within %lld ms: rc %d (%s)",
                 (long long)timeout_ms, rc, oak_strerror(rc));
        return s;
    }
    ot_take_signal_(m, &s, file, line);
    return s;
}
#define OT_RECV_EXIT(timeout_ms) ot_recv_exit_((timeout_ms), __FILE__, __LINE__)

/* Check that no message with tag arrives within timeout_ms (tag 0: none at
 * all). */
static inline bool ot_match_any_or_tag(const oak_msg *m, void *arg)
{
    uint64_t t = *(const uint64_t *)arg;
    return t == 0 || m->tag == t;
}
static inline void ot_expect_no_msg_(uint64_t tag, int64_t timeout_ms,
                                     const char *file, int line)
{
    oak_msg *m = NULL;
    int rc = oak_receive(&m, timeout_ms, ot_match_any_or_tag, &tag);
    if (rc == 0) {
        ot_fail_(true, file, line,
                 "unexpected message: tag %#llx ref %#llx from %#llx, %zu bytes",
                 (unsigned long long)m->tag, (unsigned long long)m->ref,
                 (unsigned long long)m->from, m->size);
        oak_msg_free(m);
    } else if (rc != -ETIMEDOUT) {
        ot_fail_(true, file, line, "oak_receive: rc %d (%s), want -ETIMEDOUT",
                 rc, oak_strerror(rc));
    }
}
#define OT_NO_MSG(tag, timeout_ms)                                             \
    ot_expect_no_msg_((tag), (timeout_ms), __FILE__, __LINE__)

/* Wait (in a process) until cond holds, polling every millisecond, at most
 * timeout_ms; fail if it never does. For state that other processes update
 * asynchronously (counters, process_count). */
#define OT_EVENTUALLY(cond, timeout_ms)                                        \
    do {                                                                       \
        int64_t ot_t0_ = ot_now_ns();                                          \
        while (!(cond)) {                                                      \
            if (ot_ms_since(ot_t0_) > (timeout_ms)) {                          \
                ot_fail_(true, __FILE__, __LINE__,                             \
                         "%s still false after %lld ms", #cond,                \
                         (long long)(timeout_ms));                             \
                break;                                                         \
            }                                                                  \
            oak_sleep(1);                                                      \
        }                                                                      \
    } while (0)

/* Process bodies many tests use. */

/* Block in receive until a STOP message, then end normal. */
static inline void ot_body_until_stop(void *arg)
{
    (void)arg;
    for (;;) {
        uint64_t tag = OT_TAG_STOP;
        oak_msg *m = NULL;
        if (oak_receive(&m, OAK_INFINITY, ot_match_tag, &tag) == 0) {
            oak_msg_free(m);
            return;
        }
    }
}

/* Block in receive forever (only an exit signal ends it). */
static inline bool ot_match_nothing(const oak_msg *m, void *arg)
{
    (void)m;
    (void)arg;
    return false;
}
static inline void ot_body_forever(void *arg)
{
    (void)arg;
    for (;;) {
        oak_msg *m = NULL;
        (void)oak_receive(&m, OAK_INFINITY, ot_match_nothing, NULL);
    }
}

/* End normal at once. */
static inline void ot_body_return(void *arg) { (void)arg; }

/* Spawn a process that ends at once and wait until it is dead; its pid. */
static inline oak_pid ot_dead_pid_(const char *file, int line)
{
    oak_ref r = 0;
    oak_pid p = ot_spawn_(ot_body_return, NULL, 0, OAK_SPAWN_MONITOR, &r,
                          file, line);
    ot_signal s = ot_recv_down_(r, OT_LONG_MS, file, line);
    if (s.reason != OAK_NORMAL)
        ot_fail_(true, file, line, "short-lived process ended %s",
                 ot_atom_text(s.reason));
    return p;
}
#define OT_DEAD_PID() ot_dead_pid_(__FILE__, __LINE__)

/* The number of online CPUs, at least 1. */
static inline unsigned ot_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1u;
}

/* A process that answers every message with OT_TAG_PONG, carrying the
 * message's ref and bytes back, until it gets OT_TAG_STOP. */
static inline OT_UNUSED void ot_ponger(void *arg)
{
    (void)arg;
    for (;;) {
        oak_msg *m = OT_RECV_ANY(OAK_INFINITY);
        if (m->tag == OT_TAG_STOP) {
            oak_msg_free(m);
            return;
        }
        OT_CHECK_INT_EQ(oak_send_ref(m->from, m->ref, OT_TAG_PONG, m->data, m->size), 0);
        oak_msg_free(m);
    }
}

/* Was this program built with line tables (-g: Debug and RelWithDebInfo,
 * not Release)? Reads the section names of its own ELF file. */
static inline bool ot_have_line_table(void)
{
    bool found = false;
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    off_t size = lseek(fd, 0, SEEK_END);
    unsigned char *img = size > 0 ? mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0)
                                  : MAP_FAILED;
    close(fd);
    if (img == MAP_FAILED)
        return false;
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;
    if ((size_t)size >= sizeof *eh && eh->e_shoff &&
        eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) <= (uint64_t)size &&
        eh->e_shstrndx < eh->e_shnum) {
        const Elf64_Shdr *sh = (const Elf64_Shdr *)(img + eh->e_shoff);
        const Elf64_Shdr *names = &sh[eh->e_shstrndx];
        for (unsigned i = 0; i < eh->e_shnum && !found; i++)
            found = names->sh_offset + sh[i].sh_name + sizeof ".debug_line" <= (uint64_t)size &&
                    strcmp((const char *)img + names->sh_offset + sh[i].sh_name,
                           ".debug_line") == 0;
    }
    munmap(img, (size_t)size);
    return found;
}

#endif
