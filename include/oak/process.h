/* oak/process.h - lightweight processes: spawn, exit, links, monitors,
 * names, cleanups.
 *
 * Unless a function says otherwise it must be called from inside an oak
 * process and returns -EPERM elsewhere. "May block" means the calling process
 * may be suspended (its scheduler runs other processes meanwhile).
 *
 * Exit reasons are atoms with an optional detail text. A reason with detail
 * stands for the Erlang term {Reason, Detail}, where Detail is written in
 * Erlang term syntax; so {shutdown, X} is (OAK_SHUTDOWN, "X"). Supervisors
 * tell `normal`, `shutdown`, `{shutdown, _}` and everything else apart by
 * the atom and whether a detail is present.
 */
#ifndef OAK_PROCESS_H
#define OAK_PROCESS_H

#include "runtime.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- spawning ---------------------------------------------------------- */

#define OAK_SPAWN_LINK 0x1u      /* link the new process to the caller      */
#define OAK_SPAWN_MONITOR 0x2u   /* the caller monitors it (ref in opts)    */
#define OAK_SPAWN_TRAP_EXIT 0x4u /* the new process starts trapping exits   */

typedef struct oak_spawn_opts {
    unsigned flags;    /* OAK_SPAWN_* */
    size_t stack_size; /* bytes; 0 = the runtime's default */
    /* If not 0, `arg` points to arg_size bytes that are copied into memory
     * owned by the new process (freed when it dies), and the entry function
     * receives the copy: nothing is shared. */
    size_t arg_size;
    oak_ref monitor_ref; /* out: the monitor's reference, with OAK_SPAWN_MONITOR */
} oak_spawn_opts;

/* Create a process that runs fn(arg); it ends with reason `normal` when fn
 * returns. opts may be NULL. Link and monitor are set up atomically with the
 * spawn. Stores the new pid in *pid (which may be NULL).
 * Returns 0, -EINVAL (fn NULL, stack size too small or too large), -EAGAIN
 * (the process table is full), -ENOMEM. Does not block. Process context (the
 * first process is made by oak_run()).
 * The process gets its stack when it first runs, on the scheduler that runs
 * it. If no stack can be mapped then, it exits at once, before fn runs, with
 * reason `system_limit`, which its links and monitors see (and an error is
 * logged). */
OAK_API int oak_spawn(oak_entry fn, void *arg, oak_spawn_opts *opts,
                      oak_pid *pid);

/* The calling process's pid, or OAK_NOPID outside a process. Any thread. */
OAK_API oak_pid oak_self(void);

/* Give the scheduler to other runnable processes; returns when it is this
 * process's turn again. Exit signals sent to the caller take effect here. */
OAK_API void oak_yield(void);

/* Hibernate, as Erlang's erlang:hibernate/3: the caller gives up its stack
 * and waits for a message with no stack at all; when one arrives (at once,
 * if one is already queued), fn(arg) runs on a fresh stack, as if it were
 * the process's entry function (when it returns, the process exits
 * normal). Everything but the stack is kept: pid, links, monitors, aliases,
 * registered name, trap_exit, the mailbox and its messages, cleanups
 * (oak_defer), oak_alloc() memory and messages received and not yet freed.
 * Pointers into the old stack are dangling afterwards: keep what fn needs
 * in arg (oak_alloc() memory is freed with the process). An exit signal
 * acts on a hibernating process as on one waiting in receive.
 * Does not return on success; returns -EINVAL for a NULL fn, -EPERM outside
 * a process or in a cleanup. In a process only. */
OAK_API int oak_hibernate(oak_entry fn, void *arg);

/* ---- exits ------------------------------------------------------------- */

/* End the calling process with `reason` (and detail text, which may be
 * NULL). Its links get an exit signal with the reason, its monitors a DOWN
 * message, its name is released and its cleanups run. Never returns. */
OAK_API OAK_NORETURN void oak_exit(oak_atom reason);
OAK_API OAK_NORETURN void oak_exit_detail(oak_atom reason, const char *detail);

/* Send an exit signal with `reason` to pid, as Erlang's exit/2:
 *  - `kill` kills it even if it traps exits; its links then see `killed`;
 *  - `normal` is ignored unless pid traps exits (then it gets an EXIT
 *    message) or pid is the caller itself (then the caller exits normal);
 *  - any other reason kills a process that does not trap exits, and
 *    becomes an EXIT message {'EXIT', Caller, Reason} in one that does.
 * Returns 0, also when pid is dead (as Erlang returns true), -EINVAL for
 * OAK_NOPID or a bad atom. Any thread (the sender is then OAK_NOPID);
 * outside a running runtime no process is alive and it returns -ESRCH. */
OAK_API int oak_exit_pid(oak_pid pid, oak_atom reason);
OAK_API int oak_exit_pid_detail(oak_pid pid, oak_atom reason,
                                const char *detail);

/* Is pid a live process? A snapshot: it may die right after. Any thread. */
OAK_API bool oak_is_alive(oak_pid pid);

/* Set the caller's trap_exit flag; returns the old value (0 or 1). */
OAK_API int oak_trap_exit(bool on);

/* ---- links and monitors ----------------------------------------------- */

/* Link the caller and pid (bidirectional; linking twice is one link).
 * If pid is not alive: a caller that traps exits gets the message
 * {'EXIT', pid, noproc} and 0 is returned; otherwise -ESRCH is returned and
 * the caller goes on (as Erlang's link/1 raising noproc). Linking to self is
 * a no-op. OAK_NOPID is no pid: -EINVAL (Erlang's badarg). -ENOMEM,
 * -EPERM outside a process. */
OAK_API int oak_link(oak_pid pid);

/* Remove the link between the caller and pid, if any. Once this returns, no
 * exit signal from that link reaches the caller. Returns 0. */
OAK_API int oak_unlink(oak_pid pid);

/* Monitor pid: when it dies (or if it is already dead) the caller gets one
 * message with tag OAK_TAG_DOWN, ref = the returned reference, from = pid,
 * and an oak_down payload (reason `noproc` if pid was not alive). Each call
 * makes a new monitor. Returns the reference, or 0 outside a process. */
OAK_API oak_ref oak_monitor(oak_pid pid);

/* Monitor the process registered under `name`; the DOWN payload carries the
 * name and `from` is the pid that was registered (OAK_NOPID if none was, and
 * the reason is then `noproc`). A name that is not an atom (0, or no atom
 * value) is Erlang's badarg: it returns 0, and no DOWN comes. Returns 0
 * outside a process too. */
OAK_API oak_ref oak_monitor_name(oak_atom name);

/* ---- aliases (as Erlang's alias/0, unalias/1 and monitor's alias
 * option): a reference that other processes may send to with
 * oak_send_alias(); such a message is delivered only while the alias is
 * active, and dropped by the runtime otherwise, so a reply that comes after
 * the caller gave up never reaches its mailbox. */

/* A new active alias of the caller (it also sets the receive marker, like
 * oak_make_ref()). Returns 0 outside a process or when out of memory. */
OAK_API oak_ref oak_alias(void);

/* Deactivate an alias. Messages already received stay in the mailbox.
 * Returns 0 or -ENOENT (not an active alias of the caller). */
OAK_API int oak_unalias(oak_ref alias);

/* oak_monitor(pid) whose reference is also an alias, deactivated when the
 * monitor ends (oak_demonitor, or its DOWN arrives): the pattern of a
 * synchronous call. Returns 0 outside a process. */
OAK_API oak_ref oak_monitor_alias(oak_pid pid);

#define OAK_DEMONITOR_FLUSH 0x1u /* also remove a DOWN already received */
#define OAK_DEMONITOR_INFO 0x2u  /* return 1 if the monitor was active   */

/* Remove a monitor made by the caller. After it returns no DOWN message for
 * ref arrives; with OAK_DEMONITOR_FLUSH one that already arrived is removed
 * from the mailbox. Returns 0; with OAK_DEMONITOR_INFO, 1 if the monitor was
 * still active and 0 if it had fired or never existed. */
OAK_API int oak_demonitor(oak_ref ref, unsigned flags);

/* ---- names -------------------------------------------------------------- */

/* Register pid under name. A process has at most one name.
 * Returns 0, -EEXIST (name taken), -EBUSY (pid already has a name), -ESRCH
 * (pid not alive, or outside a running runtime), -EINVAL (bad atom, the
 * name `undefined`, or pid OAK_NOPID, which is no pid). A name is released
 * when its process dies. Any thread. */
OAK_API int oak_register(oak_atom name, oak_pid pid);

/* Remove a name. Returns 0 or -ENOENT. Any thread. */
OAK_API int oak_unregister(oak_atom name);

/* The pid registered under name, or OAK_NOPID. Any thread. */
OAK_API oak_pid oak_whereis(oak_atom name);

/* The name of pid, or OAK_ATOM_NONE. Any thread. */
OAK_API oak_atom oak_process_name(oak_pid pid);

/* ---- resources owned by a process -------------------------------------- */

/* Run fn(arg) when the calling process ends, however it ends (normal exit,
 * any exit reason, killed while suspended, fault). Cleanups run last
 * registered first, after the process has left its own stack: they must not
 * block (oak_receive() returns -EPERM there) but may send messages.
 * Returns a handle > 0 for oak_undefer(), or -ENOMEM. */
OAK_API int oak_defer(void (*fn)(void *), void *arg);

/* In a cleanup (oak_defer): the reason the process is ending with, and its
 * detail text (NULL if none) in *detail when detail is not NULL; valid
 * until the cleanup returns. Elsewhere OAK_ATOM_NONE. */
OAK_API oak_atom oak_exit_reason_in_cleanup(const char **detail);

/* Drop a cleanup registered by the caller; if run is true, run it now.
 * Returns 0 or -ENOENT. */
OAK_API int oak_undefer(int handle, bool run);

/* Memory owned by the calling process: freed when the process ends unless
 * freed before with oak_free(). oak_alloc returns NULL when out of memory
 * or outside a process. oak_free(NULL) does nothing. */
OAK_API void *oak_alloc(size_t size);
OAK_API void oak_free(void *ptr);

/* ---- introspection ------------------------------------------------------- */

typedef struct oak_process_info {
    oak_atom name;         /* registered name or 0 */
    size_t message_queue;  /* messages waiting (received, not yet taken) */
    size_t links;          /* number of links */
    size_t monitors;       /* monitors this process holds on others */
    size_t monitored_by;   /* monitors others hold on this process */
    bool trap_exit;
} oak_process_info;

/* Information about the calling process. Returns 0, or -EPERM outside a
 * process. */
OAK_API int oak_process_info_self(oak_process_info *info);

#ifdef __cplusplus
}
#endif
#endif
