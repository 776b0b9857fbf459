/* ctx.h - context switching (see src/arch/switch.h for the contract), with
 * the notes AddressSanitizer and ThreadSanitizer need to follow a switch of
 * stacks. Every switch in the runtime goes through oak__switch(). */
#ifndef OAK_CORE_CTX_H
#define OAK_CORE_CTX_H

#include "arch/switch.h"
#include "core/sanitizer.h"

/* Save the running context in *save and resume the one at to_sp, whose
 * TSan fiber is tsan_fiber and whose stack is [bottom, bottom + size).
 * fake_save is where ASan keeps the leaving context's fake stack, NULL when
 * the leaving context never runs again. The resumed side calls
 * __sanitizer_finish_switch_fiber() (ASan builds). */
static inline void oak__switch(void **save, void *to_sp, void *tsan_fiber, void **fake_save,
                               const void *bottom, size_t size)
{
#ifdef OAK_TSAN
    __tsan_switch_to_fiber(tsan_fiber, 0);
#else
    (void)tsan_fiber;
#endif
#ifdef OAK_ASAN
    __sanitizer_start_switch_fiber(fake_save, bottom, size);
#else
    (void)fake_save;
    (void)bottom;
    (void)size;
#endif
    oak__ctx_switch(save, to_sp);
}

#endif
