/* ctx.h - context switching (see src/arch/switch.h for the contract). */
#ifndef OAK_CORE_CTX_H
#define OAK_CORE_CTX_H
#include "arch/switch.h"
#endif
