/* fault.h - synchronous faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL) raised by
 * a running process end that process only.
 *
 * The handler runs on the scheduler thread's alternate signal stack. If the
 * thread is running a process, it records the fault in the process and
 * rewrites the interrupted context so that returning from the handler lands
 * in oak__fault_landing() on a small per-scheduler stack; the landing
 * switches to the scheduler, which disposes of the process. Returning
 * normally from the handler (rather than jumping out of it) lets the kernel
 * restore the signal mask. Outside process context the previous action is
 * restored and the fault happens again, with its default effect.
 */
#ifndef OAK_CORE_FAULT_H
#define OAK_CORE_FAULT_H

#include "core/sched.h"

#define OAK__ALTSTACK_SIZE (64 * 1024)
#define OAK__LANDING_SIZE (64 * 1024)

int oak__fault_install(void);
void oak__fault_uninstall(void);
/* Per scheduler thread: set up / tear down the signal stack. */
int oak__fault_thread_init(oak__sched *s);
void oak__fault_thread_term(oak__sched *s);
/* The reason for fault f of process p (p's stack tells an overflow). */
void oak__fault_reason(oak__proc *p, const oak__fault *f, oak_atom *reason, char *detail,
                       size_t size);

/* Set while the scheduler thread runs a process's code (read by the
 * handler on the same thread). */
extern _Thread_local volatile int oak__in_process;

#endif
