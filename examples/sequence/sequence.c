/* sequence - the seed example: a Sequence server that outlives its crashes
 * because its value is kept by a Stash.
 *
 *   top (one_for_one)
 *    +-- stash        holds the last value (starts at 123)
 *    +-- sub (one_for_one)
 *         +-- sequence   next_number (call), increment_number (cast),
 *                        set_number (call); saves its value to the stash
 *                        in terminate, reads it back in init
 *
 * The program is an application (oak/application.h): the tree runs until
 * the input ends, `quit`, SIGTERM or SIGINT, and is then stopped in order.
 * Commands on stdin, one per line: next, increment N, set N, crash, tree,
 * quit. A console process, outside the tree, runs them; results print in
 * the oracle's vocabulary; supervisor reports go to stderr. A prompt is
 * shown when stdin is a terminal.
 */
#include "oak.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static oak_atom A(const char *s) { return oak_atom_from(s); }

/* ---- the Stash ------------------------------------------------------------ */

static int stash_init(oak_gen_server *gs, void *arg, void **state)
{
    long *v = oak_alloc(sizeof *v);
    *v = *(long *)arg;
    *state = v;
    return OAK_GS_OK;
}

static int stash_call(oak_gen_server *gs, void *state, const oak_msg *req,
                      const oak_gen_from *from)
{
    oak_gen_server_set_reply(gs, A("value"), state, sizeof(long));
    return OAK_GS_REPLY; /* get_value */
}

static int stash_cast(oak_gen_server *gs, void *state, const oak_msg *req)
{
    if (req->tag == A("save_value") && req->size == sizeof(long))
        memcpy(state, req->data, sizeof(long));
    return OAK_GS_OK;
}

static const oak_gen_server_callbacks stash_cb = {
    .init = stash_init, .handle_call = stash_call, .handle_cast = stash_cast};

static int stash_start(const oak_child_args *a, oak_pid *pid, oak_reason *why)
{
    oak_gen_server_opts o = {.flags = OAK_GEN_LINK, .name = A("stash"),
                             .arg_size = sizeof(long)};
    return oak_gen_server_start(&stash_cb, (void *)a->arg, &o, pid, why);
}

/* ---- the Sequence server ---------------------------------------------------------- */

static int seq_init(oak_gen_server *gs, void *arg, void **state)
{
    long *v = oak_alloc(sizeof *v);
    oak_msg *m = NULL;
    oak_reason why;
    if (oak_gen_server_call(oak_whereis(A("stash")), A("get_value"), NULL, 0,
                            &m, OAK_GEN_CALL_TIMEOUT, &why) < 0) {
        oak_gen_server_set_stop(gs, why.atom, oak_reason_detail(&why));
        return OAK_GS_STOP;
    }
    memcpy(v, m->data, sizeof *v);
    oak_msg_free(m);
    *state = v;
    return OAK_GS_OK;
}

static int seq_call(oak_gen_server *gs, void *state, const oak_msg *req,
                    const oak_gen_from *from)
{
    long *v = state;
    if (req->tag == A("next_number")) {
        oak_gen_server_set_reply(gs, A("value"), v, sizeof *v);
        (*v)++;
        return OAK_GS_REPLY;
    }
    if (req->tag == A("set_number") && req->size == sizeof(long)) {
        memcpy(v, req->data, sizeof *v);
        return OAK_GS_REPLY; /* ok */
    }
    /* The bad request: as Elixir's arithmetic on a non-number. */
    oak_gen_server_exit(gs, A("badarith"), "_");
}

static int seq_cast(oak_gen_server *gs, void *state, const oak_msg *req)
{
    long *v = state;
    if (req->tag == A("increment_number") && req->size == sizeof(long)) {
        long d;
        memcpy(&d, req->data, sizeof d);
        *v += d;
        return OAK_GS_OK;
    }
    oak_gen_server_exit(gs, A("badarith"), "_");
}

static void seq_terminate(oak_gen_server *gs, void *state, const oak_reason *r)
{
    oak_gen_server_cast(oak_whereis(A("stash")), A("save_value"), state,
                        sizeof(long));
}

static const oak_gen_server_callbacks seq_cb = {
    .init = seq_init, .handle_call = seq_call, .handle_cast = seq_cast,
    .terminate = seq_terminate};

static int seq_start(const oak_child_args *a, oak_pid *pid, oak_reason *why)
{
    oak_gen_server_opts o = {.flags = OAK_GEN_LINK, .name = A("sequence")};
    return oak_gen_server_start(&seq_cb, NULL, &o, pid, why);
}

/* ---- the tree ------------------------------------------------------------------------------- */

static const long initial = 123;
static oak_child_spec sub_children[1];
static oak_supervisor_def sub_def;
static oak_child_spec top_children[2];
static oak_supervisor_def top_def;

static void build_tree(void)
{
    sub_children[0] = (oak_child_spec){.id = A("sequence"), .start = seq_start};
    sub_def = (oak_supervisor_def){.name = A("sub"),
                                   .flags = OAK_SUP_FLAGS_DEFAULT,
                                   .children = sub_children, .count = 1};
    sub_def.flags.intensity = 3;
    top_children[0] = (oak_child_spec){.id = A("stash"), .start = stash_start,
                                       .arg = &initial, .arg_size = sizeof initial};
    top_children[1] = (oak_child_spec){.id = A("sub"), .start = oak_supervisor_start_fn,
                                       .arg = &sub_def, .type = OAK_SUPERVISOR};
    top_def = (oak_supervisor_def){.name = A("top"), .flags = OAK_SUP_FLAGS_DEFAULT,
                                   .children = top_children, .count = 2};
    top_def.flags.intensity = 3;
}

static void show_children(const char *name)
{
    oak_child_info v[8];
    int n = oak_supervisor_which_children(oak_whereis(A(name)), v, 8);
    char b[1024];
    size_t o = 0;
    for (int i = 0; i < n && i < 8; i++) {
        char p[40] = "undefined";
        if (v[i].pid)
            oak_pid_format(v[i].pid, p, sizeof p);
        o += (size_t)snprintf(b + o, sizeof b - o, "%s{%s,%s,%s}", i ? "," : "",
                              oak_atom_name(v[i].id), p,
                              v[i].type == OAK_SUPERVISOR ? "supervisor" : "worker");
    }
    b[o] = '\0';
    printf("which_children %s -> [%s]\n", name, b);
}

/* ---- commands ------------------------------------------------------------------------------------ */

static int interactive;

/* stdin, read by the console process itself: non-blocking, and waited on
 * with oak_wait_fd(), so that no scheduler blocks in read(2). */
typedef struct line_reader {
    char buf[4096];
    size_t len;
    bool eof;
} line_reader;

/* The next line (without its '\n') into out; false at the end of input. */
static bool read_line(line_reader *r, char *out, size_t cap)
{
    for (;;) {
        char *nl = memchr(r->buf, '\n', r->len);
        if (nl || (r->eof && r->len > 0) || r->len == sizeof r->buf) {
            size_t n = nl ? (size_t)(nl - r->buf) : r->len;
            size_t keep = n < cap ? n : cap - 1;
            memcpy(out, r->buf, keep);
            out[keep] = '\0';
            size_t used = nl ? n + 1 : n;
            memmove(r->buf, r->buf + used, r->len - used);
            r->len -= used;
            return true;
        }
        if (r->eof)
            return false;
        ssize_t got = read(0, r->buf + r->len, sizeof r->buf - r->len);
        if (got > 0)
            r->len += (size_t)got;
        else if (got == 0)
            r->eof = true;
        else if (errno == EAGAIN || errno == EWOULDBLOCK)
            oak_wait_fd(0, OAK_FD_READ, OAK_INFINITY);
        else if (errno != EINTR)
            r->eof = true;
    }
}

static void call_print(const char *desc, oak_atom tag, const void *arg, size_t size)
{
    oak_msg *m = NULL;
    oak_reason why;
    char r[600];
    int rc = oak_gen_server_call(oak_whereis(A("sequence")), tag, arg, size, &m,
                                 OAK_GEN_CALL_TIMEOUT, &why);
    if (rc == 0 && m->tag == A("value")) {
        long v;
        memcpy(&v, m->data, sizeof v);
        printf("%s -> %ld\n", desc, v);
    } else if (rc == 0) {
        printf("%s -> ok\n", desc);
    } else {
        oak_reason_str(&why, r, sizeof r);
        printf("%s -> {exit,%s}\n", desc, r);
    }
    oak_msg_free(m);
}

static int command(const char *line)
{
    char cmd[32] = "";
    long n = 0;
    int k = sscanf(line, "%31s %ld", cmd, &n);
    oak_pid seq = oak_whereis(A("sequence"));
    if (k < 1)
        return 1;
    if (!strcmp(cmd, "next")) {
        call_print("next_number", A("next_number"), NULL, 0);
    } else if (!strcmp(cmd, "increment") && k == 2) {
        printf("cast increment_number %ld\n", n);
        oak_gen_server_cast(seq, A("increment_number"), &n, sizeof n);
    } else if (!strcmp(cmd, "set") && k == 2) {
        call_print("set_number", A("set_number"), &n, sizeof n);
    } else if (!strcmp(cmd, "crash")) {
        printf("cast increment_number \"cat\"\n");
        oak_ref ref = oak_monitor(seq);
        oak_gen_server_cast(seq, A("increment_number"), "cat", 4);
        oak_msg *m = NULL;
        if (oak_receive_ref(&m, ref, 5000) == 0)
            oak_msg_free(m);
        oak_sleep(100); /* let the supervisor restart it */
    } else if (!strcmp(cmd, "tree")) {
        show_children("top");
        show_children("sub");
    } else if (!strcmp(cmd, "quit")) {
        return 0;
    } else {
        printf("commands: next, increment N, set N, crash, tree, quit\n");
    }
    fflush(stdout);
    return 1;
}

/* The console: reads commands from stdin and runs them. It is not part of
 * the tree; at the end of the input or on quit it asks the application to
 * stop. */
static void console(void *arg)
{
    (void)arg;
    static line_reader r;
    int flags = fcntl(0, F_GETFL);
    if (flags >= 0)
        fcntl(0, F_SETFL, flags | O_NONBLOCK);
    char line[256];
    for (;;) {
        if (interactive) {
            fputs("sequence> ", stdout);
            fflush(stdout);
        }
        if (!read_line(&r, line, sizeof line) || !command(line))
            break;
    }
    if (flags >= 0)
        fcntl(0, F_SETFL, flags); /* stdin is shared with the shell */
    oak_application_stop();
}

/* The application's start: the tree, then the console. */
static int start(void *arg, oak_pid *top, oak_reason *why)
{
    int r = oak_supervisor_start(&top_def, OAK_GEN_LINK, top, why);
    if (r == 0)
        r = oak_spawn(console, NULL, NULL, NULL);
    return r;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--help")) {
        printf("usage: sequence < commands\n"
               "commands: next, increment N, set N, crash, tree, quit\n");
        return 0;
    }
    interactive = isatty(0);
    /* One line at a time, so results and the reports on stderr interleave
     * in the order they happen when both go to one pipe. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    build_tree();
    oak_application app = {.name = "sequence", .start = start};
    int r = oak_application_run(&app);
    if (r < 0)
        fprintf(stderr, "sequence: fatal: unable to run: %s\n", oak_strerror(r));
    return r < 0 ? 111 : r;
}
