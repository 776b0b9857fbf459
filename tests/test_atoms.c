/* test_atoms.c - the basic types of oak/types.h: atoms (fixed values,
 * interning, limits, any thread), error texts, and the Erlang-style
 * formatting of pids and exit reasons.
 */
#include "oak_test.h"

static void builtin_atoms_have_fixed_values_and_their_names(void **state)
{
    (void)state;
    static const struct {
        oak_atom atom;
        const char *name;
    } fixed[] = {
        {OAK_NORMAL, "normal"},         {OAK_SHUTDOWN, "shutdown"},
        {OAK_KILL, "kill"},             {OAK_KILLED, "killed"},
        {OAK_NOPROC, "noproc"},         {OAK_TIMEOUT, "timeout"},
        {OAK_UNDEFINED, "undefined"},   {OAK_OK, "ok"},
        {OAK_ERROR, "error"},           {OAK_STACK_OVERFLOW, "stack_overflow"},
        {OAK_SIGSEGV, "sigsegv"},       {OAK_SIGBUS, "sigbus"},
        {OAK_SIGFPE, "sigfpe"},         {OAK_SIGILL, "sigill"},
        {OAK_BADARG, "badarg"},         {OAK_SYSTEM_LIMIT, "system_limit"},
        {OAK_TRUE, "true"},             {OAK_FALSE, "false"},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        assert_string_equal(oak_atom_name(fixed[i].atom), fixed[i].name);
        assert_int_equal(oak_atom_from(fixed[i].name), fixed[i].atom);
    }
    /* 'EXIT' and 'DOWN': the name, with or without Erlang's quotes. */
    const char *e = oak_atom_name(OAK_ATOM_EXIT);
    const char *d = oak_atom_name(OAK_ATOM_DOWN);
    assert_non_null(e);
    assert_non_null(d);
    assert_true(strcmp(e, "EXIT") == 0 || strcmp(e, "'EXIT'") == 0);
    assert_true(strcmp(d, "DOWN") == 0 || strcmp(d, "'DOWN'") == 0);
    assert_int_equal(oak_atom_from(e), OAK_ATOM_EXIT);
    assert_int_equal(oak_atom_from(d), OAK_ATOM_DOWN);
}

static void interning_gives_one_atom_per_name(void **state)
{
    (void)state;
    oak_atom a = oak_atom_from("my_atom");
    assert_int_not_equal(a, 0);
    assert_int_equal(oak_atom_from("my_atom"), a);
    assert_int_equal(oak_atom_from_n("my_atom_and_more", 7), a);
    assert_string_equal(oak_atom_name(a), "my_atom");
    oak_atom b = oak_atom_from("my_atom2");
    assert_int_not_equal(b, a);
    assert_int_not_equal(oak_atom_from("My_atom"), a);
    /* Not NUL-terminated input, with bytes after it. */
    char buf[4] = {'a', 'b', 'c', 'd'};
    oak_atom ab = oak_atom_from_n(buf, 2);
    assert_string_equal(oak_atom_name(ab), "ab");
    /* Any bytes make a name, as in Erlang's quoted atoms. */
    oak_atom q = oak_atom_from("with space/and:colon");
    assert_int_not_equal(q, 0);
    assert_string_equal(oak_atom_name(q), "with space/and:colon");
}

static void bad_names_give_no_atom(void **state)
{
    (void)state;
    char name[OAK_ATOM_MAX_LEN + 2];
    memset(name, 'x', sizeof name);
    name[OAK_ATOM_MAX_LEN] = 0;
    oak_atom longest = oak_atom_from(name);
    assert_int_not_equal(longest, 0);
    assert_int_equal(strlen(oak_atom_name(longest)), OAK_ATOM_MAX_LEN);
    name[OAK_ATOM_MAX_LEN] = 'x';
    name[OAK_ATOM_MAX_LEN + 1] = 0;
    assert_int_equal(oak_atom_from(name), OAK_ATOM_NONE);
    assert_int_equal(oak_atom_from_n(name, OAK_ATOM_MAX_LEN + 1), OAK_ATOM_NONE);
    assert_int_equal(oak_atom_from(NULL), OAK_ATOM_NONE);
    assert_int_equal(oak_atom_from(""), OAK_ATOM_NONE);
    assert_int_equal(oak_atom_from_n("abc", 0), OAK_ATOM_NONE);
    assert_int_equal(oak_atom_from_n(NULL, 3), OAK_ATOM_NONE);
    assert_null(oak_atom_name(OAK_ATOM_NONE));
    assert_null(oak_atom_name((oak_atom)0x7ffffff0u));
}

/* A prime count, so that every stride 2t+1 visits every name. */
enum { ATOM_THREADS = 4, ATOM_NAMES = 2003 };
static oak_atom thread_atoms[ATOM_THREADS][ATOM_NAMES];

static void *intern_thread(void *arg)
{
    int t = (int)(intptr_t)arg;
    /* Each thread walks all the names, each in its own order (steps prime
     * to ATOM_NAMES visit every index). */
    static const int step[ATOM_THREADS] = {1, 3, 7, 11};
    char name[32];
    for (int k = 0; k < ATOM_NAMES; k++) {
        int i = (k * step[t] + 97 * t) % ATOM_NAMES;
        snprintf(name, sizeof name, "concurrent_%d", i);
        thread_atoms[t][i] = oak_atom_from(name);
    }
    return NULL;
}

static void atoms_interned_from_many_threads_at_once_agree(void **state)
{
    (void)state;
    pthread_t th[ATOM_THREADS];
    for (int t = 0; t < ATOM_THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, intern_thread, (void *)(intptr_t)t), 0);
    for (int t = 0; t < ATOM_THREADS; t++)
        pthread_join(th[t], NULL);
    char name[32];
    for (int i = 0; i < ATOM_NAMES; i++) {
        snprintf(name, sizeof name, "concurrent_%d", i);
        assert_int_not_equal(thread_atoms[0][i], 0);
        for (int t = 1; t < ATOM_THREADS; t++)
            assert_int_equal(thread_atoms[t][i], thread_atoms[0][i]);
        assert_string_equal(oak_atom_name(thread_atoms[0][i]), name);
    }
}

/* Atoms made before a run are the same during it and after it. */
static oak_atom before_run;
static oak_atom seen_in_run;

static void atom_main(void *arg)
{
    (void)arg;
    seen_in_run = oak_atom_from("made_before_the_run");
    OT_CHECK_STR_EQ(oak_atom_name(before_run), "made_before_the_run");
}

static void atoms_live_across_runs(void **state)
{
    (void)state;
    before_run = oak_atom_from("made_before_the_run");
    OT_RUN(atom_main, NULL);
    assert_int_equal(seen_in_run, before_run);
    assert_int_equal(oak_atom_from("made_before_the_run"), before_run);
    assert_string_equal(oak_atom_name(before_run), "made_before_the_run");
}

static void strerror_names_every_code(void **state)
{
    (void)state;
    /* Every code the headers document. */
    const int codes[] = {-EINVAL, -ENOMEM, -EAGAIN, -EPERM, -ESRCH,
                         -EEXIST, -EBUSY, -ENOENT, -ETIMEDOUT, -ECANCELED,
                         -ECONNRESET, -EDEADLK, -EALREADY, -EOPNOTSUPP,
                         -ENOSPC, -EBADF, -EPROTO};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = oak_strerror(codes[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s, oak_strerror(codes[j]));
    }
    assert_non_null(strstr(oak_strerror(-ESRCH), "process"));
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        assert_string_not_equal(oak_strerror(codes[i]), "unknown error");
    assert_non_null(strstr(oak_strerror(-ECONNRESET), "exited"));
    assert_non_null(strstr(oak_strerror(-EDEADLK), "self"));
}

/* The supervisor's codes in its own sense; the others as oak_strerror. */
static void supervisor_strerror_names_codes_in_the_supervisor_sense(void **state)
{
    (void)state;
    assert_non_null(strstr(oak_supervisor_strerror(-EAGAIN), "restarting"));
    assert_non_null(strstr(oak_supervisor_strerror(-EEXIST), "already_present"));
    assert_non_null(strstr(oak_supervisor_strerror(-EALREADY), "already started"));
    assert_non_null(strstr(oak_supervisor_strerror(-ENOSPC), "max_children"));
    assert_non_null(strstr(oak_supervisor_strerror(-EOPNOTSUPP), "simple_one_for_one"));
    assert_non_null(strstr(oak_supervisor_strerror(-EBUSY), "running"));
    assert_non_null(strstr(oak_supervisor_strerror(-EPROTO), "not a supervisor"));
    assert_string_equal(oak_supervisor_strerror(-ESRCH), oak_strerror(-ESRCH));
    assert_string_equal(oak_supervisor_strerror(-ECONNRESET), oak_strerror(-ECONNRESET));
    assert_non_null(oak_supervisor_strerror(-123456));
    assert_non_null(oak_strerror(0));
    assert_non_null(oak_strerror(-123456));
    assert_non_null(oak_strerror(123456));
}

static char pid_text[64];
static char pid_text2[64];
static int pid_len;

static void pid_main(void *arg)
{
    (void)arg;
    pid_len = oak_pid_format(oak_self(), pid_text, sizeof pid_text);
    oak_pid other = OT_SPAWN(ot_body_until_stop, NULL, 0);
    oak_pid_format(other, pid_text2, sizeof pid_text2);
    OT_SEND_U64(other, OT_TAG_STOP, 0);
}

static void pid_formats_as_erlang_prints_it(void **state)
{
    (void)state;
    OT_RUN(pid_main, NULL);
    assert_int_equal(pid_len, (int)strlen(pid_text));
    unsigned node, slot, gen;
    int used = 0;
    assert_int_equal(sscanf(pid_text, "<%u.%u.%u>%n", &node, &slot, &gen, &used), 3);
    assert_int_equal(node, 0);
    assert_int_equal(used, pid_len);
    assert_string_not_equal(pid_text, pid_text2);

    /* A buffer too short: the length it needs, and a terminated prefix. */
    char small[4];
    memset(small, '#', sizeof small);
    int need = oak_pid_format((oak_pid)1 << 28 | 5, small, sizeof small);
    assert_true(need >= 7);
    assert_int_equal(small[3], 0);
    assert_int_equal(oak_pid_format((oak_pid)1 << 28 | 5, NULL, 0), need);
    char full[64];
    assert_int_equal(oak_pid_format((oak_pid)1 << 28 | 5, full, sizeof full), need);
    assert_int_equal(strncmp(full, small, 3), 0);
}

static void reason_formats_as_an_erlang_term(void **state)
{
    (void)state;
    char buf[128];
    assert_int_equal(oak_reason_format(OAK_NORMAL, NULL, buf, sizeof buf), 6);
    assert_string_equal(buf, "normal");
    assert_int_equal(oak_reason_format(OAK_SHUTDOWN, "x", buf, sizeof buf), 12);
    assert_string_equal(buf, "{shutdown,x}");
    oak_reason_format(OAK_ERROR, "{badmatch,\"s\"}", buf, sizeof buf);
    assert_string_equal(buf, "{error,{badmatch,\"s\"}}");
    oak_reason_format(OAK_KILLED, NULL, buf, sizeof buf);
    assert_string_equal(buf, "killed");
    char small[5];
    int need = oak_reason_format(OAK_SHUTDOWN, "abc", small, sizeof small);
    assert_int_equal(need, 14);
    assert_int_equal(small[4], 0);
    assert_int_equal(strncmp(small, "{shu", 4), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builtin_atoms_have_fixed_values_and_their_names),
        cmocka_unit_test(interning_gives_one_atom_per_name),
        cmocka_unit_test(bad_names_give_no_atom),
        cmocka_unit_test(atoms_interned_from_many_threads_at_once_agree),
        cmocka_unit_test(atoms_live_across_runs),
        cmocka_unit_test(strerror_names_every_code),
        cmocka_unit_test(supervisor_strerror_names_codes_in_the_supervisor_sense),
        cmocka_unit_test(pid_formats_as_erlang_prints_it),
        cmocka_unit_test(reason_formats_as_an_erlang_term),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
