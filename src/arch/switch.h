/* arch/switch.h - the contract of the context switch, one implementation per
 * CPU in src/arch/<cpu>.S.
 *
 * A context is a stack pointer. Switching saves the callee-saved registers
 * (and the floating-point control state) on the current stack, stores the
 * stack pointer in *from_sp, loads to_sp and restores the registers saved
 * there. Everything else is caller-saved by the C ABI, so it needs no saving.
 */
#ifndef OAK_ARCH_SWITCH_H
#define OAK_ARCH_SWITCH_H

#include <stddef.h>

/* Save the running context into *from_sp and resume the one at to_sp.
 * Returns when something switches back to *from_sp. */
void oak__ctx_switch(void **from_sp, void *to_sp);

/* The first frame of a new context: switching to it calls fn(arg) on the
 * stack whose highest address is top. fn must never return. Returns the
 * stack pointer to pass to oak__ctx_switch(). */
void *oak__ctx_make(void *top, void (*fn)(void *), void *arg);

#endif
