/* A process that keeps its scheduler too long is reported. */
#include <pthread.h>

#include "oak_test.h"

static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static char seen_line[256];
static int seen_count;

static void capture(oak_log_level level, const char *kind, const char *line, void *ctx)
{
    (void)ctx;
    if (level != OAK_LOG_WARNING || strcmp(kind, "long_schedule") != 0)
        return;
    pthread_mutex_lock(&seen_lock);
    if (seen_count++ == 0)
        snprintf(seen_line, sizeof seen_line, "%s", line);
    pthread_mutex_unlock(&seen_lock);
}

static void busy(void *arg)
{
    (void)arg;
    int64_t t0 = ot_now_ns();
    volatile uint64_t x = 0;
    while (ot_ms_since(t0) < 1200)
        x++; /* never yields */
}

static void hog_main(void *arg)
{
    (void)arg;
    oak_ref r = 0;
    oak_pid b = OT_SPAWN_MONITOR(busy, NULL, 0, &r);
    OT_CHECK_UINT_EQ(OT_RECV_DOWN(r, OT_LONG_MS).from, b);
    char want[64];
    oak_pid_format(b, want, sizeof want);
    pthread_mutex_lock(&seen_lock);
    OT_EXPECT_INT_EQ(seen_count, 1);
    OT_EXPECT(strstr(seen_line, want) != NULL);
    pthread_mutex_unlock(&seen_lock);
}

/* Cooperative scheduling (preemption off): a loop holds its scheduler. */
/* Mostly its own code (the clock only now and then), where the monitor's
 * signal can preempt it. */
static void busy_own_code(void *arg)
{
    (void)arg;
    int64_t t0 = ot_now_ns();
    volatile uint64_t x = 0;
    while (ot_ms_since(t0) < 2500)
        for (int i = 0; i < 100000; i++)
            x++;
}

static void hog_main_preempted(void *arg)
{
    (void)arg;
    oak_ref r = 0;
    OT_SPAWN_MONITOR(busy_own_code, NULL, 0, &r);
    OT_RECV_DOWN(r, OT_LONG_MS);
    pthread_mutex_lock(&seen_lock);
    OT_EXPECT_INT_EQ(seen_count, 0);
    pthread_mutex_unlock(&seen_lock);
}

static void process_holding_a_scheduler_too_long_is_reported_once(void **state)
{
    (void)state;
    oak_log_set_handler(capture, NULL);
    seen_count = 0;
    oak_config cfg = {.schedulers = 2, .long_schedule_ms = 300, .time_slice_ms = -1};
    OT_RUN_CFG(hog_main, NULL, &cfg);
    oak_log_set_handler(NULL, NULL);
}

static void blocked(void *arg)
{
    (void)arg;
    struct timespec ts = {2, 500 * 1000000}; /* a raw blocking call */
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void blocked_main(void *arg)
{
    (void)arg;
    oak_ref r = 0;
    oak_pid b = OT_SPAWN_MONITOR(blocked, NULL, 0, &r);
    OT_CHECK_UINT_EQ(OT_RECV_DOWN(r, OT_LONG_MS).from, b);
    char want[64];
    oak_pid_format(b, want, sizeof want);
    pthread_mutex_lock(&seen_lock);
    OT_EXPECT_INT_EQ(seen_count, 1);
    OT_EXPECT(strstr(seen_line, want) != NULL);
    /* It says where: in a system call, in libc. */
    OT_EXPECT(strstr(seen_line, " where=syscall:") != NULL);
    pthread_mutex_unlock(&seen_lock);
}

/* With preemption on, a loop is preempted and never reported; a process
 * stuck in a blocking system call holds its scheduler and is reported
 * (the monitor does not interrupt the call). */
static void process_in_a_blocking_call_is_reported_with_preemption_on(void **state)
{
    (void)state;
#if defined(__SANITIZE_THREAD__)
    skip(); /* TSan builds are cooperative: the loop below would be reported */
#endif
    oak_log_set_handler(capture, NULL);
    seen_count = 0;
    /* A second: loaded machines stall threads for a good part of that. */
    oak_config cfg = {.schedulers = 2, .long_schedule_ms = 1000};
    OT_RUN_CFG(blocked_main, NULL, &cfg);
    seen_count = 0;
    OT_RUN_CFG(hog_main_preempted, NULL, &cfg);
    oak_log_set_handler(NULL, NULL);
}

static void quick(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++)
        oak_sleep(1);
}

static void quick_main(void *arg)
{
    (void)arg;
    oak_ref r = 0;
    OT_SPAWN_MONITOR(quick, NULL, 0, &r);
    OT_RECV_DOWN(r, OT_LONG_MS);
    pthread_mutex_lock(&seen_lock);
    OT_EXPECT_INT_EQ(seen_count, 0);
    pthread_mutex_unlock(&seen_lock);
}

static void processes_that_yield_are_not_reported(void **state)
{
    (void)state;
    seen_count = 0;
    oak_log_set_handler(capture, NULL);
    oak_config cfg = {.schedulers = 2, .long_schedule_ms = 300};
    OT_RUN_CFG(quick_main, NULL, &cfg);
    oak_log_set_handler(NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(process_holding_a_scheduler_too_long_is_reported_once),
        cmocka_unit_test(process_in_a_blocking_call_is_reported_with_preemption_on),
        cmocka_unit_test(processes_that_yield_are_not_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
