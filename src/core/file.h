/* file.h - reading the small text files the runtime looks at (/proc, cgroup
 * control files). */
#ifndef OAK_CORE_FILE_H
#define OAK_CORE_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Read at most size - 1 bytes of path into buf, NUL-terminated (one read:
 * enough for the kernel's one-page files). Returns the length, or -1 when
 * the file cannot be opened or gave nothing. Not in a signal handler. */
ssize_t oak__read_text(const char *path, char *buf, size_t size);

#endif
