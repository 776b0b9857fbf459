/* behaviours/application.h - internal header of application.c. The
 * application master is a plain process on the public API; it has no
 * internal API of its own. */
#ifndef OAK_BEHAVIOURS_APPLICATION_H
#define OAK_BEHAVIOURS_APPLICATION_H

#include "behaviours/gen_server.h"
#include "oak/application.h"

#endif
