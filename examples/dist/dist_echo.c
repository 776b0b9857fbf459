/* dist_echo NODE COOKIE - an oak node for Erlang nodes to talk to.
 *
 * Starts node NODE (e.g. oak@127.0.0.1) with cookie COOKIE and registers
 *   echo     answers any message {Pid, Term} by sending Term to Pid;
 *   counter  a gen_server: gen_server:call({counter, NODE}, next) returns
 *            1, 2, 3, ...; any other request returns {error, bad_request}
 * and runs until SIGTERM (or SIGINT). From erl:
 *
 *   $ erl -name e@127.0.0.1 -setcookie COOKIE
 *   1> {echo, 'oak@127.0.0.1'} ! {self(), hello}, flush().
 *   Shell got hello
 *   2> gen_server:call({counter, 'oak@127.0.0.1'}, next).
 *   1
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <oak.h>

static bool is_term(const oak_msg *m, void *arg) { return m->tag == OAK_TAG_TERM; }

/* The next message from another node, decoded into a new arena in *a;
 * NULL when it does not decode. The arena is made after the wait: a
 * process killed while it waits (SIGTERM) holds none. */
static oak_term *next_term(oak_term_arena **a)
{
    oak_msg *m;
    *a = NULL;
    if (oak_receive(&m, OAK_INFINITY, is_term, NULL) != 0)
        return NULL;
    oak_term *t = NULL;
    *a = oak_term_arena_new();
    if (!*a || oak_term_decode(*a, m->data, m->size, &t, NULL) != 0)
        t = NULL;
    oak_msg_free(m);
    return t;
}

static void echo(void *arg)
{
    for (;;) {
        oak_term_arena *a;
        oak_term *t = next_term(&a);
        if (t && t->type == OAK_TERM_TUPLE && t->u.tuple.arity == 2 &&
            t->u.tuple.items[0]->type == OAK_TERM_PID)
            oak_node_send(t->u.tuple.items[0], t->u.tuple.items[1]);
        oak_term_arena_free(a);
    }
}

/* The counter: an oak gen_server. A call from another node arrives as a
 * call whose request is an OAK_TAG_TERM (node.h); the reply, a term too,
 * goes back to the Erlang caller as gen_server:call's result. */
/* The count lives in memory the server process owns (oak_alloc), freed
 * also when the process is killed at the end. */
static int counter_init(oak_gen_server *gs, void *arg, void **state)
{
    int64_t *n = oak_alloc(sizeof *n);
    if (!n)
        return OAK_GS_STOP;
    *n = 0;
    *state = n;
    return OAK_GS_OK;
}

static int counter_call(oak_gen_server *gs, void *state, const oak_msg *req,
                        const oak_gen_from *from)
{
    int64_t *n = state;
    oak_term_arena *a = oak_term_arena_new();
    if (!a)
        return OAK_GS_NOREPLY; /* out of memory: the caller times out */
    oak_term *t = NULL, *r;
    if (req->tag == OAK_TAG_TERM && oak_term_decode(a, req->data, req->size, &t, NULL) == 0 &&
        oak_term_atom_is(t, "next"))
        r = oak_term_int(a, ++*n);
    else
        r = oak_term_tuple2(a, oak_term_atom(a, "error"), oak_term_atom(a, "bad_request"));
    uint8_t buf[64];
    size_t len;
    int rc = oak_term_encode(r, buf, sizeof buf, &len);
    oak_term_arena_free(a);
    if (rc == 0)
        oak_gen_server_set_reply(gs, OAK_TAG_TERM, buf, len);
    return OAK_GS_REPLY;
}

static void counter_terminate(oak_gen_server *gs, void *state, const oak_reason *why)
{
    oak_free(state);
}

static const oak_gen_server_callbacks counter = {
    .init = counter_init,
    .handle_call = counter_call,
    .terminate = counter_terminate,
};

typedef struct args {
    const char *node, *cookie;
    int sigfd;
} args;

static void main_process(void *arg)
{
    const args *g = arg;
    oak_node_opts o = {.name = g->node, .cookie = g->cookie};
    int rc = oak_node_start(&o);
    if (rc) {
        fprintf(stderr, "dist_echo: fatal: unable to start node %s: %s\n", g->node,
                oak_strerror(rc));
        oak_shutdown(111);
        return;
    }
    oak_pid e, c;
    oak_spawn(echo, NULL, NULL, &e);
    oak_register(oak_atom_from("echo"), e);
    oak_gen_server_opts so = {.name = oak_atom_from("counter")};
    rc = oak_gen_server_start(&counter, NULL, &so, &c, NULL);
    if (rc) {
        fprintf(stderr, "dist_echo: fatal: unable to start counter: %s\n", oak_strerror(rc));
        oak_shutdown(111);
        return;
    }
    printf("dist_echo: node %s is up\n", g->node);
    fflush(stdout);
    while (oak_wait_fd(g->sigfd, OAK_FD_READ, OAK_INFINITY) <= 0)
        ;
    oak_node_stop();
    oak_exit_pid(e, OAK_KILL);
    oak_exit_pid(c, OAK_KILL);
    oak_shutdown(0);
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: dist_echo NODE COOKIE\n");
        return argc == 2 ? 0 : 100;
    }
    /* SIGTERM and SIGINT are read from a signalfd, in a process: blocked
     * here, before the runtime's threads start, so in all of them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        perror("dist_echo: fatal: unable to make a signalfd");
        return 111;
    }
    args g = {argv[1], argv[2], fd};
    int rc = oak_run(main_process, &g, NULL);
    close(fd);
    return rc;
}
