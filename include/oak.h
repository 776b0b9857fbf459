/* oak.h - Erlang/OTP's process model and supervision trees, in C.
 *
 * The umbrella header. See docs/guide.md for a walk from a first process to
 * a supervised application.
 */
#ifndef OAK_H
#define OAK_H

#include "oak/types.h"
#include "oak/version.h"
#include "oak/runtime.h"
#include "oak/process.h"
#include "oak/message.h"
#include "oak/log.h"
#include "oak/io.h"
#include "oak/blocking.h"
#include "oak/net.h"
#include "oak/tcp_server.h"
#include "oak/gen_server.h"
#include "oak/supervisor.h"
#include "oak/agent.h"
#include "oak/registry.h"
#include "oak/application.h"
#include "oak/term.h"
#include "oak/node.h"
#include "oak/osproc.h"
#include "oak/signal.h"

#endif
