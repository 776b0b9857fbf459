/* oak/blocking.h - blocking calls off the schedulers.
 *
 * A process that must call something that blocks - a read() of a file, a
 * name lookup, a library that sleeps - hands it to a bounded pool of
 * helper threads (Erlang's dirty I/O schedulers, Go's syscall hand-off)
 * and is suspended meanwhile, like a process waiting in receive: its
 * scheduler runs the others.
 */
#ifndef OAK_BLOCKING_H
#define OAK_BLOCKING_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The blocking work: runs on a helper thread, not in a process (it must
 * not call the process API, except the calls documented as safe from any
 * thread, such as oak_send). Returns a result for the caller. */
typedef void *(*oak_blocking_fn)(void *arg);

/* Called on the helper thread when the caller died before it could take
 * the result (it was killed while waiting): release what fn produced.
 * arg is the same as fn's. */
typedef void (*oak_blocking_discard_fn)(void *result, void *arg);

/* Run fn(arg) on the blocking pool and wait for it; *result (if result is
 * not NULL) gets what fn returned. With arg_size > 0, the arg_size bytes
 * at arg are copied and fn gets the copy (freed after the call), so arg
 * may point into the caller's stack; with arg_size 0, arg is passed as is
 * and must stay valid until fn has returned, even if the caller dies.
 *
 * If the caller is killed (or ends) while fn runs, fn still runs to its
 * end on its thread - a blocked system call cannot be taken back - and its
 * result is given to discard (if not NULL) there. Exit signals act on the
 * waiting caller as on one in receive.
 *
 * Returns 0; -EINVAL for a NULL fn, or arg NULL with arg_size > 0;
 * -EPERM outside a process or in a cleanup; -ENOMEM; -EAGAIN when no
 * helper thread can be started and none exists. Blocks the calling
 * process (not its scheduler). In a process only. */
OAK_API int oak_blocking(oak_blocking_fn fn, const void *arg, size_t arg_size, void **result,
                         oak_blocking_discard_fn discard);

typedef struct oak_blocking_stats {
    size_t threads; /* helper threads started                 */
    size_t busy;    /* of those, running a call now           */
    size_t queued;  /* calls waiting for a free helper thread */
    uint64_t calls; /* calls finished since the runtime began */
} oak_blocking_stats;

/* A snapshot of the pool. Returns 0, or -ESRCH when no runtime runs. Any
 * thread. */
OAK_API int oak_blocking_stats_get(oak_blocking_stats *out);

#ifdef __cplusplus
}
#endif
#endif
