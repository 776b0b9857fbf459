/* osproc/osproc.h - internal header of osproc.c. The module is written on
 * the public API (oak/osproc.h, oak/gen_server.h, oak/io.h) and the
 * reaper's contract (osproc/reaper.h); it has no internal API of its own
 * yet. */
#ifndef OAK_OSPROC_OSPROC_H
#define OAK_OSPROC_OSPROC_H

#include "oak/io.h"
#include "oak/log.h"
#include "oak/osproc.h"
#include "oak/signal.h"

#endif
