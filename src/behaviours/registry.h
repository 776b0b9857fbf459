/* behaviours/registry.h - internal header of registry.c. The registry is a
 * gen_server; it shares the behaviour atoms and helpers declared in
 * behaviours/gen_server.h and has no internal API of its own. */
#ifndef OAK_BEHAVIOURS_REGISTRY_H
#define OAK_BEHAVIOURS_REGISTRY_H

#include "behaviours/gen_server.h"
#include "oak/registry.h"

#endif
