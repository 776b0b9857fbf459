/* test_faults.c - a synchronous fault in a process (SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL, stack overflow) ends that process only, with a reason that
 * says what and a detail that says where; every other process keeps running.
 * Outside a process the default action stays.
 *
 * The faulting functions are compiled without ASan/UBSan instrumentation:
 * the suite also runs under -fsanitize=address,undefined, and there UBSan
 * would report the division by zero or the NULL store itself (and abort the
 * program, with -fno-sanitize-recover) before the CPU could fault.
 */
#include "oak_test.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <strings.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#if defined(__GNUC__)
#define FAULTING __attribute__((noinline, no_sanitize("address", "undefined")))
#else
#define FAULTING
#endif

/* ---- the faults ---------------------------------------------------------------------- */

static volatile int never_true = 0;

static FAULTING void do_null_store(void)
{
    volatile int *volatile p = NULL;
    *p = 42;
}

/* Low, so that it lies outside the shadow memory of ASan and TSan. */
#define ODD_ADDRESS ((uintptr_t)0x0dead000u)

static FAULTING void do_odd_load(void)
{
    volatile int *volatile p = (volatile int *)ODD_ADDRESS;
    never_true = *p;
}

static FAULTING void do_divide_by_zero(void)
{
    volatile int a = 1, b = 0;
    volatile int c = a / b;
    (void)c;
}

static FAULTING void do_illegal_instruction(void)
{
#if defined(__x86_64__)
    __builtin_trap(); /* ud2: SIGILL */
#elif defined(__aarch64__)
    __asm__ volatile("udf #0"); /* SIGILL (brk, from __builtin_trap, is SIGTRAP) */
#else
#error "no illegal instruction for this CPU"
#endif
}

static FAULTING int recurse(int depth)
{
    volatile char pad[512];
    pad[0] = (char)depth;
    pad[511] = (char)depth;
    if (never_true)
        return pad[0];
    return recurse(depth + 1) + pad[511];
}

static void cleanup_unmap(void *p)
{
    munmap(p, 4096);
}

static void cleanup_close(void *p)
{
    close((int)(intptr_t)p);
}

static FAULTING void do_bus_error(void)
{
    /* A shared mapping of a file with no bytes: touching it is SIGBUS. */
    char path[] = "/tmp/oak-test-sigbus-XXXXXX";
    int fd = mkstemp(path);
    OT_CHECK_INT_GE(fd, 0);
    unlink(path);
    OT_CHECK_INT_GT(oak_defer(cleanup_close, (void *)(intptr_t)fd), 0);
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    OT_CHECK(p != MAP_FAILED);
    OT_CHECK_INT_GT(oak_defer(cleanup_unmap, p), 0);
    never_true = *(volatile char *)p;
}

typedef enum fault_kind {
    F_NULL,
    F_ODD_ADDRESS,
    F_DIV_ZERO,
    F_ILLEGAL,
    F_STACK,
    F_BUS,
    F_KINDS
} fault_kind;

static oak_atom fault_reason(fault_kind k)
{
    switch (k) {
    case F_NULL:
    case F_ODD_ADDRESS:
        return OAK_SIGSEGV;
    case F_DIV_ZERO:
        return OAK_SIGFPE;
    case F_ILLEGAL:
        return OAK_SIGILL;
    case F_STACK:
        return OAK_STACK_OVERFLOW;
    case F_BUS:
        return OAK_SIGBUS;
    default:
        return 0;
    }
}

/* Integer division by zero traps on x86-64 only; aarch64 returns 0. */
static bool fault_supported(fault_kind k)
{
#if defined(__x86_64__)
    (void)k;
    return true;
#else
    return k != F_DIV_ZERO;
#endif
}

static void faulter(void *arg)
{
    fault_kind k = *(fault_kind *)arg;
    switch (k) {
    case F_NULL:
        do_null_store();
        break;
    case F_ODD_ADDRESS:
        do_odd_load();
        break;
    case F_DIV_ZERO:
        do_divide_by_zero();
        break;
    case F_ILLEGAL:
        do_illegal_instruction();
        break;
    case F_STACK:
        never_true = recurse(0);
        break;
    case F_BUS:
        do_bus_error();
        break;
    default:
        break;
    }
    oak_exit(oak_atom_from("did_not_fault"));
}

static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

/* Spawn a faulter of kind k, monitored; wait for its DOWN and check it. */
static void fault_and_check(fault_kind k)
{
    oak_ref r = 0;
    oak_pid p = OT_SPAWN_COPY_MONITOR(faulter, &k, 0, &r);
    ot_signal d = OT_RECV_DOWN(r, OT_LONG_MS);
    OT_CHECK_UINT_EQ(d.from, p);
    OT_CHECK_ATOM_EQ(d.reason, fault_reason(k));
    /* The detail says where: present and not empty. */
    OT_CHECK(d.has_detail);
    OT_CHECK_INT_GT(strlen(d.detail), 0);
    if (k == F_ODD_ADDRESS && !contains_ci(d.detail, "dead000"))
        OT_FAIL("detail \"%s\" does not name the address 0xdead000", d.detail);
    OT_CHECK(!oak_is_alive(p));
}

/* ---- bystanders ------------------------------------------------------------------------ */


/* Ping the ponger n times from here. */
static void ping_rounds(oak_pid ponger, int n)
{
    for (int i = 0; i < n; i++) {
        OT_SEND_U64(ponger, OT_TAG_PING, (uint64_t)i);
        OT_CHECK_UINT_EQ(OT_RECV_U64(OT_TAG_PONG, OT_LONG_MS), (uint64_t)i);
    }
}

/* A pair of processes exchanging messages the whole time. */
typedef struct pair_arg {
    oak_pid ponger;
} pair_arg;

static atomic_long bystander_rounds;
static atomic_int bystander_stop;

static void pinger_loop(void *arg)
{
    pair_arg a = *(pair_arg *)arg;
    while (!atomic_load(&bystander_stop)) {
        OT_SEND_U64(a.ponger, OT_TAG_PING, 1);
        oak_msg_free(OT_RECV_TAG(OT_TAG_PONG, OT_LONG_MS));
        atomic_fetch_add(&bystander_rounds, 1);
    }
    OT_SEND_U64(a.ponger, OT_TAG_STOP, 0);
}

/* ---- one test per fault ---------------------------------------------------------------- */

static fault_kind the_kind;

static void one_fault_main(void *arg)
{
    (void)arg;
    oak_ref pr = 0, qr = 0;
    oak_pid ponger = OT_SPAWN_MONITOR(ot_ponger, NULL, 0, &pr);
    pair_arg pa = {ponger};
    OT_SPAWN_COPY_MONITOR(pinger_loop, &pa, 0, &qr);
    oak_pid mine = OT_SPAWN(ot_ponger, NULL, 0);

    fault_and_check(the_kind);

    /* The others live on and still talk. */
    long before = atomic_load(&bystander_rounds);
    OT_EVENTUALLY(atomic_load(&bystander_rounds) >= before + 100, OT_LONG_MS);
    ping_rounds(mine, 100);
    atomic_store(&bystander_stop, 1);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(qr, OT_LONG_MS).reason, OAK_NORMAL);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(pr, OT_LONG_MS).reason, OAK_NORMAL);
    OT_SEND_U64(mine, OT_TAG_STOP, 0);
}

static void run_one_fault(fault_kind k)
{
    if (!fault_supported(k)) {
        skip();
        return;
    }
    the_kind = k;
    atomic_store(&bystander_rounds, 0);
    atomic_store(&bystander_stop, 0);
    OT_RUN(one_fault_main, NULL);
}

static void null_dereference_kills_only_that_process_with_sigsegv(void **state)
{
    (void)state;
    run_one_fault(F_NULL);
}

static void segv_detail_names_the_faulting_address(void **state)
{
    (void)state;
    run_one_fault(F_ODD_ADDRESS);
}

static void division_by_zero_kills_only_that_process_with_sigfpe(void **state)
{
    (void)state;
    run_one_fault(F_DIV_ZERO);
}

static void illegal_instruction_kills_only_that_process_with_sigill(void **state)
{
    (void)state;
    run_one_fault(F_ILLEGAL);
}

static void stack_overflow_kills_only_that_process_with_stack_overflow(void **state)
{
    (void)state;
    run_one_fault(F_STACK);
}

static void bus_error_kills_only_that_process_with_sigbus(void **state)
{
    (void)state;
    run_one_fault(F_BUS);
}

/* ---- many faults ------------------------------------------------------------------------- */

static void many_main(void *arg)
{
    (void)arg;
    oak_ref pr = 0, qr = 0;
    oak_pid ponger = OT_SPAWN_MONITOR(ot_ponger, NULL, 0, &pr);
    pair_arg pa = {ponger};
    OT_SPAWN_COPY_MONITOR(pinger_loop, &pa, 0, &qr);

    /* One after another. */
    for (int round = 0; round < 5; round++)
        for (int k = 0; k < F_KINDS; k++)
            if (fault_supported((fault_kind)k))
                fault_and_check((fault_kind)k);

    /* All at once. */
    enum { AT_ONCE = 60 };
    oak_ref refs[AT_ONCE];
    fault_kind kinds[AT_ONCE];
    for (int i = 0; i < AT_ONCE; i++) {
        kinds[i] = (fault_kind)(i % F_KINDS);
        if (!fault_supported(kinds[i]))
            kinds[i] = F_NULL;
        OT_SPAWN_COPY_MONITOR(faulter, &kinds[i], 0, &refs[i]);
    }
    for (int i = 0; i < AT_ONCE; i++) {
        ot_signal d = OT_RECV_DOWN(refs[i], OT_LONG_MS);
        OT_CHECK_ATOM_EQ(d.reason, fault_reason(kinds[i]));
    }

    long before = atomic_load(&bystander_rounds);
    OT_EVENTUALLY(atomic_load(&bystander_rounds) >= before + 100, OT_LONG_MS);
    atomic_store(&bystander_stop, 1);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(qr, OT_LONG_MS).reason, OAK_NORMAL);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(pr, OT_LONG_MS).reason, OAK_NORMAL);
    OT_EVENTUALLY(oak_process_count() == 1, OT_LONG_MS);
}

static void many_faults_in_a_row_and_at_once_leave_the_runtime_healthy(void **state)
{
    (void)state;
    atomic_store(&bystander_rounds, 0);
    atomic_store(&bystander_stop, 0);
    OT_RUN(many_main, NULL);
}

/* ---- a fault is an exit reason like any other ---------------------------------------------- */

/* Not trapping: spawn_links a faulter, then waits; the fault kills it too. */
static void linked_victim(void *arg)
{
    fault_kind k = *(fault_kind *)arg;
    OT_SPAWN_COPY(faulter, &k, OAK_SPAWN_LINK);
    ot_body_forever(NULL);
}

static void linked_main(void *arg)
{
    (void)arg;
    oak_trap_exit(true);
    fault_kind k = F_NULL;
    oak_pid p = OT_SPAWN_COPY(faulter, &k, OAK_SPAWN_LINK);
    ot_signal e = OT_RECV_EXIT(OT_LONG_MS);
    OT_CHECK_UINT_EQ(e.from, p);
    OT_CHECK_ATOM_EQ(e.reason, OAK_SIGSEGV);
    OT_CHECK(e.has_detail);

    /* A non-trapping process linked to a faulting one dies with the same
     * reason and detail. */
    k = F_ILLEGAL;
    oak_ref r = 0;
    OT_SPAWN_COPY_MONITOR(linked_victim, &k, 0, &r);
    ot_signal d = OT_RECV_DOWN(r, OT_LONG_MS);
    OT_CHECK_ATOM_EQ(d.reason, OAK_SIGILL);
    OT_CHECK(d.has_detail);
}

static void fault_reason_reaches_links_as_an_exit_signal(void **state)
{
    (void)state;
    OT_RUN(linked_main, NULL);
}

static void fault_in_main_main(void *arg)
{
    (void)arg;
    OT_SPAWN(ot_body_forever, NULL, 0);
    do_null_store();
}

static void fault_in_the_first_process_makes_run_return_1(void **state)
{
    (void)state;
    assert_int_equal(ot_run(fault_in_main_main, NULL, NULL), 1);
}

static void named_faulter(void *arg)
{
    oak_atom name = *(oak_atom *)arg;
    OT_CHECK_INT_EQ(oak_register(name, oak_self()), 0);
    do_null_store();
}

static void name_main(void *arg)
{
    (void)arg;
    oak_atom name = oak_atom_from("crashy");
    oak_ref r = 0;
    OT_SPAWN_COPY_MONITOR(named_faulter, &name, 0, &r);
    OT_CHECK_ATOM_EQ(OT_RECV_DOWN(r, OT_LONG_MS).reason, OAK_SIGSEGV);
    OT_CHECK_UINT_EQ(oak_whereis(name), OAK_NOPID);
    OT_CHECK_INT_EQ(oak_register(name, oak_self()), 0);
}

static void faulting_process_releases_its_name(void **state)
{
    (void)state;
    OT_RUN(name_main, NULL);
}

/* ---- outside a process the default action stays ---------------------------------------------- */

static void quick_main(void *arg)
{
    (void)arg;
    oak_ref r = 0;
    OT_SPAWN_MONITOR(ot_body_return, NULL, 0, &r);
    OT_RECV_DOWN(r, OT_LONG_MS);
}

static void *faulting_thread(void *arg)
{
    (void)arg;
    do_null_store();
    return NULL;
}

static void thread_fault_main(void *arg)
{
    (void)arg;
    pthread_t th;
    pthread_create(&th, NULL, faulting_thread, NULL);
    pthread_join(th, NULL);
    oak_sleep(2000);
}

/* Run body in a child process with the default SIGSEGV action; return its
 * wait status, or -1 if it did not end within 20 s (then it is killed). */
static int in_child(void (*body)(void))
{
    fflush(NULL);
    pid_t c = fork();
    if (c == 0) {
        signal(SIGSEGV, SIG_DFL);
        body();
        _exit(0);
    }
    assert_true(c > 0);
    int status = 0;
    for (int i = 0; i < 2000; i++) {
        pid_t w = waitpid(c, &status, WNOHANG);
        if (w == c)
            return status;
        ot_thread_sleep_ms(10);
    }
    kill(c, SIGKILL);
    waitpid(c, &status, 0);
    return -1;
}

static void after_run_body(void)
{
    if (oak_run(quick_main, NULL, NULL) != 0)
        _exit(3);
    do_null_store();
}

static void during_run_body(void)
{
    (void)oak_run(thread_fault_main, NULL, NULL);
    _exit(4); /* only if the thread's fault was swallowed */
}

/* The program must not survive the fault: it dies of SIGSEGV (or, in a
 * sanitizer build, the sanitizer's SEGV report ends it with an error). */
static void assert_died_of_fault(int status)
{
    assert_int_not_equal(status, -1);
    if (WIFSIGNALED(status)) {
        assert_int_equal(WTERMSIG(status), SIGSEGV);
    } else {
        assert_true(WIFEXITED(status));
        assert_int_not_equal(WEXITSTATUS(status), 0);
        assert_int_not_equal(WEXITSTATUS(status), 3);
        assert_int_not_equal(WEXITSTATUS(status), 4);
    }
}

static void fault_outside_a_process_keeps_the_default_action(void **state)
{
    (void)state;
    assert_died_of_fault(in_child(after_run_body));
    assert_died_of_fault(in_child(during_run_body));
}

/* ---- where: the crash report names the place ------------------------------- */

static char report_line[2048];

static void keep_crash_report(oak_log_level level, const char *kind, const char *line, void *ctx)
{
    (void)level;
    (void)ctx;
    if (strcmp(kind, "crash_report") == 0 && !report_line[0])
        snprintf(report_line, sizeof report_line, "%s", line);
}

static void report_main(void *arg)
{
    (void)arg;
    fault_and_check(F_NULL);
}

/* A fault's crash report says where: the faulting code as module+offset
 * (what addr2line takes), and the calls that led there; with
 * backtrace_depth < 0, only where. */
static void crash_report_names_where_and_the_backtrace(void **state)
{
    (void)state;
    report_line[0] = '\0';
    oak_log_set_handler(keep_crash_report, NULL);
    OT_RUN(report_main, NULL);
    oak_log_set_handler(NULL, NULL);
    assert_non_null(strstr(report_line, " where=do_null_store+0x") ? report_line
                    : strstr(report_line, " where=test_faults+0x"));
    const char *bt = strstr(report_line, " backtrace=");
    assert_non_null(bt);
    /* faulter, then proc_main, then the first frame: three at least. */
    int frames = 1;
    for (const char *c = bt; *c; c++)
        frames += *c == ';';
    assert_true(frames >= 3);

    report_line[0] = '\0';
    oak_log_set_handler(keep_crash_report, NULL);
    oak_config cfg = {.backtrace_depth = -1};
    OT_RUN_CFG(report_main, NULL, &cfg);
    oak_log_set_handler(NULL, NULL);
    assert_non_null(strstr(report_line, " where="));
    assert_null(strstr(report_line, " backtrace="));
}

/* ---- where, from debug info: the function, the file and the line ---------- */

/* The lines of the faulting store and of the call to it, from __LINE__:
 * each is set on the line of the statement it names. */
static volatile int segv_line, call_line;

static FAULTING void segv_in_a_static_function(void)
{
    volatile int *volatile p = NULL;
    segv_line = __LINE__; *p = 42; /* one line: the store is on segv_line */
}

static FAULTING void calls_the_static_function(void *arg)
{
    (void)arg;
    call_line = __LINE__; segv_in_a_static_function();
    never_true = 0; /* after the call: not a tail call, a frame of its own */
}

/* Is libdw (elfutils' libdw1) there? Reports have file:line only then. */
static bool have_libdw(void)
{
    void *lib = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib)
        dlclose(lib);
    return lib != NULL;
}


/* The value of key= in a report line, copied into out. */
static const char *report_value(const char *line, const char *key, char *out, size_t size)
{
    char pat[32];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *v = strstr(line, pat);
    if (!v)
        return NULL;
    v += strlen(pat);
    size_t n = strcspn(v, " ");
    snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), v);
    return out;
}

static void static_fault_main(void *arg)
{
    (void)arg;
    oak_ref r = 0;
    OT_SPAWN_MONITOR(calls_the_static_function, NULL, 0, &r);
    OT_RECV_DOWN(r, OT_LONG_MS);
}

/* A SIGSEGV in a static function of the program (which the dynamic symbol
 * table does not name): where= names it, with the file and the line of the
 * faulting store, and the backtrace has the file and line of every frame
 * of the program, the first being the call. Without libdw: today's form,
 * said so. */
static void crash_report_names_the_static_function_file_and_line(void **state)
{
    (void)state;
    report_line[0] = '\0';
    oak_log_set_handler(keep_crash_report, NULL);
    OT_RUN(static_fault_main, NULL);
    oak_log_set_handler(NULL, NULL);
    char where[256], bt[1600], want[128];
    assert_non_null(report_value(report_line, "where", where, sizeof where));
    assert_non_null(report_value(report_line, "backtrace", bt, sizeof bt));
    if (!have_libdw() || !ot_have_line_table()) {
        fprintf(stderr, "[  NOTE    ] %s: crash reports have no file:line here; checking "
                        "the fallback form only\n",
                have_libdw() ? "this build has no line tables (a Release build)"
                             : "libdw.so.1 (Debian's libdw1) is not installed");
        assert_non_null(strstr(where, "test_faults+0x"));
        assert_null(strchr(where, '@'));
        assert_null(strchr(bt, '@'));
        return;
    }
    snprintf(want, sizeof want, "segv_in_a_static_function+0x");
    assert_memory_equal(where, want, strlen(want));
    assert_non_null(strstr(where, "(test_faults+0x"));
    snprintf(want, sizeof want, ")@test_faults.c:%d", segv_line);
    assert_string_equal(strstr(where, ")@"), want);
    /* The first frame is the caller, at the line of the call. */
    snprintf(want, sizeof want, "calls_the_static_function+0x");
    assert_memory_equal(bt, want, strlen(want));
    snprintf(want, sizeof want, "@test_faults.c:%d", call_line);
    size_t first_len = strcspn(bt, ";");
    assert_true(first_len > strlen(want));
    assert_memory_equal(bt + first_len - strlen(want), want, strlen(want));
    /* Every frame of the program (oak is linked into it) has file:line. */
    int program_frames = 0;
    for (char *f = strtok(bt, ";"); f; f = strtok(NULL, ";")) {
        if (!strstr(f, "(test_faults+0x"))
            continue;
        program_frames++;
        const char *at = strchr(f, '@');
        assert_non_null(at);
        const char *colon = strrchr(at, ':');
        assert_non_null(colon);
        assert_true(atoi(colon + 1) > 0);
    }
    assert_true(program_frames >= 2); /* the caller, and oak's proc_main */
}

/* ---- where, from copies of this program: stripped, corrupt, without libdw ---- */

/* The child's side: run the fault above and print the crash report. */
static int report_child(void)
{
    report_line[0] = '\0';
    oak_log_set_handler(keep_crash_report, NULL);
    int rc = oak_run(static_fault_main, NULL, NULL);
    printf("%s\n", report_line);
    fflush(stdout);
    return rc == 0 && report_line[0] ? 0 : 3;
}

/* Run prog report-child (with LD_LIBRARY_PATH=ld_path when not NULL) and
 * return its report line in out; fails the test unless it exits 0 within
 * 20 s. */
static void run_report_child(const char *prog, const char *ld_path, char *out, size_t size)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t c = fork();
    if (c == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        if (ld_path)
            setenv("LD_LIBRARY_PATH", ld_path, 1);
        execl(prog, prog, "report-child", (char *)NULL);
        _exit(127);
    }
    assert_true(c > 0);
    close(fds[1]);
    size_t len = 0;
    ssize_t n;
    while (len + 1 < size && (n = read(fds[0], out + len, size - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(fds[0]);
    int status = -1;
    for (int i = 0; i < 2000 && waitpid(c, &status, WNOHANG) != c; i++)
        ot_thread_sleep_ms(10);
    if (!WIFEXITED(status) && !WIFSIGNALED(status)) {
        kill(c, SIGKILL);
        waitpid(c, &status, 0);
        fail_msg("%s report-child did not end within 20 s", prog);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("%s report-child: status %#x, output: %s", prog, status, out);
}

static char scratch[64];

static void make_scratch(void)
{
    snprintf(scratch, sizeof scratch, "/tmp/oak-faults-XXXXXX");
    assert_non_null(mkdtemp(scratch));
}

static void remove_scratch(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    assert_int_equal(system(cmd), 0);
}

/* Copy this program to path; 0 or -1. */
static int copy_self(const char *path)
{
    int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
    char buf[65536];
    ssize_t n;
    int rc = in >= 0 && out >= 0 ? 0 : -1;
    while (rc == 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n)
            rc = -1;
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0)
        rc = -1;
    return rc;
}

static bool have_tool(const char *name)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

/* With a libdw.so.1 that is not a library first in the search path, the
 * runtime cannot open libdw: the report is today's form, module+offset. */
static void crash_report_without_libdw_is_module_and_offset(void **state)
{
    (void)state;
    make_scratch();
    char path[128], out[4096], where[256], bt[1600];
    snprintf(path, sizeof path, "%s/libdw.so.1", scratch);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not a library\n", f);
    fclose(f);
    run_report_child("/proc/self/exe", scratch, out, sizeof out);
    remove_scratch();
    assert_non_null(report_value(out, "where", where, sizeof where));
    assert_non_null(report_value(out, "backtrace", bt, sizeof bt));
    /* exe: the module as the loader names it when started by that path. */
    assert_non_null(strstr(where, "exe+0x"));
    assert_null(strchr(where, '@'));
    assert_null(strchr(bt, '@'));
}

/* A stripped copy has neither a symbol table nor DWARF: module+offset. */
static void crash_report_of_a_stripped_copy_is_module_and_offset(void **state)
{
    (void)state;
    if (!have_tool("strip"))
        skip(); /* binutils comes with the compiler; cmocka prints SKIPPED */
    make_scratch();
    char path[128], cmd[256], out[4096], where[256];
    snprintf(path, sizeof path, "%s/stripped", scratch);
    assert_int_equal(copy_self(path), 0);
    snprintf(cmd, sizeof cmd, "strip '%s'", path);
    assert_int_equal(system(cmd), 0);
    run_report_child(path, NULL, out, sizeof out);
    remove_scratch();
    assert_non_null(report_value(out, "where", where, sizeof where));
    assert_memory_equal(where, "stripped+0x", strlen("stripped+0x"));
    assert_null(strchr(where, '@'));
    assert_null(strstr(out, "@test_faults.c"));
}

/* A debug section replaced by noise, cut short, or with a few bytes
 * changed: the report is still written and the program does not crash. */
static void crash_report_survives_corrupt_debug_sections(void **state)
{
    (void)state;
    if (!have_tool("objcopy") || !ot_have_line_table())
        skip();
    static const char *const sections[] = {".debug_line", ".debug_info", ".debug_abbrev",
                                           ".debug_aranges", ".debug_str", ".debug_rnglists"};
    static const char *const damages[] = {"noise", "cut", "flips"};
    make_scratch();
    char prog[128], sec[128], cmd[512], out[4096], where[256];
    snprintf(prog, sizeof prog, "%s/prog", scratch);
    snprintf(sec, sizeof sec, "%s/section", scratch);
    int runs = 0;
    for (size_t i = 0; i < sizeof sections / sizeof *sections; i++) {
        for (size_t d = 0; d < sizeof damages / sizeof *damages; d++) {
            assert_int_equal(copy_self(prog), 0);
            snprintf(cmd, sizeof cmd, "objcopy --dump-section '%s=%s' '%s' 2>/dev/null",
                     sections[i], sec, prog);
            if (system(cmd) != 0)
                continue; /* no such section in this build */
            /* Damage the section's bytes (a fixed seed: the same each run). */
            FILE *f = fopen(sec, "r+b");
            assert_non_null(f);
            fseek(f, 0, SEEK_END);
            long size = ftell(f);
            unsigned seed = 12345u + (unsigned)(i * 7 + d);
            if (d == 1) {
                assert_int_equal(ftruncate(fileno(f), size / 2), 0);
            } else {
                for (long at = 0; at < size; at++) {
                    seed = seed * 1103515245u + 12345u;
                    if (d == 0 || (seed >> 16) % 64 == 0) {
                        fseek(f, at, SEEK_SET);
                        fputc((int)(seed >> 24), f);
                    }
                }
            }
            fclose(f);
            snprintf(cmd, sizeof cmd, "objcopy --update-section '%s=%s' '%s' 2>/dev/null",
                     sections[i], sec, prog);
            assert_int_equal(system(cmd), 0);
            run_report_child(prog, NULL, out, sizeof out);
            if (!report_value(out, "where", where, sizeof where))
                fail_msg("%s %s: no where= in %s", sections[i], damages[d], out);
            assert_memory_equal(where, "segv_in_a_static_function+0x",
                                have_libdw() && ot_have_line_table() ? strlen("segv_in_a_static_function+0x") : 0);
            runs++;
        }
    }
    remove_scratch();
    assert_true(runs >= 9); /* .debug_line, _info, _abbrev at least */
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "report-child"))
        return report_child();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(null_dereference_kills_only_that_process_with_sigsegv),
        cmocka_unit_test(segv_detail_names_the_faulting_address),
        cmocka_unit_test(division_by_zero_kills_only_that_process_with_sigfpe),
        cmocka_unit_test(illegal_instruction_kills_only_that_process_with_sigill),
        cmocka_unit_test(stack_overflow_kills_only_that_process_with_stack_overflow),
        cmocka_unit_test(bus_error_kills_only_that_process_with_sigbus),
        cmocka_unit_test(many_faults_in_a_row_and_at_once_leave_the_runtime_healthy),
        cmocka_unit_test(fault_reason_reaches_links_as_an_exit_signal),
        cmocka_unit_test(fault_in_the_first_process_makes_run_return_1),
        cmocka_unit_test(faulting_process_releases_its_name),
        cmocka_unit_test(fault_outside_a_process_keeps_the_default_action),
        cmocka_unit_test(crash_report_names_where_and_the_backtrace),
        cmocka_unit_test(crash_report_names_the_static_function_file_and_line),
        cmocka_unit_test(crash_report_without_libdw_is_module_and_offset),
        cmocka_unit_test(crash_report_of_a_stripped_copy_is_module_and_offset),
        cmocka_unit_test(crash_report_survives_corrupt_debug_sections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
