/* file.c - see file.h. */
#include "core/file.h"

#include <fcntl.h>
#include <unistd.h>

ssize_t oak__read_text(const char *path, char *buf, size_t size)
{
    if (size == 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return n;
}
