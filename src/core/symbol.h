/* symbol.h - naming code addresses in reports: the function and offset
 * when the dynamic symbol table knows it, and always the module and the
 * offset in it (what addr2line -e MODULE takes, PIE or not). */
#ifndef OAK_CORE_SYMBOL_H
#define OAK_CORE_SYMBOL_H

#include <stddef.h>

/* Write "func+0x1a(module+0x1234)" or "module+0x1234" or "0xADDR" into
 * buf; returns its length. Not async-signal-safe (dladdr). */
size_t oak__symbolize(const void *pc, char *buf, size_t size);

/* Load what backtrace() needs once, outside any signal handler. */
void oak__symbol_init(void);

#endif
