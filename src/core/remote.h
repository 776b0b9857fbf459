/* remote.h - the contract between the core and the distribution layer.
 *
 * A pid whose node bits (63..56, oak/types.h) are not 0 stands for a
 * process of another node. The core knows nothing of nodes or sockets: an
 * item (message or signal) addressed to such a pid reaches
 * oak__deliver_from(), finds no control block, and is handed to
 * oak__remote_deliver() on that cold path, which turns it into an
 * oak__remote_sig and calls the hook the distribution layer installed
 * with oak__remote_set(). The hook must not block (it may run in
 * scheduler context, when a dying process tells its remote links and
 * monitors) and must copy what it keeps: the signal lives only for the
 * call. Without a hook, the item is refused as for a dead pid (-ESRCH).
 *
 * The other way, the distribution layer gives local processes what a
 * remote process sent them with oak__remote_inject(): the same items the
 * core builds for local senders, with a remote pid as `from`. So a remote
 * pid sits in a local process's links and monitor tables like any other,
 * and its exit signal or DOWN comes back to the hook when the local
 * process dies.
 */
#ifndef OAK_CORE_REMOTE_H
#define OAK_CORE_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "oak/types.h"

struct oak__msg;

#define OAK__NODE_SHIFT 56

enum oak__remote_op {
    OAK__R_SEND = 1,  /* a message: tag, data, size; ref for a reply or
                       * request (0 for none)                          */
    OAK__R_LINK,      /* from links to `to`                            */
    OAK__R_UNLINK,    /* from unlinks                                  */
    OAK__R_MONITOR,   /* from monitors `to` with ref                   */
    OAK__R_DEMONITOR, /* from drops its monitor ref                    */
    OAK__R_EXIT,      /* exit/2 from `from`: reason, detail            */
    OAK__R_EXIT_LINK, /* `from` died (reason, detail), linked to `to`  */
    OAK__R_DOWN,      /* `from`, monitored by `to` with ref, died      */
    OAK__R_ALIAS_SEND, /* a message to `to`'s alias ref (inject only): as
                        * oak_send_alias(), delivered while the alias is
                        * active                                       */
};

typedef struct oak__remote_sig {
    int op;             /* enum oak__remote_op                         */
    oak_pid from, to;
    oak_ref ref;
    uint64_t tag;       /* SEND                                        */
    const void *data;   /* SEND: size bytes                            */
    size_t size;
    oak_atom reason;    /* EXIT, EXIT_LINK, DOWN                       */
    const char *detail; /* or NULL                                     */
    oak_atom name;      /* MONITOR (and SEND, from the distribution
                         * layer itself): to the process registered under
                         * this name on to's node (to's ID and serial are
                         * then not a process's), or 0 for to itself    */
} oak__remote_sig;

typedef void (*oak__remote_fn)(const oak__remote_sig *sig);

/* Install the hook (NULL removes it). Any thread. */
void oak__remote_set(oak__remote_fn fn);

/* The core's side: m is addressed to a pid with node bits. Returns 0 when
 * the hook took it (m is freed), -ESRCH when there is no hook (m is still
 * the caller's). */
int oak__remote_deliver(struct oak__msg *m);

/* Monitor the process registered as `name` on the node of the remote pid
 * `node`, as oak_monitor_name() does for a local name: the monitor's
 * target is `node` (oak_demonitor() sends DEMONITOR to it), the hook gets
 * MONITOR with sig->name set, and the DOWN, injected from `node`, carries
 * the name. Returns the ref, or 0 outside a process, for name 0 or a pid
 * without node bits. Process context. */
oak_ref oak__remote_monitor_name(oak_pid node, oak_atom name);

/* Deliver sig to its local `to` as the core's own senders would. Returns
 * 0, -ESRCH (not alive), -ENOMEM, -EINVAL (an op not listed above, or a
 * `to` with node bits). Any thread. */
int oak__remote_inject(const oak__remote_sig *sig);

#endif
