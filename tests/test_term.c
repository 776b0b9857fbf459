/* The term codec on hand-made bytes: each tag decodes to its value and
 * encodes back, and malformed input gives a code, never a crash. */
#include <math.h>

#include "oak_test.h"

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static oak_term_arena *A;

static int setup(void **state)
{
    A = oak_term_arena_new();
    return A ? 0 : -1;
}

static int teardown(void **state)
{
    oak_term_arena_free(A);
    A = NULL;
    return 0;
}

static oak_term *dec_ok(const uint8_t *b, size_t n)
{
    oak_term *t = NULL;
    int rc = oak_term_decode(A, b, n, &t, NULL);
    assert_int_equal(rc, 0);
    assert_non_null(t);
    return t;
}

static int dec_rc(const uint8_t *b, size_t n)
{
    oak_term *t = NULL;
    return oak_term_decode(A, b, n, &t, NULL);
}

/* t encodes to exactly the n bytes at b. */
static void enc_is(const oak_term *t, const uint8_t *b, size_t n)
{
    assert_non_null(t);
    uint8_t buf[512];
    size_t len = 0;
    assert_int_equal(oak_term_encode(t, buf, sizeof buf, &len), 0);
    assert_int_equal(len, n);
    assert_memory_equal(buf, b, n);
    size_t sz = 0;
    assert_int_equal(oak_term_encoded_size(t, &sz), 0);
    assert_int_equal(sz, n);
}

static void text_is(const oak_term *t, const char *want)
{
    char buf[256];
    int n = oak_term_format(t, buf, sizeof buf);
    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(buf, want);
}

static void integers_decode_in_every_form_and_encode_in_the_smallest(void **state)
{
    oak_term *t = dec_ok(BYTES(131, 97, 200));
    assert_int_equal(t->type, OAK_TERM_INT);
    assert_int_equal(t->u.i, 200);
    enc_is(t, BYTES(131, 97, 200));

    t = dec_ok(BYTES(131, 98, 0xff, 0xff, 0xff, 0xfe));
    assert_int_equal(t->u.i, -2);
    enc_is(t, BYTES(131, 98, 0xff, 0xff, 0xff, 0xfe));

    /* 2^32 as SMALL_BIG_EXT becomes an INT, and goes back as SMALL_BIG. */
    t = dec_ok(BYTES(131, 110, 5, 0, 0, 0, 0, 0, 1));
    assert_int_equal(t->type, OAK_TERM_INT);
    assert_true(t->u.i == INT64_C(4294967296));
    enc_is(t, BYTES(131, 110, 5, 0, 0, 0, 0, 0, 1));

    /* INT64_MIN fits; -(2^63+1) does not. */
    t = dec_ok(BYTES(131, 110, 8, 1, 0, 0, 0, 0, 0, 0, 0, 0x80));
    assert_int_equal(t->type, OAK_TERM_INT);
    assert_true(t->u.i == INT64_MIN);
    enc_is(t, BYTES(131, 110, 8, 1, 0, 0, 0, 0, 0, 0, 0, 0x80));
    t = dec_ok(BYTES(131, 110, 8, 1, 1, 0, 0, 0, 0, 0, 0, 0x80));
    assert_int_equal(t->type, OAK_TERM_BIG);
    assert_true(t->u.big.negative);
    text_is(t, "-16#8000000000000001");

    /* Leading zero digits and LARGE_BIG_EXT are canonicalised. */
    t = dec_ok(BYTES(131, 111, 0, 0, 0, 10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0));
    assert_int_equal(t->type, OAK_TERM_BIG);
    assert_int_equal(t->u.big.n, 9);
    enc_is(t, BYTES(131, 110, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9));
    assert_int_equal(dec_rc(BYTES(131, 110, 1, 2, 5)), -EBADMSG); /* sign 2 */

    enc_is(oak_term_int(A, 255), BYTES(131, 97, 255));
    enc_is(oak_term_int(A, 256), BYTES(131, 98, 0, 0, 1, 0));
    enc_is(oak_term_int(A, INT32_MIN), BYTES(131, 98, 0x80, 0, 0, 0));
    enc_is(oak_term_int(A, (int64_t)INT32_MIN - 1), BYTES(131, 110, 4, 1, 1, 0, 0, 0x80));
    t = oak_term_uint(A, UINT64_MAX);
    assert_int_equal(t->type, OAK_TERM_BIG);
    enc_is(t, BYTES(131, 110, 8, 0, 255, 255, 255, 255, 255, 255, 255, 255));
    text_is(oak_term_int(A, INT64_MIN), "-9223372036854775808");
}

static void floats_are_new_float_ext_and_old_text_floats_decode(void **state)
{
    oak_term *t = dec_ok(BYTES(131, 70, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0));
    assert_int_equal(t->type, OAK_TERM_FLOAT);
    assert_true(t->u.f == 1.5);
    enc_is(oak_term_float(A, -0.25), BYTES(131, 70, 0xbf, 0xd0, 0, 0, 0, 0, 0, 0));
    text_is(t, "1.5");
    uint8_t old[33] = {131, 99};
    snprintf((char *)old + 2, 31, "%.20e", 2.5);
    t = dec_ok(old, sizeof old);
    assert_true(t->u.f == 2.5);
    memcpy(old + 2, "nan", 4);
    assert_int_equal(dec_rc(old, sizeof old), -EBADMSG);
    memcpy(old + 2, "1.0x", 5);
    assert_int_equal(dec_rc(old, sizeof old), -EBADMSG);
    /* Infinity and NaN are not Erlang floats. */
    assert_int_equal(dec_rc(BYTES(131, 70, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0)), -EBADMSG);
    assert_int_equal(dec_rc(BYTES(131, 70, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0)), -EBADMSG);
    assert_null(oak_term_float(A, NAN));
    assert_null(oak_term_float(A, INFINITY));
}

static void atoms_in_four_forms_become_utf8_names(void **state)
{
    oak_term *t = dec_ok(BYTES(131, 100, 0, 3, 'f', 'o', 'o'));
    assert_true(oak_term_atom_is(t, "foo"));
    enc_is(t, BYTES(131, 119, 3, 'f', 'o', 'o'));
    t = dec_ok(BYTES(131, 115, 2, 'c', 0xe9)); /* latin-1 é */
    assert_true(oak_term_atom_is(t, "c\xc3\xa9"));
    assert_int_equal(t->u.atom.len, 3);
    t = dec_ok(BYTES(131, 118, 0, 2, 0xc3, 0xa9));
    assert_true(oak_term_atom_is(t, "\xc3\xa9"));
    t = dec_ok(BYTES(131, 119, 0));
    assert_true(oak_term_atom_is(t, ""));
    text_is(t, "''");
    text_is(oak_term_atom(A, "EXIT"), "'EXIT'");
    text_is(oak_term_atom(A, "oak@127.0.0.1"), "'oak@127.0.0.1'");
    text_is(oak_term_atom(A, "it's"), "'it\\'s'");
    /* Bad UTF-8: a lone continuation byte, an overlong form, a surrogate. */
    assert_int_equal(dec_rc(BYTES(131, 119, 1, 0x80)), -EBADMSG);
    assert_int_equal(dec_rc(BYTES(131, 119, 2, 0xc0, 0x80)), -EBADMSG);
    assert_int_equal(dec_rc(BYTES(131, 119, 3, 0xed, 0xa0, 0x80)), -EBADMSG);
    assert_int_equal(dec_rc(BYTES(131, 119, 2, 0xe2, 0x82)), -EBADMSG);
    assert_null(oak_term_atom(A, "\xff"));
    /* 255 characters are fine, 256 are not, in either form. */
    char name[600];
    memset(name, 'a', 256);
    name[256] = '\0';
    assert_null(oak_term_atom(A, name));
    name[255] = '\0';
    t = oak_term_atom(A, name);
    assert_non_null(t);
    uint8_t big[1 + 3 + 256];
    big[0] = 131;
    big[1] = 118;
    big[2] = 1;
    big[3] = 0;
    memset(big + 4, 'a', 256);
    assert_int_equal(dec_rc(big, sizeof big), -EBADMSG);
    /* 255 two-byte characters: 510 bytes, ATOM_UTF8_EXT. */
    for (int k = 0; k < 255; k++)
        memcpy(name + 2 * k, "\xc3\xa9", 2);
    name[510] = '\0';
    t = oak_term_atom(A, name);
    assert_non_null(t);
    size_t len;
    void *out;
    assert_int_equal(oak_term_encode_alloc(t, &out, &len), 0);
    assert_int_equal(len, 4 + 510);
    assert_int_equal(((uint8_t *)out)[1], 118);
    oak_term *back;
    assert_int_equal(oak_term_decode(A, out, len, &back, NULL), 0);
    assert_true(oak_term_equal(t, back));
    free(out);
    assert_int_equal(oak_term_to_atom(oak_term_atom(A, "term_test_atom")),
                     oak_atom_from("term_test_atom"));
    assert_int_equal(oak_term_to_atom(oak_term_int(A, 1)), OAK_ATOM_NONE);
}

static void binaries_bitstrings_and_strings(void **state)
{
    oak_term *t = dec_ok(BYTES(131, 109, 0, 0, 0, 3, 1, 2, 3));
    assert_int_equal(t->type, OAK_TERM_BINARY);
    assert_int_equal(t->u.bin.size, 3);
    assert_int_equal(t->u.bin.bits, 8);
    text_is(t, "<<1,2,3>>");
    enc_is(t, BYTES(131, 109, 0, 0, 0, 3, 1, 2, 3));
    enc_is(oak_term_binary(A, NULL, 0), BYTES(131, 109, 0, 0, 0, 0));
    t = dec_ok(BYTES(131, 77, 0, 0, 0, 2, 3, 0xff, 0xe0));
    assert_int_equal(t->u.bin.bits, 3);
    text_is(t, "<<255,7:3>>");
    enc_is(oak_term_bitstring(A, "\xff\xff", 2, 3), BYTES(131, 77, 0, 0, 0, 2, 3, 0xff, 0xe0));
    assert_int_equal(dec_rc(BYTES(131, 77, 0, 0, 0, 1, 0, 0xff)), -EBADMSG);
    assert_int_equal(dec_rc(BYTES(131, 77, 0, 0, 0, 1, 9, 0xff)), -EBADMSG);
    assert_int_equal(dec_rc(BYTES(131, 77, 0, 0, 0, 0, 1)), -EBADMSG);

    t = dec_ok(BYTES(131, 107, 0, 2, 'h', 'i'));
    assert_int_equal(t->type, OAK_TERM_STRING);
    text_is(t, "[104,105]");
    enc_is(oak_term_string(A, "hi", 2), BYTES(131, 107, 0, 2, 'h', 'i'));
    enc_is(oak_term_string(A, "", 0), BYTES(131, 106));
    /* A list of bytes is written as STRING_EXT, and equals the string. */
    oak_term *items[2] = {oak_term_int(A, 'h'), oak_term_int(A, 'i')};
    oak_term *l = oak_term_list(A, 2, items, NULL);
    enc_is(l, BYTES(131, 107, 0, 2, 'h', 'i'));
    assert_true(oak_term_equal(l, t));
    assert_true(oak_term_equal(t, l));
    assert_false(oak_term_equal(t, oak_term_string(A, "ho", 2)));
    assert_false(oak_term_equal(t, oak_term_string(A, "h", 1)));
}

static void lists_proper_and_improper_tuples_and_maps(void **state)
{
    /* [1, foo | 2] */
    oak_term *t = dec_ok(BYTES(131, 108, 0, 0, 0, 2, 97, 1, 119, 3, 'f', 'o', 'o', 97, 2));
    assert_int_equal(t->type, OAK_TERM_LIST);
    assert_int_equal(t->u.list.count, 2);
    assert_int_equal(t->u.list.tail->type, OAK_TERM_INT);
    text_is(t, "[1,foo|2]");
    enc_is(t, BYTES(131, 108, 0, 0, 0, 2, 97, 1, 119, 3, 'f', 'o', 'o', 97, 2));
    /* [300] proper */
    t = dec_ok(BYTES(131, 108, 0, 0, 0, 1, 98, 0, 0, 1, 44, 106));
    assert_int_equal(t->u.list.tail->type, OAK_TERM_NIL);
    text_is(t, "[300]");
    /* A LIST_EXT of zero elements is its tail. */
    t = dec_ok(BYTES(131, 108, 0, 0, 0, 0, 97, 7));
    assert_int_equal(t->type, OAK_TERM_INT);
    /* A list whose tail is a string reads as one list. */
    oak_term *one = oak_term_int(A, 1);
    oak_term *l = oak_term_list(A, 1, &one, oak_term_string(A, "\x02", 1));
    oak_term *two[2] = {oak_term_int(A, 1), oak_term_int(A, 2)};
    assert_true(oak_term_equal(l, oak_term_list(A, 2, two, NULL)));
    text_is(l, "[1,2]");

    t = dec_ok(BYTES(131, 104, 2, 119, 2, 'o', 'k', 97, 5));
    assert_int_equal(t->type, OAK_TERM_TUPLE);
    text_is(t, "{ok,5}");
    enc_is(oak_term_tuple2(A, oak_term_atom(A, "ok"), oak_term_int(A, 5)),
           BYTES(131, 104, 2, 119, 2, 'o', 'k', 97, 5));
    enc_is(oak_term_tuple(A, 0, NULL), BYTES(131, 104, 0));
    t = dec_ok(BYTES(131, 105, 0, 0, 0, 1, 106));
    text_is(t, "{[]}");
    assert_null(oak_term_tuple2(A, NULL, one));

    /* #{a => 1, b => [] } and the same pairs the other way round. */
    t = dec_ok(BYTES(131, 116, 0, 0, 0, 2, 119, 1, 'a', 97, 1, 119, 1, 'b', 106));
    assert_int_equal(t->type, OAK_TERM_MAP);
    text_is(t, "#{a=>1,b=>[]}");
    oak_term *k[2] = {oak_term_atom(A, "b"), oak_term_atom(A, "a")};
    oak_term *v[2] = {oak_term_nil(A), oak_term_int(A, 1)};
    oak_term *m = oak_term_map(A, 2, k, v);
    assert_true(oak_term_equal(t, m));
    v[1] = oak_term_int(A, 2);
    assert_false(oak_term_equal(t, oak_term_map(A, 2, k, v)));
    enc_is(oak_term_map(A, 0, NULL, NULL), BYTES(131, 116, 0, 0, 0, 0));
    assert_false(oak_term_equal(oak_term_int(A, 1), oak_term_float(A, 1.0)));
}

static void pids_ports_and_references_with_their_node(void **state)
{
    const uint8_t pid[] = {131, 88, 119, 5, 'a', '@', 'b', '.', 'c', 0, 0, 0, 7,
                           0, 0, 0, 1, 0x12, 0x34, 0x56, 0x78};
    oak_term *t = dec_ok(pid, sizeof pid);
    assert_int_equal(t->type, OAK_TERM_PID);
    assert_string_equal(t->u.pid.node.name, "a@b.c");
    assert_int_equal(t->u.pid.id, 7);
    assert_int_equal(t->u.pid.serial, 1);
    assert_int_equal(t->u.pid.creation, 0x12345678);
    text_is(t, "<'a@b.c'.7.1>");
    enc_is(oak_term_pid(A, "a@b.c", 7, 1, 0x12345678), pid, sizeof pid);
    /* The old PID_EXT with a one-byte creation and a latin-1 node. */
    t = dec_ok(BYTES(131, 103, 100, 0, 1, 'n', 0, 0, 0, 7, 0, 0, 0, 1, 3));
    assert_true(oak_term_equal(t, oak_term_pid(A, "n", 7, 1, 3)));

    const uint8_t ref[] = {131, 90, 0, 3, 119, 1, 'n', 0, 0, 0, 9,
                           0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3};
    t = dec_ok(ref, sizeof ref);
    assert_int_equal(t->type, OAK_TERM_REF);
    assert_int_equal(t->u.ref.n, 3);
    assert_int_equal(t->u.ref.ids[2], 3);
    text_is(t, "#Ref<n.3.2.1>");
    uint32_t ids[3] = {1, 2, 3};
    enc_is(oak_term_ref(A, "n", 9, ids, 3), ref, sizeof ref);
    assert_null(oak_term_ref(A, "n", 9, ids, 0));
    assert_null(oak_term_ref(A, "n", 9, ids, 6));
    assert_int_equal(dec_rc(BYTES(131, 90, 0, 0, 119, 1, 'n', 0, 0, 0, 9)), -EBADMSG);
    assert_int_equal(dec_rc(BYTES(131, 90, 0, 6, 119, 1, 'n', 0, 0, 0, 9)), -EBADMSG);
    t = dec_ok(BYTES(131, 114, 0, 1, 115, 1, 'n', 4, 0, 0, 0, 5));
    uint32_t five = 5;
    assert_true(oak_term_equal(t, oak_term_ref(A, "n", 4, &five, 1)));

    enc_is(oak_term_port(A, "n", 5, 2), BYTES(131, 89, 119, 1, 'n', 0, 0, 0, 5, 0, 0, 0, 2));
    enc_is(oak_term_port(A, "n", UINT64_C(1) << 40, 2),
           BYTES(131, 120, 119, 1, 'n', 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2));
    t = dec_ok(BYTES(131, 102, 119, 1, 'n', 0, 0, 0, 5, 2));
    assert_true(oak_term_equal(t, oak_term_port(A, "n", 5, 2)));
    text_is(t, "#Port<n.5>");
    /* The node must be an atom. */
    assert_int_equal(dec_rc(BYTES(131, 88, 97, 1, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 1)), -EBADMSG);
}

/* A term with one of everything, to cut and corrupt. */
static const uint8_t mixed[] = {
    131, 104, 5,                                  /* {                  */
    119, 2, 'o', 'k',                             /*  ok,               */
    108, 0, 0, 0, 2, 97, 1, 107, 0, 1, 'x', 106,  /*  [1, "x"],         */
    116, 0, 0, 0, 1, 109, 0, 0, 0, 1, 'k', 70,    /*  #{<<"k">> =>      */
    0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18, /*   3.14159...},   */
    110, 9, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9,         /*  -big,             */
    88, 119, 1, 'n', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}; /* <n.1.0> }  */

static void every_truncation_and_trailing_bytes_are_malformed(void **state)
{
    oak_term *t = dec_ok(mixed, sizeof mixed);
    char buf[256];
    assert_true(oak_term_format(t, buf, sizeof buf) > 0);
    enc_is(t, mixed, sizeof mixed);
    for (size_t n = 0; n < sizeof mixed; n++)
        assert_int_equal(dec_rc(mixed, n), -EBADMSG);
    uint8_t more[sizeof mixed + 1];
    memcpy(more, mixed, sizeof mixed);
    more[sizeof mixed] = 0;
    assert_int_equal(dec_rc(more, sizeof more), -EBADMSG);
    size_t used = 0;
    assert_int_equal(oak_term_decode(A, more, sizeof more, &t, &used), 0);
    assert_int_equal(used, sizeof mixed);
    /* A short output buffer: -ENOSPC with the size it needs. */
    size_t len = 0;
    assert_int_equal(oak_term_encode(t, buf, 10, &len), -ENOSPC);
    assert_int_equal(len, sizeof mixed);
}

static void bad_versions_tags_and_unsupported_forms(void **state)
{
    assert_int_equal(dec_rc(BYTES(130, 106)), -EBADMSG);
    assert_int_equal(dec_rc(BYTES(131)), -EBADMSG);
    assert_int_equal(dec_rc(BYTES(131, 0)), -EBADMSG);
    assert_int_equal(dec_rc(BYTES(131, 255)), -EBADMSG);
    assert_int_equal(dec_rc(BYTES(131, 80, 0, 0, 0, 1, 0x78)), -EOPNOTSUPP);
    assert_int_equal(dec_rc(BYTES(131, 82, 0)), -EOPNOTSUPP);
    assert_int_equal(dec_rc(BYTES(131, 113, 119, 1, 'm', 119, 1, 'f', 97, 1)), -EOPNOTSUPP);
    assert_int_equal(dec_rc(BYTES(131, 112, 0, 0, 0, 0)), -EOPNOTSUPP);
    oak_term *t;
    assert_int_equal(oak_term_decode(NULL, "\x83j", 2, &t, NULL), -EINVAL);
    assert_int_equal(oak_term_decode(A, NULL, 2, &t, NULL), -EINVAL);
    assert_int_equal(oak_term_decode(A, "\x83j", 2, NULL, NULL), -EINVAL);
    size_t len;
    assert_int_equal(oak_term_encoded_size(NULL, &len), -EINVAL);
}

static void huge_lengths_are_refused_before_anything_is_allocated(void **state)
{
    size_t before = oak_term_arena_bytes(A);
    assert_int_equal(dec_rc(BYTES(131, 108, 0xff, 0xff, 0xff, 0xff, 106)), -EBADMSG);
    assert_int_equal(dec_rc(BYTES(131, 105, 0xff, 0xff, 0xff, 0xff, 106)), -EBADMSG);
    assert_int_equal(dec_rc(BYTES(131, 116, 0x7f, 0xff, 0xff, 0xff, 106, 106)), -EBADMSG);
    assert_int_equal(dec_rc(BYTES(131, 109, 0xff, 0xff, 0xff, 0xff, 0)), -EBADMSG);
    assert_int_equal(dec_rc(BYTES(131, 111, 0xff, 0xff, 0xff, 0xff, 0, 1)), -EBADMSG);
    assert_int_equal(dec_rc(BYTES(131, 107, 0xff, 0xff, 'a')), -EBADMSG);
    assert_int_equal(dec_rc(BYTES(131, 118, 0xff, 0xff, 'a')), -EBADMSG);
    /* A list of n elements needs n + 1 bytes (a tail). */
    assert_int_equal(dec_rc(BYTES(131, 108, 0, 0, 0, 2, 106, 106)), -EBADMSG);
    assert_true(oak_term_arena_bytes(A) - before < 16384);
}

static void nesting_deeper_than_the_limit_is_refused(void **state)
{
    /* {{{...[]...}}}: depth d has d tuples around []. */
    enum { D = OAK_TERM_MAX_DEPTH + 10 };
    uint8_t buf[1 + 2 * D + 1];
    for (int d = OAK_TERM_MAX_DEPTH - 2; d <= D; d++) {
        size_t n = 0;
        buf[n++] = 131;
        for (int k = 0; k < d; k++) {
            buf[n++] = 104;
            buf[n++] = 1;
        }
        buf[n++] = 106;
        int rc = dec_rc(buf, n);
        if (d <= OAK_TERM_MAX_DEPTH)
            assert_int_equal(rc, 0);
        else
            assert_int_equal(rc, -ELOOP);
    }
    /* The encoder refuses what it built too deep. */
    oak_term *t = oak_term_nil(A);
    for (int k = 0; k <= OAK_TERM_MAX_DEPTH; k++)
        t = oak_term_tuple(A, 1, &t);
    size_t len;
    assert_int_equal(oak_term_encoded_size(t, &len), -ELOOP);
    char text[8];
    assert_int_equal(oak_term_format(t, text, sizeof text), -ELOOP);
    assert_false(oak_term_equal(t, t));
}

static void format_cuts_at_the_buffer_and_says_what_it_needs(void **state)
{
    oak_term *t = oak_term_tuple2(A, oak_term_atom(A, "hello"), oak_term_binary(A, "ab", 2));
    char buf[6];
    assert_int_equal(oak_term_format(t, buf, sizeof buf), (int)strlen("{hello,<<97,98>>}"));
    assert_string_equal(buf, "{hell");
    assert_int_equal(oak_term_format(t, NULL, 0), 17);
    text_is(oak_term_float(A, 2.0), "2.0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(integers_decode_in_every_form_and_encode_in_the_smallest, setup, teardown),
        cmocka_unit_test_setup_teardown(floats_are_new_float_ext_and_old_text_floats_decode, setup, teardown),
        cmocka_unit_test_setup_teardown(atoms_in_four_forms_become_utf8_names, setup, teardown),
        cmocka_unit_test_setup_teardown(binaries_bitstrings_and_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(lists_proper_and_improper_tuples_and_maps, setup, teardown),
        cmocka_unit_test_setup_teardown(pids_ports_and_references_with_their_node, setup, teardown),
        cmocka_unit_test_setup_teardown(every_truncation_and_trailing_bytes_are_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_versions_tags_and_unsupported_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(huge_lengths_are_refused_before_anything_is_allocated, setup, teardown),
        cmocka_unit_test_setup_teardown(nesting_deeper_than_the_limit_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(format_cuts_at_the_buffer_and_says_what_it_needs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
