/* Text forms: atoms quoted as Erlang quotes them, reasons, pids. */
#include "oak_test.h"

static void check_atom(const char *name, const char *want)
{
    char buf[64];
    int n = oak_atom_format(oak_atom_from(name), buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, (int)strlen(want));
}

static void atoms_are_quoted_exactly_when_erlang_quotes_them(void **state)
{
    (void)state;
    check_atom("normal", "normal");
    check_atom("a_b@c9", "a_b@c9");
    check_atom("EXIT", "'EXIT'");
    check_atom("hello world", "'hello world'");
    check_atom("_x", "'_x'");
    check_atom("9lives", "'9lives'");
    check_atom("after", "'after'");
    check_atom("it's", "'it\\'s'");
    char small[4];
    assert_int_equal(oak_atom_format(oak_atom_from("EXIT"), small, sizeof small), 6);
    assert_string_equal(small, "'EX");
}

static void reasons_print_as_erlang_terms(void **state)
{
    (void)state;
    char buf[128];
    oak_reason_format(OAK_SHUTDOWN, NULL, buf, sizeof buf);
    assert_string_equal(buf, "shutdown");
    oak_reason_format(OAK_SHUTDOWN, "{failed_to_start_child,b,nope}", buf, sizeof buf);
    assert_string_equal(buf, "{shutdown,{failed_to_start_child,b,nope}}");
    oak_reason_format(oak_atom_from("DOWN"), "x", buf, sizeof buf);
    assert_string_equal(buf, "{'DOWN',x}");
}

static void pids_print_as_erlang_pids(void **state)
{
    (void)state;
    char buf[32];
    oak_pid_format(((oak_pid)3 << 28) | 17, buf, sizeof buf);
    assert_string_equal(buf, "<0.17.3>");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(atoms_are_quoted_exactly_when_erlang_quotes_them),
        cmocka_unit_test(reasons_print_as_erlang_terms),
        cmocka_unit_test(pids_print_as_erlang_pids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
