/* osproc_helper - a small program the OS-child tests run. Every mode ends
 * within 30 s whatever happens (alarm), so no test can leave it behind for
 * long.
 *
 *   exit N            exit with status N
 *   signal NAME       die by SIGNAME (segv, abrt, kill, term)
 *   ignore-term       ignore SIGTERM, print "ready", sleep
 *   grandchild FILE   fork a child that writes its pid to FILE and sleeps;
 *                     print "ready" once FILE is written, then sleep
 *   flood N LEN       print N lines of LEN 'x' each, exit 0
 *   long LEN          print one line of LEN 'y' (no newline), exit 0
 *   fds               print "fds A B C ..." (the open descriptors), exit 0
 *   cat               copy stdin to stdout until end of file, exit 0
 *   info              print cwd=, umask=, nofile=, env OAK_T= lines, exit 0
 *   sleep             sleep (until stopped or the alarm)
 *   ready-fd MS FD    after MS ms write a newline to descriptor FD, sleep
 *   close-fd FD       close descriptor FD without a word, sleep
 *   ready-socket MS   after MS ms send READY=1 to $NOTIFY_SOCKET, sleep
 *   ids               print "uid=U gid=G groups=N", exit 0
 */
#include <dirent.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <unistd.h>

static void nap(void)
{
    for (;;)
        pause();
}

int main(int argc, char **argv)
{
    alarm(30);
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "exit") && argc > 2)
        return atoi(argv[2]);
    if (!strcmp(mode, "signal") && argc > 2) {
        int s = !strcmp(argv[2], "segv") ? SIGSEGV
              : !strcmp(argv[2], "abrt") ? SIGABRT
              : !strcmp(argv[2], "kill") ? SIGKILL : SIGTERM;
        signal(s, SIG_DFL);
        raise(s);
        return 99;
    }
    if (!strcmp(mode, "ignore-term")) {
        signal(SIGTERM, SIG_IGN);
        printf("ready\n");
        fflush(stdout);
        nap();
    }
    if (!strcmp(mode, "grandchild") && argc > 2) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(30);
            char tmp[4096];
            snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
            FILE *f = fopen(tmp, "w");
            if (f) {
                fprintf(f, "%d\n", (int)getpid());
                fclose(f);
                rename(tmp, argv[2]);
            }
            nap();
        }
        struct stat st;
        while (stat(argv[2], &st) != 0)
            usleep(1000);
        printf("ready\n");
        fflush(stdout);
        nap();
    }
    if (!strcmp(mode, "flood") && argc > 3) {
        long n = atol(argv[2]), len = atol(argv[3]);
        char *line = malloc((size_t)len + 2);
        memset(line, 'x', (size_t)len);
        line[len] = '\n';
        line[len + 1] = 0;
        for (long i = 0; i < n; i++)
            fputs(line, stdout);
        free(line);
        return 0;
    }
    if (!strcmp(mode, "long") && argc > 2) {
        long len = atol(argv[2]);
        for (long i = 0; i < len; i++)
            putchar('y');
        return 0;
    }
    if (!strcmp(mode, "fds")) {
        DIR *d = opendir("/proc/self/fd");
        if (!d)
            return 2;
        printf("fds");
        struct dirent *e;
        int all[256], n = 0;
        while ((e = readdir(d)) && n < 256)
            if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
                all[n++] = atoi(e->d_name);
        closedir(d);
        for (int i = 0; i < n; i++) /* in order */
            for (int j = i + 1; j < n; j++)
                if (all[j] < all[i]) {
                    int t = all[i];
                    all[i] = all[j];
                    all[j] = t;
                }
        for (int i = 0; i < n; i++)
            printf(" %d", all[i]);
        printf("\n");
        return 0;
    }
    if (!strcmp(mode, "cat")) {
        int c;
        while ((c = getchar()) != EOF) {
            putchar(c);
            if (c == '\n')
                fflush(stdout);
        }
        return 0;
    }
    if (!strcmp(mode, "info")) {
        char cwd[4096];
        mode_t um = umask(0);
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        const char *t = getenv("OAK_T");
        printf("cwd=%s\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
        printf("umask=%03o\n", (unsigned)um);
        printf("nofile=%llu\n", (unsigned long long)rl.rlim_cur);
        printf("env=%s\n", t ? t : "(unset)");
        printf("pgrp=%d\n", getpgrp() == getpid());
        return 0;
    }
    if (!strcmp(mode, "sleep"))
        nap();
    if (!strcmp(mode, "ids")) {
        printf("uid=%d gid=%d groups=%d\n", (int)getuid(), (int)getgid(), getgroups(0, NULL));
        return 0;
    }
    if (!strcmp(mode, "ready-fd") && argc > 3) {
        usleep((useconds_t)atoi(argv[2]) * 1000);
        if (write(atoi(argv[3]), "\n", 1) != 1)
            return 3;
        nap();
    }
    if (!strcmp(mode, "close-fd") && argc > 2) {
        close(atoi(argv[2]));
        nap();
    }
    if (!strcmp(mode, "ready-socket") && argc > 2) {
        usleep((useconds_t)atoi(argv[2]) * 1000);
        const char *path = getenv("NOTIFY_SOCKET");
        if (!path || !*path)
            return 4;
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        size_t len = strlen(path);
        if (len >= sizeof a.sun_path)
            return 5;
        memcpy(a.sun_path, path, len);
        if (a.sun_path[0] == '@')
            a.sun_path[0] = 0;
        int s = socket(AF_UNIX, SOCK_DGRAM, 0);
        const char msg[] = "STATUS=starting\nREADY=1";
        if (sendto(s, msg, sizeof msg - 1, 0, (struct sockaddr *)&a,
                   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
            return 6;
        nap();
    }
    fprintf(stderr, "osproc_helper: unknown mode %s\n", mode);
    return 100;
}
