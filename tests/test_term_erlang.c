/* The term codec against real Erlang (erlang-base's erl): erl writes
 * term_to_binary of each term below, oak decodes it to the term the C side
 * builds, encodes it again, and erl checks that binary_to_term of oak's
 * bytes is the same term (=:=). With minor_version 2 (UTF-8 atoms, as OTP
 * 26 writes by default) oak's bytes must even be Erlang's, byte for byte.
 *
 * Skipped, with a message and exit status 77, when erl is not installed
 * (tools/ensure-deps.sh build installs it).
 */
#include <sys/wait.h>

#include "oak_test.h"

static oak_term_arena *A;

static oak_term *I(int64_t v) { return oak_term_int(A, v); }
static oak_term *AT(const char *s) { return oak_term_atom(A, s); }
static oak_term *T2(oak_term *a, oak_term *b) { return oak_term_tuple2(A, a, b); }
static oak_term *L(size_t n, oak_term *const *v, oak_term *tail) { return oak_term_list(A, n, v, tail); }

/* 2^bits, negated when neg. */
static oak_term *pow2(unsigned bits, bool neg)
{
    uint8_t d[300] = {0};
    d[bits / 8] = (uint8_t)(1u << (bits % 8));
    return oak_term_bigint(A, neg, d, bits / 8 + 1);
}

static oak_term *seq_list(int from, int to)
{
    oak_term *v[400];
    size_t n = 0;
    for (int k = from; k <= to; k++)
        v[n++] = I(k);
    return L(n, v, NULL);
}

static oak_term *seq_tuple(int from, int to)
{
    oak_term *v[400];
    size_t n = 0;
    for (int k = from; k <= to; k++)
        v[n++] = I(k);
    return oak_term_tuple(A, n, v);
}

static oak_term *big_binary(void)
{
    static uint8_t b[70000];
    for (size_t k = 0; k < sizeof b; k++)
        b[k] = (uint8_t)((k + 1) % 256);
    return oak_term_binary(A, b, sizeof b);
}

static oak_term *long_string(void)
{
    static char s[70000];
    memset(s, 'a', sizeof s);
    return oak_term_string(A, s, sizeof s);
}

static oak_term *long_atom(void)
{
    char s[256];
    memset(s, 'a', 255);
    s[255] = '\0';
    return AT(s);
}

static oak_term *squares_map(void)
{
    oak_term *k[40], *v[40];
    for (int i = 0; i < 40; i++) {
        k[i] = I(i + 1);
        v[i] = I((i + 1) * (i + 1));
    }
    return oak_term_map(A, 40, k, v);
}

static oak_term *small_map(void)
{
    oak_term *k[2] = {AT("a"), AT("b")};
    oak_term *v[2] = {I(1), oak_term_string(A, "x", 1)};
    return oak_term_map(A, 2, k, v);
}

static oak_term *nested_map(void)
{
    oak_term *ik = oak_term_nil(A), *iv = oak_term_binary(A, NULL, 0);
    oak_term *inner = oak_term_map(A, 1, &ik, &iv);
    oak_term *k = T2(I(1), I(2));
    return oak_term_map(A, 1, &k, &inner);
}

static oak_term *deep(void)
{
    oak_term *kv = AT("k");
    oak_term *lv[2] = {oak_term_float(A, 1.5), oak_term_binary(A, "bin", 3)};
    oak_term *vv = L(2, lv, NULL);
    oak_term *m = oak_term_map(A, 1, &kv, &vv);
    oak_term *c = oak_term_tuple2(A, AT("c"), L(1, &m, NULL));
    return T2(AT("a"), T2(AT("b"), c));
}

static oak_term *improper(void)
{
    oak_term *v[2] = {AT("a"), AT("b")};
    return L(2, v, AT("c"));
}

static oak_term *ref3(void)
{
    uint32_t ids[3] = {3, 2, 1};
    return oak_term_ref(A, "nonode@nohost", 0, ids, 3);
}

static oak_term *empty_list_in_list(void)
{
    oak_term *n = oak_term_nil(A);
    return L(1, &n, NULL);
}

typedef struct sample {
    const char *erl;         /* the term in Erlang's syntax */
    oak_term *(*build)(void); /* the same term, built in C */
} sample;


static oak_term *b_0(void) { return I(0); }
static oak_term *b_255(void) { return I(255); }
static oak_term *b_256(void) { return I(256); }
static oak_term *b_m1(void) { return I(-1); }
static oak_term *b_i32max(void) { return I(INT32_MAX); }
static oak_term *b_i32min(void) { return I(INT32_MIN); }
static oak_term *b_2p31(void) { return I(INT64_C(2147483648)); }
static oak_term *b_i64max(void) { return I(INT64_MAX); }
static oak_term *b_i64min(void) { return I(INT64_MIN); }
static oak_term *b_2p64(void) { return pow2(64, false); }
static oak_term *b_m2p100(void) { return pow2(100, true); }
static oak_term *b_2p2100(void) { return pow2(2100, false); }
static oak_term *b_f15(void) { return oak_term_float(A, 1.5); }
static oak_term *b_f300(void) { return oak_term_float(A, 1.0e300); }
static oak_term *b_fneg(void) { return oak_term_float(A, -123.456); }
static oak_term *b_foo(void) { return AT("foo"); }
static oak_term *b_empty_atom(void) { return AT(""); }
static oak_term *b_spaced(void) { return AT("hello world"); }
static oak_term *b_eacute(void) { return AT("\xc3\xa9t\xc3\xa9"); }
static oak_term *b_emoji(void) { return AT("\xf0\x9f\x98\x80"); }
static oak_term *b_empty_bin(void) { return oak_term_binary(A, NULL, 0); }
static oak_term *b_bin(void) { return oak_term_binary(A, "\x01\x02\x03", 3); }
static oak_term *b_bits(void) { return oak_term_bitstring(A, "\x20", 1, 3); }
static oak_term *b_empty_str(void) { return oak_term_string(A, "", 0); }
static oak_term *b_hello(void) { return oak_term_string(A, "hello", 5); }
static oak_term *b_seq300(void) { return seq_list(1, 300); }
static oak_term *b_seq255(void) { return seq_list(0, 255); }
static oak_term *b_1bar2(void)
{
    oak_term *one = I(1);
    return L(1, &one, I(2));
}
static oak_term *b_empty_tuple(void) { return oak_term_tuple(A, 0, NULL); }
static oak_term *b_ok1(void) { return T2(AT("ok"), I(1)); }
static oak_term *b_tuple300(void) { return seq_tuple(1, 300); }
static oak_term *b_empty_map(void) { return oak_term_map(A, 0, NULL, NULL); }
static oak_term *b_pid(void) { return oak_term_pid(A, "nonode@nohost", 5, 6, 0); }
static oak_term *b_port(void) { return oak_term_port(A, "nonode@nohost", 7, 0); }

static const sample samples[] = {
    {"0", b_0},
    {"255", b_255},
    {"256", b_256},
    {"-1", b_m1},
    {"2147483647", b_i32max},
    {"-2147483648", b_i32min},
    {"2147483648", b_2p31},
    {"(1 bsl 63) - 1", b_i64max},
    {"-(1 bsl 63)", b_i64min},
    {"1 bsl 64", b_2p64},
    {"-(1 bsl 100)", b_m2p100},
    {"1 bsl 2100", b_2p2100},
    {"1.5", b_f15},
    {"1.0e300", b_f300},
    {"-123.456", b_fneg},
    {"foo", b_foo},
    {"''", b_empty_atom},
    {"'hello world'", b_spaced},
    {"list_to_atom([233,116,233])", b_eacute},
    {"list_to_atom([16#1F600])", b_emoji},
    {"list_to_atom(lists:duplicate(255, $a))", long_atom},
    {"<<>>", b_empty_bin},
    {"<<1,2,3>>", b_bin},
    {"<<1:3>>", b_bits},
    {"<< <<((X + 1) rem 256)>> || X <- lists:seq(0, 69999) >>", big_binary},
    {"\"\"", b_empty_str},
    {"\"hello\"", b_hello},
    {"lists:duplicate(70000, $a)", long_string},
    {"lists:seq(1, 300)", b_seq300},
    {"lists:seq(0, 255)", b_seq255},
    {"[1|2]", b_1bar2},
    {"[a,b|c]", improper},
    {"[[]]", empty_list_in_list},
    {"{}", b_empty_tuple},
    {"{ok,1}", b_ok1},
    {"list_to_tuple(lists:seq(1, 300))", b_tuple300},
    {"#{}", b_empty_map},
    {"#{a => 1, b => \"x\"}", small_map},
    {"maps:from_list([{K, K * K} || K <- lists:seq(1, 40)])", squares_map},
    {"#{{1,2} => #{[] => <<>>}}", nested_map},
    {"{a,{b,{c,[#{k => [1.5,<<\"bin\">>]}]}}}", deep},
    {"list_to_pid(\"<0.5.6>\")", b_pid},
    {"list_to_ref(\"#Ref<0.1.2.3>\")", ref3},
    {"list_to_port(\"#Port<0.7>\")", b_port},
};
enum { NSAMPLES = sizeof samples / sizeof samples[0] };

static bool have_erl(void) { return system("command -v erl >/dev/null 2>&1") == 0; }

/* Runs erl on the program in the file `script` with stdout into `out`;
 * returns its exit status. erl is stopped by the script itself (halt), and
 * `timeout` ends it if it hangs. */
static int run_erl(const char *script, const char *out)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "timeout 60 erl -noshell -noinput -boot start_clean -eval "
             "'{ok, F} = file:script(\"%s\"), F(), halt(0).' > %s 2>&1",
             script, out);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Hex text to bytes in a new buffer. */
static uint8_t *unhex(const char *s, size_t n, size_t *len)
{
    assert_true(n % 2 == 0);
    uint8_t *b = malloc(n / 2 + 1);
    assert_non_null(b);
    for (size_t k = 0; k < n / 2; k++) {
        int hi = hexval(s[2 * k]), lo = hexval(s[2 * k + 1]);
        assert_true(hi >= 0 && lo >= 0);
        b[k] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return b;
}

static void put_hex(FILE *f, const uint8_t *b, size_t n)
{
    for (size_t k = 0; k < n; k++)
        fprintf(f, "%02X", b[k]);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static void erlang_terms_decode_to_their_c_builds_and_erlang_takes_oaks_bytes_back(void **state)
{
    char dir[] = "/tmp/oak_term_erl.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char script[256], out1[256], back[256], out2[256];
    snprintf(script, sizeof script, "%s/gen.escript", dir);
    snprintf(out1, sizeof out1, "%s/gen.out", dir);
    snprintf(back, sizeof back, "%s/back.txt", dir);
    snprintf(out2, sizeof out2, "%s/check.out", dir);

    /* Pass 1: erl writes, per term, two lines: the default encoding and
     * the minor_version 2 one, in hex. */
    FILE *f = fopen(script, "w");
    assert_non_null(f);
    fprintf(f, "fun() -> Ts = [\n");
    for (int k = 0; k < NSAMPLES; k++)
        fprintf(f, "  %s%s\n", samples[k].erl, k + 1 < NSAMPLES ? "," : "");
    fprintf(f, "], lists:foreach(fun(T) ->\n"
               "  io:format(\"~s~n~s~n\", [binary:encode_hex(term_to_binary(T)),\n"
               "    binary:encode_hex(term_to_binary(T, [{minor_version, 2}]))])\n"
               "  end, Ts) end.\n");
    fclose(f);
    int st = run_erl(script, out1);
    char *text = slurp(out1);
    if (st != 0)
        fail_msg("erl failed (%d): %s", st, text);

    f = fopen(back, "w");
    assert_non_null(f);
    char *line = text;
    for (int k = 0; k < NSAMPLES * 2; k++) {
        char *nl = strchr(line, '\n');
        if (!nl)
            fail_msg("erl wrote too few lines (%d): %s", k, text);
        size_t n;
        uint8_t *bytes = unhex(line, (size_t)(nl - line), &n);
        const sample *s = &samples[k / 2];
        A = oak_term_arena_new();
        oak_term *t = NULL;
        int rc = oak_term_decode(A, bytes, n, &t, NULL);
        if (rc != 0)
            fail_msg("%s: decode: %s", s->erl, oak_strerror(rc));
        oak_term *want = s->build();
        assert_non_null(want);
        if (!oak_term_equal(t, want)) {
            char a[200], b[200];
            oak_term_format(t, a, sizeof a);
            oak_term_format(want, b, sizeof b);
            fail_msg("%s: decoded %s, built %s", s->erl, a, b);
        }
        void *enc;
        size_t elen;
        assert_int_equal(oak_term_encode_alloc(t, &enc, &elen), 0);
        if (k % 2 == 1) {
            /* minor_version 2: the same bytes, from the decoded term and
             * from the C build (maps of more than 32 keys are in Erlang's
             * hash order, which only the decoded one has). */
            if (elen != n || memcmp(enc, bytes, n) != 0)
                fail_msg("%s: oak's bytes differ from term_to_binary's", s->erl);
            if (want->type != OAK_TERM_MAP || want->u.map.count <= 32) {
                void *enc2;
                size_t elen2;
                assert_int_equal(oak_term_encode_alloc(want, &enc2, &elen2), 0);
                if (elen2 != n || memcmp(enc2, bytes, n) != 0)
                    fail_msg("%s: the C build encodes differently", s->erl);
                free(enc2);
            }
        }
        put_hex(f, bytes, n);
        fputc(' ', f);
        put_hex(f, enc, elen);
        fputc('\n', f);
        free(enc);
        free(bytes);
        oak_term_arena_free(A);
        A = NULL;
        line = nl + 1;
    }
    fclose(f);
    free(text);

    /* Pass 2: erl decodes both and compares. */
    f = fopen(script, "w");
    assert_non_null(f);
    fprintf(f,
            "fun() ->\n"
            "  {ok, B} = file:read_file(\"%s\"),\n"
            "  Ls = [L || L <- binary:split(B, <<\"\\n\">>, [global]), L =/= <<>>],\n"
            "  R = [begin [E, O] = binary:split(L, <<\" \">>),\n"
            "        binary_to_term(binary:decode_hex(E)) =:= binary_to_term(binary:decode_hex(O))\n"
            "      end || L <- Ls],\n"
            "  io:format(\"equal ~b of ~b~n\", [length([X || X <- R, X]), length(R)])\n"
            "end.\n",
            back);
    fclose(f);
    st = run_erl(script, out2);
    text = slurp(out2);
    if (st != 0)
        fail_msg("erl check failed (%d): %s", st, text);
    char want[64];
    snprintf(want, sizeof want, "equal %d of %d\n", NSAMPLES * 2, NSAMPLES * 2);
    assert_string_equal(text, want);
    free(text);

    char rm[300];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    assert_int_equal(system(rm), 0);
}

int main(void)
{
    /* CTest reports exit status 77 as skipped (SKIP_RETURN_CODE). */
    if (!have_erl()) {
        fprintf(stderr, "test_term_erlang: skipped: erl not found "
                        "(install erlang-base: sh tools/ensure-deps.sh build)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(erlang_terms_decode_to_their_c_builds_and_erlang_takes_oaks_bytes_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
