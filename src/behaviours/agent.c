/* agent.c - Elixir's Agent as a gen_server callback set.
 *
 * Requests are gen_server calls and casts whose payload is an agent_req:
 * the function's address followed by a copy of its argument bytes. The
 * agent runs the function on its state and answers. The answer of a
 * function is buffered in the agent_ctx and handed to the gen_server only
 * when the call replies, so that a get_and_update with a bad return stops
 * the agent without answering (the caller then sees the agent's exit
 * reason, as in Elixir).
 */
#include "behaviours/agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct agent_req {
    oak_agent_fn fn;
    size_t size;
    _Alignas(16) unsigned char bytes[];
} agent_req;

struct oak_agent_ctx {
    oak_gen_server *gs;
    void *reply; /* oak_alloc'd copy, or NULL */
    size_t reply_size;
};

/* The gen_server state: a box around the agent's state pointer. */
typedef struct agent {
    void *state;
} agent;

enum { OP_GET = 1, OP_UPDATE, OP_GET_AND_UPDATE, OP_CAST };

int oak_agent_reply(oak_agent_ctx *ctx, const void *data, size_t size)
{
    if (!ctx || (size && !data))
        return -EINVAL;
    void *p = NULL;
    if (size) {
        p = oak_alloc(size);
        if (!p)
            return -ENOMEM;
        memcpy(p, data, size);
    }
    oak_free(ctx->reply);
    ctx->reply = p;
    ctx->reply_size = size;
    return 0;
}

void oak_agent_exit(oak_agent_ctx *ctx, oak_atom reason, const char *detail)
{
    oak_gen_server_exit(ctx->gs, reason ? reason : OAK_NORMAL, detail);
}

/* ---- the server ---------------------------------------------------------- */

static int run(oak_gen_server *gs, const oak_msg *req, void **state,
               oak_agent_ctx *ctx)
{
    const agent_req *q = req->data;
    ctx->gs = gs;
    ctx->reply = NULL;
    ctx->reply_size = 0;
    return q->fn(ctx, state, q->size ? q->bytes : NULL, q->size);
}

static bool valid(const oak_msg *req)
{
    if (req->size < sizeof(agent_req))
        return false;
    const agent_req *q = req->data;
    return q->fn && req->size == sizeof *q + q->size;
}

static int agent_init(oak_gen_server *gs, void *arg, void **state)
{
    const agent_req *q = arg;
    agent *a = oak_alloc(sizeof *a);
    if (!a)
        oak_gen_server_exit(gs, OAK_SYSTEM_LIMIT, NULL);
    a->state = NULL;
    *state = a;
    oak_agent_ctx ctx = {gs, NULL, 0};
    (void)q->fn(&ctx, &a->state, q->size ? q->bytes : NULL, q->size);
    oak_free(ctx.reply);
    return OAK_GS_OK;
}

static int agent_call(oak_gen_server *gs, void *state, const oak_msg *req,
                      const oak_gen_from *from)
{
    agent *a = state;
    if (!valid(req)) {
        oak_gen_server_set_stop(gs, oak__batom(OAK__A_BAD_CALL), NULL);
        return OAK_GS_STOP;
    }
    oak_agent_ctx ctx;
    int ret = 0;
    if (req->tag == OP_GET) {
        void *copy = a->state; /* get never changes the state */
        run(gs, req, &copy, &ctx);
    } else if (req->tag == OP_UPDATE) {
        run(gs, req, &a->state, &ctx);
        oak_free(ctx.reply);
        ctx.reply = NULL;
        ctx.reply_size = 0;
    } else if (req->tag == OP_GET_AND_UPDATE) {
        void *next = a->state;
        ret = run(gs, req, &next, &ctx);
        if (ret != 0) {
            /* Elixir: anything but {reply, new_state} stops the agent
             * with {bad_return_value, X}, without answering. */
            char d[32];
            snprintf(d, sizeof d, "%d", ret);
            oak_free(ctx.reply);
            oak_gen_server_set_stop(gs, oak__batom(OAK__A_BAD_RETURN_VALUE), d);
            return OAK_GS_STOP;
        }
        a->state = next;
    } else {
        oak_gen_server_set_stop(gs, oak__batom(OAK__A_BAD_CALL), NULL);
        return OAK_GS_STOP;
    }
    int r = oak_gen_server_set_reply(gs, OAK_OK, ctx.reply, ctx.reply_size);
    oak_free(ctx.reply);
    if (r < 0)
        oak_gen_server_exit(gs, OAK_SYSTEM_LIMIT, NULL);
    return OAK_GS_REPLY;
}

static int agent_cast(oak_gen_server *gs, void *state, const oak_msg *req)
{
    agent *a = state;
    if (req->tag != OP_CAST || !valid(req))
        return OAK_GS_OK; /* not ours: dropped */
    oak_agent_ctx ctx;
    run(gs, req, &a->state, &ctx);
    oak_free(ctx.reply);
    return OAK_GS_OK;
}

static const oak_gen_server_callbacks agent_callbacks = {
    .init = agent_init,
    .handle_call = agent_call,
    .handle_cast = agent_cast,
};

/* ---- the client side ------------------------------------------------------- */

/* A request on the heap: header + argument bytes. */
static agent_req *make_req(oak_agent_fn fn, const void *arg, size_t size,
                           size_t *total)
{
    *total = sizeof(agent_req) + size;
    agent_req *q = malloc(*total);
    if (!q)
        return NULL;
    memset(q, 0, sizeof *q);
    q->fn = fn;
    q->size = size;
    if (size)
        memcpy(q->bytes, arg, size);
    return q;
}

int oak_agent_start(oak_agent_fn init, const void *arg, size_t size,
                    oak_agent_opts *opts, oak_pid *pid, oak_reason *why)
{
    if (!init || (size && !arg))
        return -EINVAL;
    size_t total;
    agent_req *q = make_req(init, arg, size, &total);
    if (!q)
        return -ENOMEM;
    oak_gen_server_opts o = {.arg_size = total,
                            .hibernate_after_ms = OAK_GEN_IDLE_HIBERNATE_MS};
    if (opts) {
        o.flags = opts->flags;
        o.name = opts->name;
        o.via = opts->via;
        o.timeout_ms = opts->timeout_ms;
        o.stack_size = opts->stack_size;
    }
    int r = oak_gen_server_start(&agent_callbacks, q, &o, pid, why);
    free(q);
    if (opts)
        opts->monitor_ref = o.monitor_ref;
    return r;
}

int oak_agent_start_fn(const oak_child_args *args, oak_pid *pid,
                       oak_reason *why)
{
    const oak_agent_spec *s = args->arg;
    if (!s)
        return -EINVAL;
    oak_agent_opts o = {.flags = OAK_GEN_LINK, .name = s->name, .via = s->via};
    return oak_agent_start(s->init, s->arg, s->size, &o, pid, why);
}

static int agent_call_op(oak_pid agent_pid, int op, oak_agent_fn fn,
                         const void *arg, size_t size, oak_msg **reply,
                         int64_t timeout_ms, oak_reason *why)
{
    if (reply)
        *reply = NULL;
    if (!fn || (size && !arg))
        return -EINVAL;
    size_t total;
    agent_req *q = make_req(fn, arg, size, &total);
    if (!q)
        return -ENOMEM;
    oak_msg *m = NULL;
    int r = oak_gen_server_call(agent_pid, (uint64_t)op, q, total, &m,
                                timeout_ms, why);
    free(q);
    if (r == 0 && reply)
        *reply = m;
    else
        oak_msg_free(m);
    return r;
}

int oak_agent_get(oak_pid agent_pid, oak_agent_fn fn, const void *arg,
                  size_t size, oak_msg **reply, int64_t timeout_ms,
                  oak_reason *why)
{
    return agent_call_op(agent_pid, OP_GET, fn, arg, size, reply, timeout_ms,
                         why);
}

int oak_agent_update(oak_pid agent_pid, oak_agent_fn fn, const void *arg,
                     size_t size, int64_t timeout_ms, oak_reason *why)
{
    return agent_call_op(agent_pid, OP_UPDATE, fn, arg, size, NULL,
                         timeout_ms, why);
}

int oak_agent_get_and_update(oak_pid agent_pid, oak_agent_fn fn,
                             const void *arg, size_t size, oak_msg **reply,
                             int64_t timeout_ms, oak_reason *why)
{
    return agent_call_op(agent_pid, OP_GET_AND_UPDATE, fn, arg, size, reply,
                         timeout_ms, why);
}

int oak_agent_cast(oak_pid agent_pid, oak_agent_fn fn, const void *arg,
                   size_t size)
{
    if (!fn || (size && !arg))
        return 0;
    size_t total;
    agent_req *q = make_req(fn, arg, size, &total);
    if (!q)
        return 0;
    oak_gen_server_cast(agent_pid, OP_CAST, q, total);
    free(q);
    return 0;
}

int oak_agent_stop(oak_pid agent_pid, oak_atom reason, int64_t timeout_ms,
                   oak_reason *why)
{
    return oak_gen_server_stop(agent_pid, reason ? reason : OAK_NORMAL, NULL,
                               timeout_ms, why);
}
