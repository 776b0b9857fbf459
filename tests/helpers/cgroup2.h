/* helpers/cgroup2.h - what the OS-child tests share: whether this program
 * could use a cgroup v2 (as the runtime looks for one), to know whether
 * the checks that need one apply. */
#ifndef OAK_TEST_CGROUP2_H
#define OAK_TEST_CGROUP2_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The cgroup2 mount point (whose root is /) in mnt, or "". */
static inline void cgroup2_mount(char *mnt, size_t size)
{
    char line[1024];
    mnt[0] = 0;
    FILE *f = fopen("/proc/self/mountinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        char a[64], b[64], c[64], root[256], point[256];
        if (strstr(line, " - cgroup2 ") &&
            sscanf(line, "%63s %63s %63s %255s %255s", a, b, c, root, point) == 5 &&
            !strcmp(root, "/"))
            snprintf(mnt, size, "%s", point);
    }
    if (f)
        fclose(f);
}

/* The path of file in cgroup cg (as /proc/PID/cgroup names it). */
static inline bool cgroup2_file(const char *cg, const char *file, char *buf, size_t size)
{
    char mnt[256];
    cgroup2_mount(mnt, sizeof mnt);
    int n = snprintf(buf, size, "%s%s/%s", mnt, cg, file);
    return mnt[0] && n > 0 && (size_t)n < size;
}

/* Is there a cgroup v2 this program may write to (as the runtime looks
 * for one)? */
static inline bool writable_cgroup2(void)
{
    char line[1024], mnt[256] = "", cg[256] = "";
    cgroup2_mount(mnt, sizeof mnt);
    FILE *f = fopen("/proc/self/cgroup", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "0::", 3)) {
            line[strcspn(line, "\n")] = 0;
            snprintf(cg, sizeof cg, "%.200s", line + 3);
        }
    if (f)
        fclose(f);
    char dir[600];
    snprintf(dir, sizeof dir, "%s%s", mnt, strcmp(cg, "/") ? cg : "");
    return mnt[0] && cg[0] && access(dir, W_OK) == 0;
}

#endif
