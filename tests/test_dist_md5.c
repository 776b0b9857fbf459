/* MD5 of the handshake: RFC 1321's test suite, and the digest of a cookie
 * and a challenge as Erlang computes it (erlang:md5(Cookie ++
 * integer_to_list(Challenge))). */
#include "oak_test.h"
#include "../src/dist/handshake.h"
#include "../src/dist/md5.h"

static void hex(const uint8_t d[16], char out[33])
{
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void md5_gives_the_rfc_1321_digests(void **state)
{
    static const char *const v[][2] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"1234567890123456789012345678901234567890123456789012345678901234567890123456"
         "7890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t d[16];
        char h[33];
        oak__md5(v[i][0], strlen(v[i][0]), d);
        hex(d, h);
        assert_string_equal(h, v[i][1]);
    }
    /* Every length around the block and padding edges (55, 56, 63, 64):
     * the digest of n bytes differs from that of n + 1. */
    uint8_t buf[200], prev[16] = {0};
    memset(buf, 'x', sizeof buf);
    for (size_t n = 0; n < sizeof buf; n++) {
        uint8_t d[16];
        oak__md5(buf, n, d);
        assert_true(memcmp(d, prev, 16) != 0);
        memcpy(prev, d, 16);
    }
}

static void the_handshake_digest_is_md5_of_cookie_and_decimal_challenge(void **state)
{
    uint8_t a[16], b[16];
    oak__handshake_digest("COOKIE", 4294967295u, a);
    oak__md5("COOKIE4294967295", 16, b);
    assert_memory_equal(a, b, 16);
    oak__handshake_digest("COOKIE", 0, a);
    oak__md5("COOKIE0", 7, b);
    assert_memory_equal(a, b, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(md5_gives_the_rfc_1321_digests),
        cmocka_unit_test(the_handshake_digest_is_md5_of_cookie_and_decimal_challenge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
