/* test_log_reports.c - every kind of report the runtime and the behaviours
 * log has the one documented shape: one parser (oak_log_parse) reads them
 * all, back to the very line. The default output can carry times, write
 * JSON lines to a file, and drop a kind below a level of its own. */
#include "oak_test.h"

#include <ctype.h>
#include <dlfcn.h>
#include <oak/gen_server.h>
#include <oak/supervisor.h>

typedef struct seen {
    char kind[32];
    char line[2048];
    char keys[OAK_LOG_MAX_FIELDS][32];
    size_t nkeys;
} seen;

#define MAX_SEEN 64
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static seen seen_events[MAX_SEEN];
static int nseen;
static int bad_roundtrips;

/* ---- places: where= and the frames of backtrace= ----------------------------- */

/* A code address as reports name it (oak/log.h):
 *   FUNC+OFF(MODULE+OFF)@FILE:LINE   FUNC+OFF(MODULE+OFF)
 *   MODULE+OFF@FILE:LINE             MODULE+OFF             0xADDR
 * Empty strings and 0 for the parts a place does not have. */
typedef struct place {
    char func[96];
    unsigned long func_off;
    char module[96];
    unsigned long module_off;
    char file[96];
    int line;
} place;

/* Take "NAME+0xHEX" from [s, end) into name and *off; returns the end of it
 * or NULL. NAME runs to the last '+' before the hex number. */
static const char *name_plus_offset(const char *s, const char *end, char *name, size_t size,
                                    unsigned long *off)
{
    const char *plus = NULL;
    for (const char *c = s; c < end; c++)
        if (c[0] == '+' && c + 2 < end && c[1] == '0' && c[2] == 'x')
            plus = c;
    if (!plus || plus == s || (size_t)(plus - s) >= size)
        return NULL;
    snprintf(name, size, "%.*s", (int)(plus - s), s);
    const char *c = plus + 3;
    if (c >= end || !isxdigit((unsigned char)*c))
        return NULL;
    *off = 0;
    for (; c < end && isxdigit((unsigned char)*c); c++)
        *off = *off * 16 + (unsigned long)(isdigit((unsigned char)*c) ? *c - '0'
                                                                     : (*c | 0x20) - 'a' + 10);
    return c;
}

static bool parse_place(const char *v, size_t n, place *p)
{
    memset(p, 0, sizeof *p);
    const char *end = v + n;
    if (n > 2 && v[0] == '0' && v[1] == 'x') { /* in no module */
        for (const char *c = v + 2; c < end; c++)
            if (!isxdigit((unsigned char)*c))
                return false;
        return true;
    }
    const char *at = memchr(v, '@', n);
    const char *body_end = at ? at : end;
    const char *paren = memchr(v, '(', (size_t)(body_end - v));
    const char *c;
    if (paren) {
        c = name_plus_offset(v, paren, p->func, sizeof p->func, &p->func_off);
        if (c != paren)
            return false;
        c = name_plus_offset(paren + 1, body_end, p->module, sizeof p->module, &p->module_off);
        if (!c || c + 1 != body_end || *c != ')')
            return false;
    } else {
        c = name_plus_offset(v, body_end, p->module, sizeof p->module, &p->module_off);
        if (c != body_end)
            return false;
    }
    if (!at)
        return true;
    const char *colon = NULL;
    for (const char *k = at + 1; k < end; k++)
        if (*k == ':')
            colon = k;
    if (!colon || colon == at + 1 || colon + 1 == end || (size_t)(colon - at - 1) >= sizeof p->file)
        return false;
    snprintf(p->file, sizeof p->file, "%.*s", (int)(colon - at - 1), at + 1);
    for (const char *k = colon + 1; k < end; k++) {
        if (!isdigit((unsigned char)*k))
            return false;
        p->line = p->line * 10 + (*k - '0');
    }
    return p->line > 0;
}

static int bad_places;    /* where= or a frame that is not a place */
static place crash_where; /* where= of the last crash report */
static int crash_frames;  /* its frames, all parsed */

/* Check the places of a record: where= (long_schedule's may be
 * syscall:PLACE or running) and every frame of backtrace=. */
static void check_places(const oak_log_record *r)
{
    bool crash = !strcmp(r->kind, "crash_report");
    for (size_t i = 0; i < r->nfields; i++) {
        const oak_log_field *f = &r->fields[i];
        const char *v = f->value;
        size_t n = f->value_len;
        place p;
        if (f->key_len == 5 && !memcmp(f->key, "where", 5)) {
            if (!crash && n == 7 && !memcmp(v, "running", 7))
                continue;
            if (!crash && n > 8 && !memcmp(v, "syscall:", 8)) {
                v += 8;
                n -= 8;
            }
            if (!parse_place(v, n, &p)) {
                bad_places++;
                fprintf(stderr, "not a place: where=%.*s\n", (int)f->value_len, f->value);
            } else if (crash) {
                crash_where = p;
            }
        } else if (f->key_len == 9 && !memcmp(f->key, "backtrace", 9)) {
            int frames = 0;
            for (const char *s = v, *e; s < v + n; s = e + 1) {
                e = memchr(s, ';', (size_t)(v + n - s));
                if (!e)
                    e = v + n;
                if (!parse_place(s, (size_t)(e - s), &p)) {
                    bad_places++;
                    fprintf(stderr, "not a place: frame %.*s\n", (int)(e - s), s);
                }
                frames++;
            }
            crash_frames = frames;
        }
    }
}

static bool have_libdw(void)
{
    void *lib = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib)
        dlclose(lib);
    return lib != NULL;
}

static void keep(const oak_log_record *r, void *ctx)
{
    (void)ctx;
    /* The fields, joined again, are the line. */
    char again[4096];
    size_t len = 0;
    for (size_t i = 0; i < r->nfields && len < sizeof again - 1; i++)
        len += (size_t)snprintf(again + len, sizeof again - len, "%s%.*s=%.*s", i ? " " : "",
                                (int)r->fields[i].key_len, r->fields[i].key,
                                (int)r->fields[i].value_len, r->fields[i].value);
    pthread_mutex_lock(&seen_lock);
    check_places(r);
    if (strcmp(again, r->line) != 0) {
        bad_roundtrips++;
        fprintf(stderr, "not the documented shape: %s: %s\n", r->kind, r->line);
    }
    if (nseen < MAX_SEEN) {
        seen *e = &seen_events[nseen++];
        snprintf(e->kind, sizeof e->kind, "%s", r->kind);
        snprintf(e->line, sizeof e->line, "%s", r->line);
        e->nkeys = r->nfields;
        for (size_t i = 0; i < r->nfields; i++)
            snprintf(e->keys[i], sizeof e->keys[i], "%.*s", (int)r->fields[i].key_len,
                     r->fields[i].key);
    }
    pthread_mutex_unlock(&seen_lock);
}

/* Was an event of kind seen with all of these keys? */
static bool seen_with(const char *kind, const char *const *keys)
{
    pthread_mutex_lock(&seen_lock);
    bool found = false;
    for (int i = 0; i < nseen && !found; i++) {
        if (strcmp(seen_events[i].kind, kind) != 0)
            continue;
        bool all = true;
        for (const char *const *k = keys; *k && all; k++) {
            bool has = false;
            for (size_t j = 0; j < seen_events[i].nkeys; j++)
                has = has || strcmp(seen_events[i].keys[j], *k) == 0;
            all = has;
        }
        found = all;
    }
    pthread_mutex_unlock(&seen_lock);
    return found;
}

/* A real fault, hidden from the sanitizers (they would stop at the null
 * store themselves). */
#if defined(__GNUC__)
#define FAULTING __attribute__((noinline, no_sanitize("address", "undefined")))
#else
#define FAULTING
#endif

static volatile int null_store_line; /* the line of its store */

static FAULTING void null_store(void)
{
    volatile int *volatile p = NULL;
    null_store_line = __LINE__; *p = 1; /* one line */
}

static void segv(void *arg)
{
    (void)arg;
    null_store();
}

static void loop_1200ms(void *arg)
{
    (void)arg;
    int64_t t0 = ot_now_ns();
    volatile uint64_t x = 0;
    while (ot_ms_since(t0) < 1200)
        x++;
}

static int gs_init(oak_gen_server *gs, void *arg, void **state)
{
    (void)gs;
    (void)arg;
    *state = NULL;
    return OAK_GS_OK;
}

static int gs_call(oak_gen_server *gs, void *state, const oak_msg *req, const oak_gen_from *from)
{
    (void)state;
    (void)req;
    (void)from;
    oak_gen_server_exit(gs, oak_atom_from("boom"), NULL);
}

static const oak_gen_server_callbacks gs_cb = {.init = gs_init, .handle_call = gs_call};

static int start_gs(const oak_child_args *args, oak_pid *pid, oak_reason *why)
{
    (void)args;
    oak_gen_server_opts o = {.flags = OAK_GEN_LINK, .name = oak_atom_from("reporter")};
    return oak_gen_server_start(&gs_cb, NULL, &o, pid, why);
}

static void reports_main(void *arg)
{
    (void)arg;
    oak_ref r = 0;
    OT_SPAWN_MONITOR(segv, NULL, 0, &r);
    OT_RECV_DOWN(r, OT_LONG_MS);
    OT_SPAWN_MONITOR(loop_1200ms, NULL, 0, &r);
    OT_RECV_DOWN(r, OT_LONG_MS);
    /* A supervisor (progress reports) whose gen_server child crashes
     * (gen_server and crash reports, then a supervisor report). */
    oak_child_spec kid = {.id = oak_atom_from("reporter"), .start = start_gs};
    oak_supervisor_def def = {.flags = OAK_SUP_FLAGS_DEFAULT, .children = &kid, .count = 1};
    oak_pid sup;
    oak_reason why;
    OT_CHECK_INT_EQ(oak_supervisor_start(&def, OAK_GEN_LINK, &sup, &why), 0);
    oak_msg *m = NULL;
    OT_CHECK_INT_LT(oak_gen_server_call(oak_whereis(oak_atom_from("reporter")), 1, NULL, 0, &m,
                                        OT_LONG_MS, &why),
                    0);
    oak_sleep(OT_SETTLE_MS);
    oak_trap_exit(true);
    OT_CHECK_INT_EQ(oak_exit_pid(sup, OAK_SHUTDOWN), 0);
    OT_RECV_TAG(OAK_TAG_EXIT, OT_LONG_MS);
}

/* Crash, long_schedule, gen_server, supervisor and progress reports all
 * parse into their documented keys, and back into the same line. */
static void every_report_kind_parses_with_one_parser(void **state)
{
    (void)state;
    nseen = 0;
    bad_roundtrips = 0;
    bad_places = 0;
    memset(&crash_where, 0, sizeof crash_where);
    oak_log_set_record_handler(keep, NULL);
    oak_log_level old = oak_log_set_level(OAK_LOG_INFO);
    oak_config cfg = {.schedulers = 2, .long_schedule_ms = 300, .time_slice_ms = -1};
    OT_RUN_CFG(reports_main, NULL, &cfg);
    oak_log_set_level(old);
    oak_log_set_record_handler(NULL, NULL);
    assert_int_equal(bad_roundtrips, 0);
    assert_int_equal(bad_places, 0);
    /* The first crash report is segv's; the gen_server's is an exit. */
    if (have_libdw() && ot_have_line_table()) {
        assert_string_equal(crash_where.func, "null_store");
        assert_string_equal(crash_where.module, "test_log_reports");
        assert_string_equal(crash_where.file, "test_log_reports.c");
        assert_int_equal(crash_where.line, null_store_line);
    } else {
        fprintf(stderr, "[  NOTE    ] %s: no file:line in crash reports\n",
                have_libdw() ? "this build has no line tables (a Release build)"
                             : "libdw.so.1 (Debian's libdw1) is not installed");
        assert_string_equal(crash_where.module, "test_log_reports");
        assert_int_equal(crash_where.line, 0);
    }
    assert_true(crash_frames >= 2);
    assert_true(seen_with("crash_report",
                          (const char *const[]){"process", "pid", "class", "where", "reason", NULL}));
    assert_true(seen_with("long_schedule",
                          (const char *const[]){"process", "pid", "scheduler", "held_ms", NULL}));
    assert_true(seen_with("gen_server_report",
                          (const char *const[]){"server", "last_message", "reason", NULL}));
    assert_true(seen_with("supervisor_report",
                          (const char *const[]){"supervisor", "context", "id", "reason", NULL}));
    assert_true(seen_with("progress", (const char *const[]){"supervisor", "event", "id", NULL}));
}

static int segv_call(oak_gen_server *gs, void *state, const oak_msg *req,
                     const oak_gen_from *from)
{
    (void)gs;
    (void)state;
    (void)req;
    (void)from;
    null_store();
    return OAK_GS_NOREPLY;
}

static const oak_gen_server_callbacks segv_cb = {.init = gs_init, .handle_call = segv_call};

static void fault_main(void *arg)
{
    (void)arg;
    oak_pid s = OAK_NOPID;
    oak_reason why;
    OT_CHECK_INT_EQ(oak_gen_server_start(&segv_cb, NULL, NULL, &s, NULL), 0);
    oak_msg *m = NULL;
    OT_CHECK_INT_LT(oak_gen_server_call(s, oak_atom_from("poke"), NULL, 0, &m, OT_LONG_MS, &why),
                    0);
}

/* A fault in a callback gets the gen_server report too, with the last
 * message, besides the core's crash report. */
static void fault_in_a_callback_gets_the_gen_server_report(void **state)
{
    (void)state;
    nseen = 0;
    oak_log_set_record_handler(keep, NULL);
    OT_RUN(fault_main, NULL);
    oak_log_set_record_handler(NULL, NULL);
    assert_true(seen_with("crash_report", (const char *const[]){"where", "reason", NULL}));
    bool found = false;
    pthread_mutex_lock(&seen_lock);
    for (int i = 0; i < nseen; i++)
        found = found || (!strcmp(seen_events[i].kind, "gen_server_report") &&
                          strstr(seen_events[i].line, "last_message=poke reason={sigsegv,"));
    pthread_mutex_unlock(&seen_lock);
    assert_true(found);
}

static void one_event(void *arg)
{
    (void)arg;
    oak_log(OAK_LOG_ERROR, "test_report", "process=<0.1.0> reason={a,\"b c\"}");
    oak_log(OAK_LOG_INFO, "progress", "supervisor=x event=started id=y");
}

/* JSON lines with times, to a file; a kind below its own level dropped. */
static void default_output_writes_json_with_times_to_a_file(void **state)
{
    (void)state;
    char path[] = "/tmp/oak-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(oak_log_open(path, OAK_LOG_JSON | OAK_LOG_TIME), 0);
    assert_int_equal(oak_log_set_kind_level("progress", OAK_LOG_ERROR), 0);
    oak_log_level old = oak_log_set_level(OAK_LOG_INFO);
    OT_RUN(one_event, NULL);
    oak_log_set_level(old);
    assert_int_equal(oak_log_set_kind_level("progress", OAK_LOG_DEBUG), 0);
    oak_log_set_output(0, 2);
    char text[4096] = {0};
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    unlink(path);
    (void)n;
    assert_non_null(strstr(text, "{\"time\":\"20"));
    assert_non_null(strstr(text, "Z\",\"level\":\"error\",\"kind\":\"test_report\","
                                 "\"process\":\"<0.1.0>\",\"reason\":\"{a,\\\"b c\\\"}\"}\n"));
    assert_null(strstr(text, "progress"));
    assert_int_equal(oak_log_set_kind_level(NULL, OAK_LOG_ERROR), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_report_kind_parses_with_one_parser),
        cmocka_unit_test(default_output_writes_json_with_times_to_a_file),
        cmocka_unit_test(fault_in_a_callback_gets_the_gen_server_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
