/* stack - a Stack server whose contents survive its crashes, run as an
 * application.
 *
 *   top (one_for_one)
 *    +-- names      a registry (unique keys): "stash" and "stack" are found
 *    |              through it, whatever their current pids
 *    +-- stash      holds the stack's contents while the server restarts
 *    +-- sub (one_for_one)
 *    |    +-- stack    push (cast), pop (call); saves its contents to the
 *    |                 stash in terminate, reads them back in init. A pop on
 *    |                 an empty stack crashes it ({badmatch,[]}).
 *    +-- console    reads commands from stdin (a reader thread sends it
 *                   the lines) and prints the results
 *
 * Commands, one per line: push ITEM, pop, crash, tree, quit. At the end of
 * the input, on quit, or on SIGTERM / SIGINT, the application stops its tree
 * in reverse start order and the program exits 0.
 */
#include "oak.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static oak_atom A(const char *s) { return oak_atom_from(s); }

#define NAMES "stack_names"

/* ---- the contents: items packed as NUL-terminated strings, top last ---- */

typedef struct items {
    char *bytes; /* oak_alloc'd */
    size_t size;
} items;

static void items_set(items *it, const void *bytes, size_t size)
{
    char *p = size ? oak_alloc(size) : NULL;
    if (size)
        memcpy(p, bytes, size);
    oak_free(it->bytes);
    it->bytes = p;
    it->size = size;
}

/* The contents as a list, top first: [c,b,a]. */
static const char *items_text(const items *it, char *buf, size_t size)
{
    size_t o = (size_t)snprintf(buf, size, "[");
    size_t end = it->size;
    bool first = true;
    while (end > 0 && o < size) {
        size_t start = end - 1; /* at the NUL of the last item */
        while (start > 0 && it->bytes[start - 1] != '\0')
            start--;
        o += (size_t)snprintf(buf + o, size - o, "%s%s", first ? "" : ",",
                              it->bytes + start);
        first = false;
        end = start;
    }
    if (o < size)
        snprintf(buf + o, size - o, "]");
    return buf;
}

static oak_pid find(const char *name)
{
    return oak_registry_whereis(A(NAMES), name, strlen(name));
}

/* ---- the stash --------------------------------------------------------------------- */

static int stash_init(oak_gen_server *gs, void *arg, void **state)
{
    items *it = oak_alloc(sizeof *it);
    memset(it, 0, sizeof *it);
    *state = it;
    return OAK_GS_OK;
}

static int stash_call(oak_gen_server *gs, void *state, const oak_msg *req,
                      const oak_gen_from *from)
{
    items *it = state; /* get */
    oak_gen_server_set_reply(gs, A("items"), it->bytes, it->size);
    return OAK_GS_REPLY;
}

static int stash_cast(oak_gen_server *gs, void *state, const oak_msg *req)
{
    items_set(state, req->data, req->size); /* save */
    return OAK_GS_OK;
}

static const oak_gen_server_callbacks stash_cb = {
    .init = stash_init, .handle_call = stash_call, .handle_cast = stash_cast};

/* ---- the stack server ------------------------------------------------------------------ */

static int stack_init(oak_gen_server *gs, void *arg, void **state)
{
    oak_trap_exit(true); /* so that terminate saves the items on shutdown too */
    items *it = oak_alloc(sizeof *it);
    memset(it, 0, sizeof *it);
    *state = it;
    oak_msg *m = NULL;
    oak_reason why;
    if (oak_gen_server_call(find("stash"), A("get"), NULL, 0, &m,
                            OAK_GEN_CALL_TIMEOUT, &why) < 0) {
        oak_gen_server_set_stop(gs, why.atom, oak_reason_detail(&why));
        return OAK_GS_STOP;
    }
    items_set(it, m->data, m->size);
    oak_msg_free(m);
    char b[512];
    printf("stack started with %s\n", items_text(it, b, sizeof b));
    return OAK_GS_OK;
}

static int stack_call(oak_gen_server *gs, void *state, const oak_msg *req,
                      const oak_gen_from *from)
{
    items *it = state; /* pop */
    if (it->size == 0)
        oak_gen_server_exit(gs, A("badmatch"), "[]");
    size_t start = it->size - 1;
    while (start > 0 && it->bytes[start - 1] != '\0')
        start--;
    oak_gen_server_set_reply(gs, A("item"), it->bytes + start, it->size - start);
    it->size = start;
    return OAK_GS_REPLY;
}

static int stack_cast(oak_gen_server *gs, void *state, const oak_msg *req)
{
    items *it = state;
    if (req->tag == A("crash"))
        oak_gen_server_exit(gs, A("crashed"), NULL);
    /* push: the item with its NUL */
    char *p = oak_alloc(it->size + req->size);
    if (it->size)
        memcpy(p, it->bytes, it->size);
    memcpy(p + it->size, req->data, req->size);
    oak_free(it->bytes);
    it->bytes = p;
    it->size += req->size;
    return OAK_GS_OK;
}

static void stack_terminate(oak_gen_server *gs, void *state, const oak_reason *r)
{
    items *it = state;
    char b[512], why[600];
    oak_reason_str(r, why, sizeof why);
    printf("stack stopping (%s), saving %s\n", why, items_text(it, b, sizeof b));
    oak_gen_server_cast(find("stash"), A("save"), it->bytes, it->size);
}

static const oak_gen_server_callbacks stack_cb = {
    .init = stack_init, .handle_call = stack_call, .handle_cast = stack_cast,
    .terminate = stack_terminate};

/* Both servers are named by a via name that the child spec carries. */
static int start_named(const oak_child_args *a, oak_pid *pid, oak_reason *why)
{
    const oak_via *via = a->arg;
    bool is_stash = via->key_size == 5 && memcmp(via->key, "stash", 5) == 0;
    oak_gen_server_opts o = {.flags = OAK_GEN_LINK, .via = via};
    return oak_gen_server_start(is_stash ? &stash_cb : &stack_cb, NULL, &o,
                                pid, why);
}

/* ---- the console ------------------------------------------------------------------------ */

/* stdin is read by a plain thread (a blocking read would hold a scheduler);
 * it sends each line to the console and asks the application to stop at
 * the end of the input. */
static void *reader(void *arg)
{
    char line[256];
    while (fgets(line, sizeof line, stdin))
        oak_send_name(A("console"), A("line"), line, strlen(line) + 1);
    oak_send_name(A("console"), A("eof"), NULL, 0);
    return NULL;
}

static void show_children(const char *label, oak_pid sup)
{
    oak_child_info v[8];
    int n = oak_supervisor_which_children(sup, v, 8);
    printf("%s:", label);
    for (int i = n < 8 ? n : 8; i-- > 0;) /* in start order */
        printf(" %s(%s)", oak_atom_name(v[i].id),
               v[i].status == OAK_CHILD_RUNNING ? "running" : "not running");
    printf("\n");
}

/* After a crash, wait until the supervisor has the stack server running
 * again (its start has returned, so its init has run). */
static void wait_restarted(oak_pid old)
{
    for (int i = 0; i < 2500; i++) {
        oak_child_info c;
        if (oak_supervisor_which_children(oak_whereis(A("stack_sub")), &c, 1) == 1 &&
            c.status == OAK_CHILD_RUNNING && c.pid != old)
            return;
        oak_sleep(2);
    }
}

static void command(const char *line)
{
    char cmd[32] = "", arg[200] = "";
    if (sscanf(line, "%31s %199s", cmd, arg) < 1)
        return;
    if (!strcmp(cmd, "push") && arg[0]) {
        printf("push %s\n", arg);
        oak_gen_server_cast(find("stack"), A("push"), arg, strlen(arg) + 1);
    } else if (!strcmp(cmd, "pop")) {
        oak_msg *m = NULL;
        oak_reason why;
        oak_pid stack = find("stack");
        oak_ref mon = oak_monitor(stack);
        int r = oak_gen_server_call(stack, A("pop"), NULL, 0, &m,
                                    OAK_GEN_CALL_TIMEOUT, &why);
        if (r == 0) {
            printf("pop -> %s\n", (const char *)m->data);
            oak_msg_free(m);
            oak_demonitor(mon, OAK_DEMONITOR_FLUSH);
        } else {
            /* The server crashed; say so once its supervisor has it back. */
            oak_receive_ref(&m, mon, OAK_GEN_CALL_TIMEOUT);
            oak_msg_free(m);
            wait_restarted(stack);
            char b[600];
            oak_reason_str(&why, b, sizeof b);
            printf("pop -> {exit,%s}\n", b);
        }
    } else if (!strcmp(cmd, "crash")) {
        printf("crash\n");
        oak_pid stack = find("stack");
        oak_ref mon = oak_monitor(stack);
        oak_gen_server_cast(stack, A("crash"), NULL, 0);
        oak_msg *m = NULL;
        if (oak_receive_ref(&m, mon, OAK_GEN_CALL_TIMEOUT) == 0)
            oak_msg_free(m);
        wait_restarted(stack);
    } else if (!strcmp(cmd, "tree")) {
        show_children("top", oak_whereis(A("stack_top")));
        show_children("sub", oak_whereis(A("stack_sub")));
    } else if (!strcmp(cmd, "quit")) {
        oak_application_stop();
        return;
    } else {
        printf("commands: push ITEM, pop, crash, tree, quit\n");
    }
}

static int console_init(oak_gen_server *gs, void *arg, void **state)
{
    static atomic_bool reading;
    if (!atomic_exchange(&reading, true)) { /* one reader for stdin */
        pthread_t th;
        pthread_create(&th, NULL, reader, NULL);
        pthread_detach(th);
    }
    return OAK_GS_OK;
}

static int console_info(oak_gen_server *gs, void *state, const oak_msg *m)
{
    if (m->tag == A("line"))
        command(m->data);
    else if (m->tag == A("eof"))
        oak_application_stop();
    return OAK_GS_OK;
}

static const oak_gen_server_callbacks console_cb = {
    .init = console_init, .handle_info = console_info};

static int console_start(const oak_child_args *a, oak_pid *pid, oak_reason *why)
{
    oak_gen_server_opts o = {.flags = OAK_GEN_LINK, .name = A("console")};
    return oak_gen_server_start(&console_cb, NULL, &o, pid, why);
}

/* ---- the tree and the application ------------------------------------------------------- */

static oak_registry_def names_def;
static oak_via stash_via, stack_via;
static oak_child_spec sub_children[1];
static oak_supervisor_def sub_def;
static oak_child_spec top_children[4];
static oak_supervisor_def top_def;

static void build_tree(void)
{
    names_def = (oak_registry_def){A(NAMES), OAK_REGISTRY_UNIQUE};
    oak_registry_via(&stash_via, A(NAMES), "stash", 5);
    oak_registry_via(&stack_via, A(NAMES), "stack", 5);
    sub_children[0] = (oak_child_spec){.id = A("stack"), .start = start_named,
                                       .arg = &stack_via};
    sub_def = (oak_supervisor_def){.name = A("stack_sub"),
                                   .flags = {OAK_ONE_FOR_ONE, 3, 5},
                                   .children = sub_children, .count = 1};
    top_children[0] = (oak_child_spec){.id = A("names"), .start = oak_registry_start_fn,
                                       .arg = &names_def};
    top_children[1] = (oak_child_spec){.id = A("stash"), .start = start_named,
                                       .arg = &stash_via};
    top_children[2] = (oak_child_spec){.id = A("sub"), .start = oak_supervisor_start_fn,
                                       .arg = &sub_def, .type = OAK_SUPERVISOR};
    top_children[3] = (oak_child_spec){.id = A("console"), .start = console_start};
    top_def = (oak_supervisor_def){.name = A("stack_top"),
                                   .flags = {OAK_ONE_FOR_ONE, 3, 5},
                                   .children = top_children, .count = 4};
}

static void app_stop(void *arg) { printf("stopped\n"); }

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--help")) {
        printf("usage: stack < commands\n"
               "commands: push ITEM, pop, crash, tree, quit\n");
        return 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    build_tree();
    oak_application app = {.name = "stack", .supervisor = &top_def,
                           .stop = app_stop};
    int r = oak_application_run(&app);
    return r < 0 ? 111 : r;
}
