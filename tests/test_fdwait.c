/* Processes that wait on file descriptors without holding a scheduler. */
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "oak_test.h"

enum { TAG_FD = 11, TAG_MSG, TAG_DONE };

static void make_pipe(int fds[2])
{
    OT_CHECK_INT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
}

typedef struct waiter_arg {
    oak_pid driver;
    int fd;
    int64_t timeout;
} waiter_arg;

/* Waits for its fd, reads what is there and reports rc and bytes. */
static void waiter(void *arg)
{
    waiter_arg a = *(waiter_arg *)arg;
    int rc = oak_wait_fd(a.fd, OAK_FD_READ, a.timeout);
    char buf[64] = {0};
    ssize_t n = rc > 0 ? read(a.fd, buf, sizeof buf - 1) : 0;
    int64_t out[2] = {rc, n};
    OT_CHECK_INT_EQ(oak_send(a.driver, TAG_FD, out, sizeof out), 0);
}

static void writer_later(void *arg)
{
    int fd = *(int *)arg;
    oak_sleep(50);
    OT_CHECK_INT_EQ(write(fd, "hello", 5), 5);
}

static void sender_later(void *arg)
{
    oak_pid to = *(oak_pid *)arg;
    oak_sleep(50);
    OT_CHECK_INT_EQ(oak_send(to, TAG_MSG, NULL, 0), 0);
}

static bool tag_is(const oak_msg *m, void *arg) { return m->tag == *(uint64_t *)arg; }

static int64_t recv_fd_result(int64_t *bytes)
{
    uint64_t tag = TAG_FD;
    oak_msg *m;
    OT_CHECK_INT_EQ(oak_receive(&m, OT_LONG_MS, tag_is, &tag), 0);
    const int64_t *v = m->data;
    int64_t rc = v[0];
    if (bytes)
        *bytes = v[1];
    oak_msg_free(m);
    return rc;
}

static void readable_main(void *arg)
{
    (void)arg;
    int fds[2];
    make_pipe(fds);
    waiter_arg a = {oak_self(), fds[0], OAK_INFINITY};
    OT_SPAWN_COPY(waiter, &a, 0);
    oak_spawn_opts o = {.arg_size = sizeof(int)};
    OT_CHECK_INT_EQ(oak_spawn(writer_later, &fds[1], &o, NULL), 0);
    int64_t n;
    OT_CHECK_INT_EQ(recv_fd_result(&n), OAK_FD_READ);
    OT_CHECK_INT_EQ(n, 5);
    close(fds[0]);
    close(fds[1]);
}

static void wait_fd_returns_when_the_pipe_becomes_readable(void **state)
{
    (void)state;
    OT_RUN(readable_main, NULL);
}

static void timeout_main(void *arg)
{
    (void)arg;
    int fds[2];
    make_pipe(fds);
    int64_t t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_wait_fd(fds[0], OAK_FD_READ, 50), -ETIMEDOUT);
    OT_CHECK_INT_GE(ot_ms_since(t0), 45);
    OT_CHECK_INT_EQ(oak_wait_fd(fds[0], OAK_FD_READ, 0), -ETIMEDOUT);
    /* The write end of an empty pipe is writable at once. */
    OT_CHECK_INT_EQ(oak_wait_fd(fds[1], OAK_FD_WRITE, 0), OAK_FD_WRITE);
    OT_CHECK_INT_EQ(write(fds[1], "x", 1), 1);
    OT_CHECK_INT_EQ(oak_wait_fd(fds[0], OAK_FD_READ | OAK_FD_WRITE, OT_LONG_MS), OAK_FD_READ);
    /* End of file is readable. */
    close(fds[1]);
    char c;
    OT_CHECK_INT_EQ(read(fds[0], &c, 1), 1);
    OT_CHECK(oak_wait_fd(fds[0], OAK_FD_READ, OT_LONG_MS) & OAK_FD_READ);
    close(fds[0]);
}

static void wait_fd_times_out_and_reports_writable_and_end_of_file(void **state)
{
    (void)state;
    OT_RUN(timeout_main, NULL);
}

typedef struct queue_arg {
    oak_pid driver;
    int fd;
} queue_arg;

/* Waits on its fd while messages arrive, then reports the messages'
 * numbers in mailbox order. */
static void queue_keeper(void *arg)
{
    queue_arg a = *(queue_arg *)arg;
    OT_CHECK_INT_EQ(oak_send(a.driver, TAG_DONE, NULL, 0), 0); /* ready */
    OT_CHECK_INT_EQ(oak_wait_fd(a.fd, OAK_FD_READ, OT_LONG_MS), OAK_FD_READ);
    int64_t order[4] = {0};
    for (int i = 0; i < 3; i++) {
        oak_msg *m;
        OT_CHECK_INT_EQ(oak_receive(&m, 0, NULL, NULL), 0);
        order[i] = *(int *)m->data;
        oak_msg_free(m);
    }
    order[3] = (int64_t)oak_message_count();
    OT_CHECK_INT_EQ(oak_send(a.driver, TAG_FD, order, sizeof order), 0);
}

static void queue_main(void *arg)
{
    (void)arg;
    int fds[2];
    make_pipe(fds);
    queue_arg a = {oak_self(), fds[0]};
    oak_pid k = OT_SPAWN_COPY(queue_keeper, &a, 0);
    uint64_t done = TAG_DONE;
    oak_msg *m;
    OT_CHECK_INT_EQ(oak_receive(&m, OT_LONG_MS, tag_is, &done), 0);
    oak_msg_free(m);
    for (int i = 1; i <= 3; i++) {
        OT_CHECK_INT_EQ(oak_send(k, TAG_MSG, &i, sizeof i), 0);
        oak_sleep(5);
    }
    OT_CHECK_INT_EQ(write(fds[1], "!", 1), 1);
    uint64_t tag = TAG_FD;
    OT_CHECK_INT_EQ(oak_receive(&m, OT_LONG_MS, tag_is, &tag), 0);
    const int64_t *v = m->data;
    OT_CHECK_INT_EQ(v[0], 1);
    OT_CHECK_INT_EQ(v[1], 2);
    OT_CHECK_INT_EQ(v[2], 3);
    OT_CHECK_INT_EQ(v[3], 0);
    oak_msg_free(m);
    close(fds[0]);
    close(fds[1]);
}

static void messages_that_arrive_during_a_wait_stay_queued_in_order(void **state)
{
    (void)state;
    OT_RUN(queue_main, NULL);
}

static _Atomic int cleanups;

static void count_cleanup(void *arg)
{
    (void)arg;
    atomic_fetch_add(&cleanups, 1);
}

static void doomed_waiter(void *arg)
{
    int fd = *(int *)arg;
    oak_defer(count_cleanup, NULL);
    oak_wait_fd(fd, OAK_FD_READ, OAK_INFINITY);
    OT_FAIL("a killed waiter went on");
}

static void kill_main(void *arg)
{
    (void)arg;
    int fds[2];
    make_pipe(fds);
    oak_ref r = 0;
    oak_pid w = OT_SPAWN_COPY_MONITOR(doomed_waiter, &fds[0], sizeof fds[0], &r);
    oak_sleep(20);
    OT_CHECK_INT_EQ(oak_exit_pid(w, OAK_KILL), 0);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, OAK_KILLED);
    OT_CHECK_INT_EQ(atomic_load(&cleanups), 1);
    /* A later event on that fd goes nowhere. */
    OT_CHECK_INT_EQ(write(fds[1], "x", 1), 1);
    oak_sleep(20);
    close(fds[0]);
    close(fds[1]);
}

static void a_waiting_process_can_be_killed_and_its_cleanups_run(void **state)
{
    (void)state;
    OT_RUN(kill_main, NULL);
}

enum { WAITERS = 200 };

static void many_main(void *arg)
{
    (void)arg;
    static int fds[WAITERS][2];
    for (int i = 0; i < WAITERS; i++) {
        make_pipe(fds[i]);
        waiter_arg a = {oak_self(), fds[i][0], OT_LONG_MS};
        OT_SPAWN_COPY(waiter, &a, 0);
    }
    oak_sleep(20);
    for (int i = 0; i < WAITERS; i++)
        OT_CHECK_INT_EQ(write(fds[i][1], "ab", 2), 2);
    for (int i = 0; i < WAITERS; i++) {
        int64_t n;
        OT_CHECK_INT_EQ(recv_fd_result(&n), OAK_FD_READ);
        OT_CHECK_INT_EQ(n, 2);
    }
    for (int i = 0; i < WAITERS; i++) {
        close(fds[i][0]);
        close(fds[i][1]);
    }
}

static void many_processes_wait_on_their_own_pipes(void **state)
{
    (void)state;
    OT_RUN(many_main, NULL);
}

static void counter(void *arg)
{
    oak_pid driver = *(oak_pid *)arg;
    volatile long sum = 0;
    for (long i = 0; i < 1000; i++) {
        sum += i;
        oak_yield();
    }
    OT_CHECK_INT_EQ(oak_send(driver, TAG_DONE, NULL, 0), 0);
}

static void one_sched_main(void *arg)
{
    (void)arg;
    int fds[2];
    make_pipe(fds);
    waiter_arg a = {oak_self(), fds[0], OAK_INFINITY};
    OT_SPAWN_COPY(waiter, &a, 0);
    oak_pid me = oak_self();
    OT_SPAWN_COPY(counter, &me, 0);
    uint64_t done = TAG_DONE;
    oak_msg *m;
    /* The counter finishes although the waiter waits without end on the
     * only scheduler. */
    OT_CHECK_INT_EQ(oak_receive(&m, OT_LONG_MS, tag_is, &done), 0);
    oak_msg_free(m);
    OT_CHECK_INT_EQ(write(fds[1], "z", 1), 1);
    OT_CHECK_INT_EQ(recv_fd_result(NULL), OAK_FD_READ);
    close(fds[0]);
    close(fds[1]);
}

static void a_wait_does_not_hold_the_only_scheduler(void **state)
{
    (void)state;
    oak_config cfg = {.schedulers = 1};
    OT_RUN_CFG(one_sched_main, NULL, &cfg);
}

static void errors_main(void *arg)
{
    (void)arg;
    OT_CHECK_INT_EQ(oak_wait_fd(-1, OAK_FD_READ, 0), -EBADF);
    OT_CHECK_INT_EQ(oak_wait_fd(0, 0, 0), -EINVAL);
    OT_CHECK_INT_EQ(oak_wait_fd(0, 0x10, 0), -EINVAL);
    OT_CHECK_INT_EQ(oak_wait_fd(0, OAK_FD_READ, -5), -EINVAL);
    int fds[2];
    make_pipe(fds);
    close(fds[0]);
    close(fds[1]);
    OT_CHECK_INT_EQ(oak_wait_fd(fds[0], OAK_FD_READ, 0), -EBADF);
    OT_CHECK_INT_EQ(oak_wait_fd(fds[0], OAK_FD_READ, 10), -EBADF);
    /* A regular file is always ready. */
    FILE *f = tmpfile();
    OT_CHECK(f != NULL);
    OT_CHECK_INT_EQ(oak_wait_fd(fileno(f), OAK_FD_READ, OAK_INFINITY), OAK_FD_READ);
    fclose(f);
}

static void bad_arguments_get_clear_errors(void **state)
{
    (void)state;
    assert_int_equal(oak_wait_fd(0, OAK_FD_READ, 0), -EPERM);
    OT_RUN(errors_main, NULL);
}

/* ---- oak_receive_fd ---- */

/* The case: a message sent 50 ms into a 500 ms wait on a socket
 * that stays silent ends the wait at once. */
static void receive_fd_message_main(void *arg)
{
    (void)arg;
    int fds[2];
    make_pipe(fds);
    oak_pid me = oak_self();
    oak_spawn_opts o = {.arg_size = sizeof me};
    OT_CHECK_INT_EQ(oak_spawn(sender_later, &me, &o, NULL), 0);
    int64_t t0 = ot_now_ns();
    oak_msg *m = (oak_msg *)1;
    OT_CHECK_INT_EQ(oak_receive_fd(&m, fds[0], OAK_FD_READ, 500, NULL, NULL), 0);
    int64_t took = ot_ms_since(t0);
    OT_CHECK(m != NULL);
    OT_CHECK_UINT_EQ(m->tag, TAG_MSG);
    oak_msg_free(m);
    OT_CHECK_INT_GE(took, 40);
    OT_CHECK_INT_LT(took, 400);
    close(fds[0]);
    close(fds[1]);
}

static void receive_fd_returns_a_message_that_arrives_during_the_wait(void **state)
{
    (void)state;
    OT_RUN(receive_fd_message_main, NULL);
}

static void receive_fd_ready_main(void *arg)
{
    (void)arg;
    int fds[2];
    make_pipe(fds);
    /* A message the match does not take stays queued; the fd's readiness
     * ends the wait. */
    OT_CHECK_INT_EQ(oak_send(oak_self(), TAG_DONE, NULL, 0), 0);
    oak_spawn_opts o = {.arg_size = sizeof(int)};
    OT_CHECK_INT_EQ(oak_spawn(writer_later, &fds[1], &o, NULL), 0);
    uint64_t want = TAG_MSG;
    oak_msg *m = (oak_msg *)1;
    OT_CHECK_INT_EQ(oak_receive_fd(&m, fds[0], OAK_FD_READ, OT_LONG_MS, tag_is, &want),
                    OAK_FD_READ);
    OT_CHECK(m == NULL);
    OT_CHECK_INT_EQ(oak_message_count(), 1);
    /* Ready already: answered without waiting; a queued match wins. */
    OT_CHECK_INT_EQ(oak_receive_fd(&m, fds[0], OAK_FD_READ, 0, tag_is, &want), OAK_FD_READ);
    want = TAG_DONE;
    OT_CHECK_INT_EQ(oak_receive_fd(&m, fds[0], OAK_FD_READ, 0, tag_is, &want), 0);
    OT_CHECK_UINT_EQ(m->tag, TAG_DONE);
    oak_msg_free(m);
    /* Nothing at all: the timeout. */
    char buf[8];
    OT_CHECK_INT_EQ(read(fds[0], buf, sizeof buf), 5);
    int64_t t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_receive_fd(&m, fds[0], OAK_FD_READ, 30, NULL, NULL), -ETIMEDOUT);
    OT_CHECK_INT_GE(ot_ms_since(t0), 25);
    OT_CHECK_INT_EQ(oak_receive_fd(NULL, fds[0], OAK_FD_READ, 0, NULL, NULL), -EINVAL);
    OT_CHECK_INT_EQ(oak_receive_fd(&m, -1, OAK_FD_READ, 0, NULL, NULL), -EBADF);
    OT_CHECK_INT_EQ(oak_receive_fd(&m, fds[0], 0, 0, NULL, NULL), -EINVAL);
    close(fds[0]);
    close(fds[1]);
}

static void receive_fd_returns_the_ready_events_and_leaves_other_messages(void **state)
{
    (void)state;
    assert_int_equal(oak_receive_fd(&(oak_msg *){NULL}, 0, OAK_FD_READ, 0, NULL, NULL), -EPERM);
    OT_RUN(receive_fd_ready_main, NULL);
}

/* Every scheduler idle: the one blocked in the netpoller is woken by the
 * descriptor itself (a write from a thread outside the runtime). */
static void *thread_writer(void *arg)
{
    int fd = *(int *)arg;
    struct timespec ts = {0, 50 * 1000000};
    nanosleep(&ts, NULL);
    ssize_t w = write(fd, "t", 1);
    (void)w;
    return NULL;
}

static void idle_wake_main(void *arg)
{
    (void)arg;
    int fds[2];
    make_pipe(fds);
    pthread_t t;
    OT_CHECK_INT_EQ(pthread_create(&t, NULL, thread_writer, &fds[1]), 0);
    int64_t t0 = ot_now_ns();
    OT_CHECK_INT_EQ(oak_wait_fd(fds[0], OAK_FD_READ, OT_LONG_MS), OAK_FD_READ);
    OT_CHECK_INT_LT(ot_ms_since(t0), 5000);
    pthread_join(t, NULL);
    close(fds[0]);
    close(fds[1]);
}

static void an_idle_runtime_is_woken_by_a_ready_descriptor(void **state)
{
    (void)state;
    oak_config one = {.schedulers = 1};
    OT_RUN_CFG(idle_wake_main, NULL, &one);
    oak_config two = {.schedulers = 2};
    OT_RUN_CFG(idle_wake_main, NULL, &two);
}

/* ---- readiness as a message ---- */

enum { TAG_READY = 40, TAG_OTHER_MSG, TAG_WATCHER };

/* Arms a wait on a pipe that stays empty, reports its watcher, ends. */
static void notify_owner(void *arg)
{
    oak_pid driver = *(oak_pid *)arg;
    int fds[2];
    make_pipe(fds);
    oak_pid w;
    OT_CHECK_INT_EQ(oak_fd_notify(fds[0], OAK_FD_READ, TAG_READY, &w), 0);
    OT_CHECK_INT_EQ(oak_send(driver, TAG_WATCHER, &w, sizeof w), 0);
    oak_sleep(20);
    /* The watcher still waits; the link ends it when this process ends. */
    close(fds[0]);
    close(fds[1]);
}

static oak_fd_event ready_message(int64_t timeout_ms)
{
    oak_msg *m = OT_RECV_TAG(TAG_READY, timeout_ms);
    oak_fd_event ev;
    OT_CHECK_UINT_EQ(m->size, sizeof ev);
    memcpy(&ev, m->data, sizeof ev);
    oak_msg_free(m);
    return ev;
}

static void notify_main(void *arg)
{
    (void)arg;
    int fds[2];
    make_pipe(fds);
    oak_msg *m;
    OT_CHECK_INT_EQ(oak_fd_notify(fds[0], 0, TAG_READY, NULL), -EINVAL);
    OT_CHECK_INT_EQ(oak_fd_notify(fds[0], 0x8, TAG_READY, NULL), -EINVAL);
    OT_CHECK_INT_EQ(oak_fd_notify(-1, OAK_FD_READ, TAG_READY, NULL), -EBADF);
    OT_CHECK_INT_EQ(oak_fd_notify_cancel(OAK_NOPID), -EINVAL);
    /* The caller traps exits: the watchers' ends must not show. */
    oak_trap_exit(true);
    /* Armed on an empty pipe: nothing comes, and the caller takes other
     * messages meanwhile. */
    OT_CHECK_INT_EQ(oak_fd_notify(fds[0], OAK_FD_READ, TAG_READY, NULL), 0);
    OT_SEND(oak_self(), TAG_OTHER_MSG, NULL, 0);
    oak_msg_free(OT_RECV_TAG(TAG_OTHER_MSG, OT_LONG_MS));
    OT_CHECK_INT_EQ(oak_receive(&m, OT_SETTLE_MS, NULL, NULL), -ETIMEDOUT);
    /* Data: one message. */
    OT_CHECK_INT_EQ(write(fds[1], "x", 1), 1);
    oak_fd_event ev = ready_message(OT_LONG_MS);
    OT_CHECK_INT_EQ(ev.fd, fds[0]);
    OT_CHECK_INT_EQ(ev.events & (int32_t)OAK_FD_READ, (int32_t)OAK_FD_READ);
    /* Once: more data, no second message until armed again. */
    OT_CHECK_INT_EQ(write(fds[1], "y", 1), 1);
    OT_CHECK_INT_EQ(oak_receive(&m, OT_SETTLE_MS, NULL, NULL), -ETIMEDOUT);
    OT_CHECK_INT_EQ(oak_fd_notify(fds[0], OAK_FD_READ, TAG_READY, NULL), 0);
    ev = ready_message(OT_LONG_MS); /* still readable: at once */
    OT_CHECK_INT_EQ(ev.events & (int32_t)OAK_FD_READ, (int32_t)OAK_FD_READ);
    char buf[8];
    OT_CHECK_INT_EQ(read(fds[0], buf, sizeof buf), 2);
    /* Writable: the write end of a pipe with room. */
    OT_CHECK_INT_EQ(oak_fd_notify(fds[1], OAK_FD_WRITE, TAG_READY, NULL), 0);
    ev = ready_message(OT_LONG_MS);
    OT_CHECK_INT_EQ(ev.fd, fds[1]);
    OT_CHECK_INT_EQ(ev.events & (int32_t)OAK_FD_WRITE, (int32_t)OAK_FD_WRITE);
    /* Cancelled: the data that comes later sends nothing. */
    oak_pid w;
    OT_CHECK_INT_EQ(oak_fd_notify(fds[0], OAK_FD_READ, TAG_READY, &w), 0);
    OT_CHECK_INT_EQ(oak_fd_notify_cancel(w), 0);
    OT_CHECK_INT_EQ(oak_receive(&m, 0, NULL, NULL), -ETIMEDOUT); /* fd was empty */
    OT_CHECK_INT_EQ(write(fds[1], "z", 1), 1);
    OT_CHECK_INT_EQ(oak_receive(&m, OT_SETTLE_MS, NULL, NULL), -ETIMEDOUT);
    OT_CHECK_INT_EQ(oak_fd_notify_cancel(w), -ESRCH);
    /* Armed and ended by its answer: cancel says it is gone. */
    OT_CHECK_INT_EQ(oak_fd_notify(fds[0], OAK_FD_READ, TAG_READY, &w), 0);
    ready_message(OT_LONG_MS);
    OT_CHECK_INT_EQ(oak_receive(&m, OT_SETTLE_MS, NULL, NULL), -ETIMEDOUT);
    OT_CHECK_INT_EQ(read(fds[0], buf, sizeof buf), 1);
    /* A caller that ends takes its watcher with it. */
    oak_pid me = oak_self();
    OT_SPAWN_COPY(notify_owner, &me, 0);
    oak_msg *wm = OT_RECV_TAG(TAG_WATCHER, OT_LONG_MS);
    memcpy(&w, wm->data, sizeof w);
    oak_msg_free(wm);
    for (int i = 0; i < 200 && oak_is_alive(w); i++)
        oak_sleep(5);
    OT_CHECK_UINT_EQ(oak_is_alive(w), 0);
    OT_CHECK_INT_EQ(oak_receive(&m, OT_SETTLE_MS, NULL, NULL), -ETIMEDOUT);
    close(fds[0]);
    close(fds[1]);
}

static void fd_readiness_comes_as_one_message_per_arming(void **state)
{
    (void)state;
    OT_RUN(notify_main, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wait_fd_returns_when_the_pipe_becomes_readable),
        cmocka_unit_test(fd_readiness_comes_as_one_message_per_arming),
        cmocka_unit_test(wait_fd_times_out_and_reports_writable_and_end_of_file),
        cmocka_unit_test(messages_that_arrive_during_a_wait_stay_queued_in_order),
        cmocka_unit_test(a_waiting_process_can_be_killed_and_its_cleanups_run),
        cmocka_unit_test(many_processes_wait_on_their_own_pipes),
        cmocka_unit_test(a_wait_does_not_hold_the_only_scheduler),
        cmocka_unit_test(bad_arguments_get_clear_errors),
        cmocka_unit_test(receive_fd_returns_a_message_that_arrives_during_the_wait),
        cmocka_unit_test(receive_fd_returns_the_ready_events_and_leaves_other_messages),
        cmocka_unit_test(an_idle_runtime_is_woken_by_a_ready_descriptor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
