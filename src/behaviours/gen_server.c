/* gen_server.c - generic servers on the public process API.
 *
 * Protocol (all plain messages):
 *
 *   call    caller -> server  tag '$gen_call', ref = caller's monitor ref,
 *                             payload = req_hdr + request bytes
 *   reply   server -> caller  tag = reply tag, ref = the call's ref
 *   cast    anyone -> server  tag '$gen_cast', payload = req_hdr + bytes
 *   stop    stopper -> server tag '$gen_stop', ref = stopper's monitor ref,
 *                             payload = stop_msg (reason)
 *   ack     server -> starter tag '$gen_ack', ref = starter's ack ref,
 *                             payload = ack_msg
 *
 * A caller monitors the server with the ref it sends, so one
 * oak_receive_ref() on that ref wakes it for the reply or for the server's
 * DOWN, and the receive marker set by oak_monitor() makes it skip older
 * messages. The monitor's reference is also an alias of the caller
 * (oak_monitor_alias) and the reply is sent to that alias, so a reply that
 * comes after the caller gave up is dropped by the runtime instead of
 * landing in the caller's mailbox (OTP 24+ does the same).
 */
#include "behaviours/gen_server.h"

#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- atoms and small helpers ------------------------------------------ */

static const char *const batom_names[OAK__A_COUNT] = {
    [OAK__A_GEN_CALL] = "$gen_call",
    [OAK__A_GEN_CAST] = "$gen_cast",
    [OAK__A_GEN_ACK] = "$gen_ack",
    [OAK__A_GEN_STOP] = "$gen_stop",
    [OAK__A_CALLING_SELF] = "calling_self",
    [OAK__A_ALREADY_STARTED] = "already_started",
    [OAK__A_BAD_RETURN_VALUE] = "bad_return_value",
    [OAK__A_BAD_CALL] = "bad_call",
    [OAK__A_EXIT_TUPLE] = "EXIT",
    [OAK__A_SUPERVISOR_DATA] = "supervisor_data",
    [OAK__A_START_SPEC] = "start_spec",
    [OAK__A_BAD_START_SPEC] = "bad_start_spec",
    [OAK__A_BAD_RETURN] = "bad_return",
    [OAK__A_REACHED_MAX] = "reached_max_restart_intensity",
    [OAK__A_TRY_AGAIN] = "$try_again_restart",
    [OAK__A_SUP_CALL] = "$sup_call",
    [OAK__A_SUP_REPLY] = "$sup_reply",
    [OAK__A_SUP_DATA] = "$sup_data",
    [OAK__A_RESTART_TIMER] = "$restart_timer",
    [OAK__A_NOREPLY_EXIT] = "noreply_exit",
};

static _Atomic oak_atom batom_cache[OAK__A_COUNT];

oak_atom oak__batom(enum oak__batom_id id)
{
    /* Relaxed is enough: interning is idempotent, any thread that races
     * stores the same value. */
    oak_atom a = atomic_load_explicit(&batom_cache[id], memory_order_relaxed);
    if (!a) {
        a = oak_atom_from(batom_names[id]);
        atomic_store_explicit(&batom_cache[id], a, memory_order_relaxed);
    }
    return a;
}

char *oak__who(oak_pid pid, char *buf, size_t size)
{
    oak_atom name = pid ? oak_process_name(pid) : OAK_ATOM_NONE;
    const char *s = name ? oak_atom_name(name) : NULL;
    if (s)
        snprintf(buf, size, "%s", s);
    else
        oak_pid_format(pid, buf, size);
    return buf;
}

void oak__reason_of(const oak_msg *m, oak_reason *r)
{
    const oak_down *d = m->data;
    if (d && m->size >= sizeof *d)
        oak_reason_set(r, d->reason, d->detail);
    else
        oak_reason_set(r, OAK_NORMAL, NULL);
}

int oak_reason_set(oak_reason *r, oak_atom atom, const char *detail)
{
    if (!r)
        return -EINVAL;
    r->atom = atom;
    r->detail[0] = '\0';
    if (detail)
        snprintf(r->detail, sizeof r->detail, "%s", detail);
    return 0;
}

const char *oak_reason_detail(const oak_reason *r)
{
    return r && r->detail[0] ? r->detail : NULL;
}

/* Erlang quotes an atom unless it is a lowercase letter followed by
 * letters, digits, _ and @. */
static bool atom_needs_quotes(const char *s)
{
    if (!(*s >= 'a' && *s <= 'z'))
        return true;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_' || *s == '@'))
            return true;
    return false;
}

int oak_reason_str(const oak_reason *r, char *buf, size_t size)
{
    const char *name = r && r->atom ? oak_atom_name(r->atom) : NULL;
    if (!name)
        return snprintf(buf, size, "undefined");
    const char *q = atom_needs_quotes(name) ? "'" : "";
    if (r->detail[0])
        return snprintf(buf, size, "{%s%s%s,%s}", q, name, q, r->detail);
    return snprintf(buf, size, "%s%s%s", q, name, q);
}

bool oak_reason_is_clean(oak_atom atom, const char *detail)
{
    if (atom == OAK_SHUTDOWN)
        return true;
    return atom == OAK_NORMAL && (!detail || !*detail);
}

/* ---- wire formats ---------------------------------------------------- */

/* The header of call and cast payloads (behaviours/gen_server.h). */
typedef oak__gen_req_hdr req_hdr;

typedef struct stop_msg {
    oak_atom reason;
    char detail[]; /* NUL-terminated, "" for none */
} stop_msg;

enum { ACK_OK, ACK_IGNORE, ACK_ERROR, ACK_ALREADY };

typedef struct ack_msg {
    int32_t kind;
    oak_atom reason;
    oak_pid pid; /* ACK_ALREADY: the name's owner */
    char detail[];
} ack_msg;

/* What the starter copies into the new process. */
typedef struct start_block {
    const oak_gen_server_callbacks *cb;
    oak_pid starter;
    oak_pid parent; /* OAK_NOPID: the server is its own parent */
    oak_ref ack_ref;
    oak_atom name;
    bool has_via;
    oak_via via;     /* a copy: the starter's may be gone when it is used */
    int64_t hibernate_after; /* ms idle before hibernating; 0: never */
    void *arg_ptr;   /* with arg_size 0 */
    size_t arg_size; /* > 0: the argument follows at `bytes` */
    _Alignas(16) unsigned char bytes[];
} start_block;

/* ---- the server ---------------------------------------------------------- */

enum phase { PHASE_INIT, PHASE_RUN, PHASE_TERMINATE };

/* What lives in with_frame()'s frame: the jump target, and the result of
 * the current callback. */
struct frame {
    jmp_buf jump;        /* target of oak_gen_server_exit() */
    oak_reason stop;     /* OAK_GS_STOP / oak_gen_server_exit() reason */
    bool crashed;        /* stop comes from oak_gen_server_exit() */
    bool hibernate;      /* hibernate after this callback */
    bool has_reply;
    bool has_cont;
    int64_t timeout;     /* inactivity timeout after this callback */
    uint64_t reply_tag;
    void *reply;         /* oak_alloc'd, reused while it is big enough */
    size_t reply_size, reply_cap;
    uint64_t cont_tag;
    void *cont;          /* oak_alloc'd, reused while it is big enough */
    size_t cont_size, cont_cap;
};

struct oak_gen_server {
    const oak_gen_server_callbacks *cb;
    void *state;
    oak_pid self;
    oak_pid parent;
    oak_atom name;
    enum phase phase;
    oak_via *via;        /* oak_alloc'd copy, or NULL (most servers) */
    /* The current callback's result and the jump target of
     * oak_gen_server_exit(): in the frame that runs the server loop (see
     * with_frame()), not here, so a hibernating server keeps none of it and
     * an idle one is this much smaller. */
    struct frame *f;
    /* The reply buffer of a frame given up for hibernation, for the next
     * frame: a server woken for each call allocates it once. */
    void *spare;
    size_t spare_cap;

    int64_t hibernate_after; /* ms idle before hibernating; 0: never */

    uint64_t last_tag;   /* tag of the last message, for reports */
};

/* Copy a result's bytes into the server's buffer, which is kept from one
 * callback to the next: a server answering many calls allocates once. */
static int copy_bytes(void **dst, size_t *dst_size, size_t *cap, const void *src,
                      size_t size)
{
    if (size > *cap) {
        void *p = oak_alloc(size < 64 ? 64 : size);
        if (!p)
            return -ENOMEM;
        oak_free(*dst);
        *dst = p;
        *cap = size < 64 ? 64 : size;
    }
    if (size)
        memcpy(*dst, src, size);
    *dst_size = size;
    return 0;
}

int oak_gen_server_set_reply(oak_gen_server *gs, uint64_t tag,
                             const void *data, size_t size)
{
    if (!gs || (size && !data))
        return -EINVAL;
    int r = copy_bytes(&gs->f->reply, &gs->f->reply_size, &gs->f->reply_cap, data, size);
    if (r)
        return r;
    gs->f->reply_tag = tag;
    gs->f->has_reply = true;
    return 0;
}

int oak_gen_server_set_stop(oak_gen_server *gs, oak_atom reason,
                            const char *detail)
{
    if (!gs || !reason)
        return -EINVAL;
    return oak_reason_set(&gs->f->stop, reason, detail);
}

void oak_gen_server_set_timeout(oak_gen_server *gs, int64_t ms)
{
    if (gs)
        gs->f->timeout = ms < 0 ? OAK_INFINITY : ms;
}

int oak_gen_server_set_continue(oak_gen_server *gs, uint64_t tag,
                                const void *data, size_t size)
{
    if (!gs || (size && !data))
        return -EINVAL;
    int r = copy_bytes(&gs->f->cont, &gs->f->cont_size, &gs->f->cont_cap, data, size);
    if (r)
        return r;
    gs->f->cont_tag = tag;
    gs->f->has_cont = true;
    return 0;
}

void oak_gen_server_set_hibernate(oak_gen_server *gs)
{
    if (gs)
        gs->f->hibernate = true;
}

void oak_gen_server_set_state(oak_gen_server *gs, void *state)
{
    if (gs)
        gs->state = state;
}

oak_pid oak_gen_server_parent(const oak_gen_server *gs)
{
    return gs ? gs->parent : OAK_NOPID;
}

void oak_gen_server_exit(oak_gen_server *gs, oak_atom reason,
                         const char *detail)
{
    oak_reason_set(&gs->f->stop, reason ? reason : OAK_NORMAL, detail);
    gs->f->crashed = true;
    longjmp(gs->f->jump, 1);
}

oak_pid oak_via_whereis(const oak_via *via)
{
    if (!via || !via->ops || !via->ops->whereis_name)
        return OAK_NOPID;
    return via->ops->whereis_name(via);
}

/* Give up the name before telling the starter that init failed (as OTP:
 * the name is free when start returns). */
static void unregister_name(oak_gen_server *gs)
{
    if (gs->name)
        oak_unregister(gs->name);
    if (gs->via && gs->via->ops->unregister_name)
        gs->via->ops->unregister_name(gs->via);
}

/* oak_reason_set(r, atom, NULL), inline: it is on every call's path. */
static inline void reason_bare(oak_reason *r, oak_atom atom)
{
    r->atom = atom;
    r->detail[0] = '\0';
}

static void reset_result(oak_gen_server *gs)
{
    reason_bare(&gs->f->stop, OAK_NORMAL);
    gs->f->timeout = OAK_INFINITY;
    gs->f->has_reply = false;
    gs->f->hibernate = false;
}

/* The starter and its ack ref are in the start block, which lives until
 * the ack is sent: the server does not keep them. */
static void send_ack(const start_block *b, int kind, const oak_reason *why, oak_pid pid)
{
    const char *d = why ? why->detail : "";
    size_t n = strlen(d) + 1;
    struct {
        ack_msg m;
        char d[OAK_REASON_DETAIL_MAX];
    } a;
    memset(&a.m, 0, sizeof a.m);
    a.m.kind = kind;
    a.m.reason = why ? why->atom : OAK_ATOM_NONE;
    a.m.pid = pid;
    memcpy(a.m.detail, d, n);
    oak_send_ref(b->starter, b->ack_ref, oak__batom(OAK__A_GEN_ACK), &a,
                 sizeof a.m + n);
}

static int send_reply(const oak_gen_from *from, uint64_t tag, const void *data,
                      size_t size)
{
    if (from->flags & OAK__FROM_ALIAS)
        return oak_send_reply(from->pid, from->ref, tag, data, size);
    return oak_send_ref(from->pid, from->ref, tag, data, size);
}

int oak_gen_server_reply(const oak_gen_from *from, uint64_t tag,
                         const void *data, size_t size)
{
    if (!from || !from->pid || !from->ref || (size && !data))
        return -EINVAL;
    return send_reply(from, tag, data, size);
}

/* The last message's tag, as reports name it. */
static void last_message(const oak_gen_server *gs, char *buf, size_t size)
{
    const char *t = gs->last_tag < (1u << 31) ? oak_atom_name((oak_atom)gs->last_tag) : NULL;
    if (t)
        snprintf(buf, size, "%s", t);
    else
        snprintf(buf, size, "%llu", (unsigned long long)gs->last_tag);
}

/* A cleanup: a server that dies of a fault (a callback's SIGSEGV, a stack
 * overflow) never reaches stop_server(); its gen_server report, with the
 * last message, is written here (the crash report comes from the core). */
static void report_fault(void *arg)
{
    const oak_gen_server *gs = arg;
    const char *detail = NULL;
    oak_atom why = oak_exit_reason_in_cleanup(&detail);
    if (why != OAK_SIGSEGV && why != OAK_SIGBUS && why != OAK_SIGFPE && why != OAK_SIGILL &&
        why != OAK_STACK_OVERFLOW)
        return;
    if (!oak_log_enabled(OAK_LOG_ERROR))
        return;
    char who[64], last[80];
    oak__who(gs->self, who, sizeof who);
    last_message(gs, last, sizeof last);
    if (detail)
        oak_log(OAK_LOG_ERROR, "gen_server_report", "server=%s last_message=%s reason={%s,%s}",
                who, last, oak_atom_name(why), detail);
    else
        oak_log(OAK_LOG_ERROR, "gen_server_report", "server=%s last_message=%s reason=%s", who,
                last, oak_atom_name(why));
}

static void log_crash(oak_gen_server *gs, const oak_reason *why)
{
    if (!oak_log_enabled(OAK_LOG_ERROR))
        return;
    char who[64], reason[OAK_REASON_DETAIL_MAX + 300], last[80];
    char reported[sizeof reason + 8];
    oak__who(gs->self, who, sizeof who);
    oak_reason_str(why, reason, sizeof reason);
    /* A callback that crashed is reported with its stack, as OTP's
     * {Reason, Stacktrace}: {Reason,_}. A reason that is already of that
     * shape ({badarith,_}, {function_clause,_}) has its stack. terminate,
     * the exit and the crash report get the bare reason. */
    if (gs->f->crashed && strcmp(why->detail, "_") != 0)
        snprintf(reported, sizeof reported, "{%s,_}", reason);
    else
        snprintf(reported, sizeof reported, "%s", reason);
    last_message(gs, last, sizeof last);
    oak_log(OAK_LOG_ERROR, "gen_server_report",
            "server=%s last_message=%s reason=%s", who, last, reported);
    char p[40];
    oak_pid_format(gs->self, p, sizeof p);
    oak_log(OAK_LOG_ERROR, "crash_report", "process=%s pid=%s class=exit reason=%s",
            who, p, reason);
}

/* Run terminate, send the pending reply (if from is given), log, exit. */
static OAK_NORETURN void stop_server(oak_gen_server *gs,
                                     const oak_gen_from *from)
{
    oak_reason why = gs->f->stop;
    if (gs->phase != PHASE_TERMINATE) {
        gs->phase = PHASE_TERMINATE;
        if (gs->cb->terminate)
            gs->cb->terminate(gs, gs->state, &why);
    }
    if (from && gs->f->has_reply)
        send_reply(from, gs->f->reply_tag, gs->f->reply, gs->f->reply_size);
    if (!oak_reason_is_clean(why.atom, oak_reason_detail(&why)))
        log_crash(gs, &why);
    oak_exit_detail(why.atom, oak_reason_detail(&why));
}

static OAK_NORETURN void bad_return(oak_gen_server *gs, int ret)
{
    char d[32];
    snprintf(d, sizeof d, "%d", ret);
    oak_reason_set(&gs->f->stop, oak__batom(OAK__A_BAD_RETURN_VALUE), d);
    stop_server(gs, NULL);
}

/* Act on a callback's result. from: the call being handled, or NULL. */
static void finish(oak_gen_server *gs, int ret, const oak_gen_from *from)
{
    switch (ret) {
    case OAK_GS_OK: /* == OAK_GS_NOREPLY */
        return;
    case OAK_GS_REPLY:
        if (!from)
            bad_return(gs, ret);
        if (gs->f->has_reply)
            send_reply(from, gs->f->reply_tag, gs->f->reply, gs->f->reply_size);
        else
            send_reply(from, OAK_OK, NULL, 0);
        return;
    case OAK_GS_STOP:
        stop_server(gs, from);
    default:
        bad_return(gs, ret);
    }
}

static void run_continues(oak_gen_server *gs)
{
    while (gs->f->has_cont) {
        gs->f->has_cont = false;
        oak_msg c = {.tag = gs->f->cont_tag, .from = gs->self,
                     .size = gs->f->cont_size, .data = gs->f->cont};
        int ret = OAK_GS_OK;
        reset_result(gs);
        gs->last_tag = c.tag;
        if (gs->cb->handle_continue)
            ret = gs->cb->handle_continue(gs, gs->state, &c);
        finish(gs, ret, NULL);
    }
}

static void dispatch(oak_gen_server *gs, oak_msg *m)
{
    const oak_gen_server_callbacks *cb = gs->cb;
    reset_result(gs);
    if ((m->tag == oak__batom(OAK__A_GEN_CALL) ||
         m->tag == oak__batom(OAK__A_GEN_CAST)) &&
        m->size >= sizeof(req_hdr)) {
        const req_hdr *h = m->data;
        /* Field by field: a whole-struct copy may become a `rep movs`,
         * slow to start for 40 bytes on this path. */
        oak_msg req;
        req.tag = h->tag;
        req.ref = m->ref;
        req.from = m->from;
        req.size = m->size - sizeof *h;
        req.data = req.size ? (unsigned char *)m->data + sizeof *h : NULL;
        gs->last_tag = req.tag;
        if (m->tag == oak__batom(OAK__A_GEN_CALL)) {
            oak_gen_from from = {m->from, m->ref, h->flags};
            if (!cb->handle_call) {
                char d[32];
                snprintf(d, sizeof d, "%llu", (unsigned long long)req.tag);
                oak_reason_set(&gs->f->stop, oak__batom(OAK__A_BAD_CALL), d);
                stop_server(gs, NULL);
            }
            finish(gs, cb->handle_call(gs, gs->state, &req, &from), &from);
        } else if (cb->handle_cast) {
            finish(gs, cb->handle_cast(gs, gs->state, &req), NULL);
        } else {
            char who[64];
            oak_log(OAK_LOG_WARNING, "gen_server_report",
                    "server=%s event=cast_dropped cause=no_handle_cast tag=%llu",
                    oak__who(gs->self, who, sizeof who), (unsigned long long)req.tag);
        }
        return;
    }
    gs->last_tag = m->tag;
    if (m->tag == oak__batom(OAK__A_GEN_STOP) && m->size >= sizeof(stop_msg)) {
        const stop_msg *s = m->data;
        oak_reason_set(&gs->f->stop, s->reason, s->detail[0] ? s->detail : NULL);
        stop_server(gs, NULL);
    }
    if (m->tag == OAK_TAG_EXIT && m->from == gs->parent &&
        gs->parent != gs->self) {
        /* The parent asks us to stop (we trap exits, or this would not be a
         * message): terminate with its reason, as OTP does. */
        oak__reason_of(m, &gs->f->stop);
        stop_server(gs, NULL);
    }
    if (cb->handle_info) {
        finish(gs, cb->handle_info(gs, gs->state, m), NULL);
    } else {
        char who[64];
        oak_log(OAK_LOG_WARNING, "gen_server_report",
                "server=%s event=info_dropped cause=no_handle_info tag=%llu",
                oak__who(gs->self, who, sizeof who), (unsigned long long)m->tag);
    }
}

static void wake(void *p);

/* Give the frame up for hibernation: its continue buffer is freed, its
 * reply buffer kept in gs->spare for the next frame. */
static void hibernate(oak_gen_server *gs)
{
    struct frame *f = gs->f;
    gs->spare = f->reply;
    gs->spare_cap = f->reply_cap;
    oak_free(f->cont);
    f->reply = f->cont = NULL;
    f->reply_cap = f->cont_cap = 0;
    f->hibernate = false;
    oak_hibernate(wake, gs); /* returns only if it cannot be done: go on */
}

static OAK_NORETURN void loop(oak_gen_server *gs)
{
    for (;;) {
        run_continues(gs);
        if (gs->f->hibernate)
            hibernate(gs);
        /* hibernate_after applies when no inactivity timeout is set, as
         * in OTP. */
        bool idle_hibernate = gs->hibernate_after > 0 && gs->f->timeout == OAK_INFINITY;
        oak_msg *m = NULL;
        int r = oak_receive(&m, idle_hibernate ? gs->hibernate_after : gs->f->timeout, NULL, NULL);
        if (r == -ETIMEDOUT && idle_hibernate)
            hibernate(gs);
        if (r == -ETIMEDOUT) {
            oak_msg t = {.tag = OAK_TIMEOUT};
            reset_result(gs);
            gs->last_tag = OAK_TIMEOUT;
            if (gs->cb->handle_info)
                finish(gs, gs->cb->handle_info(gs, gs->state, &t), NULL);
            continue;
        }
        if (r < 0) {
            oak_reason_set(&gs->f->stop, OAK_BADARG, NULL);
            stop_server(gs, NULL);
        }
        dispatch(gs, m);
        oak_msg_free(m);
    }
}

/* Run body(gs, arg) with the server's jump target and callback result in
 * this frame (they are body's caller's locals, so a longjmp back into body
 * finds them as they were). A wake from hibernation starts with no
 * inactivity timeout, as OTP's. */
static OAK_NORETURN void with_frame(oak_gen_server *gs, void (*body)(oak_gen_server *, void *),
                                    void *arg)
{
    struct frame f; /* field by field: the reason's detail is big */
    reason_bare(&f.stop, OAK_NORMAL);
    f.crashed = f.hibernate = f.has_reply = f.has_cont = false;
    f.timeout = OAK_INFINITY;
    f.reply = gs->spare;
    f.reply_cap = gs->spare_cap;
    gs->spare = NULL;
    gs->spare_cap = 0;
    f.cont = NULL;
    f.reply_size = f.cont_size = f.cont_cap = 0;
    f.reply_tag = f.cont_tag = 0;
    gs->f = &f;
    body(gs, arg);
    oak_exit(OAK_NORMAL); /* body ends the process itself */
}

static void wake_body(oak_gen_server *gs, void *arg)
{
    (void)arg;
    if (setjmp(gs->f->jump))
        stop_server(gs, NULL);
    loop(gs);
}

/* Back from hibernation: the server's state is all in gs (heap); only the
 * jump target of oak_gen_server_exit() must be made again, on this stack. */
static void wake(void *p) { with_frame(p, wake_body, NULL); }

static void entry_body(oak_gen_server *gs, void *p);

static void server_entry(void *p)
{
    start_block *b = p;
    oak_gen_server *gs = oak_alloc(sizeof *gs);
    if (!gs)
        oak_exit(OAK_SYSTEM_LIMIT); /* the starter sees the DOWN */
    memset(gs, 0, sizeof *gs);
    gs->cb = b->cb;
    gs->self = oak_self();
    gs->parent = b->parent ? b->parent : gs->self;
    gs->name = b->name;
    if (b->has_via) {
        gs->via = oak_alloc(sizeof *gs->via);
        if (!gs->via)
            oak_exit(OAK_SYSTEM_LIMIT); /* the starter sees the DOWN */
        *gs->via = b->via;
    }
    gs->phase = PHASE_INIT;
    gs->hibernate_after = b->hibernate_after;
    if (oak_defer(report_fault, gs) < 0)
        oak_exit(OAK_SYSTEM_LIMIT);
    with_frame(gs, entry_body, b);
}

static void entry_body(oak_gen_server *gs, void *p)
{
    start_block *b = p;

    if (gs->name) {
        int r = oak_register(gs->name, gs->self);
        if (r == -EEXIST) {
            send_ack(b, ACK_ALREADY, NULL, oak_whereis(gs->name));
            return; /* exits normal, as OTP */
        }
        if (r < 0) {
            oak_reason why;
            oak_reason_set(&why, OAK_BADARG, NULL);
            send_ack(b, ACK_ERROR, &why, OAK_NOPID);
            return;
        }
    } else if (gs->via) {
        oak_pid owner = OAK_NOPID;
        int r = gs->via->ops->register_name(gs->via, &owner);
        if (r == -EEXIST) {
            send_ack(b, ACK_ALREADY, NULL, owner);
            return;
        }
        if (r < 0) {
            oak_reason why;
            oak_reason_set(&why, OAK_BADARG, NULL);
            oak_free(gs->via); /* nothing to unregister */
            gs->via = NULL;
            send_ack(b, ACK_ERROR, &why, OAK_NOPID);
            return;
        }
    }

    if (setjmp(gs->f->jump)) {
        /* oak_gen_server_exit() from a callback. */
        if (gs->phase == PHASE_INIT) {
            oak_reason why = gs->f->stop;
            unregister_name(gs);
            send_ack(b, ACK_ERROR, &why, OAK_NOPID);
            oak_exit_detail(why.atom, oak_reason_detail(&why));
        }
        stop_server(gs, NULL); /* runs terminate unless it was terminate */
    }

    void *arg = b->arg_size ? (void *)b->bytes : b->arg_ptr;
    reset_result(gs);
    int ret = gs->cb->init(gs, arg, &gs->state);
    switch (ret) {
    case OAK_GS_OK:
        gs->phase = PHASE_RUN;
        send_ack(b, ACK_OK, NULL, OAK_NOPID);
        /* Everything the server needs is in gs now. The block is kept only
         * when it holds init's argument, which the state may point into. */
        if (!b->arg_size)
            oak_free(b);
        loop(gs);
    case OAK_GS_IGNORE:
        unregister_name(gs);
        send_ack(b, ACK_IGNORE, NULL, OAK_NOPID);
        oak_exit(OAK_NORMAL);
    case OAK_GS_STOP: {
        oak_reason why = gs->f->stop;
        unregister_name(gs);
        send_ack(b, ACK_ERROR, &why, OAK_NOPID);
        oak_exit_detail(why.atom, oak_reason_detail(&why));
    }
    default: {
        oak_reason why;
        char d[32];
        snprintf(d, sizeof d, "%d", ret);
        oak_reason_set(&why, oak__batom(OAK__A_BAD_RETURN_VALUE), d);
        unregister_name(gs);
        send_ack(b, ACK_ERROR, &why, OAK_NOPID);
        oak_exit_detail(why.atom, why.detail);
    }
    }
}

/* ---- starting ------------------------------------------------------------ */

typedef struct start_wait {
    oak_ref ack;
    oak_ref mon;
} start_wait;

static bool match_start(const oak_msg *m, void *arg)
{
    const start_wait *w = arg;
    return (m->ref == w->ack && m->tag == oak__batom(OAK__A_GEN_ACK)) ||
           (m->ref == w->mon && m->tag == OAK_TAG_DOWN);
}

static bool match_exit_from(const oak_msg *m, void *arg)
{
    return m->tag == OAK_TAG_EXIT && m->from == *(const oak_pid *)arg;
}

int oak_gen_server_start(const oak_gen_server_callbacks *cb, void *arg,
                         oak_gen_server_opts *opts, oak_pid *pid_out,
                         oak_reason *why)
{
    oak_reason dummy;
    if (!why)
        why = &dummy;
    oak_reason_set(why, OAK_ATOM_NONE, NULL);
    if (pid_out)
        *pid_out = OAK_NOPID;
    if (!cb || !cb->init)
        return -EINVAL;
    if (opts && ((opts->timeout_ms < 0 && opts->timeout_ms != OAK_INFINITY) ||
                 (opts->arg_size && !arg)))
        return -EINVAL;
    if (opts && opts->via &&
        (!opts->via->ops || !opts->via->ops->register_name || opts->name ||
         opts->via->key_size > OAK_VIA_KEY_MAX))
        return -EINVAL;
    oak_pid self = oak_self();
    if (!self)
        return -EPERM;

    oak_gen_server_opts o = {0};
    if (opts)
        o = *opts;
    int64_t timeout = o.timeout_ms > 0 ? o.timeout_ms : OAK_INFINITY;

    size_t total = sizeof(start_block) + o.arg_size;
    start_block *b = malloc(total);
    if (!b)
        return -ENOMEM;
    memset(b, 0, sizeof *b);
    b->cb = cb;
    b->starter = self;
    b->parent = (o.flags & OAK_GEN_LINK) ? self : OAK_NOPID;
    b->ack_ref = oak_make_ref();
    b->name = o.name;
    if (o.via) {
        b->has_via = true;
        b->via = *o.via;
    }
    b->hibernate_after = o.hibernate_after_ms > 0 ? o.hibernate_after_ms : 0;
    b->arg_ptr = arg;
    b->arg_size = o.arg_size;
    if (o.arg_size)
        memcpy(b->bytes, arg, o.arg_size);

    oak_spawn_opts so = {0};
    so.flags = OAK_SPAWN_MONITOR | ((o.flags & OAK_GEN_LINK) ? OAK_SPAWN_LINK : 0);
    so.stack_size = o.stack_size;
    so.arg_size = total;
    oak_pid pid = OAK_NOPID;
    int r = oak_spawn(server_entry, b, &so, &pid);
    start_wait w = {b->ack_ref, so.monitor_ref};
    free(b);
    if (r < 0)
        return r;

    oak_msg *m = NULL;
    r = oak_receive(&m, timeout, match_start, &w);
    if (r == -ETIMEDOUT) {
        /* As gen: unlink, kill, forget its EXIT and DOWN. */
        oak_unlink(pid);
        oak_exit_pid(pid, OAK_KILL);
        oak_demonitor(w.mon, OAK_DEMONITOR_FLUSH);
        oak_msg *x = NULL;
        if (oak_receive(&x, 0, match_exit_from, &pid) == 0)
            oak_msg_free(x);
        oak_reason_set(why, OAK_TIMEOUT, NULL);
        return -ETIMEDOUT;
    }
    if (r < 0)
        return r;

    if (m->tag == OAK_TAG_DOWN) {
        /* It died before acknowledging (killed, or a fault in init). */
        oak__reason_of(m, why);
        oak_msg_free(m);
        return -ECANCELED;
    }
    oak_demonitor(w.mon, OAK_DEMONITOR_FLUSH);
    const ack_msg *a = m->data;
    int result;
    switch (a->kind) {
    case ACK_OK:
        result = 0;
        if (pid_out)
            *pid_out = pid;
        if (o.flags & OAK_GEN_MONITOR) {
            oak_ref mr = oak_monitor(pid);
            if (opts)
                opts->monitor_ref = mr;
        }
        break;
    case ACK_IGNORE:
        result = OAK_IGNORED;
        break;
    case ACK_ALREADY: {
        char p[40];
        oak_pid_format(a->pid, p, sizeof p);
        oak_reason_set(why, oak__batom(OAK__A_ALREADY_STARTED), p);
        if (pid_out)
            *pid_out = a->pid;
        result = -EALREADY;
        break;
    }
    default:
        oak_reason_set(why, a->reason, a->detail[0] ? a->detail : NULL);
        result = -ECANCELED;
        break;
    }
    oak_msg_free(m);
    return result;
}

/* ---- calls, casts, stop ------------------------------------------------------ */

/* A call (request != NULL: sent with oak_send_request(), its ref stored
 * there) or a cast. */
static int send_req(oak_pid to, oak_ref *request, oak_atom kind, uint64_t tag,
                    uint32_t flags, const void *data, size_t size)
{
    unsigned char small[256];
    size_t total = sizeof(req_hdr) + size;
    unsigned char *buf = total <= sizeof small ? small : malloc(total);
    if (!buf)
        return -ENOMEM;
    req_hdr h = {tag, flags, 0};
    memcpy(buf, &h, sizeof h);
    if (size)
        memcpy(buf + sizeof h, data, size);
    int r = request ? oak_send_request(to, kind, buf, total, request)
                    : oak_send(to, kind, buf, total);
    if (buf != small)
        free(buf);
    return r;
}

/* The reply or DOWN for ref arrived as m: turn it into the call's result. */
static int call_result(oak_msg *m, oak_ref ref, oak_msg **reply,
                       oak_reason *why)
{
    if (m->tag == OAK_TAG_DOWN) {
        oak__reason_of(m, why);
        oak_msg_free(m);
        return why->atom == OAK_NOPROC && !why->detail[0] ? -ESRCH
                                                          : -ECONNRESET;
    }
    oak_demonitor(ref, OAK_DEMONITOR_FLUSH);
    *reply = m;
    return 0;
}

int oak_gen_server_call(oak_pid server, uint64_t tag, const void *req,
                        size_t size, oak_msg **reply, int64_t timeout_ms,
                        oak_reason *why)
{
    oak_reason dummy;
    if (!why)
        why = &dummy;
    reason_bare(why, OAK_ATOM_NONE);
    if (!reply || (size && !req) || (tag >> 63) ||
        (timeout_ms < 0 && timeout_ms != OAK_INFINITY))
        return -EINVAL;
    *reply = NULL;
    oak_pid self = oak_self();
    if (!self)
        return -EPERM;
    if (server == OAK_NOPID) {
        oak_reason_set(why, OAK_NOPROC, NULL);
        return -ESRCH;
    }
    if (server == self) {
        oak_reason_set(why, oak__batom(OAK__A_CALLING_SELF), NULL);
        return -EDEADLK;
    }

    /* The request's ref is a monitor of the server, the receive marker
     * and an alias for the reply. */
    oak_ref ref;
    int r = send_req(server, &ref, oak__batom(OAK__A_GEN_CALL), tag, OAK__FROM_ALIAS, req, size);
    if (r < 0)
        return r;

    oak_msg *m = NULL;
    r = oak_receive_ref(&m, ref, timeout_ms);
    if (r == 0)
        return call_result(m, ref, reply, why);
    /* Timed out: end the monitor and with it the alias, so no later reply
     * can arrive; a reply that came just in time is still taken, as OTP's
     * gen:call does. */
    oak_demonitor(ref, OAK_DEMONITOR_FLUSH);
    if (r == -ETIMEDOUT && oak_receive_ref(&m, ref, 0) == 0)
        return call_result(m, ref, reply, why);
    if (r == -ETIMEDOUT)
        oak_reason_set(why, OAK_TIMEOUT, NULL);
    return r;
}

int oak_gen_server_cast(oak_pid server, uint64_t tag, const void *req,
                        size_t size)
{
    if (server != OAK_NOPID && !(size && !req))
        send_req(server, NULL, oak__batom(OAK__A_GEN_CAST), tag, 0, req, size);
    return 0;
}

int oak_gen_server_stop(oak_pid server, oak_atom reason, const char *detail,
                        int64_t timeout_ms, oak_reason *why)
{
    oak_reason dummy;
    if (!why)
        why = &dummy;
    oak_reason_set(why, OAK_ATOM_NONE, NULL);
    if (!oak_self())
        return -EPERM;
    if (!reason)
        reason = OAK_NORMAL;
    if (server == OAK_NOPID) {
        oak_reason_set(why, OAK_NOPROC, NULL);
        return -ESRCH;
    }
    if (server == oak_self()) {
        oak_reason_set(why, oak__batom(OAK__A_CALLING_SELF), NULL);
        return -EDEADLK;
    }
    if (timeout_ms < 0)
        timeout_ms = OAK_INFINITY;
    struct {
        stop_msg m;
        char d[OAK_REASON_DETAIL_MAX];
    } s;
    s.m.reason = reason;
    snprintf(s.m.detail, sizeof s.d, "%s", detail ? detail : "");
    oak_ref ref = oak_monitor(server);
    oak_send_ref(server, ref, oak__batom(OAK__A_GEN_STOP), &s,
                 sizeof s.m + strlen(s.m.detail) + 1);
    oak_msg *m = NULL;
    int r = oak_receive_ref(&m, ref, timeout_ms);
    if (r < 0) {
        oak_demonitor(ref, OAK_DEMONITOR_FLUSH);
        oak_reason_set(why, OAK_TIMEOUT, NULL);
        return r;
    }
    oak__reason_of(m, why);
    oak_msg_free(m);
    if (why->atom == OAK_NOPROC && !why->detail[0])
        return -ESRCH;
    if (why->atom == reason &&
        strcmp(why->detail, detail ? detail : "") == 0)
        return 0;
    return -ECONNRESET;
}
