/* name.h - the registry of process names. */
#ifndef OAK_CORE_NAME_H
#define OAK_CORE_NAME_H
#include "core/proc.h"
void oak__names_init(void);
void oak__names_term(void);
/* Release p's name, if it has one (p is dying; pid was its pid). */
void oak__name_release(oak__proc *p, oak_pid pid);
#endif
