/* tcp_server.c - see oak/tcp_server.h. Written on the public API only
 * (supervisors, sockets, messages), as Ranch is plain Erlang.
 *
 *   oak_tcp_server_start
 *     └─ server supervisor (rest_for_one)
 *          ├─ conns: dynamic supervisor, temporary children (conn_main)
 *          └─ listener (listener_main): its start function opens the
 *             listening sockets and hands them to it; it spawns the
 *             acceptors linked to itself and answers port queries.
 *
 * An acceptor: accept -> start_child(conns) -> hand the socket over ->
 * send it the socket (TAG_GO). The connection process takes TAG_GO first,
 * then runs the handler. A listener that dies takes its acceptors and
 * sockets with it; rest_for_one restarts it (a crash of conns restarts
 * the listener too, so acceptors never hold a stale conns pid).
 */
#include "oak/tcp_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oak/gen_server.h"
#include "oak/message.h"
#include "oak/process.h"
#include "oak/supervisor.h"

#define TAG_GO UINT64_C(0x6f616b7372760001)   /* the socket, to a connection */
#define TAG_PORT UINT64_C(0x6f616b7372760002) /* a port query, and its answer */
#define MAX_ACCEPTORS 64
#define GO_TIMEOUT_MS 10000

/* The server's settings, with the handler's argument bytes after them. */
typedef struct cfg {
    char host[64];
    char path[108];
    bool is_unix;
    int port;
    oak_listen_opts listen;
    unsigned acceptors;
    size_t max_conns;
    oak_conn_handler handler;
    const void *arg_ptr;
    size_t arg_size;
    unsigned char arg[];
} cfg;

static size_t cfg_size(const cfg *c) { return sizeof *c + c->arg_size; }

/* ---- connections ---- */

static void conn_main(void *arg)
{
    const cfg *c = arg;
    oak_msg *m;
    if (oak_receive(&m, GO_TIMEOUT_MS, NULL, NULL) != 0)
        return;
    if (m->tag != TAG_GO || m->size != sizeof(int)) {
        oak_msg_free(m);
        return;
    }
    int sock;
    memcpy(&sock, m->data, sizeof sock);
    oak_msg_free(m);
    c->handler(sock, c->arg_size ? (void *)c->arg : (void *)c->arg_ptr);
    /* Returning ends the process; its cleanup closes the socket. */
}

static int conn_start(const oak_child_args *args, oak_pid *pid, oak_reason *why)
{
    (void)why;
    oak_spawn_opts o = {.flags = OAK_SPAWN_LINK, .arg_size = args->arg_size};
    return oak_spawn(conn_main, (void *)args->arg, &o, pid);
}

static int conns_start(const oak_child_args *args, oak_pid *pid, oak_reason *why)
{
    const cfg *c = args->arg;
    oak_supervisor_def d = {.flags = {OAK_DYNAMIC, 3, 5, OAK_AUTO_SHUTDOWN_NEVER},
                            .max_children = c->max_conns};
    return oak_supervisor_start(&d, OAK_GEN_LINK, pid, why);
}

/* ---- acceptors ---- */

typedef struct acceptor_arg {
    int lsock;
    oak_pid conns;
    cfg c; /* with its argument bytes after it */
} acceptor_arg;

static void acceptor_main(void *arg)
{
    acceptor_arg *a = arg;
    oak_child_spec spec = {.start = conn_start,
                           .arg = &a->c,
                           .arg_size = cfg_size(&a->c),
                           .restart = OAK_TEMPORARY,
                           .shutdown = OAK_BRUTAL_KILL,
                           .name = "oak_tcp_server connection"};
    for (;;) {
        int s = oak_sock_accept(a->lsock, OAK_INFINITY);
        if (s < 0) {
            if (s == -EMFILE || s == -ENFILE || s == -ENOBUFS || s == -ENOMEM) {
                oak_sleep(10); /* out of descriptors: let some close */
                continue;
            }
            oak_exit_detail(OAK_SHUTDOWN, oak_strerror(s)); /* the listener is gone */
        }
        oak_pid pid = OAK_NOPID;
        int rc = oak_supervisor_start_child(a->conns, &spec, &pid, NULL);
        if (rc != 0 || oak_sock_controlling_process(s, pid) != 0) {
            oak_sock_close(s); /* over the limit, or it died at once */
            continue;
        }
        if (oak_send(pid, TAG_GO, &s, sizeof s) != 0)
            continue; /* it died: its cleanup closed the socket */
    }
}

/* ---- the listener ---- */

typedef struct listener_arg {
    oak_pid server;
    unsigned n;
    int socks[MAX_ACCEPTORS];
    cfg c;
} listener_arg;

static oak_pid find_conns(oak_pid server)
{
    oak_child_info kids[4];
    int n = oak_supervisor_which_children(server, kids, 4);
    oak_atom conns = oak_atom_from("conns");
    for (int i = 0; i < n && i < 4; i++)
        if (kids[i].id == conns)
            return kids[i].pid;
    return OAK_NOPID;
}

static void listener_main(void *arg)
{
    listener_arg *l = arg;
    oak_pid conns = find_conns(l->server);
    if (!conns)
        oak_exit_detail(OAK_SHUTDOWN, "no conns supervisor");
    size_t size = sizeof(acceptor_arg) + l->c.arg_size;
    acceptor_arg *a = malloc(size);
    if (!a)
        oak_exit_detail(OAK_SHUTDOWN, "out of memory");
    memcpy(&a->c, &l->c, cfg_size(&l->c));
    a->conns = conns;
    /* One acceptor per socket (several TCP sockets share the port with
     * SO_REUSEPORT, and the kernel spreads the connections). */
    for (unsigned i = 0; i < l->n; i++) {
        a->lsock = l->socks[i];
        oak_spawn_opts o = {.flags = OAK_SPAWN_LINK, .arg_size = size};
        if (oak_spawn(acceptor_main, a, &o, NULL) != 0) {
            free(a);
            oak_exit_detail(OAK_SHUTDOWN, "cannot start an acceptor");
        }
    }
    free(a);
    for (;;) {
        oak_msg *m;
        if (oak_receive(&m, OAK_INFINITY, NULL, NULL) != 0)
            continue;
        if (m->tag == TAG_PORT && m->ref) {
            int port = l->c.is_unix ? -EINVAL : oak_sock_port(l->socks[0]);
            oak_send_reply(m->from, m->ref, TAG_PORT, &port, sizeof port);
        }
        oak_msg_free(m);
    }
}

static int listen_one(const cfg *c, bool reuseport, int port)
{
    oak_listen_opts o = c->listen;
    o.reuseport = o.reuseport || reuseport;
    return c->is_unix ? oak_unix_listen(c->path, &o) : oak_tcp_listen(c->host, port, &o);
}

/* Runs in the server supervisor: listen here, so that a failure fails the
 * start, then hand the sockets to the listener. */
static int listener_start(const oak_child_args *args, oak_pid *pid, oak_reason *why)
{
    const cfg *c = args->arg;
    size_t size = sizeof(listener_arg) + c->arg_size;
    listener_arg *l = calloc(1, size);
    if (!l)
        return -ENOMEM;
    memcpy(&l->c, c, cfg_size(c));
    l->server = oak_self();
    int rc = 0;
    int port = c->port;
    for (l->n = 0; l->n < c->acceptors; l->n++) {
        int s = listen_one(c, c->acceptors > 1, port);
        if (s < 0) {
            rc = s;
            break;
        }
        l->socks[l->n] = s;
        if (l->n == 0 && !c->is_unix)
            port = oak_sock_port(s); /* the others share the first's port */
    }
    oak_pid p = OAK_NOPID;
    if (rc == 0) {
        oak_spawn_opts o = {.flags = OAK_SPAWN_LINK, .arg_size = size};
        rc = oak_spawn(listener_main, l, &o, &p);
    }
    for (unsigned i = 0; i < l->n; i++)
        if (rc < 0 || oak_sock_controlling_process(l->socks[i], p) != 0)
            oak_sock_close(l->socks[i]);
    free(l);
    if (rc < 0) {
        char text[64];
        snprintf(text, sizeof text, "%s", oak_strerror(rc));
        if (why)
            oak_reason_set(why, oak_atom_from("listen_error"), text);
        return rc;
    }
    *pid = p;
    return 0;
}

/* ---- the API ---- */

int oak_tcp_server_start(const oak_tcp_server_opts *opts, unsigned flags, oak_pid *server,
                         oak_reason *why)
{
    if (!opts || !opts->handler || !server || (opts->arg_size && !opts->arg) ||
        (flags & ~OAK_GEN_LINK) || opts->acceptors > MAX_ACCEPTORS ||
        (opts->host && strlen(opts->host) >= sizeof(((cfg *)0)->host)) ||
        (opts->unix_path && strlen(opts->unix_path) >= sizeof(((cfg *)0)->path)))
        return -EINVAL;
    cfg *c = calloc(1, sizeof *c + opts->arg_size);
    if (!c)
        return -ENOMEM;
    snprintf(c->host, sizeof c->host, "%s", opts->host ? opts->host : "0.0.0.0");
    c->is_unix = opts->unix_path != NULL;
    if (c->is_unix)
        snprintf(c->path, sizeof c->path, "%s", opts->unix_path);
    c->port = opts->port;
    c->listen = opts->listen;
    c->acceptors = c->is_unix ? 1 : opts->acceptors ? opts->acceptors : 4;
    c->max_conns = opts->max_connections ? opts->max_connections : 1024;
    c->handler = opts->handler;
    c->arg_ptr = opts->arg;
    c->arg_size = opts->arg_size;
    if (opts->arg_size)
        memcpy(c->arg, opts->arg, opts->arg_size);
    oak_child_spec kids[2] = {
        {.id = oak_atom_from("conns"),
         .start = conns_start,
         .arg = c,
         .arg_size = cfg_size(c),
         .type = OAK_SUPERVISOR,
         .shutdown = OAK_INFINITY,
         .name = "oak_tcp_server conns"},
        {.id = oak_atom_from("listener"),
         .start = listener_start,
         .arg = c,
         .arg_size = cfg_size(c),
         .shutdown = OAK_BRUTAL_KILL,
         .name = "oak_tcp_server listener"},
    };
    oak_supervisor_def def = {.flags = {OAK_REST_FOR_ONE, 3, 5, OAK_AUTO_SHUTDOWN_NEVER},
                              .children = kids,
                              .count = 2};
    int rc = oak_supervisor_start(&def, flags, server, why);
    free(c);
    return rc;
}

int oak_tcp_server_port(oak_pid server)
{
    oak_child_info kids[4];
    int n = oak_supervisor_which_children(server, kids, 4);
    if (n < 0)
        return n;
    oak_atom listener = oak_atom_from("listener");
    for (int i = 0; i < n && i < 4; i++) {
        if (kids[i].id != listener || !kids[i].pid)
            continue;
        oak_ref ref;
        int rc = oak_send_request(kids[i].pid, TAG_PORT, NULL, 0, &ref);
        if (rc < 0)
            return rc;
        oak_msg *m;
        rc = oak_receive_ref(&m, ref, OAK_INFINITY);
        if (rc < 0)
            return rc;
        int port = -ESRCH; /* a DOWN: it died meanwhile */
        if (m->tag == TAG_PORT && m->size == sizeof port)
            memcpy(&port, m->data, sizeof port);
        oak_msg_free(m);
        oak_demonitor(ref, OAK_DEMONITOR_FLUSH);
        return port;
    }
    return -ESRCH;
}

int oak_tcp_server_connections(oak_pid server)
{
    oak_pid conns = find_conns(server);
    if (!conns)
        return -ESRCH;
    oak_child_counts k;
    int rc = oak_supervisor_count_children(conns, &k);
    return rc < 0 ? rc : (int)k.active;
}

int oak_tcp_server_stop(oak_pid server, int64_t timeout_ms)
{
    if (timeout_ms < 0 && timeout_ms != OAK_INFINITY)
        return -EINVAL;
    oak_pid conns = find_conns(server);
    if (!conns)
        return -ESRCH;
    /* Stop accepting: the listener takes its sockets and acceptors. */
    int rc = oak_supervisor_terminate_child(server, oak_atom_from("listener"));
    if (rc < 0)
        return rc;
    /* Let the connections finish. */
    int64_t end = timeout_ms == OAK_INFINITY ? INT64_MAX : oak_now_ms() + timeout_ms;
    int left;
    while ((left = oak_tcp_server_connections(server)) > 0 && oak_now_ms() < end)
        oak_sleep(10);
    /* Then kill the rest (the conns supervisor brutally kills its
     * children) and stop. */
    rc = oak_supervisor_stop(server);
    if (rc < 0)
        return rc;
    return left > 0 ? left : 0;
}
