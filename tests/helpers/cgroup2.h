/* helpers/cgroup2.h - what the OS-child tests share: whether this program
 * could use a cgroup v2 (as the runtime looks for one), to know whether
 * the checks that need one apply. */
#ifndef OAK_TEST_CGROUP2_H
#define OAK_TEST_CGROUP2_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Is there a cgroup v2 this program may write to (as the runtime looks
 * for one)? */
static inline bool writable_cgroup2(void)
{
    char line[1024], mnt[256] = "", cg[256] = "";
    FILE *f = fopen("/proc/self/mountinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        char a[64], b[64], c[64], root[256], point[256];
        if (strstr(line, " - cgroup2 ") &&
            sscanf(line, "%63s %63s %63s %255s %255s", a, b, c, root, point) == 5 &&
            !strcmp(root, "/"))
            snprintf(mnt, sizeof mnt, "%s", point);
    }
    if (f)
        fclose(f);
    f = fopen("/proc/self/cgroup", "r");
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
