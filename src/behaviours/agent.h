/* behaviours/agent.h - internal header of agent.c. The agent is a
 * gen_server; it shares the behaviour atoms and helpers declared in
 * behaviours/gen_server.h and has no internal API of its own. */
#ifndef OAK_BEHAVIOURS_AGENT_H
#define OAK_BEHAVIOURS_AGENT_H

#include "behaviours/gen_server.h"
#include "oak/agent.h"

#endif
