/* test_signal.c - the runtime's signal source (oak/signal.h): signals as
 * messages to the processes that subscribed.
 */
#include <signal.h>
#include <sys/wait.h>

#include "oak_test.h"

enum { TAG_READY = 0x5101, TAG_GOT, TAG_GO };

static bool match_signal(const oak_msg *m, void *arg)
{
    int signo = (int)(intptr_t)arg;
    return m->tag == OAK_SIGNAL_TAG && m->size == sizeof(oak_signal_info) &&
           (signo == 0 || ((const oak_signal_info *)m->data)->signo == signo);
}

/* The next signal message for signo within timeout_ms: 0 and *info, or
 * -ETIMEDOUT. */
static int recv_signal(int signo, int64_t timeout_ms, oak_signal_info *info)
{
    oak_msg *m = NULL;
    int r = oak_receive(&m, timeout_ms, match_signal, (void *)(intptr_t)signo);
    if (r == 0) {
        if (info)
            memcpy(info, m->data, sizeof *info);
        oak_msg_free(m);
    }
    return r;
}

static bool match_tag(const oak_msg *m, void *arg)
{
    return m->tag == (uint64_t)(uintptr_t)arg;
}

static oak_msg *recv_tag(uint64_t tag)
{
    oak_msg *m = NULL;
    int r = oak_receive(&m, OT_LONG_MS, match_tag, (void *)(uintptr_t)tag);
    OT_CHECK_INT_EQ(r, 0);
    return m;
}

/* ---- one subscriber ---------------------------------------------------------------- */

static void one_main(void *arg)
{
    (void)arg;
    OT_CHECK_INT_EQ(oak_signal_subscribe(SIGUSR1), 0);
    OT_CHECK_INT_EQ(oak_signal_subscribe(SIGUSR1), 0); /* a no-op */
    OT_CHECK_INT_EQ(kill(getpid(), SIGUSR1), 0);
    oak_signal_info info;
    OT_CHECK_INT_EQ(recv_signal(SIGUSR1, OT_LONG_MS, &info), 0);
    OT_CHECK_INT_EQ(info.signo, SIGUSR1);
    OT_CHECK_INT_EQ(info.sender_pid, (int)getpid());
    OT_CHECK_UINT_EQ(info.sender_uid, (unsigned)getuid());
    OT_CHECK_INT_EQ(info.code, SI_USER);
    /* Subscribed twice, told once. */
    OT_CHECK_INT_EQ(recv_signal(0, OT_SETTLE_MS, NULL), -ETIMEDOUT);

    /* Each signal its own message. */
    OT_CHECK_INT_EQ(oak_signal_subscribe(SIGHUP), 0);
    OT_CHECK_INT_EQ(kill(getpid(), SIGHUP), 0);
    OT_CHECK_INT_EQ(recv_signal(SIGHUP, OT_LONG_MS, &info), 0);
    OT_CHECK_INT_EQ(info.signo, SIGHUP);

    /* Bad input. */
    OT_CHECK_INT_EQ(oak_signal_subscribe(SIGKILL), -EINVAL);
    OT_CHECK_INT_EQ(oak_signal_subscribe(SIGSEGV), -EINVAL);
    OT_CHECK_INT_EQ(oak_signal_subscribe(0), -EINVAL);
    OT_CHECK_INT_EQ(oak_signal_subscribe(-3), -EINVAL);
    OT_CHECK_INT_EQ(oak_signal_unsubscribe(SIGUSR2), -ENOENT);
    OT_CHECK_INT_EQ(oak_signal_unsubscribe(9999), -EINVAL);
    OT_CHECK_INT_EQ(oak_signal_unsubscribe(SIGHUP), 0);
}

static void a_subscriber_gets_a_signal_as_a_message(void **state)
{
    (void)state;
    OT_RUN(one_main, NULL);
    /* Outside a process. */
    assert_int_equal(oak_signal_subscribe(SIGUSR1), -EPERM);
    assert_int_equal(oak_signal_unsubscribe(SIGUSR1), -EPERM);
}

/* ---- several subscribers, unsubscribe ------------------------------------------- */

typedef struct sub_arg {
    oak_pid parent;
    int signo;
} sub_arg;

/* Subscribes, says so, then forwards each signal it gets to the parent
 * until told to go; TAG_GO with a byte 1 unsubscribes first. */
static void subscriber(void *p)
{
    sub_arg a = *(sub_arg *)p;
    OT_CHECK_INT_EQ(oak_signal_subscribe(a.signo), 0);
    oak_send(a.parent, TAG_READY, NULL, 0);
    for (;;) {
        oak_msg *m = NULL;
        if (oak_receive(&m, OAK_INFINITY, NULL, NULL) < 0)
            continue;
        if (m->tag == OAK_SIGNAL_TAG) {
            oak_send(a.parent, TAG_GOT, m->data, m->size);
        } else if (m->tag == TAG_GO) {
            bool unsub = m->size == 1 && *(const char *)m->data == 1;
            oak_msg_free(m);
            if (!unsub)
                return;
            OT_CHECK_INT_EQ(oak_signal_unsubscribe(a.signo), 0);
            OT_CHECK_INT_EQ(oak_signal_unsubscribe(a.signo), -ENOENT);
            oak_send(a.parent, TAG_READY, NULL, 0);
            continue;
        }
        oak_msg_free(m);
    }
}

static oak_pid start_subscriber(sub_arg *a)
{
    oak_spawn_opts o = {.arg_size = sizeof *a};
    oak_pid pid = OAK_NOPID;
    OT_CHECK_INT_EQ(oak_spawn(subscriber, a, &o, &pid), 0);
    oak_msg_free(recv_tag(TAG_READY));
    return pid;
}

/* Counts TAG_GOT messages from `from` within the settle window. */
static int count_got_from(oak_pid from, int64_t wait_ms)
{
    int n = 0;
    int64_t t0 = oak_now_ms();
    for (;;) {
        int64_t left = wait_ms - (oak_now_ms() - t0);
        if (left <= 0)
            return n;
        oak_msg *m = NULL;
        if (oak_receive(&m, left, match_tag, (void *)(uintptr_t)TAG_GOT) != 0)
            return n;
        if (m->from == from)
            n++;
        oak_msg_free(m);
    }
}

static void many_main(void *arg)
{
    (void)arg;
    sub_arg a = {oak_self(), SIGUSR2};
    oak_pid one = start_subscriber(&a);
    oak_pid two = start_subscriber(&a);
    OT_CHECK_INT_EQ(kill(getpid(), SIGUSR2), 0);
    /* Both are told. */
    bool got1 = false, got2 = false;
    while (!got1 || !got2) {
        oak_msg *m = recv_tag(TAG_GOT);
        OT_CHECK_INT_EQ(((const oak_signal_info *)m->data)->signo, SIGUSR2);
        got1 |= m->from == one;
        got2 |= m->from == two;
        oak_msg_free(m);
    }
    /* One unsubscribes: only the other is told. */
    char unsub = 1;
    oak_send(one, TAG_GO, &unsub, 1);
    oak_msg_free(recv_tag(TAG_READY));
    OT_CHECK_INT_EQ(kill(getpid(), SIGUSR2), 0);
    oak_msg *m = recv_tag(TAG_GOT);
    OT_CHECK(m->from == two);
    oak_msg_free(m);
    OT_CHECK_INT_EQ(count_got_from(one, OT_SETTLE_MS), 0);
    oak_send(one, TAG_GO, NULL, 0);
    oak_send(two, TAG_GO, NULL, 0);
}

static void every_subscriber_gets_it_and_unsubscribe_stops_it(void **state)
{
    (void)state;
    OT_RUN(many_main, NULL);
}

/* ---- a subscriber that dies --------------------------------------------------- */

static atomic_int program_handler_runs;

static void program_handler(int signo)
{
    (void)signo;
    atomic_fetch_add(&program_handler_runs, 1);
}

static void dead_main(void *arg)
{
    (void)arg;
    sub_arg a = {oak_self(), SIGUSR1};
    oak_pid pid = start_subscriber(&a);
    /* While a process subscribes, the program's handler is not used. */
    OT_CHECK_INT_EQ(kill(getpid(), SIGUSR1), 0);
    oak_msg_free(recv_tag(TAG_GOT));
    OT_CHECK_INT_EQ(atomic_load(&program_handler_runs), 0);
    /* It dies without unsubscribing: dropped, and the program's handler
     * is back. */
    OT_CHECK(oak_monitor(pid) != 0);
    oak_exit_pid(pid, OAK_KILL);
    oak_msg *m = NULL;
    OT_CHECK_INT_EQ(oak_receive(&m, OT_LONG_MS, match_tag, (void *)(uintptr_t)OAK_TAG_DOWN), 0);
    oak_msg_free(m);
    OT_CHECK_INT_EQ(kill(getpid(), SIGUSR1), 0);
    int64_t t0 = oak_now_ms();
    while (atomic_load(&program_handler_runs) == 0 && oak_now_ms() - t0 < OT_LONG_MS)
        oak_sleep(5);
    OT_CHECK_INT_EQ(atomic_load(&program_handler_runs), 1);
    OT_CHECK_INT_EQ(count_got_from(pid, OT_SETTLE_MS), 0);
}

static void a_dead_subscriber_is_dropped_and_the_program_handler_is_back(void **state)
{
    (void)state;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = program_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old);
    OT_RUN(dead_main, NULL);
    /* After the run the handler is the program's still. */
    struct sigaction now;
    sigaction(SIGUSR1, NULL, &now);
    assert_true(now.sa_handler == program_handler);
    sigaction(SIGUSR1, &old, NULL);
}

/* ---- SIGCHLD ---------------------------------------------------------------------- */

static void chld_main(void *arg)
{
    (void)arg;
    OT_CHECK_INT_EQ(oak_signal_subscribe(SIGCHLD), 0);
    pid_t child = fork();
    if (child == 0)
        _exit(3); /* only async-signal-safe work in the child of a threaded program */
    OT_CHECK(child > 0);
    oak_signal_info info;
    do
        OT_CHECK_INT_EQ(recv_signal(SIGCHLD, OT_LONG_MS, &info), 0);
    while (info.sender_pid != child); /* another program's child is no concern */
    OT_CHECK_INT_EQ(info.code, CLD_EXITED);
    int st = 0;
    OT_CHECK_INT_EQ(waitpid(child, &st, 0), child);
    OT_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
}

static void sigchld_comes_with_the_child_pid(void **state)
{
    (void)state;
    OT_RUN(chld_main, NULL);
}

/* ---- no subscriber: the program's disposition ----------------------------------- */

static int ready_pipe[2];

static void idle_main(void *arg)
{
    (void)arg;
    char b = 1;
    OT_CHECK_INT_EQ((int)write(ready_pipe[1], &b, 1), 1);
    oak_sleep(OT_LONG_MS);
}

/* A program that runs oak and subscribes to nothing still ends on SIGTERM
 * by the default action, as it would without oak. */
static void without_subscribers_sigterm_still_ends_the_program(void **state)
{
    (void)state;
    assert_int_equal(pipe(ready_pipe), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(ready_pipe[0]);
        signal(SIGTERM, SIG_DFL);
        oak_config c = {.schedulers = 2};
        oak_run(idle_main, NULL, &c);
        _exit(0);
    }
    close(ready_pipe[1]);
    char b = 0;
    assert_int_equal(read(ready_pipe[0], &b, 1), 1);
    close(ready_pipe[0]);
    assert_int_equal(kill(child, SIGTERM), 0);
    int st = 0;
    int64_t t0 = ot_now_ns();
    pid_t r = 0;
    while ((r = waitpid(child, &st, WNOHANG)) == 0 && ot_ms_since(t0) < OT_LONG_MS)
        ot_thread_sleep_ms(5);
    if (r == 0) {
        kill(child, SIGKILL);
        waitpid(child, &st, 0);
        fail_msg("the program did not end on SIGTERM");
    }
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGTERM);
}

/* ---- threads ------------------------------------------------------------------------ */

static void *mask_of_thread(void *arg)
{
    sigset_t *set = arg;
    pthread_sigmask(SIG_SETMASK, NULL, set);
    return NULL;
}

static void threads_main(void *arg)
{
    (void)arg;
    /* A thread started from a process inherits a mask that blocks all six. */
    sigset_t set;
    sigemptyset(&set);
    pthread_t t;
    OT_CHECK_INT_EQ(pthread_create(&t, NULL, mask_of_thread, &set), 0);
    pthread_join(t, NULL);
    const int six[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof six / sizeof six[0]; i++)
        OT_CHECK_INT_EQ(sigismember(&set, six[i]), 1);
}

static void runtime_threads_block_the_six(void **state)
{
    (void)state;
    sigset_t before, after;
    pthread_sigmask(SIG_SETMASK, NULL, &before);
    OT_RUN(threads_main, NULL);
    pthread_sigmask(SIG_SETMASK, NULL, &after);
    /* The caller's mask comes back. */
    assert_int_equal(sigismember(&after, SIGTERM), sigismember(&before, SIGTERM));
    assert_int_equal(sigismember(&after, SIGUSR1), sigismember(&before, SIGUSR1));
}

int main(void)
{
    /* Signals that reach the program while no process subscribes are
     * ignored, as the program chose. */
    signal(SIGUSR2, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_subscriber_gets_a_signal_as_a_message),
        cmocka_unit_test(every_subscriber_gets_it_and_unsubscribe_stops_it),
        cmocka_unit_test(a_dead_subscriber_is_dropped_and_the_program_handler_is_back),
        cmocka_unit_test(sigchld_comes_with_the_child_pid),
        cmocka_unit_test(without_subscribers_sigterm_still_ends_the_program),
        cmocka_unit_test(runtime_threads_block_the_six),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
