/* oak/runtime.h - starting and stopping the runtime.
 *
 * oak_run() turns the calling thread into scheduler 0, starts the other
 * scheduler threads, runs a first process and returns when that process ends
 * or when oak_shutdown() is called. Before it returns, every process still
 * alive is killed (its cleanups run), and every stack, message, timer and
 * table is freed.
 */
#ifndef OAK_RUNTIME_H
#define OAK_RUNTIME_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*oak_entry)(void *arg);

typedef struct oak_config {
    /* Scheduler threads; 0 = one per online CPU. */
    unsigned schedulers;
    /* Default stack size of a process in bytes (rounded up to pages);
     * 0 = OAK_DEFAULT_STACK_SIZE. */
    size_t stack_size;
    /* Size of the process table; 0 = OAK_DEFAULT_MAX_PROCESSES. */
    size_t max_processes;
    /* How many execution stacks to make: every process runs on one, with a
     * 1 MiB PROT_NONE guard gap below it; processes beyond this count share
     * them, and an idle process keeps only the bytes of stack it used (see
     * docs/design/stacks.md). Each costs two kernel memory mappings, and
     * vm.max_map_count is 65,530 by default. 0 = a quarter of
     * vm.max_map_count (16,382 on a stock kernel). */
    size_t guarded_stacks;
    /* Messages a process may send (and other reductions it may spend)
     * before it is made to yield; 0 = 2000. */
    unsigned reductions;
    /* A process that keeps a scheduler this long without giving it up is
     * reported (log kind "long_schedule", once per such run); 0 = 1000 ms.
     * Idle schedulers watch the busy ones, so a runtime with one scheduler
     * reports nothing. */
    unsigned long_schedule_ms;
    /* A process that runs this long without giving up its scheduler is
     * preempted (sent to the back of the queue, as Erlang's reductions
     * do), and one that is sent an exit signal while it runs is preempted
     * within a few milliseconds to act on it. 0 = 10 ms; negative = never
     * (scheduling is then cooperative: processes give the scheduler up in
     * receive, yield and after their reductions only). Preemption happens
     * only while the process runs its own code: the program's, or a module
     * named in preempt_modules; see docs/design/preemption.md. */
    int time_slice_ms;
    /* Shared libraries whose code may be preempted as the program's own:
     * substrings of their paths, NULL-terminated; NULL = none. liboak,
     * libc and the dynamic loader never are. */
    const char *const *preempt_modules;
    /* Helper threads of the blocking-call pool (oak/blocking.h), started
     * as calls need them; 0 = 64. */
    unsigned blocking_threads;
    /* Frames of the crashed process's backtrace in a fault's crash report
     * (where=FUNC+OFF(MODULE+OFF)@FILE:LINE backtrace=...;...), at most
     * 32; 0 = 16, negative = none. MODULE+OFF is always there and works
     * with addr2line -e MODULE. With libdw.so.1 (elfutils) installed,
     * functions are named from the module's full symbol table (static
     * ones too) and @FILE:LINE comes from its DWARF line table when it was
     * built with -g; without it, functions come from the dynamic symbol
     * table (link with -rdynamic to name a program's own) and there is no
     * @FILE:LINE. See oak/log.h for every form. */
    int backtrace_depth;
} oak_config;

#define OAK_DEFAULT_STACK_SIZE ((size_t)64 * 1024)
#define OAK_DEFAULT_MAX_PROCESSES ((size_t)4 * 1024 * 1024)

/* Run the runtime with main(arg) as its first process.
 *
 * Returns 0 when the first process exits with reason `normal`, 1 when it
 * exits with any other reason, the status given to oak_shutdown() if that
 * was called first, or a negative error code if the runtime could not start
 * (-EINVAL for a bad config, -ENOMEM, -EAGAIN for a system limit, -EBUSY if
 * a runtime is already running in this program). cfg may be NULL.
 * Blocks the calling thread. Not to be called from inside a process. */
OAK_API int oak_run(oak_entry main, void *arg, const oak_config *cfg);

/* Ask the running runtime to stop: oak_run() returns `status` once every
 * scheduler has finished the process it is running. Safe from any thread,
 * from processes, and from a signal handler. Returns 0, or -ESRCH when no
 * runtime is running. */
OAK_API int oak_shutdown(int status);

/* Number of scheduler threads of the running runtime (0 if none). Any
 * thread. */
OAK_API unsigned oak_scheduler_count(void);

/* Number of live processes (a snapshot). Any thread. */
OAK_API size_t oak_process_count(void);

#ifdef __cplusplus
}
#endif
#endif
