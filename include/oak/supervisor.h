/* oak/supervisor.h - supervisors, as OTP's supervisor and Elixir's
 * DynamicSupervisor.
 *
 * A supervisor is a gen_server (oak/gen_server.h) that traps exits, starts
 * its children in order, restarts them by its strategy when they exit, gives
 * up when they restart too often (intensity/period: more than `intensity`
 * restarts within `period` seconds), and stops them in reverse start order
 * when it stops. Every rule follows OTP 25 (see docs/guide.md and
 * docs/otp-differences.md for the few differences).
 *
 * Results of the admin functions, and the OTP term each stands for:
 *   0             ok / {ok, Pid} (pid stored)
 *   OAK_IGNORED   {ok, undefined} (DynamicSupervisor: ignore)
 *   -ENOENT       {error, not_found}
 *   -EBUSY        {error, running}
 *   -EAGAIN       {error, restarting}
 *   -EALREADY     {error, {already_started, Pid}} (pid stored)
 *   -EEXIST       {error, already_present}
 *   -EOPNOTSUPP   {error, simple_one_for_one}
 *   -ENOSPC       {error, max_children} (DynamicSupervisor)
 *   -EINVAL       {error, SpecError}: *why is the validation error, e.g.
 *                 {invalid_shutdown, -5}; also a spec with arg NULL and
 *                 arg_size > 0 ({invalid_arg, Size}, an oak error)
 *   -ECANCELED    the child's start failed: *why is the reason
 *   -EPROTO       sup is a process that answered, but is no supervisor
 *                 (e.g. a plain gen_server): nothing is stored
 *   -ESRCH, ...   the supervisor itself is gone (as oak_gen_server_call)
 * Each takes an optional oak_reason *why. They are calls to the supervisor
 * process (timeout infinity): process context, may block.
 * oak_supervisor_strerror() gives the text of each code in this sense.
 *
 * Zero means "default". The structs below are meant to be
 * zero-initialised: a field left 0 takes OTP's default (period 0 = 5 s,
 * shutdown 0 = 5000 ms for a worker and infinity for a supervisor, restart
 * 0 = permanent, type 0 = worker, strategy 0 = one_for_one). So OTP's
 * invalid values period 0 and shutdown -1 cannot be expressed (oak's -1 is
 * OAK_INFINITY); see docs/otp-differences.md.
 *
 * Out-of-range values. An enum field holding a value outside its enum is
 * rejected with -EINVAL, and *why holds OTP's error with the number as
 * given: strategy {supervisor_data, {invalid_strategy, N}}, auto_shutdown
 * {supervisor_data, {invalid_auto_shutdown, N}}, restart
 * {invalid_restart_type, N}, child type {invalid_child_type, N} (the
 * last two as oak_supervisor_start's {start_spec, E}, or as start_child's
 * {error, E}). oak_supervisor_check_childspecs' auto_shutdown argument
 * out of range is {badarg, N}.
 */
#ifndef OAK_SUPERVISOR_H
#define OAK_SUPERVISOR_H

#include "gen_server.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum oak_strategy {
    OAK_ONE_FOR_ONE = 0,
    OAK_ONE_FOR_ALL = 1,
    OAK_REST_FOR_ONE = 2,
    OAK_SIMPLE_ONE_FOR_ONE = 3,
    /* Elixir's DynamicSupervisor: children are added with
     * oak_supervisor_start_child(), each with its own spec; see
     * oak_supervisor_def.max_children and .extra. */
    OAK_DYNAMIC = 4,
} oak_strategy;

typedef enum oak_restart {
    OAK_PERMANENT = 0, /* always restarted */
    OAK_TRANSIENT = 1, /* restarted unless it exits normal, shutdown or {shutdown,_} */
    OAK_TEMPORARY = 2, /* never restarted; its spec goes when it exits */
} oak_restart;

typedef enum oak_child_type { OAK_WORKER = 0, OAK_SUPERVISOR = 1 } oak_child_type;

typedef enum oak_auto_shutdown {
    /* Only for oak_supervisor_check_childspecs(): OTP's check_childspecs/1,
     * where auto_shutdown is undefined and a significant child is checked
     * only against restart permanent. */
    OAK_AUTO_SHUTDOWN_UNDEFINED = -1,
    OAK_AUTO_SHUTDOWN_NEVER = 0,
    OAK_ANY_SIGNIFICANT = 1,
    OAK_ALL_SIGNIFICANT = 2,
} oak_auto_shutdown;

/* Child shutdown values besides a positive number of milliseconds and
 * OAK_INFINITY. */
#define OAK_SHUTDOWN_DEFAULT ((int64_t)0)  /* 5000 for workers, infinity for supervisors */
#define OAK_BRUTAL_KILL ((int64_t)-2)      /* exit(Child, kill) at once */
#define OAK_SHUTDOWN_ZERO ((int64_t)-3)    /* OTP's shutdown 0: kill right after `shutdown` */

/* What a start function gets: the spec's argument, and extra bytes: the
 * arguments given to start_child of a simple_one_for_one supervisor
 * (appended in OTP), or a DynamicSupervisor's extra_arguments (prepended in
 * Elixir). Pointers are valid during the call only. */
typedef struct oak_child_args {
    const void *arg;
    size_t arg_size;
    const void *extra;
    size_t extra_size;
} oak_child_args;

/* A child's start function, run inside the supervisor process. It must
 * start a process linked to the caller (the supervisor), e.g. with
 * oak_gen_server_start(..., OAK_GEN_LINK ...), and return:
 *   0            started, pid in *pid
 *   OAK_IGNORED  nothing started (OTP's ignore)
 *   < 0          failed; *why holds the reason (if left empty the reason is
 *                the error's name). oak_gen_server_start()'s results can be
 *                returned as they are.
 *   OAK_START_RAISE  failed as if it had raised exit(*why): OTP reports
 *                {'EXIT', Why}. */
typedef int (*oak_child_start_fn)(const oak_child_args *args, oak_pid *pid,
                                  oak_reason *why);
#define OAK_START_RAISE (-4096)

/* Restart backoff (an oak extension, off when initial_ms is 0): the n-th
 * consecutive restart of a child waits min(max_ms, initial_ms * 2^(n-1)),
 * minus up to jitter_pct percent at random, before the start function runs.
 * The count goes back to 0 once the child has stayed up reset_after_ms
 * (default 10 * max_ms). Each restart still counts toward intensity when it
 * is decided, before the delay: a delay therefore spreads restarts out but
 * never hides them from the intensity check. While a child waits,
 * which_children shows it as restarting. Backoff applies to one_for_one,
 * simple_one_for_one and dynamic supervisors; under one_for_all and
 * rest_for_one the group is restarted at once (the delay is not applied). */
typedef struct oak_backoff {
    int64_t initial_ms;
    int64_t max_ms;       /* 0 = 30 * initial_ms */
    int jitter_pct;       /* 0..100 */
    int64_t reset_after_ms;
} oak_backoff;

typedef struct oak_child_spec {
    oak_atom id;              /* required (any atom); ignored by OAK_DYNAMIC */
    oak_child_start_fn start; /* required */
    const void *arg;          /* passed to start; with arg_size > 0 the bytes
                               * are copied into the supervisor, with 0 the
                               * pointer itself is kept and must stay valid */
    size_t arg_size;
    oak_restart restart;      /* default OAK_PERMANENT */
    int64_t shutdown;         /* ms, OAK_INFINITY, OAK_BRUTAL_KILL, OAK_SHUTDOWN_ZERO,
                               * or OAK_SHUTDOWN_DEFAULT */
    oak_child_type type;      /* default OAK_WORKER */
    bool significant;         /* with auto_shutdown */
    oak_backoff backoff;      /* default: none */
    const char *name;         /* optional text for reports and get_childspec
                               * (OTP's start MFA); not copied */
} oak_child_spec;

typedef struct oak_sup_flags {
    oak_strategy strategy;
    int intensity;            /* >= 0 */
    int period;               /* seconds > 0; 0 means the default, 5 */
    oak_auto_shutdown auto_shutdown;
} oak_sup_flags;

/* OTP's defaults: one_for_one, intensity 1, period 5. */
#define OAK_SUP_FLAGS_DEFAULT {OAK_ONE_FOR_ONE, 1, 5, OAK_AUTO_SHUTDOWN_NEVER}

/* What a supervisor starts with. An init callback (optional) runs in the
 * supervisor process before any child starts and may change flags and
 * children (the C form of Module:init/1). */
typedef struct oak_sup_init {
    oak_sup_flags flags;
    const oak_child_spec *children; /* read during init only */
    size_t count;
} oak_sup_init;

/* Return 0 to go on, OAK_IGNORED for OTP's ignore; any other value X makes
 * the start fail with {bad_return, {init, X}}. */
typedef int (*oak_supervisor_init_fn)(void *arg, oak_sup_init *spec);

typedef struct oak_supervisor_def {
    oak_atom name;                   /* register under it, or 0 */
    oak_sup_flags flags;
    const oak_child_spec *children;  /* started in this order */
    size_t count;
    oak_supervisor_init_fn init;     /* optional */
    void *init_arg;
    /* OAK_DYNAMIC only: */
    size_t max_children;             /* 0 = infinity */
    const void *extra;               /* extra_arguments for every start */
    size_t extra_size;
    const oak_via *via;              /* or register through a via name
                                      * (e.g. a registry key); not with name */
} oak_supervisor_def;

/* Start a supervisor and its children; returns once they have all started.
 * def must stay valid while the supervisor may be (re)started: for a child
 * supervisor, give it static storage. flags: OAK_GEN_LINK or 0.
 * Returns 0 (pid stored), OAK_IGNORED, -EALREADY ({already_started, Pid}:
 * the name is taken; the owner's pid stored),
 * -ECANCELED with *why e.g. {shutdown,{failed_to_start_child,Id,R}},
 * {supervisor_data,{invalid_intensity,-1}}, {start_spec,E},
 * {bad_start_spec,N}. Process context; blocks. */
OAK_API int oak_supervisor_start(const oak_supervisor_def *def, unsigned flags,
                                 oak_pid *pid, oak_reason *why);

/* A start function for a child supervisor: arg points to its
 * oak_supervisor_def (arg_size 0). Starts it linked. */
OAK_API int oak_supervisor_start_fn(const oak_child_args *args, oak_pid *pid,
                                    oak_reason *why);

/* Check specs as supervisor:check_childspecs/2 does, or as
 * check_childspecs/1 with auto_shutdown OAK_AUTO_SHUTDOWN_UNDEFINED.
 * Returns 0 or -EINVAL with the first error in *why: {badarg, N} for an
 * auto_shutdown outside the enum (checked before any spec), {badarg} for
 * specs NULL with count > 0, then the spec errors in OTP's order of checks.
 * Does not block. Any thread. */
OAK_API int oak_supervisor_check_childspecs(const oak_child_spec *specs,
                                            size_t count,
                                            oak_auto_shutdown auto_shutdown,
                                            oak_reason *why);

/* Add and start a child (not for simple_one_for_one). Returns 0 (pid
 * stored), OAK_IGNORED, -EALREADY (a child with that id is running: its pid
 * stored, *why {already_started, Pid}), -EEXIST (already_present), -ENOSPC,
 * -EINVAL, -ECANCELED, -EPROTO, or a call error; see the table above.
 * Process context; blocks. */
OAK_API int oak_supervisor_start_child(oak_pid sup, const oak_child_spec *spec,
                                       oak_pid *pid, oak_reason *why);

/* simple_one_for_one: start a child from the template with extra bytes
 * (-EINVAL for extra NULL with extra_size > 0). Returns as start_child.
 * Process context; blocks. */
OAK_API int oak_supervisor_start_child_args(oak_pid sup, const void *extra,
                                            size_t extra_size, oak_pid *pid,
                                            oak_reason *why);

/* terminate_child / restart_child / delete_child: results as in the table
 * above (0, -ENOENT, -EBUSY, -EAGAIN, -EOPNOTSUPP, -ECANCELED, -EPROTO, or
 * a call error). Process context; block. */
OAK_API int oak_supervisor_terminate_child(oak_pid sup, oak_atom id);
/* For simple_one_for_one and dynamic supervisors. */
OAK_API int oak_supervisor_terminate_child_pid(oak_pid sup, oak_pid child);
OAK_API int oak_supervisor_restart_child(oak_pid sup, oak_atom id,
                                         oak_pid *pid, oak_reason *why);
OAK_API int oak_supervisor_delete_child(oak_pid sup, oak_atom id);

typedef enum oak_child_status {
    OAK_CHILD_RUNNING = 0,
    OAK_CHILD_UNDEFINED = 1,  /* not running, spec kept */
    OAK_CHILD_RESTARTING = 2, /* a restart failed and will be tried again */
} oak_child_status;

typedef struct oak_child_info {
    oak_atom id;       /* OAK_UNDEFINED for simple_one_for_one / dynamic */
    oak_pid pid;       /* OAK_NOPID unless running */
    oak_child_status status;
    oak_child_type type;
} oak_child_info;

/* Children in OTP's order (last started first). Fills up to max entries and
 * returns how many children there are (which may be more than max), or a
 * negative code (-EPROTO: not a supervisor; a call error), leaving out
 * untouched. Process context; blocks. */
OAK_API int oak_supervisor_which_children(oak_pid sup, oak_child_info *out,
                                          size_t max);

typedef struct oak_child_counts {
    size_t specs, active, supervisors, workers;
} oak_child_counts;
/* Returns 0 with *out filled (out may be NULL), or a negative code as
 * which_children. Process context; blocks. */
OAK_API int oak_supervisor_count_children(oak_pid sup, oak_child_counts *out);

/* The spec of child id (or, with the _pid form, of the child pid's
 * template/spec), defaults filled in. The spec's arg points into *holder,
 * a message to free with oak_msg_free() when done. Returns 0, -ENOENT,
 * -EINVAL (out or holder NULL), -EPROTO, or a call error. Process context;
 * blocks. */
OAK_API int oak_supervisor_get_childspec(oak_pid sup, oak_atom id,
                                         oak_child_spec *out,
                                         oak_msg **holder);
OAK_API int oak_supervisor_get_childspec_pid(oak_pid sup, oak_pid child,
                                             oak_child_spec *out,
                                             oak_msg **holder);

/* Stop a supervisor as gen_server:stop (reason normal; children stopped in
 * reverse order). Returns 0 or an oak_gen_server_stop() error. Process
 * context; blocks. */
OAK_API int oak_supervisor_stop(oak_pid sup);

/* The text of a code returned by the functions of this header, in the
 * sense in which they return it (e.g. -EAGAIN "child is restarting", where
 * oak_strerror() says "process limit reached"). Never NULL. Any thread. */
OAK_API const char *oak_supervisor_strerror(int err);
#ifdef __cplusplus
}
#endif
#endif
