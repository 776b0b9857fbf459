/* behaviours/supervisor.h - internal header of supervisor.c. The supervisor
 * is a gen_server; it shares the behaviour atoms and helpers declared in
 * behaviours/gen_server.h and has no internal API of its own yet. */
#ifndef OAK_BEHAVIOURS_SUPERVISOR_H
#define OAK_BEHAVIOURS_SUPERVISOR_H

#include "behaviours/gen_server.h"
#include "oak/supervisor.h"

#endif
