/* preempt.h - a process that never yields is preempted: at the end of its
 * time slice, and at once when a signal (an exit signal, a kill) waits for
 * it. See docs/design/preemption.md.
 *
 * A monitor thread samples the schedulers every couple of milliseconds. A
 * scheduler that has run the same process for a time slice, or whose
 * process has items waiting in its inbox, gets SIGURG. The handler runs on
 * the process's own stack (the kernel saves every register there); if the
 * interrupted pc is at a safe point - in the program's own code or a module
 * named in oak_config.preempt_modules, never in liboak, libc, the dynamic
 * loader or any other library - it switches the process out from inside the
 * handler, as if it had called oak_yield() there. When the process runs
 * again the handler returns and sigreturn restores every register. At any
 * other pc the handler returns at once and the next sample tries again.
 *
 * A preempted process resumes on the same scheduler thread (its code may
 * hold a thread-local's address in a register); it may move again at its
 * next receive or yield.
 */
#ifndef OAK_CORE_PREEMPT_H
#define OAK_CORE_PREEMPT_H

#include <stdbool.h>

#include "oak/types.h"

struct oak__runtime;
struct oak__sched;

/* Install the handler and start the monitor (unless preemption is off).
 * Returns 0 or a negative error. */
int oak__preempt_init(struct oak__runtime *rt);
/* Stop the monitor and remove the handler. */
void oak__preempt_term(struct oak__runtime *rt);
/* On each scheduler thread, before it runs processes. */
void oak__preempt_thread_init(struct oak__sched *s);

/* Above zero while the thread runs code that must not be preempted though
 * it is the user's: a log handler called under the log's lock, a match
 * function called from inside receive. */
extern _Thread_local int oak__preempt_off;

/* Is pc in code where a process may be preempted? */
bool oak__preempt_safe_pc(const void *pc);

/* An exit signal that may end process pid was just delivered: if another
 * scheduler is running pid now, signal that thread, so that the exit acts
 * at the next safe point instead of after the monitor's next sample (up
 * to 2 ms later). A thread in a blocking system call is left alone, as the
 * monitor leaves it. Does nothing with preemption off. */
void oak__preempt_kick(oak_pid pid);

#endif
