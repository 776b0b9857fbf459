/* test_log.c - the runtime's log: the default level and sink, handlers,
 * level filtering, argument errors, and logging from many processes at once.
 * The log's state is global to the program, so each test restores it.
 */
#include "oak_test.h"

#include <fcntl.h>
#include <poll.h>

typedef struct captured {
    pthread_mutex_t lock;
    int count;
    oak_log_level level;
    char kind[64];
    char line[512];
    void *ctx;
} captured;

static captured cap = {PTHREAD_MUTEX_INITIALIZER, 0, 0, "", "", NULL};

static void capture(oak_log_level level, const char *kind, const char *line, void *ctx)
{
    pthread_mutex_lock(&cap.lock);
    cap.count++;
    cap.level = level;
    snprintf(cap.kind, sizeof cap.kind, "%s", kind ? kind : "(null)");
    snprintf(cap.line, sizeof cap.line, "%s", line ? line : "(null)");
    cap.ctx = ctx;
    pthread_mutex_unlock(&cap.lock);
}

static void cap_reset(void)
{
    pthread_mutex_lock(&cap.lock);
    cap.count = 0;
    cap.kind[0] = cap.line[0] = 0;
    cap.ctx = NULL;
    pthread_mutex_unlock(&cap.lock);
}

static int cap_count(void)
{
    pthread_mutex_lock(&cap.lock);
    int n = cap.count;
    pthread_mutex_unlock(&cap.lock);
    return n;
}

/* Must run first: nothing has touched the log yet. */
static void default_level_is_notice_and_lines_go_to_stderr(void **state)
{
    (void)state;
    assert_false(oak_log_enabled(OAK_LOG_DEBUG));
    assert_false(oak_log_enabled(OAK_LOG_INFO));
    assert_true(oak_log_enabled(OAK_LOG_NOTICE));
    assert_true(oak_log_enabled(OAK_LOG_ERROR));

    /* Catch stderr in a file for one event. */
    char path[] = "/tmp/oak-test-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    int rc = oak_log(OAK_LOG_WARNING, "test_kind", "value=%d text=%s", 42, "abc");
    int rc_info = oak_log(OAK_LOG_INFO, "test_kind", "not shown %d", 1);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    assert_int_equal(rc, 0);
    assert_int_equal(rc_info, 0);
    char buf[1024] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    assert_true(n > 0);
    assert_non_null(strstr(buf, "value=42 text=abc"));
    assert_null(strstr(buf, "not shown"));
    /* One event, one line. */
    char *nl = strchr(buf, '\n');
    assert_non_null(nl);
    assert_int_equal(nl[1], 0);
}

static void handler_gets_level_kind_formatted_line_and_context(void **state)
{
    (void)state;
    cap_reset();
    int ctx_target;
    oak_log_set_handler(capture, &ctx_target);
    assert_int_equal(oak_log(OAK_LOG_ERROR, "crash_report", "pid %s died: %d", "<0.1.0>", 7), 0);
    assert_int_equal(cap_count(), 1);
    assert_int_equal(cap.level, OAK_LOG_ERROR);
    assert_string_equal(cap.kind, "crash_report");
    assert_string_equal(cap.line, "pid <0.1.0> died: 7");
    assert_ptr_equal(cap.ctx, &ctx_target);
    oak_log_set_handler(NULL, NULL);
}

static void level_filters_events_before_the_handler(void **state)
{
    (void)state;
    cap_reset();
    oak_log_set_handler(capture, NULL);
    oak_log_level old = oak_log_set_level(OAK_LOG_WARNING);
    assert_int_equal(old, OAK_LOG_NOTICE);
    assert_false(oak_log_enabled(OAK_LOG_NOTICE));
    assert_true(oak_log_enabled(OAK_LOG_WARNING));
    oak_log(OAK_LOG_NOTICE, "k", "dropped");
    oak_log(OAK_LOG_INFO, "k", "dropped");
    assert_int_equal(cap_count(), 0);
    oak_log(OAK_LOG_WARNING, "k", "kept");
    assert_int_equal(cap_count(), 1);
    assert_string_equal(cap.line, "kept");

    assert_int_equal(oak_log_set_level(OAK_LOG_DEBUG), OAK_LOG_WARNING);
    assert_true(oak_log_enabled(OAK_LOG_DEBUG));
    oak_log(OAK_LOG_DEBUG, "k", "debug now");
    assert_int_equal(cap_count(), 2);

    assert_int_equal(oak_log_set_level(OAK_LOG_NONE), OAK_LOG_DEBUG);
    assert_false(oak_log_enabled(OAK_LOG_ERROR));
    oak_log(OAK_LOG_ERROR, "k", "nothing at all");
    assert_int_equal(cap_count(), 2);

    assert_int_equal(oak_log_set_level(OAK_LOG_NOTICE), OAK_LOG_NONE);
    oak_log_set_handler(NULL, NULL);
}

static void log_rejects_bad_level_and_null_format(void **state)
{
    (void)state;
    cap_reset();
    oak_log_set_handler(capture, NULL);
    assert_int_equal(oak_log((oak_log_level)17, "k", "x"), -EINVAL);
    assert_int_equal(oak_log((oak_log_level)-1, "k", "x"), -EINVAL);
    assert_int_equal(oak_log(OAK_LOG_ERROR, "k", NULL), -EINVAL);
    assert_int_equal(cap_count(), 0);
    oak_log_set_handler(NULL, NULL);
}

enum { LOGGERS = 16, EACH = 200 };

static void logger_proc(void *arg)
{
    int id = *(int *)arg;
    for (int i = 0; i < EACH; i++)
        OT_CHECK_INT_EQ(oak_log(OAK_LOG_NOTICE, "load", "logger %d event %d", id, i), 0);
}

static void loggers_main(void *arg)
{
    (void)arg;
    oak_ref r[LOGGERS];
    for (int i = 0; i < LOGGERS; i++)
        OT_SPAWN_COPY_MONITOR(logger_proc, &i, 0, &r[i]);
    for (int i = 0; i < LOGGERS; i++)
        OT_RECV_DOWN(r[i], OT_LONG_MS);
}

static void log_from_many_processes_at_once_delivers_every_event(void **state)
{
    (void)state;
    cap_reset();
    oak_log_set_handler(capture, NULL);
    oak_log_level old = oak_log_set_level(OAK_LOG_NOTICE);
    /* Other events (reports of the runtime itself) may come too, hence >=. */
    OT_RUN(loggers_main, NULL);
    oak_log_set_handler(NULL, NULL);
    oak_log_set_level(old);
    assert_true(cap_count() >= LOGGERS * EACH);
}

/* ---- an output that does not take its lines ---------------------------------- */

#define STUCK_FEW 200
#define STUCK_MANY 3000 /* of about 500 bytes: more than the 1 MiB queue */

static int stuck[2]; /* a pipe: the log writes to [1], a thread reads [0] */

/* Fill the pipe, so that a blocking write would wait for a reader. */
static void fill_pipe(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    char junk[4096];
    memset(junk, '.', sizeof junk);
    while (write(fd, junk, sizeof junk) > 0) {
    }
    fcntl(fd, F_SETFL, fl);
}

typedef struct drained {
    char *p;
    size_t len;
    const char *until; /* stop when this has been read (NULL: at a 1 s lull) */
} drained;

/* Read the pipe until `until` has come (or, without one, until nothing
 * more came for a second), or 20 s passed. */
static void *reader_main(void *arg)
{
    drained *d = arg;
    size_t cap = 1 << 16;
    d->p = malloc(cap);
    d->len = 0;
    int64_t end = ot_now_ns() + (int64_t)20000 * 1000000;
    while (ot_now_ns() < end) {
        struct pollfd pf = {.fd = stuck[0], .events = POLLIN};
        int ready = poll(&pf, 1, d->until ? 100 : 1000);
        if (ready == 0 && !d->until)
            break;
        if (ready <= 0)
            continue;
        if (d->len + 4096 + 1 > cap)
            d->p = realloc(d->p, cap *= 2);
        ssize_t n = read(stuck[0], d->p + d->len, 4096);
        if (n <= 0)
            break;
        d->len += (size_t)n;
        d->p[d->len] = '\0';
        if (d->until && strstr(d->p, d->until))
            break;
    }
    return NULL;
}

static void stuck_logger(void *arg)
{
    int lines = *(int *)arg;
    char pad[480];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < lines; i++)
        OT_CHECK_INT_EQ(oak_log(OAK_LOG_NOTICE, "stuck", "line=%d pad=%s", i,
                                lines > STUCK_FEW ? pad : "-"),
                        0);
}

/* Log `lines` lines to the full pipe from a process: every call returns
 * (the process ends) although nobody reads; another process is answered
 * meanwhile. Then read what comes out. */
static void log_into_stuck_pipe(int lines, drained *d)
{
    oak_ref r;
    OT_SPAWN_COPY_MONITOR(stuck_logger, &lines, 0, &r);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, OAK_NORMAL);
    /* The output still takes nothing: processes go on. */
    oak_ref r2;
    oak_pid other = OT_SPAWN_MONITOR(ot_body_until_stop, NULL, 0, &r2);
    OT_SEND_U64(other, OT_TAG_STOP, 0);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r2, OT_LONG_MS).reason, OAK_NORMAL);
    pthread_t t;
    OT_CHECK_INT_EQ(pthread_create(&t, NULL, reader_main, d), 0);
    /* Joined from a process: this scheduler waits, the other goes on. */
    pthread_join(t, NULL);
}

static int count_lines_in_order(const char *text, int lines)
{
    int seen = 0;
    const char *at = text;
    for (int i = 0; i < lines; i++) {
        char want[64];
        snprintf(want, sizeof want, "=notice stuck= line=%d pad=", i);
        const char *hit = strstr(at, want);
        if (!hit)
            break;
        at = hit + strlen(want);
        seen++;
    }
    return seen;
}

static void stuck_main(void *arg)
{
    (void)arg;
    /* A few lines wait in the queue and all come out, in order. */
    fill_pipe(stuck[1]);
    drained d = {.until = "line=199 pad=-"};
    log_into_stuck_pipe(STUCK_FEW, &d);
    OT_CHECK(d.p != NULL);
    OT_CHECK_INT_EQ(count_lines_in_order(d.p, STUCK_FEW), STUCK_FEW);
    free(d.p);
    /* More than the queue holds: the first ones come out in order, the
     * rest are counted, and a notice says how many. */
    fill_pipe(stuck[1]);
    drained d2 = {.until = NULL};
    log_into_stuck_pipe(STUCK_MANY, &d2);
    OT_CHECK(d2.p != NULL);
    int seen = count_lines_in_order(d2.p, STUCK_MANY);
    /* Drops before and while the writer's first lines waited may come in
     * two notices. */
    unsigned long dropped = 0;
    static const char tag[] = "=warning log= dropped=";
    for (const char *n = strstr(d2.p, tag); n; n = strstr(n + 1, tag))
        dropped += strtoul(n + strlen(tag), NULL, 10);
    if (!dropped)
        fprintf(stderr, "no notice in %zu bytes read; they end with: %s\n", d2.len,
                d2.len > 300 ? d2.p + d2.len - 300 : d2.p);
    fprintf(stderr, "stuck output: %d lines came out in order, %lu dropped\n", seen, dropped);
    OT_CHECK_INT_GE(seen, 100);
    OT_CHECK_INT_GE(dropped, 1);
    OT_CHECK_INT_EQ((unsigned long)seen + dropped, STUCK_MANY);
    free(d2.p);
}

static void a_log_output_that_does_not_read_blocks_no_process(void **state)
{
    (void)state;
    assert_int_equal(pipe2(stuck, O_CLOEXEC), 0);
    oak_log_set_handler(NULL, NULL);
    oak_log_set_output(0, stuck[1]);
    OT_RUN(stuck_main, NULL);
    oak_log_set_output(0, 2);
    close(stuck[0]);
    close(stuck[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_level_is_notice_and_lines_go_to_stderr),
        cmocka_unit_test(handler_gets_level_kind_formatted_line_and_context),
        cmocka_unit_test(level_filters_events_before_the_handler),
        cmocka_unit_test(log_rejects_bad_level_and_null_format),
        cmocka_unit_test(log_from_many_processes_at_once_delivers_every_event),
        cmocka_unit_test(a_log_output_that_does_not_read_blocks_no_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
