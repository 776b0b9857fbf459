/* The term decoder on random and mutated bytes: it returns a code or a
 * term, never crashes or reads past its input (the ASan build checks the
 * reads), and whatever it accepts encodes to bytes that decode to an equal
 * term. The count of inputs is fixed and the generator seeded, so a failure
 * is reproducible: the seed is printed. */
#include "oak_test.h"

static uint64_t rng;

static uint64_t next(void)
{
    /* xorshift64* */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * UINT64_C(2685821657736338717);
}

/* Valid encodings to start mutations from. */
static const uint8_t seeds[][64] = {
    {131, 104, 3, 119, 2, 'o', 'k', 108, 0, 0, 0, 2, 97, 1, 107, 0, 1, 'x', 106, 70, 0x40,
     9, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18},
    {131, 116, 0, 0, 0, 2, 119, 1, 'a', 110, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 109, 0, 0, 0,
     2, 'h', 'i', 77, 0, 0, 0, 1, 3, 0xe0},
    {131, 88, 119, 3, 'a', '@', 'b', 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 9},
    {131, 90, 0, 2, 119, 1, 'n', 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3},
    {131, 108, 0, 0, 0, 1, 104, 2, 100, 0, 1, 'z', 98, 255, 255, 0, 1, 115, 1, 'q'},
    {131, 120, 119, 1, 'p', 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1},
};
static const size_t seed_len[] = {28, 35, 19, 19, 20, 17};

/* Decode buf; if it is accepted, its encoding must decode to an equal
 * term. Returns the decode's code. */
static int check_one(const uint8_t *buf, size_t n)
{
    oak_term_arena *a = oak_term_arena_new();
    assert_non_null(a);
    oak_term *t = NULL;
    int rc = oak_term_decode(a, buf, n, &t, NULL);
    assert_true(rc == 0 || rc == -EBADMSG || rc == -ELOOP || rc == -EOPNOTSUPP);
    /* Memory stays linear in the input. */
    assert_true(oak_term_arena_bytes(a) < 64 * 1024 + 64 * n);
    if (rc == 0) {
        void *enc;
        size_t len;
        assert_int_equal(oak_term_encode_alloc(t, &enc, &len), 0);
        oak_term *back = NULL;
        assert_int_equal(oak_term_decode(a, enc, len, &back, NULL), 0);
        assert_true(oak_term_equal(t, back));
        char text[128];
        assert_true(oak_term_format(t, text, sizeof text) >= 0);
        free(enc);
    }
    oak_term_arena_free(a);
    return rc;
}

static void random_bytes_never_crash_the_decoder(void **state)
{
    uint8_t buf[256];
    int ok = 0;
    for (int i = 0; i < 100000; i++) {
        size_t n = next() % sizeof buf;
        for (size_t k = 0; k < n; k++) {
            /* Mostly valid tags and small numbers, so the walk gets deep. */
            uint64_t r = next();
            buf[k] = (r & 3) == 0 ? (uint8_t)(r >> 8) : (uint8_t)(97 + (r >> 8) % 24);
        }
        if (n)
            buf[0] = 131;
        ok += check_one(buf, n) == 0;
    }
    print_message("random: %d of 100000 accepted\n", ok);
}

static void mutated_terms_never_crash_the_decoder(void **state)
{
    uint8_t buf[128];
    int ok = 0, nseeds = (int)(sizeof seed_len / sizeof seed_len[0]);
    for (int s = 0; s < nseeds; s++)
        assert_int_equal(check_one(seeds[s], seed_len[s]), 0);
    for (int i = 0; i < 200000; i++) {
        int s = (int)(next() % (uint64_t)nseeds);
        size_t n = seed_len[s];
        memcpy(buf, seeds[s], n);
        int edits = 1 + (int)(next() % 4);
        for (int e = 0; e < edits; e++) {
            uint64_t r = next();
            size_t at = (size_t)(r >> 8) % (n ? n : 1);
            switch (r % 5) {
            case 0: buf[at] = (uint8_t)(r >> 40); break;          /* a byte     */
            case 1: buf[at] ^= (uint8_t)(1u << (r >> 40) % 8); break; /* a bit  */
            case 2: n = at; break;                                /* truncate   */
            case 3:                                               /* insert     */
                if (n < sizeof buf) {
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = (uint8_t)(r >> 40);
                    n++;
                }
                break;
            case 4: buf[at] = (r >> 40) & 1 ? 0xff : 0x00; break; /* extremes   */
            }
        }
        ok += check_one(buf, n) == 0;
    }
    print_message("mutated: %d of 200000 accepted\n", ok);
}

int main(void)
{
    const char *seed = getenv("OAK_FUZZ_SEED");
    rng = seed ? strtoull(seed, NULL, 0) : UINT64_C(0x9e3779b97f4a7c15);
    if (rng == 0)
        rng = 1;
    fprintf(stderr, "test_term_fuzz: seed %#llx (OAK_FUZZ_SEED)\n", (unsigned long long)rng);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_bytes_never_crash_the_decoder),
        cmocka_unit_test(mutated_terms_never_crash_the_decoder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
