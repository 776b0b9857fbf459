/* osproc_tree - an oak program that runs each argument as a program
 * (`/bin/sh -c ARG`) under one one_for_all supervisor with an oak worker,
 * prints "os_pids P..." once all run, and waits to be killed. The tree
 * tests kill it with SIGKILL and look for survivors. It ends by itself
 * after 30 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <oak.h>

#define MAX 8

static const char *argvs[MAX][4];
static oak_osproc_opts opts[MAX];
static oak_child_spec specs[MAX + 1];
static int count;

static int worker_init(oak_gen_server *gs, void *arg, void **state)
{
    (void)gs;
    (void)arg;
    *state = NULL;
    return OAK_GS_OK;
}
static const oak_gen_server_callbacks worker_cb = {.init = worker_init};
static int start_worker(const oak_child_args *a, oak_pid *pid, oak_reason *why)
{
    (void)a;
    oak_gen_server_opts o = {.flags = OAK_GEN_LINK};
    return oak_gen_server_start(&worker_cb, NULL, &o, pid, why);
}

static void main_proc(void *arg)
{
    (void)arg;
    static oak_supervisor_def def;
    def = (oak_supervisor_def){.flags = {OAK_ONE_FOR_ALL, 3, 5, OAK_AUTO_SHUTDOWN_NEVER},
                               .children = specs, .count = (size_t)count + 1};
    oak_pid sup;
    oak_reason why;
    if (oak_supervisor_start(&def, OAK_GEN_LINK, &sup, &why) != 0) {
        fprintf(stderr, "osproc_tree: fatal: unable to start the tree\n");
        oak_shutdown(111);
        return;
    }
    oak_child_info info[MAX + 1];
    int n = oak_supervisor_which_children(sup, info, MAX + 1);
    printf("os_pids");
    for (int k = 0; k < count; k++)
        for (int i = 0; i < n; i++)
            if (info[i].id == specs[k].id)
                printf(" %d", oak_osproc_os_pid(info[i].pid));
    printf("\n");
    fflush(stdout);
    oak_sleep(30000);
    oak_shutdown(0);
}

int main(int argc, char **argv)
{
    count = argc - 1 < MAX ? argc - 1 : MAX;
    for (int i = 0; i < count; i++) {
        argvs[i][0] = "/bin/sh";
        argvs[i][1] = "-c";
        argvs[i][2] = argv[i + 1];
        argvs[i][3] = NULL;
        opts[i] = (oak_osproc_opts){.path = "/bin/sh", .argv = argvs[i],
                                    .stdin_mode = OAK_STDIO_NULL};
        char id[16];
        snprintf(id, sizeof id, "p%d", i);
        oak_osproc_child_spec(&specs[i], oak_atom_from(id), &opts[i]);
    }
    specs[count] = (oak_child_spec){.id = oak_atom_from("worker"), .start = start_worker};
    return oak_run(main_proc, NULL, NULL) == 0 ? 0 : 111;
}
