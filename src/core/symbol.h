/* symbol.h - naming code addresses in reports: the function and offset,
 * always the module and the offset in it (what addr2line -e MODULE takes,
 * PIE or not), and the source file and line where the module has DWARF
 * debug info and libdw (elfutils) can be opened at run time.
 *
 * The forms, from most to least known:
 *   func+0x1a(module+0x1234)@file.c:42
 *   func+0x1a(module+0x1234)      no line known (no debug info, no libdw)
 *   module+0x1234@file.c:42       a line but no symbol (rare)
 *   module+0x1234                 neither
 *   0xADDR                        in no module
 * file is the source file's base name; the symbol comes from the full
 * symbol table when libdw is there (static functions too), otherwise from
 * the dynamic one. docs/design/faults.md has the details. */
#ifndef OAK_CORE_SYMBOL_H
#define OAK_CORE_SYMBOL_H

#include <stddef.h>

/* Write the name of pc, the address of an instruction (a fault's pc), into
 * buf; returns its length. Any thread but not in a signal handler: the
 * first address of a module reads the module's file (see faults.md for
 * the cost), later ones take microseconds. Thread-safe. */
size_t oak__symbolize(const void *pc, char *buf, size_t size);

/* The same for a return address (a backtrace frame above the first): the
 * line is that of the call, pc - 1. */
size_t oak__symbolize_return(const void *pc, char *buf, size_t size);

/* Load what backtrace() needs once, outside any signal handler. */
void oak__symbol_init(void);

/* Forget what was read of the modules (their files are closed, the memory
 * freed): at the end of oak_run(), after the last report. libdw itself
 * stays loaded. */
void oak__symbol_term(void);

#endif
