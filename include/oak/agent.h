/* oak/agent.h - agents, as Elixir's Agent: a process that holds a state
 * and runs functions on it.
 *
 * An agent is a gen_server (oak/gen_server.h) whose only job is to keep a
 * state. Its state is a pointer that the agent's functions own; memory for
 * it should come from oak_alloc() inside the agent (the functions run in the
 * agent process), so that it is freed when the agent ends, however it ends.
 *
 * Every operation sends a function to the agent, which runs it there, on its
 * state, one at a time:
 *
 *   oak_agent_get             a call: fn answers with oak_agent_reply()
 *   oak_agent_update          a call: fn changes the state; the answer is ok
 *   oak_agent_get_and_update  a call: fn answers and changes the state; it
 *                             must return 0 (Elixir: {reply, new_state});
 *                             any other value X stops the agent with
 *                             {bad_return_value, X}, and the caller gets
 *                             that reason
 *   oak_agent_cast            fn changes the state; nobody waits
 *
 * A function crashes the agent with oak_agent_exit() (Elixir: exit/1 in the
 * fun): the agent exits with that reason and a caller waiting for it gets
 * the reason. Calls take a timeout (OAK_AGENT_TIMEOUT, 5000 ms, is
 * Elixir's default); a call that times out leaves the agent running, and its
 * late answer never reaches the caller.
 *
 * Functions are passed by address, so an agent serves processes of its own
 * program only. Their argument bytes are copied into the request.
 *
 * Call results are those of oak_gen_server_call():
 *   0            done; for get / get_and_update the answer is in *reply
 *                (tag OAK_OK, the bytes given to oak_agent_reply(); free it
 *                with oak_msg_free())
 *   -ETIMEDOUT   no answer in time (why: timeout)
 *   -ESRCH       no such agent (why: noproc)
 *   -ECONNRESET  the agent exited during the call; why holds its reason
 *                (a crashing function, {bad_return_value, X}, ...)
 *   -EDEADLK     the agent called itself (why: calling_self)
 *   -EINVAL      a negative timeout_ms other than OAK_INFINITY
 * They must be called from a process and may block; oak_agent_cast() may be
 * called from any thread.
 */
#ifndef OAK_AGENT_H
#define OAK_AGENT_H

#include "gen_server.h"
#include "supervisor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Elixir's default call timeout. */
#define OAK_AGENT_TIMEOUT ((int64_t)5000)

/* The context of one function run inside the agent. Opaque; valid during
 * that run only. */
typedef struct oak_agent_ctx oak_agent_ctx;

/* A function run inside the agent. *state is the agent's state (NULL in the
 * initial function, which sets it); arg/size are a copy of the bytes the
 * caller passed. Returns 0. Only get_and_update looks at other values (a
 * bad return, see above); the others ignore the result. */
typedef int (*oak_agent_fn)(oak_agent_ctx *ctx, void **state, const void *arg,
                            size_t size);

/* Inside a get or get_and_update function: the answer the caller receives
 * (a copy of size bytes). Without it the answer has no bytes. Returns 0,
 * -EINVAL, -ENOMEM. */
OAK_API int oak_agent_reply(oak_agent_ctx *ctx, const void *data, size_t size);

/* Inside any function: crash the agent with reason (and detail, which may
 * be NULL), as exit(Reason) in an Elixir function. In the initial function
 * the start fails with that reason. Never returns (it unwinds with longjmp:
 * the function must not hold resources that a jump would leak). */
OAK_API OAK_NORETURN void oak_agent_exit(oak_agent_ctx *ctx, oak_atom reason,
                                         const char *detail);

/* ---- starting ------------------------------------------------------------ */

typedef struct oak_agent_opts {
    unsigned flags;        /* OAK_GEN_LINK, OAK_GEN_MONITOR */
    oak_atom name;         /* register under this name, or 0 */
    const oak_via *via;    /* or register through a via module (registry) */
    int64_t timeout_ms;    /* how long the initial function may take; 0 = infinity */
    size_t stack_size;     /* 0 = the runtime's default */
    oak_ref monitor_ref;   /* out: with OAK_GEN_MONITOR */
} oak_agent_opts;

/* Start an agent whose state is made by init(ctx, &state, arg, size) inside
 * the new process (the arg bytes are copied). opts may be NULL. Returns what
 * oak_gen_server_start() returns: 0 (pid stored), -EALREADY (name taken, *why
 * {already_started, Pid}), -ECANCELED (init crashed with oak_agent_exit();
 * *why holds the reason: Elixir's {error, Reason}), ... Blocks until init
 * has run. Process context. */
OAK_API int oak_agent_start(oak_agent_fn init, const void *arg, size_t size,
                            oak_agent_opts *opts, oak_pid *pid,
                            oak_reason *why);

/* An agent as a supervisor's child: the child spec's arg points to an
 * oak_agent_spec (give it static storage, or arg_size = sizeof the spec:
 * then the supervisor keeps a copy, but the bytes at spec.arg must stay
 * valid). The agent is started linked, with the spec's name or via. A
 * restarted agent starts again from init: its state is lost. */
typedef struct oak_agent_spec {
    oak_agent_fn init;
    const void *arg;
    size_t size;
    oak_atom name;
    const oak_via *via;
} oak_agent_spec;

OAK_API int oak_agent_start_fn(const oak_child_args *args, oak_pid *pid,
                               oak_reason *why);

/* ---- using an agent ---------------------------------------------------------- */

OAK_API int oak_agent_get(oak_pid agent, oak_agent_fn fn, const void *arg,
                          size_t size, oak_msg **reply, int64_t timeout_ms,
                          oak_reason *why);

OAK_API int oak_agent_update(oak_pid agent, oak_agent_fn fn, const void *arg,
                             size_t size, int64_t timeout_ms, oak_reason *why);

OAK_API int oak_agent_get_and_update(oak_pid agent, oak_agent_fn fn,
                                     const void *arg, size_t size,
                                     oak_msg **reply, int64_t timeout_ms,
                                     oak_reason *why);

/* Always returns 0, also for a dead agent (Elixir: :ok). Any thread. */
OAK_API int oak_agent_cast(oak_pid agent, oak_agent_fn fn, const void *arg,
                           size_t size);

/* Stop the agent with reason (0 = normal) and wait up to timeout_ms
 * (OAK_INFINITY is Elixir's default). Returns oak_gen_server_stop()'s
 * results: 0, -ESRCH, -ETIMEDOUT, -ECONNRESET. */
OAK_API int oak_agent_stop(oak_pid agent, oak_atom reason, int64_t timeout_ms,
                           oak_reason *why);

#ifdef __cplusplus
}
#endif
#endif
