/* symbol.c - see symbol.h. */
#include "core/symbol.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void oak__symbol_init(void)
{
    /* The first backtrace() loads the unwinder (a dlopen, which takes
     * locks and allocates): done here, so that the fault handler's is
     * only a walk. */
    void *frames[2];
    backtrace(frames, 2);
}

size_t oak__symbolize(const void *pc, char *buf, size_t size)
{
    Dl_info info;
    int n;
    if (pc && dladdr(pc, &info) && info.dli_fname) {
        const char *mod = strrchr(info.dli_fname, '/');
        mod = mod ? mod + 1 : info.dli_fname;
        uintptr_t off = (uintptr_t)pc - (uintptr_t)info.dli_fbase;
        if (info.dli_sname && info.dli_saddr)
            n = snprintf(buf, size, "%s+%#lx(%s+%#lx)", info.dli_sname,
                         (unsigned long)((uintptr_t)pc - (uintptr_t)info.dli_saddr), mod,
                         (unsigned long)off);
        else
            n = snprintf(buf, size, "%s+%#lx", mod, (unsigned long)off);
    } else {
        n = snprintf(buf, size, "%p", pc);
    }
    if (n < 0)
        n = 0;
    return (size_t)n < size ? (size_t)n : size ? size - 1 : 0;
}
