/* supervisor.c - OTP's supervisor (and Elixir's DynamicSupervisor) as a
 * gen_server on the public API.
 *
 * State machine of one child record:
 *
 *   (none) --start ok--> RUNNING --EXIT--> restart? --start ok--> RUNNING
 *                           |                  |  \--start fails--> RESTARTING
 *                           |                  |        (retried through a
 *                           |                  |         '$try_again_restart'
 *                           |                  |         cast to ourselves;
 *                           |                  |         each try counts)
 *                           |                  \--no: UNDEFINED (spec kept)
 *                           |                         or removed (temporary)
 *                           \--terminate_child--> UNDEFINED / removed
 *
 * RUNNING is pid != 0; RESTARTING is the `restarting` flag with pid 0;
 * UNDEFINED is neither. All memory comes from oak_alloc(), so a killed
 * supervisor leaks nothing. See docs/design/supervisor.md.
 */
#include "behaviours/supervisor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- records ----------------------------------------------------------- */

typedef struct child {
    oak_child_spec spec; /* spec.arg points to owned bytes when arg_size > 0 */
    uint64_t key;        /* unique in this supervisor: names it in messages */
    oak_pid pid;         /* OAK_NOPID unless running */
    oak_pid last_pid;    /* the pid it had when it last exited: the
                          * DynamicSupervisor's reports name it so */
    bool restarting;
    void *extra;         /* simple_one_for_one: start_child's bytes (owned) */
    size_t extra_size;
    int backoff_n;       /* consecutive delayed restarts */
    int64_t started_ms;
    oak_ref backoff_timer;
} child_rec;

typedef struct sup {
    oak_gen_server *gs;
    oak_pid self;
    oak_sup_flags flags;
    bool dynamic; /* simple_one_for_one or OAK_DYNAMIC: no order, pid keyed */
    child_rec *v;     /* static: start order; dynamic: any order */
    size_t n, cap;
    child_rec tmpl;   /* simple_one_for_one template */
    uint64_t next_key;
    size_t max_children;
    void *extra;  /* OAK_DYNAMIC extra_arguments (owned) */
    size_t extra_size;
    /* Restart times (whole seconds), oldest first, in a ring that never
     * holds more than intensity + 1 entries. */
    int64_t *rt;
    size_t rt_head, rt_n, rt_cap;
} sup;

/* ---- small helpers --------------------------------------------------------- */

static void *grow(void *old, size_t old_bytes, size_t new_bytes)
{
    void *p = oak_alloc(new_bytes);
    if (!p)
        return NULL;
    if (old_bytes)
        memcpy(p, old, old_bytes);
    oak_free(old);
    return p;
}

static void *dup_bytes(const void *src, size_t size)
{
    if (!size)
        return NULL;
    void *p = oak_alloc(size);
    if (p)
        memcpy(p, src, size);
    return p;
}

static const char *aname(oak_atom a)
{
    const char *s = oak_atom_name(a);
    return s ? s : "undefined";
}

static void set_why(oak_reason *why, const char *atom, const char *fmt, ...)
    OAK_PRINTF(3, 4);
static void set_why(oak_reason *why, const char *atom, const char *fmt, ...)
{
    char d[OAK_REASON_DETAIL_MAX];
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d, sizeof d, fmt, ap);
        va_end(ap);
    }
    oak_reason_set(why, oak_atom_from(atom), fmt ? d : NULL);
}

static int64_t child_shutdown(const oak_child_spec *s)
{
    if (s->shutdown == OAK_SHUTDOWN_DEFAULT)
        return s->type == OAK_SUPERVISOR ? OAK_INFINITY : 5000;
    return s->shutdown;
}

static bool is_dyn_flavour(const sup *s)
{
    return s->flags.strategy == OAK_DYNAMIC;
}

/* ---- reports ----------------------------------------------------------------- */

/* How a report names child c: by id, or for a DynamicSupervisor by pid, as
 * {restarting, Pid} while a restart of the child is being retried (Pid is
 * the one it had before it exited). */
static void offender(const sup *s, const child_rec *c, oak_pid pid, bool restarting,
                     char *buf, size_t size)
{
    char p[40];
    oak_pid_format(pid, p, sizeof p);
    if (!is_dyn_flavour(s))
        snprintf(buf, size, "%s", aname(c->spec.id));
    else if (restarting)
        snprintf(buf, size, "{restarting,%s}", p);
    else
        snprintf(buf, size, "%s", p);
}

static void report_as(const sup *s, const char *ctx, const child_rec *c, oak_pid pid,
                      bool restarting, const oak_reason *why, const char *action)
{
    if (!oak_log_enabled(OAK_LOG_ERROR))
        return;
    char who[64], id[80], p[40], r[OAK_REASON_DETAIL_MAX + 300];
    oak__who(s->self, who, sizeof who);
    offender(s, c, pid, restarting, id, sizeof id);
    oak_pid_format(pid, p, sizeof p);
    oak_reason_str(why, r, sizeof r);
    oak_log(OAK_LOG_ERROR, "supervisor_report",
            "supervisor=%s context=%s id=%s pid=%s action=%s reason=%s", who,
            ctx, id, pid ? p : "undefined", action, r);
}

static void report(const sup *s, const char *ctx, const child_rec *c, oak_pid pid,
                   const oak_reason *why, const char *action)
{
    report_as(s, ctx, c, pid, false, why, action);
}

static void report_progress(const sup *s, const child_rec *c)
{
    if (!oak_log_enabled(OAK_LOG_INFO))
        return;
    char who[64], id[80], p[40];
    oak__who(s->self, who, sizeof who);
    offender(s, c, c->pid, false, id, sizeof id);
    oak_pid_format(c->pid, p, sizeof p);
    oak_log(OAK_LOG_INFO, "progress", "supervisor=%s event=started id=%s pid=%s",
            who, id, p);
}

/* ---- validation ---------------------------------------------------------------- */

static int check_flags(const oak_sup_flags *f, oak_reason *why)
{
    if ((unsigned)f->strategy > OAK_DYNAMIC)
        set_why(why, "supervisor_data", "{invalid_strategy,%d}", (int)f->strategy);
    else if (f->intensity < 0)
        set_why(why, "supervisor_data", "{invalid_intensity,%d}", f->intensity);
    else if (f->period < 0)
        set_why(why, "supervisor_data", "{invalid_period,%d}", f->period);
    else if ((unsigned)f->auto_shutdown > OAK_ALL_SIGNIFICANT)
        set_why(why, "supervisor_data", "{invalid_auto_shutdown,%d}", (int)f->auto_shutdown);
    else
        return 0;
    return -EINVAL;
}

/* One spec, in OTP's order of checks. dyn: DynamicSupervisor's rules. */
static int check_spec(const oak_child_spec *c, oak_auto_shutdown as, bool dyn,
                      oak_reason *why)
{
    if (!c->id && !dyn)
        set_why(why, "missing_id", NULL);
    else if (!c->start && c->name)
        /* A start that was named but cannot run: OTP's invalid MFA, shown
         * by the spec's text for it. */
        set_why(why, "invalid_mfa", "%s", c->name);
    else if (!c->start)
        set_why(why, "missing_start", NULL);
    else if (c->arg_size && !c->arg)
        set_why(why, "invalid_arg", "%zu", c->arg_size);
    else if ((unsigned)c->restart > OAK_TEMPORARY)
        set_why(why, "invalid_restart_type", "%d", (int)c->restart);
    else if (c->significant && as == OAK_AUTO_SHUTDOWN_NEVER)
        set_why(why, "bad_combination", "[{auto_shutdown,never},{significant,true}]");
    else if (c->significant && c->restart == OAK_PERMANENT)
        set_why(why, "bad_combination", "[{restart,permanent},{significant,true}]");
    else if ((unsigned)c->type > OAK_SUPERVISOR)
        set_why(why, "invalid_child_type", "%d", (int)c->type);
    else if (c->shutdown < 0 && c->shutdown != OAK_INFINITY &&
             c->shutdown != OAK_BRUTAL_KILL && c->shutdown != OAK_SHUTDOWN_ZERO)
        set_why(why, "invalid_shutdown", "%lld", (long long)c->shutdown);
    else if (dyn && c->shutdown == OAK_SHUTDOWN_ZERO)
        set_why(why, "invalid_shutdown", "0");
    else if (c->backoff.initial_ms < 0)
        set_why(why, "invalid_backoff", "{initial_ms,%lld}", (long long)c->backoff.initial_ms);
    else if (c->backoff.max_ms < 0)
        set_why(why, "invalid_backoff", "{max_ms,%lld}", (long long)c->backoff.max_ms);
    else if (c->backoff.jitter_pct < 0 || c->backoff.jitter_pct > 100)
        set_why(why, "invalid_backoff", "{jitter_pct,%d}", c->backoff.jitter_pct);
    else if (c->backoff.reset_after_ms < 0)
        set_why(why, "invalid_backoff", "{reset_after_ms,%lld}", (long long)c->backoff.reset_after_ms);
    else
        return 0;
    return -EINVAL;
}

int oak_supervisor_check_childspecs(const oak_child_spec *specs, size_t count,
                                    oak_auto_shutdown as, oak_reason *why)
{
    oak_reason dummy;
    if (!why)
        why = &dummy;
    oak_reason_set(why, OAK_ATOM_NONE, NULL);
    if ((int)as < (int)OAK_AUTO_SHUTDOWN_UNDEFINED || (int)as > (int)OAK_ALL_SIGNIFICANT) {
        set_why(why, "badarg", "%d", (int)as);
        return -EINVAL;
    }
    if (count && !specs) {
        set_why(why, "badarg", NULL);
        return -EINVAL;
    }
    for (size_t i = 0; i < count; i++) {
        int r = check_spec(&specs[i], as, false, why);
        if (r)
            return r;
        for (size_t j = 0; j < i; j++)
            if (specs[j].id == specs[i].id) {
                set_why(why, "duplicate_child_name", "%s", aname(specs[i].id));
                return -EINVAL;
            }
    }
    return 0;
}

/* ---- child records ----------------------------------------------------------- */

static child_rec *add_record(sup *s, const oak_child_spec *spec)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        child_rec *v = grow(s->v, s->n * sizeof *v, cap * sizeof *v);
        if (!v)
            return NULL;
        s->v = v;
        s->cap = cap;
    }
    child_rec *c = &s->v[s->n];
    memset(c, 0, sizeof *c);
    c->spec = *spec;
    if (spec->arg_size) {
        c->spec.arg = dup_bytes(spec->arg, spec->arg_size);
        if (!c->spec.arg)
            return NULL;
    }
    c->key = ++s->next_key;
    s->n++;
    return c;
}

static void remove_at(sup *s, size_t i)
{
    child_rec *c = &s->v[i];
    if (c->spec.arg_size && !s->dynamic)
        oak_free((void *)c->spec.arg);
    if (s->dynamic && is_dyn_flavour(s) && c->spec.arg_size)
        oak_free((void *)c->spec.arg);
    oak_free(c->extra);
    if (s->dynamic) {
        s->v[i] = s->v[--s->n]; /* order does not matter */
    } else {
        memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof *c);
        s->n--;
    }
}

static long find_id(const sup *s, oak_atom id)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].spec.id == id)
            return (long)i;
    return -1;
}

static long find_pid(const sup *s, oak_pid pid)
{
    if (!pid)
        return -1;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].pid == pid)
            return (long)i;
    return -1;
}

static long find_key(const sup *s, uint64_t key)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].key == key)
            return (long)i;
    return -1;
}

/* ---- starting a child ---------------------------------------------------------- */

static int start_one(sup *s, child_rec *c, oak_reason *why)
{
    oak_child_args a = {c->spec.arg, c->spec.arg_size, c->extra, c->extra_size};
    if (is_dyn_flavour(s)) {
        a.extra = s->extra;
        a.extra_size = s->extra_size;
    }
    oak_pid pid = OAK_NOPID;
    oak_reason_set(why, OAK_ATOM_NONE, NULL);
    int r = c->spec.start(&a, &pid, why);
    if (r == 0 && pid) {
        c->pid = pid;
        c->restarting = false;
        c->started_ms = oak_now_ms();
        report_progress(s, c);
        return 0;
    }
    if (r >= 0) /* OAK_IGNORED, or 0 without a pid */
        return OAK_IGNORED;
    if (r == OAK_START_RAISE && !is_dyn_flavour(s)) {
        char inner[OAK_REASON_DETAIL_MAX];
        oak_reason_str(why, inner, sizeof inner);
        oak_reason_set(why, oak__batom(OAK__A_EXIT_TUPLE), inner);
    } else if (!why->atom) {
        set_why(why, "start_failed", "%d", r);
    }
    return -ECANCELED;
}

/* ---- shutting children down ------------------------------------------------------- */

static bool match_exit_from(const oak_msg *m, void *arg)
{
    return m->tag == OAK_TAG_EXIT && m->from == *(const oak_pid *)arg;
}

/* unlink, then prefer the reason of an EXIT that already arrived (as OTP's
 * unlink_flush). */
static void unlink_flush(oak_pid pid, oak_reason *r)
{
    oak_unlink(pid);
    oak_msg *m = NULL;
    if (oak_receive(&m, 0, match_exit_from, &pid) == 0) {
        oak__reason_of(m, r);
        oak_msg_free(m);
    }
}

static bool shutdown_expected(const child_rec *c, const oak_reason *r)
{
    const char *d = oak_reason_detail(r);
    bool brutal = child_shutdown(&c->spec) == OAK_BRUTAL_KILL;
    if (brutal && r->atom == OAK_KILLED && !d)
        return true;
    if (!brutal && r->atom == OAK_SHUTDOWN && !d)
        return true;
    if (c->spec.restart != OAK_PERMANENT && oak_reason_is_clean(r->atom, d))
        return true;
    return false;
}

static void shutdown_pid(oak_pid pid, int64_t how, oak_reason *r)
{
    oak_ref mon = oak_monitor(pid);
    oak_msg *m = NULL;
    if (how == OAK_BRUTAL_KILL) {
        oak_exit_pid(pid, OAK_KILL);
        oak_receive_ref(&m, mon, OAK_INFINITY);
    } else {
        oak_exit_pid(pid, OAK_SHUTDOWN);
        int64_t t = how == OAK_SHUTDOWN_ZERO ? 0 : how;
        if (oak_receive_ref(&m, mon, t) == -ETIMEDOUT) {
            oak_exit_pid(pid, OAK_KILL);
            oak_receive_ref(&m, mon, OAK_INFINITY);
        }
    }
    if (m) {
        oak__reason_of(m, r);
        oak_msg_free(m);
    } else {
        oak_reason_set(r, OAK_KILLED, NULL);
    }
    unlink_flush(pid, r);
}

static void do_terminate(sup *s, child_rec *c)
{
    if (c->backoff_timer) {
        oak_cancel_timer(c->backoff_timer);
        c->backoff_timer = 0;
    }
    if (!c->pid)
        return;
    oak_reason r;
    oak_pid pid = c->pid;
    shutdown_pid(pid, child_shutdown(&c->spec), &r);
    if (!shutdown_expected(c, &r))
        report(s, "shutdown_error", c, pid, &r, "none");
    c->pid = OAK_NOPID;
}

/* Terminate static children [from, n) in reverse order; temporary ones are
 * dropped, the others kept with no pid. */
static void terminate_children(sup *s, size_t from)
{
    for (size_t i = s->n; i-- > from;) {
        child_rec *c = &s->v[i];
        do_terminate(s, c);
        c->restarting = false;
        if (c->spec.restart == OAK_TEMPORARY)
            remove_at(s, i);
    }
}

/* Dynamic children all at once, with one deadline (OTP's
 * terminate_dynamic_children). */
typedef struct dyn_wait {
    oak_ref *refs;
    size_t n;
} dyn_wait;

static int cmp_ref(const void *a, const void *b)
{
    oak_ref x = *(const oak_ref *)a, y = *(const oak_ref *)b;
    return x < y ? -1 : x > y;
}

static bool match_dyn_down(const oak_msg *m, void *arg)
{
    const dyn_wait *w = arg;
    return m->tag == OAK_TAG_DOWN &&
           bsearch(&m->ref, w->refs, w->n, sizeof *w->refs, cmp_ref);
}

static void terminate_dynamic(sup *s)
{
    size_t n = 0;
    oak_ref *refs = oak_alloc((s->n + 1) * sizeof *refs);
    if (!refs) { /* out of memory: fall back to one at a time */
        for (size_t i = s->n; i-- > 0;)
            do_terminate(s, &s->v[i]);
        return;
    }
    int64_t timeout = OAK_INFINITY;
    bool any_timeout = false;
    for (size_t i = 0; i < s->n; i++) {
        child_rec *c = &s->v[i];
        if (c->backoff_timer)
            oak_cancel_timer(c->backoff_timer);
        if (!c->pid)
            continue;
        int64_t how = child_shutdown(&c->spec);
        refs[n++] = oak_monitor(c->pid);
        oak_exit_pid(c->pid, how == OAK_BRUTAL_KILL ? OAK_KILL : OAK_SHUTDOWN);
        if (how != OAK_BRUTAL_KILL && how != OAK_INFINITY) {
            int64_t t = how == OAK_SHUTDOWN_ZERO ? 0 : how;
            if (!any_timeout || t > timeout)
                timeout = t;
            any_timeout = true;
        }
    }
    qsort(refs, n, sizeof *refs, cmp_ref);
    dyn_wait w = {refs, n};
    int64_t deadline = any_timeout ? oak_now_ms() + timeout : 0;
    bool killed = false;
    size_t left = n;
    while (left > 0) {
        int64_t t = OAK_INFINITY;
        if (any_timeout && !killed) {
            t = deadline - oak_now_ms();
            if (t < 0)
                t = 0;
        }
        oak_msg *m = NULL;
        if (oak_receive(&m, t, match_dyn_down, &w) == -ETIMEDOUT) {
            for (size_t i = 0; i < s->n; i++)
                if (s->v[i].pid)
                    oak_exit_pid(s->v[i].pid, OAK_KILL);
            killed = true;
            continue;
        }
        oak_reason r;
        oak__reason_of(m, &r);
        long i = find_pid(s, m->from);
        oak_msg_free(m);
        left--;
        if (i < 0)
            continue;
        child_rec *c = &s->v[i];
        unlink_flush(c->pid, &r);
        if (!shutdown_expected(c, &r))
            report(s, "shutdown_error", c, c->pid, &r, "none");
        c->pid = OAK_NOPID;
    }
    oak_free(refs);
}

/* ---- restart intensity ------------------------------------------------------------ */

/* Record a restart now; false when that makes more than `intensity`
 * restarts within `period` seconds (OTP's add_restart, whole seconds). */
static bool add_restart(sup *s)
{
    int64_t now = oak_now_ms() / 1000;
    int64_t threshold = now - s->flags.period;
    while (s->rt_n && s->rt[s->rt_head] < threshold) {
        s->rt_head = (s->rt_head + 1) % s->rt_cap;
        s->rt_n--;
    }
    size_t limit = (size_t)s->flags.intensity + 1;
    if (s->rt_n == s->rt_cap) {
        if (s->rt_cap >= limit)
            return false; /* cannot happen: we would have given up */
        size_t cap = s->rt_cap ? s->rt_cap * 2 : 4;
        if (cap > limit)
            cap = limit;
        int64_t *v = oak_alloc(cap * sizeof *v);
        if (!v)
            return false;
        for (size_t i = 0; i < s->rt_n; i++)
            v[i] = s->rt[(s->rt_head + i) % s->rt_cap];
        oak_free(s->rt);
        s->rt = v;
        s->rt_cap = cap;
        s->rt_head = 0;
    }
    s->rt[(s->rt_head + s->rt_n) % s->rt_cap] = now;
    s->rt_n++;
    return s->rt_n <= (size_t)s->flags.intensity;
}

/* ---- restarting ------------------------------------------------------------------------ */

static void try_again(sup *s, const child_rec *c)
{
    oak_gen_server_cast(s->self, oak__batom(OAK__A_TRY_AGAIN), &c->key,
                        sizeof c->key);
}

/* Start static children [from, n) in order. On a failure at index k returns
 * -ECANCELED with *failed = k (children after k are not started). */
static int start_children(sup *s, size_t from, size_t *failed, oak_reason *why)
{
    for (size_t i = from; i < s->n;) {
        child_rec *c = &s->v[i];
        c->restarting = false;
        int r = start_one(s, c, why);
        if (r == OAK_IGNORED) {
            c->pid = OAK_NOPID;
            if (c->spec.restart == OAK_TEMPORARY) {
                remove_at(s, i);
                continue;
            }
        } else if (r < 0) {
            report(s, "start_error", c, OAK_NOPID, why, "none");
            *failed = i;
            return r;
        }
        i++;
    }
    return 0;
}

static int64_t backoff_delay(child_rec *c)
{
    const oak_backoff *b = &c->spec.backoff;
    if (b->initial_ms <= 0)
        return 0;
    int64_t max = b->max_ms ? b->max_ms : 30 * b->initial_ms;
    int64_t reset = b->reset_after_ms ? b->reset_after_ms : 10 * max;
    if (c->started_ms && oak_now_ms() - c->started_ms >= reset)
        c->backoff_n = 0;
    int64_t d = b->initial_ms;
    for (int i = 0; i < c->backoff_n && d < max; i++)
        d *= 2;
    if (d > max)
        d = max;
    c->backoff_n++;
    if (b->jitter_pct > 0) {
        int64_t span = d * b->jitter_pct / 100;
        if (span > 0)
            d -= (int64_t)((uint64_t)random() % (uint64_t)(span + 1));
    }
    return d;
}

/* Start child i again now (one_for_one, simple, dynamic). */
static void restart_single(sup *s, size_t i)
{
    child_rec *c = &s->v[i];
    oak_reason why;
    int r = start_one(s, c, &why);
    if (r == OAK_IGNORED) {
        c->pid = OAK_NOPID;
        c->restarting = false;
        if (s->dynamic) /* Elixir drops it; OTP's simple_one_for_one too */
            remove_at(s, i);
        return;
    }
    if (r < 0) {
        c->pid = OAK_NOPID;
        c->restarting = true;
        report_as(s, "start_error", c, c->last_pid, true, &why, "retry");
        try_again(s, c);
    }
}

/* A restart of child i was decided. Returns false when the supervisor must
 * give up (intensity reached). */
static bool restart(sup *s, size_t i)
{
    child_rec *c = &s->v[i];
    if (!add_restart(s)) {
        oak_reason r;
        oak_reason_set(&r, oak__batom(OAK__A_REACHED_MAX), NULL);
        report_as(s, "shutdown", c, c->last_pid, c->restarting, &r, "shutdown");
        c->pid = OAK_NOPID;
        c->restarting = false;
        if (c->spec.restart == OAK_TEMPORARY || s->dynamic)
            remove_at(s, i);
        return false;
    }
    size_t failed = 0;
    oak_reason why;
    switch (s->flags.strategy) {
    case OAK_ONE_FOR_ALL:
        c->pid = OAK_NOPID;
        terminate_children(s, 0);
        if (start_children(s, 0, &failed, &why) < 0) {
            s->v[failed].restarting = true;
            try_again(s, &s->v[failed]);
        }
        return true;
    case OAK_REST_FOR_ONE:
        c->pid = OAK_NOPID;
        terminate_children(s, i + 1);
        if (start_children(s, i, &failed, &why) < 0) {
            s->v[failed].restarting = true;
            try_again(s, &s->v[failed]);
        }
        return true;
    default: {
        int64_t d = backoff_delay(c);
        if (d > 0) {
            c->pid = OAK_NOPID;
            c->restarting = true;
            c->backoff_timer = oak_send_after(d, s->self,
                                              oak__batom(OAK__A_RESTART_TIMER),
                                              &c->key, sizeof c->key);
            return true;
        }
        restart_single(s, i);
        return true;
    }
    }
}

/* auto_shutdown after a significant child exited on its own and was not
 * restarted. */
static bool auto_shutdown(const sup *s, bool significant)
{
    if (s->flags.auto_shutdown == OAK_AUTO_SHUTDOWN_NEVER || !significant)
        return false;
    if (s->flags.auto_shutdown == OAK_ANY_SIGNIFICANT)
        return true;
    /* A child waiting for a restart (failed start, or backoff) counts as
     * alive: OTP's pid is then {restarting, Old}, not undefined. */
    for (size_t i = 0; i < s->n; i++)
        if ((s->v[i].pid || s->v[i].restarting) && s->v[i].spec.significant)
            return false;
    return true;
}

/* A child exited with r. Returns false when the supervisor must stop. */
static bool child_exited(sup *s, size_t i, const oak_reason *r)
{
    child_rec *c = &s->v[i];
    oak_pid pid = c->pid;
    c->last_pid = pid;
    bool clean = oak_reason_is_clean(r->atom, oak_reason_detail(r));
    if (c->spec.restart == OAK_PERMANENT ||
        (c->spec.restart == OAK_TRANSIENT && !clean)) {
        report(s, "child_terminated", c, pid, r, "restart");
        return restart(s, i);
    }
    if (!clean)
        report(s, "child_terminated", c, pid, r, "none");
    bool significant = c->spec.significant;
    c->pid = OAK_NOPID;
    if (c->spec.restart == OAK_TEMPORARY || s->dynamic)
        remove_at(s, i);
    return !auto_shutdown(s, significant);
}

/* ---- the admin protocol ------------------------------------------------------------------ */

enum sup_op {
    OP_START_CHILD = 1,
    OP_START_CHILD_ARGS,
    OP_TERMINATE_CHILD,
    OP_TERMINATE_CHILD_PID,
    OP_RESTART_CHILD,
    OP_DELETE_CHILD,
    OP_WHICH_CHILDREN,
    OP_COUNT_CHILDREN,
    OP_GET_CHILDSPEC,
    OP_GET_CHILDSPEC_PID,
};

typedef struct sup_req {
    int32_t op;
    oak_atom id;
    oak_pid pid;
    oak_child_spec spec; /* OP_START_CHILD; arg bytes follow when arg_size > 0 */
    size_t extra_size;   /* OP_START_CHILD_ARGS: bytes follow */
    _Alignas(16) unsigned char bytes[];
} sup_req;

/* Every admin request is a call with tag '$sup_call' and a sup_req. The
 * answer is tagged: '$sup_reply' carries a sup_rep (a result code), and
 * '$sup_data' the data of which_children, count_children and
 * get_childspec. The callers check tag and size, so a process that is no
 * supervisor cannot make them read its reply as theirs (-EPROTO). */
typedef struct sup_rep {
    int32_t code;
    oak_pid pid;
    oak_reason why;
} sup_rep;

static void reply_rep(sup *s, int code, oak_pid pid, const oak_reason *why)
{
    sup_rep rep;
    memset(&rep, 0, sizeof rep);
    rep.code = code;
    rep.pid = pid;
    if (why)
        rep.why = *why;
    oak_gen_server_set_reply(s->gs, oak__batom(OAK__A_SUP_REPLY), &rep, sizeof rep);
}

static void handle_start_child(sup *s, const oak_child_spec *spec)
{
    oak_reason why;
    oak_reason_set(&why, OAK_ATOM_NONE, NULL);
    if (s->flags.strategy == OAK_SIMPLE_ONE_FOR_ONE) {
        /* OTP appends the spec to the template's args, which fails. */
        set_why(&why, "EXIT", "{badarg,_}");
        reply_rep(s, -ECANCELED, OAK_NOPID, &why);
        return;
    }
    if (check_spec(spec, s->flags.auto_shutdown, is_dyn_flavour(s), &why)) {
        reply_rep(s, -EINVAL, OAK_NOPID, &why);
        return;
    }
    if (is_dyn_flavour(s)) {
        if (s->max_children && s->n >= s->max_children) {
            set_why(&why, "max_children", NULL);
            reply_rep(s, -ENOSPC, OAK_NOPID, &why);
            return;
        }
    } else {
        long j = find_id(s, spec->id);
        if (j >= 0) {
            child_rec *o = &s->v[j];
            if (o->pid) {
                char p[40];
                oak_pid_format(o->pid, p, sizeof p);
                set_why(&why, "already_started", "%s", p);
                reply_rep(s, -EALREADY, o->pid, &why);
            } else {
                set_why(&why, "already_present", NULL);
                reply_rep(s, -EEXIST, OAK_NOPID, &why);
            }
            return;
        }
    }
    child_rec *c = add_record(s, spec);
    if (!c) {
        set_why(&why, "system_limit", NULL);
        reply_rep(s, -ENOMEM, OAK_NOPID, &why);
        return;
    }
    int r = start_one(s, c, &why);
    if (r == 0) {
        reply_rep(s, 0, c->pid, NULL);
        return;
    }
    if (r == OAK_IGNORED && !is_dyn_flavour(s) &&
        c->spec.restart != OAK_TEMPORARY) {
        reply_rep(s, OAK_IGNORED, OAK_NOPID, NULL);
        return; /* spec kept, pid undefined */
    }
    remove_at(s, s->n - 1);
    reply_rep(s, r, OAK_NOPID, &why);
}

static void handle_start_child_args(sup *s, const void *extra, size_t size)
{
    oak_reason why;
    oak_reason_set(&why, OAK_ATOM_NONE, NULL);
    if (s->flags.strategy != OAK_SIMPLE_ONE_FOR_ONE) {
        set_why(&why, "badarg", NULL);
        reply_rep(s, -EINVAL, OAK_NOPID, &why);
        return;
    }
    oak_child_spec t = s->tmpl.spec;
    t.arg_size = 0; /* the bytes stay the template's, shared */
    child_rec *c = add_record(s, &t);
    if (!c) {
        reply_rep(s, -ENOMEM, OAK_NOPID, NULL);
        return;
    }
    c->spec.arg_size = s->tmpl.spec.arg_size;
    c->extra = dup_bytes(extra, size);
    c->extra_size = c->extra ? size : 0;
    int r = start_one(s, c, &why);
    if (r == 0) {
        reply_rep(s, 0, c->pid, NULL);
        return;
    }
    remove_at(s, s->n - 1);
    if (r == OAK_START_RAISE) /* not wrapped here (start_one wraps) */
        r = -ECANCELED;
    reply_rep(s, r, OAK_NOPID, &why);
}

/* The child an admin call by id names: its index, or -1 after replying
 * OTP's error (simple_one_for_one has no ids; a DynamicSupervisor finds
 * none; an unknown id is not_found). */
static long find_admin_target(sup *s, oak_atom id)
{
    if (s->dynamic) {
        reply_rep(s, s->flags.strategy == OAK_SIMPLE_ONE_FOR_ONE ? -EOPNOTSUPP : -ENOENT,
                  OAK_NOPID, NULL);
        return -1;
    }
    long i = find_id(s, id);
    if (i < 0)
        reply_rep(s, -ENOENT, OAK_NOPID, NULL);
    return i;
}

static void handle_terminate(sup *s, const sup_req *q)
{
    if (q->op == OP_TERMINATE_CHILD) {
        long i = find_admin_target(s, q->id);
        if (i < 0)
            return;
        child_rec *c = &s->v[i];
        do_terminate(s, c);
        c->restarting = false;
        if (c->spec.restart == OAK_TEMPORARY)
            remove_at(s, (size_t)i);
        reply_rep(s, 0, OAK_NOPID, NULL);
        return;
    }
    /* by pid */
    if (!s->dynamic) {
        reply_rep(s, -ENOENT, OAK_NOPID, NULL);
        return;
    }
    long i = find_pid(s, q->pid);
    if (i < 0) {
        /* OTP quirk: a dead pid that is no child is "ok" for
         * simple_one_for_one; DynamicSupervisor says not_found. */
        int code = (!is_dyn_flavour(s) && !oak_is_alive(q->pid)) ? 0 : -ENOENT;
        reply_rep(s, code, OAK_NOPID, NULL);
        return;
    }
    do_terminate(s, &s->v[i]);
    remove_at(s, (size_t)i);
    reply_rep(s, 0, OAK_NOPID, NULL);
}

static void handle_restart_delete(sup *s, const sup_req *q)
{
    long i = find_admin_target(s, q->id);
    if (i < 0)
        return;
    child_rec *c = &s->v[i];
    if (c->restarting) {
        reply_rep(s, -EAGAIN, OAK_NOPID, NULL);
        return;
    }
    if (c->pid) {
        reply_rep(s, -EBUSY, OAK_NOPID, NULL);
        return;
    }
    if (q->op == OP_DELETE_CHILD) {
        remove_at(s, (size_t)i);
        reply_rep(s, 0, OAK_NOPID, NULL);
        return;
    }
    oak_reason why;
    int r = start_one(s, c, &why);
    reply_rep(s, r, c->pid, r < 0 ? &why : NULL);
}

static void handle_which(sup *s)
{
    size_t n = s->n;
    oak_child_info *v = oak_alloc((n + 1) * sizeof *v);
    if (!v) {
        reply_rep(s, -ENOMEM, OAK_NOPID, NULL);
        return;
    }
    for (size_t k = 0; k < n; k++) {
        const child_rec *c = &s->v[n - 1 - k]; /* last started first */
        v[k].id = s->dynamic ? OAK_UNDEFINED : c->spec.id;
        v[k].pid = c->pid;
        v[k].status = c->pid ? OAK_CHILD_RUNNING
                             : c->restarting ? OAK_CHILD_RESTARTING
                                             : OAK_CHILD_UNDEFINED;
        v[k].type = c->spec.type;
    }
    oak_gen_server_set_reply(s->gs, oak__batom(OAK__A_SUP_DATA), v, n * sizeof *v);
    oak_free(v);
}

static void handle_count(sup *s)
{
    oak_child_counts k = {0};
    for (size_t i = 0; i < s->n; i++) {
        const child_rec *c = &s->v[i];
        if (c->pid && oak_is_alive(c->pid))
            k.active++;
        if (c->spec.type == OAK_SUPERVISOR)
            k.supervisors++;
        else
            k.workers++;
    }
    k.specs = s->flags.strategy == OAK_SIMPLE_ONE_FOR_ONE ? 1 : s->n;
    if (is_dyn_flavour(s))
        k.specs = s->n; /* Elixir: every child, restarting ones included */
    oak_gen_server_set_reply(s->gs, oak__batom(OAK__A_SUP_DATA), &k, sizeof k);
}

static void handle_get_childspec(sup *s, const sup_req *q)
{
    const child_rec *c = NULL;
    if (s->flags.strategy == OAK_SIMPLE_ONE_FOR_ONE) {
        bool match = q->op == OP_GET_CHILDSPEC ? q->id == s->tmpl.spec.id
                                               : (find_pid(s, q->pid) >= 0 ||
                                                  !oak_is_alive(q->pid));
        if (match)
            c = &s->tmpl;
    } else if (q->op == OP_GET_CHILDSPEC) {
        long i = s->dynamic ? -1 : find_id(s, q->id);
        if (i >= 0)
            c = &s->v[i];
    } else {
        long i = find_pid(s, q->pid);
        if (i >= 0)
            c = &s->v[i];
    }
    if (!c) {
        reply_rep(s, -ENOENT, OAK_NOPID, NULL);
        return;
    }
    size_t total = sizeof(sup_req) + c->spec.arg_size;
    sup_req *out = oak_alloc(total);
    if (!out) {
        reply_rep(s, -ENOMEM, OAK_NOPID, NULL);
        return;
    }
    memset(out, 0, sizeof *out);
    out->spec = c->spec;
    out->spec.shutdown = child_shutdown(&c->spec);
    if (c->spec.arg_size)
        memcpy(out->bytes, c->spec.arg, c->spec.arg_size);
    oak_gen_server_set_reply(s->gs, oak__batom(OAK__A_SUP_DATA), out, total);
    oak_free(out);
}

/* ---- gen_server callbacks ------------------------------------------------------------------ */

typedef struct start_arg {
    const oak_supervisor_def *def;
} start_arg;

static int sup_init(oak_gen_server *gs, void *arg, void **state)
{
    const oak_supervisor_def *def = ((start_arg *)arg)->def;
    oak_trap_exit(true);
    sup *s = oak_alloc(sizeof *s);
    if (!s)
        oak_gen_server_exit(gs, OAK_SYSTEM_LIMIT, NULL);
    memset(s, 0, sizeof *s);
    s->gs = gs;
    s->self = oak_self();
    *state = s;

    oak_sup_init spec = {def->flags, def->children, def->count};
    if (def->init) {
        int r = def->init(def->init_arg, &spec);
        if (r == OAK_IGNORED)
            return OAK_GS_IGNORE;
        if (r != 0) {
            char d[64];
            snprintf(d, sizeof d, "{init,%d}", r);
            oak_gen_server_set_stop(gs, oak__batom(OAK__A_BAD_RETURN), d);
            return OAK_GS_STOP;
        }
    }
    oak_reason why;
    if (check_flags(&spec.flags, &why)) {
        char d[OAK_REASON_DETAIL_MAX];
        snprintf(d, sizeof d, "%s", why.detail);
        oak_gen_server_set_stop(gs, why.atom, d);
        return OAK_GS_STOP;
    }
    s->flags = spec.flags;
    if (s->flags.period == 0)
        s->flags.period = 5;
    s->dynamic = s->flags.strategy == OAK_SIMPLE_ONE_FOR_ONE ||
                 s->flags.strategy == OAK_DYNAMIC;
    s->max_children = def->max_children;
    if (def->extra_size) {
        s->extra = dup_bytes(def->extra, def->extra_size);
        s->extra_size = def->extra_size;
    }

    if (s->flags.strategy == OAK_SIMPLE_ONE_FOR_ONE) {
        if (spec.count != 1) {
            char d[32];
            snprintf(d, sizeof d, "%zu", spec.count);
            oak_gen_server_set_stop(gs, oak__batom(OAK__A_BAD_START_SPEC), d);
            return OAK_GS_STOP;
        }
        if (check_spec(&spec.children[0], s->flags.auto_shutdown, false, &why)) {
            char d[OAK_REASON_DETAIL_MAX];
            oak_reason_str(&why, d, sizeof d);
            oak_gen_server_set_stop(gs, oak__batom(OAK__A_START_SPEC), d);
            return OAK_GS_STOP;
        }
        s->tmpl.spec = spec.children[0];
        if (s->tmpl.spec.arg_size)
            s->tmpl.spec.arg = dup_bytes(s->tmpl.spec.arg, s->tmpl.spec.arg_size);
        return OAK_GS_OK;
    }
    if (s->flags.strategy == OAK_DYNAMIC)
        return OAK_GS_OK;

    if (oak_supervisor_check_childspecs(spec.children, spec.count,
                                        s->flags.auto_shutdown, &why)) {
        char d[OAK_REASON_DETAIL_MAX];
        oak_reason_str(&why, d, sizeof d);
        oak_gen_server_set_stop(gs, oak__batom(OAK__A_START_SPEC), d);
        return OAK_GS_STOP;
    }
    for (size_t i = 0; i < spec.count; i++)
        if (!add_record(s, &spec.children[i]))
            oak_gen_server_exit(gs, OAK_SYSTEM_LIMIT, NULL);
    size_t failed = 0;
    if (start_children(s, 0, &failed, &why) < 0) {
        oak_atom id = s->v[failed].spec.id;
        terminate_children(s, 0);
        char r[OAK_REASON_DETAIL_MAX], d[2 * OAK_REASON_DETAIL_MAX];
        oak_reason_str(&why, r, sizeof r);
        snprintf(d, sizeof d, "{failed_to_start_child,%s,%s}", aname(id), r);
        oak_gen_server_set_stop(gs, OAK_SHUTDOWN, d);
        return OAK_GS_STOP;
    }
    return OAK_GS_OK;
}

/* A request that is no supervisor's: OTP's supervisor has no clause for it
 * and exits {function_clause, Stacktrace}, which oak writes {function_clause,_}. */
static int stop_function_clause(oak_gen_server *gs)
{
    oak_gen_server_set_stop(gs, oak_atom_from("function_clause"), "_");
    return OAK_GS_STOP;
}

static int sup_call(oak_gen_server *gs, void *state, const oak_msg *req,
                    const oak_gen_from *from)
{
    sup *s = state;
    if (req->tag != oak__batom(OAK__A_SUP_CALL) || req->size < sizeof(sup_req))
        return stop_function_clause(gs);
    const sup_req *q = req->data;
    switch (q->op) {
    case OP_START_CHILD: {
        oak_child_spec spec = q->spec;
        if (spec.arg_size)
            spec.arg = q->bytes;
        handle_start_child(s, &spec);
        break;
    }
    case OP_START_CHILD_ARGS:
        handle_start_child_args(s, q->extra_size ? q->bytes : NULL, q->extra_size);
        break;
    case OP_TERMINATE_CHILD:
    case OP_TERMINATE_CHILD_PID:
        handle_terminate(s, q);
        break;
    case OP_RESTART_CHILD:
    case OP_DELETE_CHILD:
        handle_restart_delete(s, q);
        break;
    case OP_WHICH_CHILDREN:
        handle_which(s);
        break;
    case OP_COUNT_CHILDREN:
        handle_count(s);
        break;
    case OP_GET_CHILDSPEC:
    case OP_GET_CHILDSPEC_PID:
        handle_get_childspec(s, q);
        break;
    default:
        return stop_function_clause(gs);
    }
    return OAK_GS_REPLY;
}

static int give_up(oak_gen_server *gs)
{
    oak_gen_server_set_stop(gs, OAK_SHUTDOWN, NULL);
    return OAK_GS_STOP;
}

static int sup_cast(oak_gen_server *gs, void *state, const oak_msg *req)
{
    sup *s = state;
    if (req->tag != oak__batom(OAK__A_TRY_AGAIN) || req->size != sizeof(uint64_t))
        return stop_function_clause(gs);
    uint64_t key;
    memcpy(&key, req->data, sizeof key);
    long i = find_key(s, key);
    if (i < 0 || !s->v[i].restarting || s->v[i].backoff_timer)
        return OAK_GS_OK;
    return restart(s, (size_t)i) ? OAK_GS_OK : give_up(gs);
}

static int sup_info(oak_gen_server *gs, void *state, const oak_msg *m)
{
    sup *s = state;
    if (m->tag == OAK_TAG_EXIT) {
        long i = find_pid(s, m->from);
        if (i < 0)
            return OAK_GS_OK; /* not a child: ignored, as OTP */
        oak_reason r;
        oak__reason_of(m, &r);
        return child_exited(s, (size_t)i, &r) ? OAK_GS_OK : give_up(gs);
    }
    if (m->tag == oak__batom(OAK__A_RESTART_TIMER) && m->size == sizeof(uint64_t)) {
        uint64_t key;
        memcpy(&key, m->data, sizeof key);
        long i = find_key(s, key);
        if (i >= 0 && s->v[i].backoff_timer == m->ref) {
            s->v[i].backoff_timer = 0;
            restart_single(s, (size_t)i);
        }
        return OAK_GS_OK;
    }
    if (oak_log_enabled(OAK_LOG_ERROR)) {
        char who[64];
        const char *t = m->tag < (1u << 31) ? oak_atom_name((oak_atom)m->tag) : NULL;
        oak_log(OAK_LOG_ERROR, "supervisor_report",
                "supervisor=%s context=unexpected_message tag=%s",
                oak__who(s->self, who, sizeof who), t ? t : "?");
    }
    return OAK_GS_OK;
}

static void sup_terminate(oak_gen_server *gs, void *state,
                          const oak_reason *reason)
{
    sup *s = state;
    if (!s)
        return;
    if (s->dynamic)
        terminate_dynamic(s);
    else
        terminate_children(s, 0);
}

static const oak_gen_server_callbacks sup_callbacks = {
    .init = sup_init,
    .handle_call = sup_call,
    .handle_cast = sup_cast,
    .handle_info = sup_info,
    .terminate = sup_terminate,
};

int oak_supervisor_start(const oak_supervisor_def *def, unsigned flags,
                         oak_pid *pid, oak_reason *why)
{
    if (!def)
        return -EINVAL;
    start_arg a = {def};
    oak_gen_server_opts o = {.hibernate_after_ms = OAK_GEN_IDLE_HIBERNATE_MS,
                             .flags = flags & OAK_GEN_LINK, .name = def->name,
                             .via = def->via, .arg_size = sizeof a};
    return oak_gen_server_start(&sup_callbacks, &a, &o, pid, why);
}

int oak_supervisor_start_fn(const oak_child_args *args, oak_pid *pid,
                            oak_reason *why)
{
    return oak_supervisor_start(args->arg, OAK_GEN_LINK, pid, why);
}

/* ---- client side ------------------------------------------------------------------------ */

/* Take a result-code reply: its code (with pid and why), or -EPROTO when
 * m is no supervisor's reply. Frees m. */
static int take_rep(oak_msg *m, oak_pid *pid, oak_reason *why)
{
    int r = -EPROTO;
    if (why)
        oak_reason_set(why, OAK_ATOM_NONE, NULL);
    if (m->tag == oak__batom(OAK__A_SUP_REPLY) && m->size == sizeof(sup_rep)) {
        const sup_rep *rep = m->data;
        r = rep->code;
        if (pid)
            *pid = rep->pid;
        if (why)
            *why = rep->why;
    }
    oak_msg_free(m);
    return r;
}

/* Make an admin call whose answer is data. Returns 0 with the data reply
 * in *m, the supervisor's error code, a call error, or -EPROTO when the
 * answer is no supervisor's (sup_pid is some other gen_server). */
static int sup_call_raw(oak_pid sup_pid, const sup_req *q, size_t size,
                        oak_msg **m, oak_reason *why)
{
    int r = oak_gen_server_call(sup_pid, oak__batom(OAK__A_SUP_CALL), q, size, m,
                                OAK_INFINITY, why);
    if (r < 0 || (*m)->tag == oak__batom(OAK__A_SUP_DATA))
        return r;
    r = take_rep(*m, NULL, why);
    *m = NULL;
    return r < 0 ? r : -EPROTO; /* data calls succeed with data */
}

/* An admin call answered by a result code (and a pid). */
static int simple_call(oak_pid sup_pid, sup_req *q, size_t size, oak_pid *pid,
                       oak_reason *why)
{
    oak_msg *m = NULL;
    int r = oak_gen_server_call(sup_pid, oak__batom(OAK__A_SUP_CALL), q, size, &m,
                                OAK_INFINITY, why);
    if (r < 0)
        return r;
    return take_rep(m, pid, why);
}

int oak_supervisor_start_child(oak_pid sup_pid, const oak_child_spec *spec,
                               oak_pid *pid, oak_reason *why)
{
    if (!spec)
        return -EINVAL;
    if (spec->arg_size && !spec->arg) {
        set_why(why, "invalid_arg", "%zu", spec->arg_size);
        return -EINVAL;
    }
    size_t total = sizeof(sup_req) + spec->arg_size;
    sup_req *q = calloc(1, total);
    if (!q)
        return -ENOMEM;
    q->op = OP_START_CHILD;
    q->spec = *spec;
    if (spec->arg_size)
        memcpy(q->bytes, spec->arg, spec->arg_size);
    int r = simple_call(sup_pid, q, total, pid, why);
    free(q);
    return r;
}

int oak_supervisor_start_child_args(oak_pid sup_pid, const void *extra,
                                    size_t extra_size, oak_pid *pid,
                                    oak_reason *why)
{
    if (extra_size && !extra)
        return -EINVAL;
    size_t total = sizeof(sup_req) + extra_size;
    sup_req *q = calloc(1, total);
    if (!q)
        return -ENOMEM;
    q->op = OP_START_CHILD_ARGS;
    q->extra_size = extra_size;
    if (extra_size)
        memcpy(q->bytes, extra, extra_size);
    int r = simple_call(sup_pid, q, total, pid, why);
    free(q);
    return r;
}

/* A request that names a child by id or pid (or none). */
static void id_req(sup_req *q, int op, oak_atom id, oak_pid child)
{
    memset(q, 0, sizeof *q);
    q->op = op;
    q->id = id;
    q->pid = child;
}

static int id_op(oak_pid sup_pid, int op, oak_atom id, oak_pid child,
                 oak_pid *pid, oak_reason *why)
{
    sup_req q;
    id_req(&q, op, id, child);
    return simple_call(sup_pid, &q, sizeof q, pid, why);
}

/* The same, for the calls whose answer is data: the reply message in *m. */
static int id_query(oak_pid sup_pid, int op, oak_atom id, oak_pid child, oak_msg **m)
{
    sup_req q;
    id_req(&q, op, id, child);
    *m = NULL;
    return sup_call_raw(sup_pid, &q, sizeof q, m, NULL);
}

int oak_supervisor_terminate_child(oak_pid sup_pid, oak_atom id)
{
    return id_op(sup_pid, OP_TERMINATE_CHILD, id, 0, NULL, NULL);
}

int oak_supervisor_terminate_child_pid(oak_pid sup_pid, oak_pid child)
{
    return id_op(sup_pid, OP_TERMINATE_CHILD_PID, 0, child, NULL, NULL);
}

int oak_supervisor_restart_child(oak_pid sup_pid, oak_atom id, oak_pid *pid,
                                 oak_reason *why)
{
    return id_op(sup_pid, OP_RESTART_CHILD, id, 0, pid, why);
}

int oak_supervisor_delete_child(oak_pid sup_pid, oak_atom id)
{
    return id_op(sup_pid, OP_DELETE_CHILD, id, 0, NULL, NULL);
}

int oak_supervisor_which_children(oak_pid sup_pid, oak_child_info *out,
                                  size_t max)
{
    oak_msg *m;
    int r = id_query(sup_pid, OP_WHICH_CHILDREN, 0, 0, &m);
    if (r != 0)
        return r;
    if (m->size % sizeof(oak_child_info)) {
        oak_msg_free(m);
        return -EPROTO;
    }
    size_t n = m->size / sizeof(oak_child_info);
    if (out)
        memcpy(out, m->data, (n < max ? n : max) * sizeof *out);
    oak_msg_free(m);
    return (int)n;
}

int oak_supervisor_count_children(oak_pid sup_pid, oak_child_counts *out)
{
    oak_msg *m;
    int r = id_query(sup_pid, OP_COUNT_CHILDREN, 0, 0, &m);
    if (r != 0)
        return r;
    if (m->size != sizeof *out)
        r = -EPROTO;
    else if (out)
        memcpy(out, m->data, sizeof *out);
    oak_msg_free(m);
    return r;
}

static int get_spec(oak_pid sup_pid, int op, oak_atom id, oak_pid child,
                    oak_child_spec *out, oak_msg **holder)
{
    if (!out || !holder)
        return -EINVAL;
    *holder = NULL;
    oak_msg *m;
    int r = id_query(sup_pid, op, id, child, &m);
    if (r != 0)
        return r;
    sup_req *rep = m->data;
    if (m->size < sizeof *rep || m->size != sizeof *rep + rep->spec.arg_size) {
        oak_msg_free(m);
        return -EPROTO;
    }
    *out = rep->spec;
    out->arg = rep->spec.arg_size ? rep->bytes : rep->spec.arg;
    *holder = m;
    return 0;
}

int oak_supervisor_get_childspec(oak_pid sup_pid, oak_atom id,
                                 oak_child_spec *out, oak_msg **holder)
{
    return get_spec(sup_pid, OP_GET_CHILDSPEC, id, 0, out, holder);
}

int oak_supervisor_get_childspec_pid(oak_pid sup_pid, oak_pid child,
                                     oak_child_spec *out, oak_msg **holder)
{
    return get_spec(sup_pid, OP_GET_CHILDSPEC_PID, 0, child, out, holder);
}

int oak_supervisor_stop(oak_pid sup_pid)
{
    return oak_gen_server_stop(sup_pid, OAK_NORMAL, NULL, OAK_INFINITY, NULL);
}

const char *oak_supervisor_strerror(int err)
{
    switch (err) {
    case OAK_IGNORED: return "ignored (ok, undefined)";
    case -ENOENT: return "no such child (not_found)";
    case -EBUSY: return "child is running";
    case -EAGAIN: return "child is restarting";
    case -EALREADY: return "already started";
    case -EEXIST: return "child spec already present (already_present)";
    case -EOPNOTSUPP: return "not for a simple_one_for_one supervisor";
    case -ENOSPC: return "max_children reached";
    case -EINVAL: return "invalid child spec or argument";
    case -ECANCELED: return "start failed";
    case -EPROTO: return "not a supervisor";
    default: return oak_strerror(err);
    }
}
