/* oak/gen_server.h - generic servers, as OTP's gen_server.
 *
 * A gen_server is a process that runs a loop on behalf of a set of
 * callbacks: it starts synchronously (the starter waits for init), serves
 * calls (request and reply), casts (requests without reply) and plain
 * messages, and runs `terminate` when it stops. It is written on the public
 * process API only (oak/process.h, oak/message.h), like every behaviour.
 *
 * Exit reasons. Throughout the behaviours a reason is an atom plus an
 * optional detail text, standing for the Erlang term {Atom, Detail} (see
 * oak/process.h). oak_reason holds one by value so that it can be returned
 * to a caller: e.g. a call to a server that crashed returns -ECONNRESET and
 * fills an oak_reason with the server's exit reason.
 *
 * Callbacks and their results. Callbacks return one of the OAK_GS_* codes
 * below (the C form of {reply, R, S}, {noreply, S}, {stop, R, S}, ...). The
 * reply value, the stop reason, a timeout or a continue request are set
 * before returning with oak_gen_server_set_*(). Any other return value is a
 * bad return: the server stops with reason {bad_return_value, N}.
 * A callback that wants to crash the server the way an Erlang callback calls
 * exit(R) uses oak_gen_server_exit(): the loop then runs terminate(R) and the
 * process exits with R.
 *
 * Where to call: every function here must be called from inside an oak
 * process, except oak_gen_server_reply() and oak_gen_server_cast(), which may
 * be called from any thread, and the oak_reason helpers.
 */
#ifndef OAK_GEN_SERVER_H
#define OAK_GEN_SERVER_H

#include "message.h"
#include "process.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- exit reasons by value ------------------------------------------------ */

/* Longest detail text kept in an oak_reason (longer ones are cut). */
#define OAK_REASON_DETAIL_MAX 480

typedef struct oak_reason {
    oak_atom atom; /* OAK_ATOM_NONE when no reason was stored */
    char detail[OAK_REASON_DETAIL_MAX]; /* "" when the reason is a bare atom */
} oak_reason;

/* Store (atom, detail) in r; detail may be NULL. Returns 0, or -EINVAL when
 * r is NULL. Any thread. */
OAK_API int oak_reason_set(oak_reason *r, oak_atom atom, const char *detail);

/* The detail as oak_exit_detail() wants it: NULL when there is none. */
OAK_API const char *oak_reason_detail(const oak_reason *r);

/* Write the reason as an Erlang term ("boom", "{shutdown,x}") into buf.
 * Returns the length it needs, as snprintf. Any thread. */
OAK_API int oak_reason_str(const oak_reason *r, char *buf, size_t size);

/* True for the reasons after which a supervisor does not restart a transient
 * child and no error is logged: normal, shutdown and {shutdown, _}. */
OAK_API bool oak_reason_is_clean(oak_atom atom, const char *detail);

/* ---- the server ------------------------------------------------------------ */

/* The running server, as its callbacks see it. Opaque; valid for the
 * duration of a callback, inside the server process only. */
typedef struct oak_gen_server oak_gen_server;

/* Who made a call: what oak_gen_server_reply() needs to answer it later,
 * from any process. A plain value: copy it freely. */
typedef struct oak_gen_from {
    oak_pid pid;    /* the caller */
    oak_ref ref;    /* the call's reference (also the caller's monitor) */
    uint32_t flags; /* internal to the call protocol; keep it as it is */
} oak_gen_from;

/* Callback results. */
#define OAK_GS_OK 0      /* init: started ({ok, S}); other callbacks: {noreply, S} */
#define OAK_GS_NOREPLY 0 /* handle_call: no reply now; reply later with oak_gen_server_reply() */
#define OAK_GS_REPLY 1   /* handle_call: send the reply set by oak_gen_server_set_reply() */
#define OAK_GS_STOP 2    /* stop with the reason set by oak_gen_server_set_stop()
                          * (default `normal`); from handle_call, a reply set
                          * before is sent after terminate, as {stop, R, Reply, S} */
#define OAK_GS_IGNORE 3  /* init only: the server does not start ({ignore}) */

typedef struct oak_gen_server_callbacks {
    /* Runs in the new process before the starter returns. arg is the start
     * argument (see oak_gen_server_start); store the server's state in
     * *state. Return OAK_GS_OK, OAK_GS_IGNORE or OAK_GS_STOP. Required. */
    int (*init)(oak_gen_server *gs, void *arg, void **state);

    /* A call: req->tag / req->data / req->size are what the caller passed;
     * req->from is the caller. Return OAK_GS_REPLY, OAK_GS_NOREPLY or
     * OAK_GS_STOP. NULL: a call crashes the server with reason
     * {bad_call, Tag} (OTP: function_clause). */
    int (*handle_call)(oak_gen_server *gs, void *state, const oak_msg *req,
                       const oak_gen_from *from);

    /* A cast. Return OAK_GS_OK or OAK_GS_STOP. NULL: casts are dropped with
     * a warning. */
    int (*handle_cast)(oak_gen_server *gs, void *state, const oak_msg *req);

    /* Any other message: plain messages, EXIT messages from linked processes
     * other than the parent (when trapping exits), DOWN messages, and the
     * inactivity timeout (tag OAK_TIMEOUT, no payload). Return OAK_GS_OK or
     * OAK_GS_STOP. NULL: messages are logged as warnings and dropped. */
    int (*handle_info)(oak_gen_server *gs, void *state, const oak_msg *msg);

    /* Runs right after a callback that set a continue request, before the
     * next message. cont carries the tag and bytes given to
     * oak_gen_server_set_continue(). Return OAK_GS_OK or OAK_GS_STOP. */
    int (*handle_continue)(oak_gen_server *gs, void *state,
                           const oak_msg *cont);

    /* Runs when the server stops: after a callback returned OAK_GS_STOP or
     * called oak_gen_server_exit(), on oak_gen_server_stop(), and on an exit
     * signal from the parent when the server traps exits. Not called when
     * the process is killed, nor when an exit signal kills a server that does
     * not trap exits. Free the state here. May be NULL. */
    void (*terminate)(oak_gen_server *gs, void *state,
                      const oak_reason *reason);
} oak_gen_server_callbacks;

/* ---- setting a callback's result ---------------------------------------- */

/* The reply sent for OAK_GS_REPLY (or with OAK_GS_STOP from handle_call).
 * data is copied. Without it the reply is tag OAK_OK with no payload.
 * Returns 0, -EINVAL, -ENOMEM. */
OAK_API int oak_gen_server_set_reply(oak_gen_server *gs, uint64_t tag,
                                     const void *data, size_t size);

/* The stop reason for OAK_GS_STOP (init: the error returned to the starter).
 * detail may be NULL. Returns 0 or -EINVAL. */
OAK_API int oak_gen_server_set_stop(oak_gen_server *gs, oak_atom reason,
                                    const char *detail);

/* After this callback, deliver an inactivity timeout (a message with tag
 * OAK_TIMEOUT to handle_info) if no message arrives within ms. Any message
 * cancels it. Applies to the current callback's result only. */
OAK_API void oak_gen_server_set_timeout(oak_gen_server *gs, int64_t ms);

/* After this callback, run handle_continue with a message carrying tag and a
 * copy of data, before any other message. Returns 0, -EINVAL, -ENOMEM. */
OAK_API int oak_gen_server_set_continue(oak_gen_server *gs, uint64_t tag,
                                        const void *data, size_t size);

/* After this callback, hibernate (OTP's `hibernate` in a callback's
 * result): the server gives up its stack (oak_hibernate()) until the next
 * message, which it then handles as usual. Its state must be reachable from
 * the state pointer (heap or oak_alloc() memory), never from a callback's
 * stack. After continues run, if any. Applies to the current callback's
 * result only. */
OAK_API void oak_gen_server_set_hibernate(oak_gen_server *gs);

/* Replace the state pointer passed to the next callbacks. */
OAK_API void oak_gen_server_set_state(oak_gen_server *gs, void *state);

/* Crash the server from inside a callback, as exit(Reason) in an Erlang
 * callback: the current callback is abandoned, terminate runs with the
 * reason, and the process exits with it. The gen_server error report names
 * {Reason,_} (OTP's {Reason, Stacktrace}); a reason whose detail is already
 * "_" ({badarith,_}) is reported as it is. A {stop, R} result
 * (OAK_GS_STOP) is reported as the bare R. Called from init, the starter gets
 * the error and terminate does not run. Never returns. Only from the server
 * process, inside a callback (it unwinds with longjmp to the server loop, so
 * the callback must not hold resources that a jump would leak). */
OAK_API OAK_NORETURN void oak_gen_server_exit(oak_gen_server *gs,
                                              oak_atom reason,
                                              const char *detail);

/* The server's parent: the process that started it linked, or the server
 * itself for an unlinked start (as in OTP). */
OAK_API oak_pid oak_gen_server_parent(const oak_gen_server *gs);

/* ---- via names ------------------------------------------------------------ */

/* A name kept by a naming module other than the runtime's atom names, as
 * OTP's {via, Module, Name}: e.g. a key in a registry (oak/registry.h). A
 * server started with a via name registers itself through ops before its
 * init runs, and unregisters when init fails; the naming module forgets the
 * name when the process dies. An oak_via is a plain value (the key is
 * stored inside), so it can be copied freely, e.g. into a child spec's
 * argument. */
#define OAK_VIA_KEY_MAX 120

typedef struct oak_via oak_via;

typedef struct oak_via_ops {
    /* Register the calling process under via's name. Returns 0, -EEXIST with
     * *owner set to the process that holds the name, or another negative
     * error code. */
    int (*register_name)(const oak_via *via, oak_pid *owner);
    /* Remove the calling process's registration of via's name. */
    void (*unregister_name)(const oak_via *via);
    /* The process registered under via's name, or OAK_NOPID. */
    oak_pid (*whereis_name)(const oak_via *via);
} oak_via_ops;

struct oak_via {
    const oak_via_ops *ops; /* static storage */
    oak_atom scope;         /* the naming module's instance, e.g. a registry */
    uint32_t key_size;      /* bytes used in key */
    unsigned char key[OAK_VIA_KEY_MAX];
};

/* The process registered under a via name (ops->whereis_name), or
 * OAK_NOPID. To call a server by its via name, pass this to
 * oak_gen_server_call(). Where the ops may be called (the registry's: a
 * process). */
OAK_API oak_pid oak_via_whereis(const oak_via *via);

/* ---- starting ------------------------------------------------------------ */

#define OAK_GEN_LINK 0x1u    /* link the server to the caller (start_link) */
#define OAK_GEN_MONITOR 0x2u /* the caller monitors the server; the ref is
                              * stored in monitor_ref (start_monitor) */

/* The hibernate_after_ms that oak's own behaviours built on gen_server
 * (supervisor, agent, registry) use: idle that long, they give up their
 * stacks until the next request. */
#define OAK_GEN_IDLE_HIBERNATE_MS 1000

/* Positive result of a start whose init returned OAK_GS_IGNORE. */
#define OAK_IGNORED 1

typedef struct oak_gen_server_opts {
    unsigned flags;     /* OAK_GEN_* */
    oak_atom name;      /* register the server under this name, or 0 */
    const oak_via *via; /* or register it through a via name (copied; not
                         * with name) */
    int64_t timeout_ms; /* how long init may take; 0 = OAK_INFINITY */
    size_t stack_size;  /* 0 = the runtime's default */
    int64_t hibernate_after_ms; /* hibernate after this long with no message
                         * (OTP 20's hibernate_after); 0 = never. Not while
                         * a callback's inactivity timeout is pending */
    size_t arg_size;    /* > 0: arg points to arg_size bytes that are copied
                         * into the server (freed when it ends); 0: the
                         * pointer itself is passed to init */
    oak_ref monitor_ref; /* out: with OAK_GEN_MONITOR */
} oak_gen_server_opts;

/* Start a server and wait until its init has run (proc_lib's synchronous
 * start). opts may be NULL (unlinked, unnamed, no timeout).
 * Returns:
 *   0            started; the pid is in *pid
 *   OAK_IGNORED  init returned OAK_GS_IGNORE; the process exits `normal`
 *   -EALREADY    the name (or via name) is taken: *pid holds the owner and
 *                *why is {already_started, Pid}; init did not run (the same
 *                code as oak_supervisor_start and start_child give for
 *                {already_started, Pid})
 *   -ECANCELED   init failed: *why holds the reason ({error, Reason} in
 *                OTP). The process then exits with that reason, so a linked
 *                caller that does not trap exits dies too, as in OTP.
 *   -ETIMEDOUT   init took longer than timeout_ms; the process was killed
 *   -EINVAL      cb or cb->init NULL, a negative timeout_ms other than
 *                OAK_INFINITY, arg NULL with arg_size > 0, a bad via;
 *                -EAGAIN, -ENOMEM from oak_spawn; -EPERM outside a process
 * pid and why may be NULL. Blocks until init has returned. */
OAK_API int oak_gen_server_start(const oak_gen_server_callbacks *cb,
                                 void *arg, oak_gen_server_opts *opts,
                                 oak_pid *pid, oak_reason *why);

/* ---- talking to a server --------------------------------------------------- */

/* Default call timeout, as gen_server:call/2. */
#define OAK_GEN_CALL_TIMEOUT ((int64_t)5000)

/* Call server with a request (tag + copy of size bytes) and wait up to
 * timeout_ms (OAK_INFINITY, or 0: fails unless the reply is already there)
 * for the reply, which is stored in *reply (free it with oak_msg_free()).
 * Returns:
 *   0            the reply is in *reply (its tag and bytes are the server's)
 *   -ETIMEDOUT   no reply in time (why: timeout). A reply that comes later
 *                never reaches the caller's mailbox.
 *   -ESRCH       no such process (OAK_NOPID, or dead) (why: noproc)
 *   -ECONNRESET  the server exited before replying; why holds its reason
 *   -EDEADLK     server is the caller itself (why: calling_self)
 *   -EINVAL      reply NULL, req NULL with size > 0, a runtime tag
 *                (OAK_TAG_EXIT, ...: the top bit set), a negative
 *                timeout_ms other than OAK_INFINITY (as oak_send and
 *                oak_receive); -EPERM outside a process
 * In OTP the caller exits with {Why, {gen_server, call, ...}}; in C the
 * caller decides (see docs/otp-differences.md). why may be NULL.
 * Blocks. To call a registered name, pass oak_whereis(name). */
OAK_API int oak_gen_server_call(oak_pid server, uint64_t tag, const void *req,
                                size_t size, oak_msg **reply,
                                int64_t timeout_ms, oak_reason *why);

/* Send a cast (tag + copy of size bytes). Always returns 0, also for a dead
 * process or OAK_NOPID, as gen_server:cast returns ok. Any thread. */
OAK_API int oak_gen_server_cast(oak_pid server, uint64_t tag, const void *req,
                                size_t size);

/* Reply to a call whose handle_call returned OAK_GS_NOREPLY. Any process
 * may reply, once; a reply to a caller that stopped waiting (timeout, or
 * dead) is dropped. Returns 0, -EINVAL (from NULL or not a call). Any
 * thread. */
OAK_API int oak_gen_server_reply(const oak_gen_from *from, uint64_t tag,
                                 const void *data, size_t size);

/* Stop a server as gen_server:stop/3: it runs terminate(reason) and exits;
 * the caller waits up to timeout_ms for it to be gone. detail may be NULL.
 * Returns 0, -ESRCH (not alive), -ETIMEDOUT (still terminating after
 * timeout_ms; it goes on), -ECONNRESET (it exited with another reason, in
 * *why), -EDEADLK (server is the caller: OTP's calling_self, in *why),
 * -EPERM outside a process. A negative timeout_ms waits forever. Blocks. */
OAK_API int oak_gen_server_stop(oak_pid server, oak_atom reason,
                                const char *detail, int64_t timeout_ms,
                                oak_reason *why);

#ifdef __cplusplus
}
#endif
#endif
