/* oracle.c - the C side of the OTP conformance oracle; see oracle.h. */
#include "oracle.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned reports_on;
static int done;

static oak_atom A(const char *s) { return oak_atom_from(s); }

/* Memory that lives for the whole run (child spec arguments, supervisor
 * definitions): kept here and freed when the runtime has stopped, so that
 * the sanitizer builds see no leak. */
static void *kept[4096];
static size_t nkept;

static void *keep(void *p)
{
    pthread_mutex_lock(&mu);
    if (p && nkept < sizeof kept / sizeof *kept)
        kept[nkept++] = p;
    pthread_mutex_unlock(&mu);
    return p;
}

static void free_kept(void)
{
    pthread_mutex_lock(&mu);
    while (nkept > 0)
        free(kept[--nkept]);
    pthread_mutex_unlock(&mu);
}

/* ---- rotating text buffers ------------------------------------------------- */

#define NBUF 32
#define BUFSZ 2048
static _Thread_local char bufs[NBUF][BUFSZ];
static _Thread_local int bufi;
static char *nextbuf(void)
{
    bufi = (bufi + 1) % NBUF;
    return bufs[bufi];
}

/* ---- labels ------------------------------------------------------------------- */

typedef struct label_ent {
    oak_pid pid;
    char label[48];
    char text[40]; /* the pid as oak_pid_format writes it */
} label_ent;
static label_ent labels[4096];
static size_t nlabels;

typedef struct inc_ent {
    char id[32];
    int n;
    oak_pid cur;
} inc_ent;
static inc_ent incs[512];
static size_t nincs;

void or_label(oak_pid pid, const char *label)
{
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nlabels; i++)
        if (labels[i].pid == pid) {
            snprintf(labels[i].label, sizeof labels[i].label, "%s", label);
            pthread_mutex_unlock(&mu);
            return;
        }
    if (nlabels < sizeof labels / sizeof *labels) {
        label_ent *e = &labels[nlabels++];
        e->pid = pid;
        snprintf(e->label, sizeof e->label, "%s", label);
        oak_pid_format(pid, e->text, sizeof e->text);
    }
    pthread_mutex_unlock(&mu);
}

static inc_ent *inc_find(const char *id, bool create)
{
    for (size_t i = 0; i < nincs; i++)
        if (!strcmp(incs[i].id, id))
            return &incs[i];
    if (!create || nincs == sizeof incs / sizeof *incs)
        return NULL;
    inc_ent *e = &incs[nincs++];
    memset(e, 0, sizeof *e);
    snprintf(e->id, sizeof e->id, "%s", id);
    return e;
}

static void new_incarnation(const char *id)
{
    char l[48];
    pthread_mutex_lock(&mu);
    inc_ent *e = inc_find(id, true);
    e->n++;
    e->cur = oak_self();
    snprintf(l, sizeof l, "%s.%d", id, e->n);
    pthread_mutex_unlock(&mu);
    or_label(oak_self(), l);
}

static void failed_label(const char *id)
{
    char l[48];
    snprintf(l, sizeof l, "%s.x", id);
    or_label(oak_self(), l);
}

oak_pid or_pid_of(const char *id)
{
    pthread_mutex_lock(&mu);
    inc_ent *e = inc_find(id, false);
    oak_pid p = e ? e->cur : OAK_NOPID;
    pthread_mutex_unlock(&mu);
    return p;
}

const char *or_p(oak_pid pid)
{
    char *b = nextbuf();
    if (!pid) {
        snprintf(b, BUFSZ, "undefined");
        return b;
    }
    pthread_mutex_lock(&mu);
    const char *l = NULL;
    for (size_t i = 0; i < nlabels; i++)
        if (labels[i].pid == pid)
            l = labels[i].label;
    if (l)
        snprintf(b, BUFSZ, "<%s>", l);
    else
        snprintf(b, BUFSZ, "<pid>");
    pthread_mutex_unlock(&mu);
    return b;
}

/* Replace every "<0.S.G>" in s by the pid's label. */
static const char *subst_pids(const char *s)
{
    char *out = nextbuf();
    size_t o = 0;
    while (*s && o + 64 < BUFSZ) {
        if (*s == '<') {
            const char *e = strchr(s, '>');
            if (e && e - s < 40) {
                char t[48];
                memcpy(t, s, (size_t)(e - s + 1));
                t[e - s + 1] = '\0';
                const char *l = NULL;
                pthread_mutex_lock(&mu);
                for (size_t i = 0; i < nlabels; i++)
                    if (!strcmp(labels[i].text, t))
                        l = labels[i].label;
                pthread_mutex_unlock(&mu);
                if (l || (t[1] >= '0' && t[1] <= '9')) {
                    o += (size_t)snprintf(out + o, BUFSZ - o, "<%s>", l ? l : "pid");
                    s = e + 1;
                    continue;
                }
            }
        }
        out[o++] = *s++;
    }
    out[o] = '\0';
    return out;
}

const char *or_r(const oak_reason *r)
{
    char t[BUFSZ];
    oak_reason_str(r, t, sizeof t);
    return subst_pids(t);
}

oak_reason or_reason(const char *term)
{
    oak_reason r;
    size_t n = strlen(term);
    if (term[0] == '{' && term[n - 1] == '}') {
        int depth = 0;
        for (size_t i = 1; i < n - 1; i++) {
            char c = term[i];
            if (c == '{' || c == '[')
                depth++;
            else if (c == '}' || c == ']')
                depth--;
            else if (c == ',' && depth == 0) {
                char a[256], d[OAK_REASON_DETAIL_MAX];
                snprintf(a, sizeof a, "%.*s", (int)(i - 1), term + 1);
                snprintf(d, sizeof d, "%.*s", (int)(n - i - 2), term + i + 1);
                oak_reason_set(&r, A(a), d);
                return r;
            }
        }
    }
    oak_reason_set(&r, A(term), NULL);
    return r;
}

/* ---- output ----------------------------------------------------------------------- */

void or_ev(const char *fmt, ...)
{
    if (done)
        return;
    char line[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&mu);
    fputs(line, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    pthread_mutex_unlock(&mu);
}

const char *or_result(int code, oak_pid pid, const oak_reason *why,
                      const char *id)
{
    char *b = nextbuf();
    switch (code) {
    case 0:
        snprintf(b, BUFSZ, pid ? "{ok,%s}" : "ok", or_p(pid));
        break;
    case OAK_IGNORED:
        snprintf(b, BUFSZ, "{ok,undefined}");
        break;
    case -ENOENT: snprintf(b, BUFSZ, "{error,not_found}"); break;
    case -EBUSY: snprintf(b, BUFSZ, "{error,running}"); break;
    case -EAGAIN: snprintf(b, BUFSZ, "{error,restarting}"); break;
    case -EALREADY:
        snprintf(b, BUFSZ, "{error,{already_started,%s}}", or_p(pid));
        break;
    case -EEXIST: snprintf(b, BUFSZ, "{error,already_present}"); break;
    case -EOPNOTSUPP: snprintf(b, BUFSZ, "{error,simple_one_for_one}"); break;
    case -ENOSPC: snprintf(b, BUFSZ, "{error,max_children}"); break;
    case -ECANCELED:
        if (id)
            snprintf(b, BUFSZ, "{error,{%s,#child{id=%s}}}", or_r(why), id);
        else
            snprintf(b, BUFSZ, "{error,%s}", or_r(why));
        break;
    default:
        if (why && why->atom)
            snprintf(b, BUFSZ, "{error,%s}", or_r(why));
        else
            snprintf(b, BUFSZ, "{error,%d}", code);
    }
    return b;
}

/* ---- reports ------------------------------------------------------------------------- */

static const char *field(const char *line, const char *key, char *out,
                         size_t size, bool rest)
{
    char k[32];
    snprintf(k, sizeof k, "%s=", key);
    const char *p = strstr(line, k);
    if (!p) {
        snprintf(out, size, "?");
        return out;
    }
    p += strlen(k);
    size_t n = rest ? strlen(p) : strcspn(p, " ");
    snprintf(out, size, "%.*s", (int)n, p);
    return out;
}

static void log_handler(oak_log_level level, const char *kind,
                        const char *line, void *ctx)
{
    char sup[64], c[64], id[64], r[4096];
    if (!strcmp(kind, "supervisor_report")) {
        if (!(reports_on & OR_REPORT_SUPERVISOR))
            return;
        field(line, "context", c, sizeof c, false);
        if (!strcmp(c, "unexpected_message")) {
            or_ev("report unexpected_message %s", field(line, "tag", id, sizeof id, false));
            return;
        }
        field(line, "supervisor", sup, sizeof sup, false);
        field(line, "id", id, sizeof id, false);
        field(line, "reason", r, sizeof r, true);
        or_ev("report %s %s %s %s", c, subst_pids(sup), subst_pids(id), subst_pids(r));
    } else if (!strcmp(kind, "progress")) {
        if (!(reports_on & OR_REPORT_PROGRESS))
            return;
        field(line, "supervisor", sup, sizeof sup, false);
        field(line, "id", id, sizeof id, false);
        or_ev("report progress %s %s", subst_pids(sup), subst_pids(id));
    } else if (!strcmp(kind, "gen_server_report")) {
        if (!(reports_on & OR_REPORT_CRASH) || level != OAK_LOG_ERROR)
            return;
        field(line, "server", sup, sizeof sup, false);
        field(line, "reason", r, sizeof r, true);
        or_ev("report gen_server_terminate %s %s", subst_pids(sup), subst_pids(r));
    } else if (!strcmp(kind, "crash_report")) {
        if (!(reports_on & OR_REPORT_CRASH))
            return;
        field(line, "process", sup, sizeof sup, false);
        field(line, "class", c, sizeof c, false);
        field(line, "reason", r, sizeof r, true);
        or_ev("report crash_report %s %s %s", subst_pids(sup), c, subst_pids(r));
    }
}

/* ---- bootstrap ----------------------------------------------------------------------- */

static void (*scenario_fn)(void);

static void driver_main(void *arg)
{
    oak_trap_exit(true);
    or_label(oak_self(), "driver");
    scenario_fn();
    oak_sleep(50);
    done = 1;
}

int or_run(void (*scenario)(void), unsigned reports)
{
    scenario_fn = scenario;
    reports_on = reports;
    oak_log_set_handler(log_handler, NULL);
    oak_log_set_level(OAK_LOG_DEBUG);
    oak_config cfg = {0};
    int r = oak_run(driver_main, NULL, &cfg);
    free_kept();
    return r < 0 ? 1 : 0;
}

/* ---- scripts ---------------------------------------------------------------------- */

typedef struct script {
    char id[32];
    char steps[16][64];
    int n, next;
} script;
static script scripts[64];
static int nscripts;

void or_set_script(const char *id, int n, const char *const *steps)
{
    pthread_mutex_lock(&mu);
    script *s = NULL;
    for (int i = 0; i < nscripts; i++)
        if (!strcmp(scripts[i].id, id))
            s = &scripts[i];
    if (!s)
        s = &scripts[nscripts++];
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", id);
    for (int i = 0; i < n && i < 16; i++)
        snprintf(s->steps[i], sizeof s->steps[i], "%s", steps[i]);
    s->n = n;
    pthread_mutex_unlock(&mu);
}

static void next_behaviour(const char *id, const char *dflt, char *out)
{
    pthread_mutex_lock(&mu);
    snprintf(out, 64, "%s", dflt && *dflt ? dflt : "ok");
    for (int i = 0; i < nscripts; i++)
        if (!strcmp(scripts[i].id, id) && scripts[i].next < scripts[i].n)
            snprintf(out, 64, "%s", scripts[i].steps[scripts[i].next++]);
    pthread_mutex_unlock(&mu);
}

/* ---- the instrumented worker ---------------------------------------------------------------- */

typedef struct wstart {
    or_wopts o;
    char beh[64];
} wstart;

typedef struct wstate {
    or_wopts o;
    long val;
} wstate;

static const char *arg_of(const char *beh, const char *kind)
{
    size_t n = strlen(kind);
    return strncmp(beh, kind, n) == 0 && beh[n] == ':' ? beh + n + 1 : NULL;
}

static int w_init(oak_gen_server *gs, void *arg, void **state)
{
    wstart *st = arg;
    const char *id = st->o.id;
    oak_trap_exit(!st->o.no_trap);
    const char *x;
    if ((x = arg_of(st->beh, "sleep"))) {
        oak_sleep(atol(x));
        snprintf(st->beh, sizeof st->beh, "ok");
    }
    if (!strcmp(st->beh, "ok")) {
        new_incarnation(id);
        or_ev("start %s", id);
        wstate *w = oak_alloc(sizeof *w);
        w->o = st->o;
        w->val = 0;
        *state = w;
        return OAK_GS_OK;
    }
    failed_label(id);
    if (!strcmp(st->beh, "ignore")) {
        or_ev("init_ignore %s", id);
        return OAK_GS_IGNORE;
    }
    if ((x = arg_of(st->beh, "stop"))) {
        or_ev("init_stop %s %s", id, x);
        oak_reason r = or_reason(x);
        oak_gen_server_set_stop(gs, r.atom, oak_reason_detail(&r));
        return OAK_GS_STOP;
    }
    if ((x = arg_of(st->beh, "exit"))) {
        or_ev("init_crash %s %s", id, x);
        oak_reason r = or_reason(x);
        oak_gen_server_exit(gs, r.atom, oak_reason_detail(&r));
    }
    if ((x = arg_of(st->beh, "bad"))) {
        or_ev("init_bad_return %s %s", id, x);
        oak_gen_server_set_stop(gs, A("bad_return_value"), x);
        return OAK_GS_STOP;
    }
    return 99;
}

static const char *payload(const oak_msg *m)
{
    char *b = nextbuf();
    snprintf(b, BUFSZ, "%.*s", (int)m->size, m->size ? (const char *)m->data : "");
    return b;
}

static void reply_term(oak_gen_server *gs, const char *term)
{
    oak_gen_server_set_reply(gs, A("term"), term, strlen(term) + 1);
}

static void late_replier(void *arg)
{
    struct { oak_gen_from from; long ms; } *a = arg;
    oak_sleep(a->ms);
    oak_gen_server_reply(&a->from, A("term"), "late_reply", 11);
}

static int w_call(oak_gen_server *gs, void *state, const oak_msg *req,
                  const oak_gen_from *from)
{
    wstate *w = state;
    const char *t = oak_atom_name((oak_atom)req->tag);
    const char *p = payload(req);
    char b[64];
    if (!strcmp(t, "get")) {
        snprintf(b, sizeof b, "%ld", w->val);
        reply_term(gs, b);
    } else if (!strcmp(t, "set")) {
        w->val = atol(p);
        reply_term(gs, "ok");
    } else if (!strcmp(t, "inc")) {
        w->val++;
        snprintf(b, sizeof b, "%ld", w->val);
        reply_term(gs, b);
    } else if (!strcmp(t, "ping")) {
        reply_term(gs, "pong");
    } else if (!strcmp(t, "sleep")) {
        oak_sleep(atol(p));
        reply_term(gs, "slept");
    } else if (!strcmp(t, "stop")) {
        oak_reason r = or_reason(p);
        reply_term(gs, "stopping");
        oak_gen_server_set_stop(gs, r.atom, oak_reason_detail(&r));
        return OAK_GS_STOP;
    } else if (!strcmp(t, "stop_noreply")) {
        oak_reason r = or_reason(p);
        oak_gen_server_set_stop(gs, r.atom, oak_reason_detail(&r));
        return OAK_GS_STOP;
    } else if (!strcmp(t, "crash")) {
        oak_reason r = or_reason(p);
        oak_gen_server_exit(gs, r.atom, oak_reason_detail(&r));
    } else if (!strcmp(t, "bad_return")) {
        oak_gen_server_set_stop(gs, A("bad_return_value"), "bad_return_from_handle_call");
        return OAK_GS_STOP;
    } else if (!strcmp(t, "reply_later")) {
        struct { oak_gen_from from; long ms; } a = {*from, atol(p)};
        oak_spawn_opts o = {.arg_size = sizeof a};
        oak_spawn(late_replier, &a, &o, NULL);
        return OAK_GS_NOREPLY;
    } else if (!strcmp(t, "reply_timeout")) {
        reply_term(gs, "ok");
        oak_gen_server_set_timeout(gs, atol(p));
    } else {
        return OAK_GS_NOREPLY;
    }
    return OAK_GS_REPLY;
}

static int w_cast(oak_gen_server *gs, void *state, const oak_msg *req)
{
    wstate *w = state;
    const char *t = oak_atom_name((oak_atom)req->tag);
    const char *p = payload(req);
    if (!strcmp(t, "crash")) {
        oak_reason r = or_reason(p);
        oak_gen_server_exit(gs, r.atom, oak_reason_detail(&r));
    }
    if (!strcmp(t, "stop")) {
        oak_reason r = or_reason(p);
        oak_gen_server_set_stop(gs, r.atom, oak_reason_detail(&r));
        return OAK_GS_STOP;
    }
    if (!strcmp(t, "set"))
        w->val = atol(p);
    return OAK_GS_OK;
}

static int w_info(oak_gen_server *gs, void *state, const oak_msg *m)
{
    wstate *w = state;
    if (m->tag == OAK_TIMEOUT) {
        or_ev("info_timeout %s", w->o.id);
    } else if (m->tag == OAK_TAG_EXIT) {
        oak_reason r;
        const oak_down *d = m->data;
        oak_reason_set(&r, d->reason, d->detail);
        or_ev("info %s {'EXIT',%s,%s}", w->o.id, or_p(m->from), or_r(&r));
    } else {
        const char *t = m->tag < (1u << 31) ? oak_atom_name((oak_atom)m->tag) : NULL;
        or_ev("info %s %s", w->o.id, t ? t : "?");
    }
    return OAK_GS_OK;
}

static int w_continue(oak_gen_server *gs, void *state, const oak_msg *c)
{
    wstate *w = state;
    or_ev("continue %s %s", w->o.id, oak_atom_name((oak_atom)c->tag));
    return OAK_GS_OK;
}

static void w_terminate(oak_gen_server *gs, void *state, const oak_reason *r)
{
    wstate *w = state;
    bool quiet = w->o.quiet ||
                 (w->o.quiet_shutdown && r->atom == OAK_SHUTDOWN && !r->detail[0]);
    if (!quiet)
        or_ev("stop %s %s", w->o.id, or_r(r));
    if (w->o.terminate_sleep) {
        oak_sleep(w->o.terminate_sleep);
        if (!quiet)
            or_ev("stop_done %s", w->o.id);
    }
}

static const oak_gen_server_callbacks worker_cb = {
    .init = w_init,
    .handle_call = w_call,
    .handle_cast = w_cast,
    .handle_info = w_info,
    .handle_continue = w_continue,
    .terminate = w_terminate,
};

static int start_fn_result(const char *id, const char *x, oak_reason *why)
{
    or_ev("start_fn_return %s %s", id, x);
    if (!strcmp(x, "ignore"))
        return OAK_IGNORED;
    oak_reason r = or_reason(x);
    if (r.atom == OAK_ERROR) {
        oak_reason inner = or_reason(r.detail);
        *why = inner;
    } else {
        *why = r;
    }
    return -ECANCELED;
}

static int worker_start_beh(const or_wopts *o, const char *beh, unsigned flags,
                            oak_pid *pid, oak_reason *why)
{
    const char *x;
    if ((x = arg_of(beh, "return")))
        return start_fn_result(o->id, x, why);
    if ((x = arg_of(beh, "raise"))) {
        or_ev("start_fn_raise %s %s", o->id, x);
        *why = or_reason(x);
        return OAK_START_RAISE;
    }
    wstart st;
    memset(&st, 0, sizeof st);
    st.o = *o;
    snprintf(st.beh, sizeof st.beh, "%s", beh);
    oak_gen_server_opts go = {.flags = flags, .arg_size = sizeof st};
    if (o->name[0])
        go.name = A(o->name);
    return oak_gen_server_start(&worker_cb, &st, &go, pid, why);
}

int or_worker_start(const char *id, const or_wopts *o, unsigned flags,
                    oak_pid *pid, oak_reason *why)
{
    or_wopts w = {0};
    if (o)
        w = *o;
    snprintf(w.id, sizeof w.id, "%s", id);
    char beh[64];
    next_behaviour(id, w.init, beh);
    return worker_start_beh(&w, beh, flags, pid, why);
}

int or_start_worker(const oak_child_args *a, oak_pid *pid, oak_reason *why)
{
    const or_wopts *o = a->arg;
    char beh[64];
    next_behaviour(o->id, o->init, beh);
    return worker_start_beh(o, beh, OAK_GEN_LINK, pid, why);
}

int or_start_dyn(const oak_child_args *a, oak_pid *pid, oak_reason *why)
{
    or_wopts o = *(const or_wopts *)a->arg;
    snprintf(o.id, sizeof o.id, "%.*s", (int)a->extra_size, (const char *)a->extra);
    char beh[64];
    next_behaviour(o.id, o.init, beh);
    return worker_start_beh(&o, beh, OAK_GEN_LINK, pid, why);
}

oak_child_spec or_w_opts(const char *id, const or_wopts *o)
{
    or_wopts w = {0};
    if (o)
        w = *o;
    snprintf(w.id, sizeof w.id, "%s", id);
    oak_child_spec s = {0};
    s.id = A(id);
    s.start = or_start_worker;
    or_wopts *copy = keep(malloc(sizeof *copy)); /* lives for the whole run */
    *copy = w;
    s.arg = copy;
    s.arg_size = sizeof *copy;
    return s;
}

oak_child_spec or_w(const char *id) { return or_w_opts(id, NULL); }

/* ---- supervisors -------------------------------------------------------------------------------- */

typedef struct sup_def {
    oak_supervisor_def def;
    char id[32];
} sup_def;

static int sup_init_cb(void *arg, oak_sup_init *spec)
{
    sup_def *d = arg;
    char beh[64];
    next_behaviour(d->id, "ok", beh);
    const char *x = arg_of(beh, "ret");
    if (x) {
        failed_label(d->id);
        or_ev("sup_init_return %s %s", d->id, x);
        return !strcmp(x, "ignore") ? OAK_IGNORED : 99;
    }
    new_incarnation(d->id);
    or_ev("sup_start %s", d->id);
    return 0;
}

oak_sup_flags or_flags(oak_strategy s, int intensity, int period)
{
    oak_sup_flags f = {s, intensity, period, OAK_AUTO_SHUTDOWN_NEVER};
    return f;
}

static sup_def *make_def(const char *id, oak_sup_flags f,
                         const oak_child_spec *c, size_t n)
{
    sup_def *d = keep(calloc(1, sizeof *d)); /* lives for the whole run */
    snprintf(d->id, sizeof d->id, "%s", id);
    oak_child_spec *copy = keep(calloc(n + 1, sizeof *copy));
    if (n)
        memcpy(copy, c, n * sizeof *copy);
    d->def.flags = f;
    d->def.children = copy;
    d->def.count = n;
    d->def.init = sup_init_cb;
    d->def.init_arg = d;
    return d;
}

oak_child_spec or_sup(const char *id, oak_sup_flags f, const oak_child_spec *c,
                      size_t n)
{
    sup_def *d = make_def(id, f, c, n);
    oak_child_spec s = {0};
    s.id = A(id);
    s.start = oak_supervisor_start_fn;
    s.arg = &d->def;
    s.type = OAK_SUPERVISOR;
    return s;
}

int or_start_sup(const char *id, oak_sup_flags f, const oak_child_spec *c,
                 size_t n, oak_pid *pid, oak_reason *why)
{
    sup_def *d = make_def(id, f, c, n);
    return oak_supervisor_start(&d->def, OAK_GEN_LINK, pid, why);
}

typedef struct watch_ent {
    char id[32];
    oak_ref ref;
} watch_ent;
static watch_ent watches[64];
static int nwatches;

int or_top(const char *id, oak_sup_flags f, const oak_child_spec *c, size_t n)
{
    oak_pid pid;
    oak_reason why;
    int r = or_start_sup(id, f, c, n, &pid, &why);
    if (r == 0) {
        watch_ent *w = &watches[nwatches++];
        snprintf(w->id, sizeof w->id, "%s", id);
        w->ref = oak_monitor(pid);
    } else {
        or_ev("start_link %s -> %s", id, r == OAK_IGNORED ? "ignore" : or_result(r, 0, &why, NULL));
    }
    return r;
}

/* ---- driver helpers --------------------------------------------------------------------------------- */

void or_settle(int ms) { oak_sleep(ms); }

static void cast_and_wait(const char *id, const char *what, const char *reason)
{
    oak_pid p = or_pid_of(id);
    oak_ref ref = oak_monitor(p);
    oak_gen_server_cast(p, A(what), reason, strlen(reason));
    oak_msg *m = NULL;
    if (oak_receive_ref(&m, ref, 5000) == 0)
        oak_msg_free(m);
    else
        or_ev("%s_timeout %s", what, id);
    or_settle(150);
}

void or_crash(const char *id, const char *reason)
{
    cast_and_wait(id, "crash", reason ? reason : "boom");
}

void or_exit_child(const char *id, const char *reason)
{
    cast_and_wait(id, "stop", reason);
}

void or_kill_child(const char *id, const char *signal)
{
    oak_pid p = or_pid_of(id);
    oak_ref ref = oak_monitor(p);
    oak_reason r = or_reason(signal);
    oak_exit_pid_detail(p, r.atom, oak_reason_detail(&r));
    oak_msg *m = NULL;
    if (oak_receive_ref(&m, ref, 5000) == 0)
        oak_msg_free(m);
    or_settle(150);
}

static oak_ref watch_of(const char *id)
{
    for (int i = 0; i < nwatches; i++)
        if (!strcmp(watches[i].id, id))
            return watches[i].ref;
    return 0;
}

void or_await_top(const char *id)
{
    or_await_sup(watch_of(id), id);
}

void or_await_sup(oak_ref ref, const char *name)
{
    oak_msg *m = NULL;
    if (oak_receive_ref(&m, ref, 15000) == 0) {
        oak_reason r;
        const oak_down *d = m->data;
        oak_reason_set(&r, d->reason, d->detail);
        or_ev("sup_exit %s %s", name, or_r(&r));
        oak_msg_free(m);
    } else {
        or_ev("sup_alive %s", name);
    }
}

void or_stop_top(const char *id, const char *reason)
{
    oak_reason r = or_reason(reason ? reason : "shutdown");
    oak_exit_pid_detail(or_pid_of(id), r.atom, oak_reason_detail(&r));
    or_await_top(id);
}

void or_show_children(const char *id)
{
    oak_child_info v[256];
    int n = oak_supervisor_which_children(or_pid_of(id), v, 256);
    char *b = nextbuf();
    size_t o = (size_t)snprintf(b, BUFSZ, "[");
    for (int i = 0; i < n && i < 256; i++) {
        const char *c = v[i].status == OAK_CHILD_RUNNING ? or_p(v[i].pid)
                        : v[i].status == OAK_CHILD_RESTARTING ? "restarting"
                                                              : "undefined";
        o += (size_t)snprintf(b + o, BUFSZ - o, "%s{%s,%s,%s}", i ? "," : "",
                              oak_atom_name(v[i].id), c,
                              v[i].type == OAK_SUPERVISOR ? "supervisor" : "worker");
    }
    snprintf(b + o, BUFSZ - o, "]");
    or_ev("which_children %s -> %s", id, b);
}

void or_show_counts(const char *id)
{
    oak_child_counts k = {0};
    oak_supervisor_count_children(or_pid_of(id), &k);
    or_ev("count_children %s -> [{specs,%zu},{active,%zu},{supervisors,%zu},{workers,%zu}]",
          id, k.specs, k.active, k.supervisors, k.workers);
}

oak_ref or_watch(oak_pid pid) { return oak_monitor(pid); }

void or_await_down(oak_ref ref, const char *name)
{
    oak_msg *m = NULL;
    if (oak_receive_ref(&m, ref, 10000) == 0) {
        oak_reason r;
        const oak_down *d = m->data;
        oak_reason_set(&r, d->reason, d->detail);
        or_ev("down %s %s", name, or_r(&r));
        oak_msg_free(m);
    } else {
        or_ev("still_alive %s", name);
    }
}

void or_await_silent(oak_ref ref)
{
    oak_msg *m = NULL;
    if (oak_receive_ref(&m, ref, 10000) == 0)
        oak_msg_free(m);
    else
        or_ev("still_alive");
}

void or_elapsed_check(int64_t t0, int64_t lo, int64_t hi)
{
    int64_t ms = oak_now_ms() - t0;
    if (ms >= lo && ms <= hi)
        or_ev("elapsed_ms_in %lld..%lld", (long long)lo, (long long)hi);
    else
        or_ev("elapsed_ms_out_of_range %lld %lld %lld", (long long)ms,
              (long long)lo, (long long)hi);
}

static bool not_exit(const oak_msg *m, void *arg) { return m->tag != OAK_TAG_EXIT; }
static bool is_exit(const oak_msg *m, void *arg) { return m->tag == OAK_TAG_EXIT; }

const char *or_mailbox(void)
{
    char *b = nextbuf();
    size_t o = (size_t)snprintf(b, BUFSZ, "[");
    oak_msg *m = NULL;
    int i = 0;
    while (oak_receive(&m, 0, is_exit, NULL) == 0)
        oak_msg_free(m);
    while (oak_receive(&m, 0, not_exit, NULL) == 0) {
        if (m->tag == OAK_TAG_DOWN) {
            oak_reason r;
            const oak_down *d = m->data;
            oak_reason_set(&r, d->reason, d->detail);
            o += (size_t)snprintf(b + o, BUFSZ - o, "%s{'DOWN',#ref,process,%s,%s}",
                                  i++ ? "," : "", or_p(m->from), or_r(&r));
        } else {
            const char *t = m->tag < (1u << 31) ? oak_atom_name((oak_atom)m->tag) : NULL;
            o += (size_t)snprintf(b + o, BUFSZ - o, "%s%s", i++ ? "," : "", t ? t : "?");
        }
        oak_msg_free(m);
    }
    snprintf(b + o, BUFSZ - o, "]");
    return b;
}

/* ---- the seed: Sequence + Stash ---------------------------------------------------------------------- */

typedef struct num_state {
    long v;
    int is_seq;
} num_state;

static int stash_init(oak_gen_server *gs, void *arg, void **state)
{
    num_state *s = oak_alloc(sizeof *s);
    s->v = *(long *)arg;
    s->is_seq = 0;
    *state = s;
    new_incarnation("stash");
    or_ev("start stash %ld", s->v);
    return OAK_GS_OK;
}

long or_stash_get_value(void)
{
    oak_msg *m = NULL;
    oak_reason why;
    long v = -1;
    if (oak_gen_server_call(oak_whereis(A("stash")), A("get_value"), NULL, 0,
                            &m, OAK_GEN_CALL_TIMEOUT, &why) == 0) {
        memcpy(&v, m->data, sizeof v);
        oak_msg_free(m);
    }
    return v;
}

static int seq_init(oak_gen_server *gs, void *arg, void **state)
{
    num_state *s = oak_alloc(sizeof *s);
    new_incarnation("seq");
    s->v = or_stash_get_value();
    s->is_seq = 1;
    *state = s;
    or_ev("start seq %ld", s->v);
    return OAK_GS_OK;
}

static int num_call(oak_gen_server *gs, void *state, const oak_msg *req,
                    const oak_gen_from *from)
{
    num_state *s = state;
    if (req->tag == A("get_value")) {
        or_ev("stash_get %ld", s->v);
        oak_gen_server_set_reply(gs, A("value"), &s->v, sizeof s->v);
        return OAK_GS_REPLY;
    }
    if (req->tag == A("next_number")) {
        oak_gen_server_set_reply(gs, A("value"), &s->v, sizeof s->v);
        s->v++;
        return OAK_GS_REPLY;
    }
    oak_gen_server_exit(gs, A("function_clause"), NULL);
}

static int num_cast(oak_gen_server *gs, void *state, const oak_msg *req)
{
    num_state *s = state;
    const char *p = payload(req);
    if (req->tag == A("increment_number")) {
        char *end;
        long d = strtol(p, &end, 10);
        if (!*p || *end)
            oak_gen_server_exit(gs, A("badarith"), "_"); /* {badarith, Stack} */
        s->v += d;
    } else if (req->tag == A("save_value")) {
        s->v = atol(p);
    } else if (req->tag == A("crash")) {
        oak_reason r = or_reason(p);
        oak_gen_server_exit(gs, r.atom, oak_reason_detail(&r));
    }
    return OAK_GS_OK;
}

static void num_terminate(oak_gen_server *gs, void *state, const oak_reason *r)
{
    num_state *s = state;
    or_ev("stop %s %s %ld", s->is_seq ? "seq" : "stash", or_r(r), s->v);
    if (s->is_seq) {
        char b[32];
        snprintf(b, sizeof b, "%ld", s->v);
        oak_gen_server_cast(oak_whereis(A("stash")), A("save_value"), b, strlen(b));
    }
}

static const oak_gen_server_callbacks stash_cb = {
    .init = stash_init, .handle_call = num_call, .handle_cast = num_cast,
    .terminate = num_terminate};
static const oak_gen_server_callbacks seq_cb = {
    .init = seq_init, .handle_call = num_call, .handle_cast = num_cast,
    .terminate = num_terminate};

static int stash_start(const oak_child_args *a, oak_pid *pid, oak_reason *why)
{
    oak_gen_server_opts o = {.flags = OAK_GEN_LINK, .name = A("stash"),
                             .arg_size = sizeof(long)};
    return oak_gen_server_start(&stash_cb, (void *)a->arg, &o, pid, why);
}

static int seq_start(const oak_child_args *a, oak_pid *pid, oak_reason *why)
{
    oak_gen_server_opts o = {.flags = OAK_GEN_LINK, .name = A("seq")};
    return oak_gen_server_start(&seq_cb, NULL, &o, pid, why);
}

oak_child_spec or_stash_spec(long value)
{
    long *v = keep(malloc(sizeof *v));
    *v = value;
    oak_child_spec s = {.id = A("stash"), .start = stash_start, .arg = v,
                        .arg_size = sizeof *v};
    return s;
}

oak_child_spec or_seq_spec(void)
{
    oak_child_spec s = {.id = A("seq"), .start = seq_start};
    return s;
}

void or_seq_next(const char *desc)
{
    oak_msg *m = NULL;
    oak_reason why;
    int r = oak_gen_server_call(oak_whereis(A("seq")), A("next_number"), NULL,
                                0, &m, OAK_GEN_CALL_TIMEOUT, &why);
    if (r == 0) {
        long v;
        memcpy(&v, m->data, sizeof v);
        oak_msg_free(m);
        or_ev("%s -> %ld", desc, v);
    } else {
        or_ev("%s -> {exit,%s}", desc, or_r(&why));
    }
}

void or_seq_increment_int(long d)
{
    char b[32];
    snprintf(b, sizeof b, "%ld", d);
    or_ev("cast increment_number %ld", d);
    oak_gen_server_cast(oak_whereis(A("seq")), A("increment_number"), b, strlen(b));
}

void or_seq_increment_term(const char *term)
{
    or_ev("cast increment_number %s", term);
    oak_gen_server_cast(oak_whereis(A("seq")), A("increment_number"), term,
                        strlen(term));
}

/* ---- get_childspec as the oracle prints it ------------------------------------------------ */

static const char *wopts_term(const or_wopts *o)
{
    char *b = nextbuf();
    size_t n = (size_t)snprintf(b, BUFSZ, "#{");
    const char *sep = "";
    if (o->quiet) { n += (size_t)snprintf(b + n, BUFSZ - n, "%squiet=>true", sep); sep = ","; }
    if (o->quiet_shutdown) { n += (size_t)snprintf(b + n, BUFSZ - n, "%squiet_shutdown=>true", sep); sep = ","; }
    if (o->terminate_sleep) { n += (size_t)snprintf(b + n, BUFSZ - n, "%sterminate_sleep=>%d", sep, o->terminate_sleep); sep = ","; }
    if (o->no_trap) { n += (size_t)snprintf(b + n, BUFSZ - n, "%strap=>false", sep); sep = ","; }
    snprintf(b + n, BUFSZ - n, "}");
    return b;
}

const char *or_childspec(const oak_child_spec *s)
{
    char *b = nextbuf();
    const char *start = "{unknown}";
    char st[512];
    if (s->start == or_start_worker) {
        const or_wopts *o = s->arg;
        snprintf(st, sizeof st, "{oracle_lib,start_worker,[%s,%s]}", o->id, wopts_term(o));
        start = st;
    } else if (s->start == or_start_dyn) {
        snprintf(st, sizeof st, "{oracle_lib,start_dyn,[%s]}", wopts_term(s->arg));
        start = st;
    }
    char sh[32];
    if (s->shutdown == OAK_BRUTAL_KILL) snprintf(sh, sizeof sh, "brutal_kill");
    else if (s->shutdown == OAK_INFINITY) snprintf(sh, sizeof sh, "infinity");
    else if (s->shutdown == OAK_SHUTDOWN_ZERO) snprintf(sh, sizeof sh, "0");
    else snprintf(sh, sizeof sh, "%lld", (long long)s->shutdown);
    static const char *const rs[] = {"permanent", "transient", "temporary"};
    snprintf(b, BUFSZ,
             "#{id=>%s,modules=>[oracle_lib],restart=>%s,shutdown=>%s,significant=>%s,start=>%s,type=>%s}",
             oak_atom_name(s->id), rs[s->restart], sh, s->significant ? "true" : "false",
             start, s->type == OAK_SUPERVISOR ? "supervisor" : "worker");
    return b;
}
