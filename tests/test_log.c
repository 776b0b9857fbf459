/* test_log.c - the runtime's log: the default level and sink, handlers,
 * level filtering, argument errors, and logging from many processes at once.
 * The log's state is global to the program, so each test restores it.
 */
#include "oak_test.h"

#include <fcntl.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_level_is_notice_and_lines_go_to_stderr),
        cmocka_unit_test(handler_gets_level_kind_formatted_line_and_context),
        cmocka_unit_test(level_filters_events_before_the_handler),
        cmocka_unit_test(log_rejects_bad_level_and_null_format),
        cmocka_unit_test(log_from_many_processes_at_once_delivers_every_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
