/* test_version.c - oak/version.h: the macros, oak_version() and
 * oak_version_string() agree with each other and with the version CMake's
 * project() gives the build (OAK_TEST_PROJECT_VERSION).
 */
#include "oak_test.h"

#include <stdio.h>

static void version_macros_match_the_project_version(void **state)
{
    (void)state;
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", OAK_VERSION_MAJOR, OAK_VERSION_MINOR,
             OAK_VERSION_PATCH);
    assert_string_equal(want, OAK_TEST_PROJECT_VERSION);
    assert_string_equal(OAK_VERSION_STRING, OAK_TEST_PROJECT_VERSION);
}

static void oak_version_is_the_hex_of_the_three_numbers(void **state)
{
    (void)state;
    unsigned v = oak_version();
    assert_int_equal(v, OAK_VERSION_HEX);
    assert_int_equal(v >> 16, OAK_VERSION_MAJOR);
    assert_int_equal((v >> 8) & 0xff, OAK_VERSION_MINOR);
    assert_int_equal(v & 0xff, OAK_VERSION_PATCH);
}

static void oak_version_string_is_the_library_version_as_text(void **state)
{
    (void)state;
    const char *s = oak_version_string();
    assert_non_null(s);
    assert_string_equal(s, OAK_TEST_PROJECT_VERSION);
    unsigned major, minor, patch;
    char end;
    assert_int_equal(sscanf(s, "%u.%u.%u%c", &major, &minor, &patch, &end), 3);
    assert_int_equal((major << 16) | (minor << 8) | patch, oak_version());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(version_macros_match_the_project_version),
        cmocka_unit_test(oak_version_is_the_hex_of_the_three_numbers),
        cmocka_unit_test(oak_version_string_is_the_library_version_as_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
