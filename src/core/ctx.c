/* ctx.c - the first frame of a new context, for the switch in src/arch. */
#include "core/ctx.h"

#include <stdint.h>

void oak__ctx_start(void);

void *oak__ctx_make(void *top, void (*fn)(void *), void *arg)
{
    uintptr_t t = (uintptr_t)top & ~(uintptr_t)15;
#if defined(__x86_64__)
    /* Eight words, matching the layout in x86_64.S; after the final `ret`
     * rsp = sp + 64 must be 16-byte aligned for the call in ctx_start. */
    uint64_t *sp = (uint64_t *)(t - 80);
    sp[0] = 0x1F80u | ((uint64_t)0x037Fu << 32); /* MXCSR, x87 CW: defaults */
    sp[1] = 0;                                    /* r15 */
    sp[2] = 0;                                    /* r14 */
    sp[3] = 0;                                    /* r13 */
    sp[4] = (uint64_t)(uintptr_t)fn;              /* r12 */
    sp[5] = (uint64_t)(uintptr_t)arg;             /* rbx */
    sp[6] = 0;                                    /* rbp */
    sp[7] = (uint64_t)(uintptr_t)oak__ctx_start;  /* return address */
    sp[8] = 0;
    sp[9] = 0;
    return sp;
#elif defined(__aarch64__)
    uint64_t *sp = (uint64_t *)(t - 160);
    for (int i = 0; i < 20; i++)
        sp[i] = 0;
    sp[0] = (uint64_t)(uintptr_t)fn;              /* x19 */
    sp[1] = (uint64_t)(uintptr_t)arg;             /* x20 */
    sp[11] = (uint64_t)(uintptr_t)oak__ctx_start; /* x30 */
    return sp;
#else
#error "oak: no context switch for this CPU"
#endif
}
