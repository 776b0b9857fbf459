/* osstamp - the program that the os_restart figure restarts: it appends
 * CLOCK_MONOTONIC in nanoseconds as one line to ./stamps (in its working
 * directory, so that every supervisor runs it the same way, with no
 * arguments) and exits 1 at once. The clock is the machine's, so the lines
 * of successive runs can be subtracted. Plain C, no oak. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char line[32];
    int n = snprintf(line, sizeof line, "%lld\n",
                     (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    int fd = open("stamps", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, line, (size_t)n) != n)
        return 2;
    close(fd);
    return 1;
}
