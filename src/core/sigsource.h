/* sigsource.h - the signal source (oak/signal.h, docs/design/signals.md).
 *
 * The runtime's one hook: oak_run() calls oak__sigsource_init() on the
 * thread that becomes scheduler 0, after it saved that thread's signal
 * mask and before the other threads are started (they inherit the block),
 * and oak__sigsource_term() once the schedulers have stopped, before the
 * processes are torn down.
 */
#ifndef OAK_CORE_SIGSOURCE_H
#define OAK_CORE_SIGSOURCE_H

/* Block the six signals in the calling thread, make the record pipe and
 * start the signal thread. Returns 0 or a negative errno (nothing is left
 * behind then). */
int oak__sigsource_init(void);

/* Put back the program's dispositions, stop the signal thread, close the
 * pipe and forget every subscription. The caller restores its own mask. */
void oak__sigsource_term(void);

#endif
