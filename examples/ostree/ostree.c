/* ostree - programs and an oak process in one supervision tree.
 *
 * A one_for_all supervisor runs three programs (`sleep 1000`) and one oak
 * worker. Once all run, the program prints one line
 *
 *     os_pids P1 P2 P3
 *
 * (the programs' OS pids, in start order) and flushes it at once. On
 * SIGTERM (or SIGINT) the application stops the tree in reverse start
 * order (the worker, then the third, second and first program, each sent
 * SIGTERM) and exits 0. Killed with SIGKILL, it leaves none of the
 * programs alive: each dies with the scheduler thread that started it
 * (PR_SET_PDEATHSIG), and the runtime's watchdog kills their process
 * groups (docs/design/osproc.md).
 */
#include <stdio.h>
#include <string.h>

#include <oak.h>

static const char *const sleep_argv[] = {"sleep", "1000", NULL};
static const oak_osproc_opts sleeper = {
    .path = "sleep",
    .argv = sleep_argv,
    .stdin_mode = OAK_STDIO_NULL,
    .stop_timeout_ms = 2000,
};

static int worker_init(oak_gen_server *gs, void *arg, void **state)
{
    (void)gs;
    (void)arg;
    *state = NULL;
    return OAK_GS_OK;
}

static const oak_gen_server_callbacks worker_cb = {.init = worker_init};

static int start_worker(const oak_child_args *args, oak_pid *pid, oak_reason *why)
{
    (void)args;
    oak_gen_server_opts o = {.flags = OAK_GEN_LINK};
    return oak_gen_server_start(&worker_cb, NULL, &o, pid, why);
}

static oak_child_spec children[4];
static oak_supervisor_def top = {
    .flags = {OAK_ONE_FOR_ALL, 3, 5, OAK_AUTO_SHUTDOWN_NEVER},
    .children = children,
    .count = 4,
};

/* The master's start callback: start the tree, then print the pids. */
static int start_tree(void *arg, oak_pid *sup, oak_reason *why)
{
    (void)arg;
    oak_osproc_child_spec(&children[0], oak_atom_from("sleep1"), &sleeper);
    oak_osproc_child_spec(&children[1], oak_atom_from("sleep2"), &sleeper);
    oak_osproc_child_spec(&children[2], oak_atom_from("sleep3"), &sleeper);
    children[3] = (oak_child_spec){.id = oak_atom_from("worker"), .start = start_worker};
    int rc = oak_supervisor_start(&top, OAK_GEN_LINK, sup, why);
    if (rc != 0)
        return rc;
    oak_child_info info[4];
    int n = oak_supervisor_which_children(*sup, info, 4);
    int os[3] = {0, 0, 0};
    /* which_children lists the last started first. */
    for (int i = 0; i < n && i < 4; i++)
        for (int k = 0; k < 3; k++)
            if (info[i].id == children[k].id)
                os[k] = oak_osproc_os_pid(info[i].pid);
    printf("os_pids %d %d %d\n", os[0], os[1], os[2]);
    fflush(stdout);
    return 0;
}

int main(void)
{
    oak_application app = {.name = "ostree", .start = start_tree};
    int rc = oak_application_run(&app);
    return rc < 0 ? 111 : rc;
}
