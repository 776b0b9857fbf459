/* blocking.h - the blocking-call pool's start and stop (oak/blocking.h is
 * the API). oak_run() starts it before the first process and stops it after
 * the last one is gone: a helper still inside a call then finishes it
 * alone. */
#ifndef OAK_CORE_BLOCKING_H
#define OAK_CORE_BLOCKING_H

#include "oak/blocking.h"

int oak__blocking_init(unsigned max_threads);
void oak__blocking_term(void);

#endif
