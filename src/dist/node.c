/* node.c - the node: its name and cookie, the acceptor, and one process
 * per connection (handshake, then packets and ticks).
 *
 * Processes
 * ---------
 *   oak_node_start()  (the caller)  listens, registers with epmd, spawns:
 *   acceptor          waits on the listening socket, accepts, spawns a
 *                     connection per socket; owns the listening socket and
 *                     the epmd connection (closing it unregisters)
 *   connection        one per peer: the handshake (handshake.c), then
 *                     reads packets, answers what this version answers,
 *                     and ticks; owns its socket
 *   oak_node_ping()   (the caller)  claims a slot and spawns a connection
 *                     that connects out; waits for its result
 * Every process closes what it owns in an oak_defer() cleanup, so killing
 * one (oak_node_stop()) leaks nothing.
 *
 * The connection table
 * --------------------
 * N.conns[] under N.lock: a slot is FREE, PENDING (handshake under way;
 * peer "" until an accepted peer has said its name) or UP. The acceptor or
 * oak_node_ping() takes a slot before it spawns; the connection records
 * its pid itself and frees the slot in its cleanup. A connection that
 * starts after the node was stopped (its epoch is old) ends at once.
 *
 * Connected packets (after the handshake): a 4-byte length, then either
 * nothing (a tick), or 112 (pass through), the control message and maybe
 * a message, each a term with its version byte; or, with a peer that
 * takes fragments (DFLAG_FRAGMENTS), a distribution header without atom
 * cache references (131, 68, 0) or a fragment (131, 69 / 70), and the
 * terms without version bytes (see conn_frame(), packet_write()). oak
 * offers no atom cache (DFLAG_DIST_HDR_ATOM_CACHE).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oak/io.h"
#include "oak/log.h"
#include "oak/message.h"
#include "oak/node.h"
#include "oak/process.h"
#include "oak/term.h"
#include "behaviours/gen_server.h"
#include "core/atom.h"
#include "core/remote.h"
#include "epmd.h"
#include "handshake.h"
#include "sock.h"

enum {
    OAK_REASON_DETAIL = 480, /* as oak_reason's (gen_server.h) */
    MAX_CONNS = 256,
    HANDSHAKE_MS = 7000,        /* dist_util's setup timer */
    MAX_PACKET = 128 << 20,     /* a longer packet is garbage: close */
    COOKIE_MAX = 255,
};

/* The pid's fields (include/oak/types.h). */
#define PID_SLOT(p) ((uint32_t)((p) & ((UINT64_C(1) << 28) - 1)))
#define PID_GEN(p) ((uint32_t)(((p) >> 28) & ((UINT64_C(1) << 28) - 1)))

/* Big-endian words, as the packets carry them. */
static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)(v >> 32));
    wr32(p + 4, (uint32_t)v);
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* What oak offers: OTP 25's mandatory set, what OTP 26 adds to it, and
 * what oak answers or drops safely. Not offered: the atom cache
 * (DFLAG_DIST_HDR_ATOM_CACHE), spawn. With fragments, erts sends every
 * message after a distribution header with no atom cache references. */
#define OAK_DIST_FLAGS                                                                     \
    (OAK__DFLAG_MANDATORY | OAK__DFLAG_PUBLISHED | OAK__DFLAG_DIST_MONITOR |               \
     OAK__DFLAG_DIST_MONITOR_NAME | OAK__DFLAG_SMALL_ATOM_TAGS | OAK__DFLAG_SEND_SENDER |  \
     OAK__DFLAG_BIG_SEQTRACE_LABELS | OAK__DFLAG_EXIT_PAYLOAD | OAK__DFLAG_UNLINK_ID |     \
     OAK__DFLAG_V4_NC | OAK__DFLAG_ALIAS | OAK__DFLAG_MANDATORY_25_DIGEST |                \
     OAK__DFLAG_UNICODE_IO | OAK__DFLAG_FRAGMENTS)

typedef enum { SLOT_FREE = 0, SLOT_PENDING, SLOT_UP } slot_state;

typedef struct conn_slot {
    slot_state state; /* N.lock */
    oak_pid pid;      /* N.lock; 0 until the connection has started */
    int fd;           /* N.lock; the socket while UP, else -1 */
    uint64_t flags;   /* N.lock; the negotiated flags while UP */
    char peer[OAK__NODE_NAME_MAX + 1]; /* N.lock; "" until known */
    /* 1 while a process writes a packet to this slot's socket: the
     * connection (replies, ticks) and oak_node_send() callers take turns,
     * so that packets never interleave. Any thread, atomically. */
    _Atomic int writing;
} conn_slot;

/* The node. `lock` guards every field; name, cookie, creation, ip and
 * tick_ms are written by oak_node_start() before it spawns anything and
 * only read afterwards (the spawn orders them), until oak_node_stop() has
 * seen every process end. */
static struct {
    pthread_mutex_t lock;
    bool running;
    uint64_t epoch; /* one per oak_node_start() */
    char name[OAK__NODE_NAME_MAX + 1];
    char cookie[COOKIE_MAX + 1];
    uint32_t creation;
    uint32_t ip; /* the address listened on, host byte order */
    int64_t tick_ms;
    oak_pid acceptor;
    oak_pid connector; /* connector_main(), while the node runs */
    conn_slot conns[MAX_CONNS];
} N = {.lock = PTHREAD_MUTEX_INITIALIZER};

static oak_atom tag_setup(void) { return oak_atom_from("oak_dist_setup"); }

/* What a local process sent to a node while no connection to it was up:
 * the item as dist_hook() hands it to a connection (out_hdr and bytes). */
typedef struct pend {
    struct pend *next;
    size_t size;
    uint8_t b[];
} pend;

/* The node table: a remote pid's node bits (oak/types.h) index it. An
 * entry is a node name and creation (one incarnation of that node), and
 * the pid of the connection that is up to it, or 0. Entries are never
 * reused while the program runs, so a pid of an old incarnation never
 * reaches a new one. An entry with creation 0 stands for the node by its
 * name, whatever its incarnation (node_any()): the target of sends and
 * monitors by {Name, Node}, whose pid is that entry's pid 0 (ID and
 * serial 0), and the holder of the items queued for the node while a
 * connection to it is being made (auto-connect, see dist_hook()). N.lock. */
enum { MAX_NODES = 256 };
static struct {
    char name[OAK__NODE_NAME_MAX + 1];
    uint32_t creation;
    oak_pid conn;
    pend *pending, **pending_tail; /* oldest first (creation 0 only) */
    size_t pending_bytes;
    bool connecting;               /* a connect for the pending is asked */
} nodes[MAX_NODES];
static int nodes_used = 1; /* index 0 is this node */

/* The index of (name, creation), added when new: 1..255, or -ENOSPC.
 * N.lock held. */
static int node_index(const char *name, uint32_t creation)
{
    for (int i = 1; i < nodes_used; i++)
        if (nodes[i].creation == creation && strcmp(nodes[i].name, name) == 0)
            return i;
    if (nodes_used == MAX_NODES)
        return -ENOSPC;
    snprintf(nodes[nodes_used].name, sizeof nodes[0].name, "%s", name);
    nodes[nodes_used].creation = creation;
    nodes[nodes_used].conn = OAK_NOPID;
    nodes[nodes_used].pending = NULL;
    nodes[nodes_used].pending_tail = &nodes[nodes_used].pending;
    return nodes_used++;
}

/* The entry of node `name` whatever its incarnation (creation 0), added
 * when new with the connection that is up to it, if any: 1..255, or
 * -ENOSPC. N.lock held. */
static int node_any(const char *name)
{
    int before = nodes_used, a = node_index(name, 0);
    for (int i = 1; a == before && i < before; i++)
        if (nodes[i].conn && strcmp(nodes[i].name, name) == 0)
            nodes[a].conn = nodes[i].conn;
    return a;
}

/* The tag of the messages that carry signals for a remote pid to its
 * connection (see dist_hook()). */
#define TAG_DIST_OUT ((uint64_t)0x4F414B444F555400)

/* The processes that oak_node_monitor_nodes() subscribed (N.lock). */
enum { MAX_NODE_MONITORS = 64 };
static oak_pid node_monitors[MAX_NODE_MONITORS];

/* Tell the subscribers {nodeup, Peer} or {nodedown, Peer}. Takes N.lock;
 * safe from a cleanup (it only sends). */
static void tell_node_monitors(const char *what, const char *peer)
{
    oak_pid to[MAX_NODE_MONITORS];
    int n = 0;
    pthread_mutex_lock(&N.lock);
    for (int i = 0; i < MAX_NODE_MONITORS; i++) {
        if (node_monitors[i] && !oak_is_alive(node_monitors[i]))
            node_monitors[i] = OAK_NOPID;
        if (node_monitors[i])
            to[n++] = node_monitors[i];
    }
    pthread_mutex_unlock(&N.lock);
    if (n == 0)
        return;
    oak_term_arena *a = oak_term_arena_new();
    oak_term *t = a ? oak_term_tuple2(a, oak_term_atom(a, what), oak_term_atom(a, peer)) : NULL;
    void *b = NULL;
    size_t len;
    if (t && oak_term_encode_alloc(t, &b, &len) == 0)
        for (int i = 0; i < n; i++)
            oak_send(to[i], OAK_TAG_TERM, b, len);
    free(b);
    oak_term_arena_free(a);
}

static int split_name(const char *name, char *alive, size_t asize, const char **host);

/* monitor_node/2's monitors (N.lock): one {nodedown, Node} each, then
 * gone. */
static struct {
    oak_pid pid;
    char node[OAK__NODE_NAME_MAX + 1];
} node_watch[MAX_NODE_MONITORS];

/* Send {nodedown, Node} to pid. */
static void send_nodedown(oak_pid pid, const char *node)
{
    oak_term_arena *a = oak_term_arena_new();
    oak_term *t =
        a ? oak_term_tuple2(a, oak_term_atom(a, "nodedown"), oak_term_atom(a, node)) : NULL;
    void *b = NULL;
    size_t len;
    if (t && oak_term_encode_alloc(t, &b, &len) == 0)
        oak_send(pid, OAK_TAG_TERM, b, len);
    free(b);
    oak_term_arena_free(a);
}

/* The connection to peer went down: its monitor_node monitors fire. */
static void tell_node_watchers(const char *peer)
{
    oak_pid to[MAX_NODE_MONITORS];
    int n = 0;
    pthread_mutex_lock(&N.lock);
    for (int i = 0; i < MAX_NODE_MONITORS; i++) {
        if (node_watch[i].pid && strcmp(node_watch[i].node, peer) == 0) {
            to[n++] = node_watch[i].pid;
            node_watch[i].pid = OAK_NOPID;
        }
    }
    pthread_mutex_unlock(&N.lock);
    for (int i = 0; i < n; i++)
        send_nodedown(to[i], peer);
}

static bool ask_connect(const char *node);

int oak_node_monitor(const char *node, bool on)
{
    oak_pid self = oak_self();
    if (self == OAK_NOPID)
        return -EPERM;
    char alive[256];
    const char *host;
    if (!node || split_name(node, alive, sizeof alive, &host))
        return -EINVAL;
    if (!on) {
        pthread_mutex_lock(&N.lock);
        for (int i = 0; i < MAX_NODE_MONITORS; i++) {
            if (node_watch[i].pid == self && strcmp(node_watch[i].node, node) == 0) {
                node_watch[i].pid = OAK_NOPID;
                break;
            }
        }
        pthread_mutex_unlock(&N.lock);
        return 0;
    }
    bool was_up = oak_node_is_connected(node);
    int rc = -ENOSPC;
    pthread_mutex_lock(&N.lock);
    for (int i = 0; i < MAX_NODE_MONITORS; i++) {
        if (node_watch[i].pid && !oak_is_alive(node_watch[i].pid))
            node_watch[i].pid = OAK_NOPID;
        if (!node_watch[i].pid) {
            node_watch[i].pid = self;
            snprintf(node_watch[i].node, sizeof node_watch[i].node, "%s", node);
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&N.lock);
    /* Not connected: a connect is made, as Erlang's monitor_node makes
     * one, and its failure says nodedown (connect_worker()). Down
     * meanwhile: its cleanup may have looked before we were there. */
    if (rc == 0 && !oak_node_is_connected(node) && (was_up || !ask_connect(node)))
        tell_node_watchers(node);
    return rc;
}

int oak_node_monitor_nodes(bool on)
{
    oak_pid self = oak_self();
    if (self == OAK_NOPID)
        return -EPERM;
    int rc = on ? -ENOSPC : 0;
    pthread_mutex_lock(&N.lock);
    int free_at = -1;
    for (int i = 0; i < MAX_NODE_MONITORS; i++) {
        if (node_monitors[i] == self) {
            if (!on)
                node_monitors[i] = OAK_NOPID;
            rc = 0;
            free_at = -2;
            break;
        }
        if (free_at == -1 && (node_monitors[i] == OAK_NOPID || !oak_is_alive(node_monitors[i])))
            free_at = i;
    }
    if (on && free_at >= 0) {
        node_monitors[free_at] = self;
        rc = 0;
    }
    pthread_mutex_unlock(&N.lock);
    return rc;
}

/* ---- names and cookies ------------------------------------------------- */

/* Split "alive@host": both parts non-empty, one '@'. */
static int split_name(const char *name, char *alive, size_t asize, const char **host)
{
    const char *at = name ? strchr(name, '@') : NULL;
    if (!at || at == name || at[1] == '\0' || strchr(at + 1, '@') ||
        strlen(name) > OAK__NODE_NAME_MAX || (size_t)(at - name) >= asize)
        return -EINVAL;
    memcpy(alive, name, (size_t)(at - name));
    alive[at - name] = '\0';
    *host = at + 1;
    return 0;
}

static int cookie_check(const char *c)
{
    size_t n = strlen(c);
    return n == 0 || n > COOKIE_MAX ? -EINVAL : 0;
}

/* $HOME/.erlang.cookie's first line, creating the file as erl does. */
static int cookie_from_file(char *out)
{
    const char *home = getenv("HOME");
    if (!home || !*home)
        return -EINVAL;
    char path[4096];
    snprintf(path, sizeof path, "%s/.erlang.cookie", home);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
        if (fd < 0)
            return -errno;
        uint8_t r[20];
        char c[21];
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
            close(fd);
            return -EIO;
        }
        for (int i = 0; i < 20; i++)
            c[i] = (char)('A' + r[i] % 26);
        c[20] = '\0';
        ssize_t w = write(fd, c, 20);
        close(fd);
        if (w != 20)
            return -EIO;
        memcpy(out, c, 21);
        return 0;
    }
    if (fd < 0)
        return -errno;
    char buf[COOKIE_MAX + 2];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -EINVAL;
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (cookie_check(buf))
        return -EINVAL;
    strcpy(out, buf);
    return 0;
}

static int cookie_find(const char *arg, char *out)
{
    const char *c = arg ? arg : getenv("OAK_ERLANG_COOKIE");
    if (c) {
        if (cookie_check(c))
            return -EINVAL;
        strcpy(out, c);
        return 0;
    }
    return cookie_from_file(out);
}

/* ---- the connection table ------------------------------------------------ */

/* A free slot, taken as PENDING for peer, or -1. N.lock held. */
static int slot_take(const char *peer)
{
    for (int i = 0; i < MAX_CONNS; i++) {
        if (N.conns[i].state == SLOT_FREE) {
            N.conns[i].state = SLOT_PENDING;
            N.conns[i].pid = OAK_NOPID;
            N.conns[i].fd = -1;
            snprintf(N.conns[i].peer, sizeof N.conns[i].peer, "%s", peer);
            return i;
        }
    }
    return -1;
}

/* The slot other than `except` that holds peer, or -1. N.lock held. */
static int slot_find(const char *peer, int except)
{
    for (int i = 0; i < MAX_CONNS; i++)
        if (i != except && N.conns[i].state != SLOT_FREE && strcmp(N.conns[i].peer, peer) == 0)
            return i;
    return -1;
}

bool oak_node_is_connected(const char *name)
{
    if (!name)
        return false;
    pthread_mutex_lock(&N.lock);
    int i = N.running ? slot_find(name, -1) : -1;
    bool up = i >= 0 && N.conns[i].state == SLOT_UP;
    if (!up && i >= 0) {
        /* Another slot may hold the same peer (a simultaneous connect). */
        for (int k = 0; k < MAX_CONNS; k++)
            up |= N.conns[k].state == SLOT_UP && strcmp(N.conns[k].peer, name) == 0;
    }
    pthread_mutex_unlock(&N.lock);
    return up;
}

size_t oak_node_connection_count(void)
{
    size_t n = 0;
    pthread_mutex_lock(&N.lock);
    for (int i = 0; N.running && i < MAX_CONNS; i++)
        n += N.conns[i].state == SLOT_UP;
    pthread_mutex_unlock(&N.lock);
    return n;
}

int oak_node_self(char *buf, size_t size)
{
    pthread_mutex_lock(&N.lock);
    int rc = N.running ? snprintf(buf, size, "%s", N.name) : -ENOENT;
    pthread_mutex_unlock(&N.lock);
    return rc;
}

/* ---- a connection ------------------------------------------------------------ */

typedef struct conn_arg {
    int fd;         /* the socket (accepted), or -1 (to connect)  */
    int slot;       /* its slot in N.conns                         */
    uint64_t epoch; /* N.epoch when it was spawned                 */
    oak_pid requester; /* oak_node_ping()'s caller, or 0           */
    oak_ref ref;       /* the tag of the result sent to requester  */
    int64_t deadline;  /* of the connect and handshake             */
    char peer[OAK__NODE_NAME_MAX + 1]; /* whom to connect to       */
} conn_arg;

/* A connection's own state, in memory it owns (oak_alloc), so that its
 * cleanup finds the socket and the buffer however it ends. */
typedef struct conn {
    int fd;
    int slot;
    bool up;
    uint64_t flags;                    /* negotiated                 */
    char peer[OAK__NODE_NAME_MAX + 1]; /* the peer's name once known */
    uint8_t *buf;                      /* packets read, malloc()ed   */
    size_t cap, len;
    int64_t last_read, last_write;     /* oak_now_ms()               */
    int node;                          /* its index in nodes[] once up */
    /* Links and monitors between local processes and the peer's, so that
     * a lost connection ends them with noconnection. The connection's
     * own, malloc()ed; linear searches (few per connection). */
    struct rlink { oak_pid local, remote; } *links;
    size_t nlinks, caplinks;
    /* out: local watches remote; in: remote watches local (rref: the
     * peer's reference, encoded; name: monitored by this local name) */
    struct rmon { oak_pid local, remote; oak_ref ref; oak_atom name; bool in;
                  uint8_t rlen; uint8_t rref[62]; } *mons;
    size_t nmons, capmons;
    /* The peer's gen_server calls to local processes that await their
     * reply (see gen_call_in()): the call's local ref, the local ref of
     * the caller's monitor of the server (or 0), the two pids, whether
     * the caller gave up (its monitor ended), and the peer's Tag,
     * encoded. With `out`, a local process's call to a peer's process
     * instead (gen_call_out()): ref is its request's, and no Tag. Oldest
     * first. */
    struct rcall { oak_ref ref, mon; oak_pid server, caller; bool gave_up, out; uint8_t tlen;
                   uint8_t tag[125]; } *calls;
    size_t ncalls, capcalls;
    uint32_t unlink_id;
    /* Fragmented messages being received (conn_fragment()): the
     * sequence's id, the fragment id it expects next, and what came so
     * far: a version byte, the control term and the message's first
     * bytes, both without their own version bytes (as after a normal
     * distribution header). frag_bytes: their lengths together. */
    struct rseq { uint64_t id, next; uint8_t *b; size_t len, cap; } *seqs;
    size_t nseqs, capseqs, frag_bytes;
} conn;

static void conn_noconnection(conn *c);

static void conn_cleanup(void *p)
{
    conn *c = p;
    conn_noconnection(c);
    /* The slot first, the socket after: a sender that dup()s the slot's
     * descriptor under the lock must never find a number already closed
     * (and maybe reused for another file). */
    pthread_mutex_lock(&N.lock);
    N.conns[c->slot].state = SLOT_FREE;
    N.conns[c->slot].pid = OAK_NOPID;
    N.conns[c->slot].fd = -1;
    N.conns[c->slot].peer[0] = '\0';
    pthread_mutex_unlock(&N.lock);
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    for (size_t i = 0; i < c->nseqs; i++)
        free(c->seqs[i].b);
    free(c->seqs);
    /* A writer killed in the middle left the turn taken: give it back
     * (release: the next holder sees this slot's state). */
    atomic_store_explicit(&N.conns[c->slot].writing, 0, memory_order_release);
    if (c->up) {
        oak_log(OAK_LOG_NOTICE, "dist_report", "node=%s event=nodedown peer=%s", N.name,
                c->peer);
        tell_node_monitors("nodedown", c->peer);
        if (!oak_node_is_connected(c->peer))
            tell_node_watchers(c->peer);
    }
}

/* What the acceptor's handshake tells a peer (handshake.h). A connection
 * already up to that node: "alive", and when the peer answers true (it has
 * no such connection: it restarted), the new one replaces the old (see
 * conn_main). During a simultaneous connect the node with the greater name
 * wins, as in dist_util. */
static const char *admit(const char *peer, void *ctx)
{
    int self = *(int *)ctx;
    const char *status = "ok";
    pthread_mutex_lock(&N.lock);
    int other = slot_find(peer, self);
    if (other >= 0)
        status = N.conns[other].state == SLOT_UP ? "alive"
                 : strcmp(N.name, peer) > 0      ? "nok"
                                                 : "ok_simultaneous";
    snprintf(N.conns[self].peer, sizeof N.conns[self].peer, "%s", peer);
    pthread_mutex_unlock(&N.lock);
    return status;
}

static oak_term *self_pid_term(oak_term_arena *a)
{
    oak_pid p = oak_self();
    return oak_term_pid(a, N.name, PID_SLOT(p), PID_GEN(p), N.creation);
}

/* Write one whole packet to slot's socket fd, in turn with the other
 * writers. The turn is waited for by yielding, never by blocking a
 * scheduler, up to the deadline (0: only try, -EBUSY when taken). A packet cut by an error leaves the
 * stream unusable: the socket is shut down, and the connection ends. */
static int slot_write(int slot, int fd, const void *b, size_t n, int64_t deadline)
{
    /* Acquire: what the last holder wrote is before our write. */
    while (atomic_exchange_explicit(&N.conns[slot].writing, 1, memory_order_acquire)) {
        if (deadline != OAK_INFINITY && oak_now_ms() >= deadline)
            return -ETIMEDOUT;
        if (deadline == 0)
            return -EBUSY;
        oak_yield();
    }
    int rc = oak__sock_write_full(fd, b, n, deadline);
    if (rc)
        shutdown(fd, SHUT_RDWR);
    /* Release: hand the turn over after our bytes. */
    atomic_store_explicit(&N.conns[slot].writing, 0, memory_order_release);
    return rc;
}

/* A packet: the 4-byte length, then either 112 (pass through) and the
 * control term and maybe the message, each with its version byte; or,
 * when the peer takes fragments (erts then wants a distribution header on
 * every message), 131, 68, 0 (no atom cache references) and the two
 * terms without their version bytes.
 * The bare control term is cl bytes at ctrl, the bare message ml bytes at
 * msg (both in b), for packet_write()'s fragments. */
typedef struct packet {
    uint8_t *b;
    size_t len;
    const uint8_t *ctrl, *msg;
    size_t cl, ml;
} packet;

/* A packet for a peer with `flags` of the control term and, when msg is
 * not NULL, the message, or else the rlen bytes at raw (a message encoded
 * already, with its version byte), in a new malloc()ed buffer. */
static int packet_build_with(const oak_term *ctrl, const oak_term *msg, const void *raw,
                             size_t rlen, uint64_t flags, packet *pk)
{
    size_t n1, n2 = msg ? 0 : rlen;
    int rc = oak_term_encoded_size(ctrl, &n1);
    if (rc == 0 && msg)
        rc = oak_term_encoded_size(msg, &n2);
    if (rc)
        return rc;
    if (n1 + n2 > MAX_PACKET)
        return -EOVERFLOW;
    bool hdr = flags & OAK__DFLAG_FRAGMENTS;
    /* (Without a message, the header's three bytes are one more than 112
     * and the control term's version byte.) */
    size_t total = 1 + n1 + n2 + (hdr && n2 == 0), used;
    uint8_t *b = malloc(4 + total);
    if (!b)
        return -ENOMEM;
    /* The message goes first, its version byte right after a control term
     * at b + 5; with the header the control term sits a byte later, and
     * its last byte then takes the message's version byte's place. */
    uint8_t *m = b + 5 + n1;
    rc = 0;
    if (msg)
        rc = oak_term_encode(msg, m, n2, &used);
    else if (n2)
        memcpy(m, raw, n2);
    if (rc == 0)
        rc = oak_term_encode(ctrl, b + 5 + hdr, n1, &used);
    if (rc) {
        free(b);
        return rc;
    }
    wr32(b, (uint32_t)total);
    b[4] = hdr ? OAK_TERM_VERSION : 112;
    if (hdr) {
        b[5] = 68; /* DIST_HEADER */
        b[6] = 0;  /* NumberOfAtomCacheRefs, in place of the version byte */
    }
    *pk = (packet){b, 4 + total, b + 6 + hdr, b + 6 + n1, n1 - 1, n2 ? n2 - 1 : 0};
    return 0;
}

static int packet_build(const oak_term *ctrl, const oak_term *msg, uint64_t flags, packet *pk)
{
    return packet_build_with(ctrl, msg, NULL, 0, flags, pk);
}

/* A message longer than this goes out in fragments when the peer takes
 * them (DFLAG_FRAGMENTS), as erts cuts its own (ERTS_DIST_FRAGMENT_SIZE):
 * so that a large message does not hold the socket while other
 * processes' small ones wait. */
enum { FRAG_SIZE = 64 * 1024 };

/* The sequence ids of fragmented messages sent: one per message, unique
 * on every connection (erts uses the sender's pid; any id works as long
 * as two sequences under way on a connection differ). */
static _Atomic uint64_t frag_seq_last;

/* Write pk (packet_build()) to slot's socket: whole, or when the peer
 * takes fragments and the message is longer than FRAG_SIZE, as a
 * fragmented message (erl_ext_dist.md, "Distribution Header for
 * fragmented messages"): 131, 69, SequenceId, FragmentId = the number of
 * fragments, no atom cache refs (0), the control term and the message's
 * first FRAG_SIZE bytes, both without their version bytes; then 131, 70,
 * SequenceId, FragmentId counting down to 1, and the next bytes. Each
 * fragment is a packet of its own, written in turn with the other
 * writers, whose packets may come between. */
static int packet_write(int slot, int fd, uint64_t flags, const packet *pk, int64_t deadline)
{
    if (!(flags & OAK__DFLAG_FRAGMENTS) || pk->ml <= FRAG_SIZE)
        return slot_write(slot, fd, pk->b, pk->len, deadline);
    const uint8_t *ctrl = pk->ctrl, *msg = pk->msg;
    size_t cl = pk->cl, ml = pk->ml;
    uint64_t count = (ml + FRAG_SIZE - 1) / FRAG_SIZE;
    uint64_t seq = atomic_fetch_add_explicit(&frag_seq_last, 1, memory_order_relaxed) + 1;
    uint8_t *f = malloc(4 + 19 + cl + FRAG_SIZE);
    if (!f)
        return -ENOMEM;
    int rc = 0;
    for (uint64_t k = count; k >= 1 && rc == 0; k--) {
        size_t off = (size_t)(count - k) * FRAG_SIZE;
        size_t part = ml - off < FRAG_SIZE ? ml - off : FRAG_SIZE, h = 22;
        f[4] = OAK_TERM_VERSION;
        f[5] = k == count ? 69 : 70;
        wr64(f + 6, seq);
        wr64(f + 14, k);
        if (k == count) {
            f[22] = 0; /* NumberOfAtomCacheRefs */
            memcpy(f + 23, ctrl, cl);
            h = 23 + cl;
        }
        memcpy(f + h, msg + off, part);
        wr32(f, (uint32_t)(h - 4 + part));
        rc = slot_write(slot, fd, f, h + part, deadline);
    }
    free(f);
    return rc;
}

/* Write pk, built for c, and free it. */
static int conn_write(conn *c, packet *pk)
{
    int rc = packet_write(c->slot, c->fd, c->flags, pk, oak__sock_deadline(N.tick_ms));
    free(pk->b);
    if (rc == 0)
        c->last_write = oak_now_ms();
    return rc;
}

/* Send one packet: the control term and, when msg is not NULL, the
 * message. */
static int conn_send(conn *c, const oak_term *ctrl, const oak_term *msg)
{
    packet pk;
    int rc = packet_build(ctrl, msg, c->flags, &pk);
    return rc ? rc : conn_write(c, &pk);
}

static bool op_is(const oak_term *ctrl, int64_t op, size_t arity)
{
    return ctrl->u.tuple.arity == arity && ctrl->u.tuple.items[0]->type == OAK_TERM_INT &&
           ctrl->u.tuple.items[0]->u.i == op;
}

/* The control term of a send from `from` to `to`: SEND_SENDER when the
 * peer has it, else SEND. */
static oak_term *send_ctrl(const conn *c, oak_term_arena *a, oak_term *from, oak_term *to)
{
    if (c->flags & OAK__DFLAG_SEND_SENDER)
        return oak_term_tuple3(a, oak_term_int(a, 22), from, to);
    return oak_term_tuple3(a, oak_term_int(a, 2), oak_term_atom(a, ""), to);
}

/* The control term of a send to `to`, or when name is set to the process
 * registered as name on to's node (REG_SEND {6, From, '', Name}). */
static oak_term *send_to_ctrl(const conn *c, oak_term_arena *a, oak_term *from, oak_term *to,
                              oak_atom name)
{
    if (!name)
        return send_ctrl(c, a, from, to);
    oak_term *v[4] = {oak_term_int(a, 6), from, oak_term_atom(a, ""), oak_term_from_atom(a, name)};
    return oak_term_tuple(a, 4, v);
}

/* Is an oak message (tag, size bytes at data) an encoded term? */
static bool is_term_bytes(uint64_t tag, const uint8_t *data, size_t size)
{
    return tag == OAK_TAG_TERM && size > 0 && data[0] == OAK_TERM_VERSION;
}

/* A message that is not a term: {'$oak_msg', Tag, <<Bytes>>} (node.h). */
static oak_term *oak_msg_term(oak_term_arena *a, uint64_t tag, const void *data, size_t size)
{
    return oak_term_tuple3(a, oak_term_atom(a, "$oak_msg"), oak_term_uint(a, tag),
                           oak_term_binary(a, data, size));
}

/* REG_SEND to net_kernel: answer {'$gen_call', {From, Tag}, {is_auth, _}}
 * with {Tag, yes}, as net_kernel does (net_adm:ping). */
static int net_kernel_message(conn *c, oak_term_arena *a, const oak_term *msg)
{
    if (msg->type != OAK_TERM_TUPLE || msg->u.tuple.arity != 3 ||
        !oak_term_atom_is(msg->u.tuple.items[0], "$gen_call"))
        return 0;
    const oak_term *from = msg->u.tuple.items[1], *req = msg->u.tuple.items[2];
    if (from->type != OAK_TERM_TUPLE || from->u.tuple.arity != 2 ||
        from->u.tuple.items[0]->type != OAK_TERM_PID || req->type != OAK_TERM_TUPLE ||
        req->u.tuple.arity != 2 || !oak_term_atom_is(req->u.tuple.items[0], "is_auth"))
        return 0;
    oak_term *to = from->u.tuple.items[0];
    oak_term *reply = oak_term_tuple2(a, from->u.tuple.items[1], oak_term_atom(a, "yes"));
    oak_term *ctrl = send_ctrl(c, a, self_pid_term(a), to);
    if (!ctrl || !reply)
        return -ENOMEM;
    return conn_send(c, ctrl, reply);
}

/* An exit or monitor-down signal with reason noproc, for a link or monitor
 * to a process this node does not have: {op, From, To(, Ref)} and the
 * reason, as a payload when EXIT_PAYLOAD is on. */
static int noproc_signal(conn *c, oak_term_arena *a, int64_t op, int64_t payload_op,
                         oak_term *from, oak_term *to, oak_term *ref)
{
    oak_term *reason = oak_term_atom(a, "noproc");
    bool payload = c->flags & OAK__DFLAG_EXIT_PAYLOAD;
    oak_term *v[5] = {oak_term_int(a, payload ? payload_op : op), from, to, ref, reason};
    size_t n = ref ? 4 : 3;
    if (!payload)
        v[n++] = reason;
    oak_term *ctrl = oak_term_tuple(a, n, v);
    if (!ctrl)
        return -ENOMEM;
    return conn_send(c, ctrl, payload ? reason : NULL);
}

/* ---- remote pids: links, monitors and exit signals ----------------------- */

/* The atom of a lost connection's signals. */
static oak_atom atom_noconnection(void) { return oak_atom_from("noconnection"); }

/* Our reference ref as a term: three words, as Erlang's ordinary refs. */
static oak_term *ref_term(oak_term_arena *a, oak_ref ref)
{
    uint32_t ids[3] = {(uint32_t)ref, (uint32_t)(ref >> 32), 0};
    return oak_term_ref(a, N.name, N.creation, ids, 3);
}

/* One of our references, made by ref_term()? */
static bool ref_of_term(const oak_term *t, oak_ref *ref)
{
    if (t->type != OAK_TERM_REF || t->u.ref.n != 3 || t->u.ref.creation != N.creation ||
        strcmp(t->u.ref.node.name, N.name) != 0 || t->u.ref.ids[2] != 0)
        return false;
    *ref = (oak_ref)t->u.ref.ids[0] | (oak_ref)t->u.ref.ids[1] << 32;
    return *ref != 0;
}

/* An alias of a process here goes out as a five-word reference: the
 * alias in words 0 and 1, this mark in word 2, the owner's slot and
 * generation in words 3 and 4, so that a peer's ALIAS_SEND to it finds
 * its process (Erlang's aliases carry their process too). */
enum { ALIAS_MARK = 0x0A11A5 };

static oak_term *alias_term(oak_term_arena *a, oak_pid owner, oak_ref alias)
{
    uint32_t ids[5] = {(uint32_t)alias, (uint32_t)(alias >> 32), ALIAS_MARK, PID_SLOT(owner),
                       PID_GEN(owner)};
    return oak_term_ref(a, N.name, N.creation, ids, 5);
}

/* The owner and alias of t, when it is one of alias_term()'s. N.name and
 * N.creation read: the node runs. */
static bool alias_of_term(const oak_term *t, oak_pid *owner, oak_ref *alias)
{
    if (t->type != OAK_TERM_REF || t->u.ref.n != 5 || t->u.ref.ids[2] != ALIAS_MARK ||
        t->u.ref.creation != N.creation || strcmp(t->u.ref.node.name, N.name) != 0 ||
        t->u.ref.ids[3] >> 28 || t->u.ref.ids[4] >> 28 || t->u.ref.ids[3] == 0)
        return false;
    *alias = (oak_ref)t->u.ref.ids[0] | (oak_ref)t->u.ref.ids[1] << 32;
    *owner = (oak_pid)t->u.ref.ids[3] | (oak_pid)t->u.ref.ids[4] << 28;
    return *alias != 0;
}

/* An exit reason as a term: the atom, or {Atom, <<"detail">>}. */
static oak_term *reason_term(oak_term_arena *a, oak_atom r, const char *detail)
{
    oak_term *t = oak_term_from_atom(a, r ? r : OAK_NORMAL);
    return detail ? oak_term_tuple2(a, t, oak_term_binary(a, detail, strlen(detail))) : t;
}

/* A peer's exit reason as an atom and a detail: an atom is itself (its
 * name interned, as Erlang does); {Atom, X} is Atom with X as the detail
 * (a binary's or string's text, else X printed); anything else is
 * `error` with the term printed. */
static oak_atom reason_of(const oak_term *t, char *detail, size_t size)
{
    detail[0] = '\0';
    oak_atom r = t ? oak_term_to_atom(t) : OAK_ATOM_NONE;
    if (r)
        return r;
    if (t && t->type == OAK_TERM_TUPLE && t->u.tuple.arity == 2 &&
        (r = oak_term_to_atom(t->u.tuple.items[0])) != OAK_ATOM_NONE) {
        const oak_term *x = t->u.tuple.items[1];
        if (x->type == OAK_TERM_BINARY && x->u.bin.bits == 8)
            snprintf(detail, size, "%.*s", (int)x->u.bin.size, (const char *)x->u.bin.data);
        else if (x->type == OAK_TERM_STRING)
            snprintf(detail, size, "%.*s", (int)x->u.str.len, (const char *)x->u.str.bytes);
        else
            oak_term_format(x, detail, size);
        return r;
    }
    if (t)
        oak_term_format(t, detail, size);
    return OAK_ERROR;
}

static int link_find(const conn *c, oak_pid local, oak_pid remote)
{
    for (size_t i = 0; i < c->nlinks; i++)
        if (c->links[i].local == local && c->links[i].remote == remote)
            return (int)i;
    return -1;
}

/* The array arr of n elements of elem bytes, with room for one more: arr
 * itself, or when it is full (capacity *cap) a copy twice as large. NULL
 * when out of memory (arr is then unchanged). */
static void *room_for_one(void *arr, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return arr;
    size_t ncap = *cap ? 2 * *cap : 16;
    void *b = realloc(arr, ncap * elem);
    if (b)
        *cap = ncap;
    return b;
}

static void link_add(conn *c, oak_pid local, oak_pid remote)
{
    if (link_find(c, local, remote) >= 0)
        return;
    struct rlink *l = room_for_one(c->links, c->nlinks, &c->caplinks, sizeof *l);
    if (!l)
        return; /* out of memory: no noconnection for this link */
    c->links = l;
    c->links[c->nlinks++] = (struct rlink){local, remote};
}

static void link_del(conn *c, oak_pid local, oak_pid remote)
{
    int i = link_find(c, local, remote);
    if (i >= 0)
        c->links[i] = c->links[--c->nlinks];
}

static struct rmon *mon_add(conn *c)
{
    struct rmon *m = room_for_one(c->mons, c->nmons, &c->capmons, sizeof *m);
    if (!m)
        return NULL;
    c->mons = m;
    m = &c->mons[c->nmons++];
    memset(m, 0, sizeof *m);
    return m;
}

static struct rmon *mon_by_ref(conn *c, bool in, oak_ref ref)
{
    for (size_t i = 0; i < c->nmons; i++)
        if (c->mons[i].in == in && c->mons[i].ref == ref)
            return &c->mons[i];
    return NULL;
}

static void mon_del(conn *c, struct rmon *m) { *m = c->mons[--c->nmons]; }

/* At most this many of the peer's calls await their replies; a new one
 * beyond it makes the oldest forgotten (its reply is then lost). */
enum { MAX_CALLS = 65536 };

static struct rcall *call_find(conn *c, oak_ref ref, oak_pid caller, bool out)
{
    for (size_t i = 0; i < c->ncalls; i++)
        if (c->calls[i].ref == ref && c->calls[i].caller == caller && c->calls[i].out == out)
            return &c->calls[i];
    return NULL;
}

/* Room for one more call, the oldest forgotten when MAX_CALLS wait. */
static bool call_room(conn *c)
{
    if (c->ncalls == MAX_CALLS) {
        oak_log(OAK_LOG_WARNING, "dist_report",
                "node=%s event=call_forgotten peer=%s reason=%d calls await replies", N.name,
                c->peer, MAX_CALLS);
        memmove(c->calls, c->calls + 1, (c->ncalls - 1) * sizeof *c->calls);
        c->ncalls--;
    }
    struct rcall *arr = room_for_one(c->calls, c->ncalls, &c->capcalls, sizeof *arr);
    if (arr)
        c->calls = arr;
    return arr != NULL;
}

/* Forget the calls for which keep() is false (order kept). */
static void calls_filter(conn *c, bool (*keep)(const struct rcall *k, oak_pid p, oak_ref r),
                         oak_pid p, oak_ref r)
{
    size_t n = 0;
    for (size_t i = 0; i < c->ncalls; i++)
        if (keep(&c->calls[i], p, r))
            c->calls[n++] = c->calls[i];
    c->ncalls = n;
}

static bool call_not_ref(const struct rcall *k, oak_pid p, oak_ref r) { return k->ref != r; }
static bool call_not_to(const struct rcall *k, oak_pid p, oak_ref r) { return k->server != p; }

/* The caller's monitor mon of the server ended: it no longer waits for
 * the replies of its calls made with that monitor. They are kept until
 * the reply comes, which is then dropped, as the caller's node would drop
 * it (the alias went with the monitor); sent as a plain message, it would
 * land in the caller's mailbox. */
static void calls_gave_up(conn *c, oak_ref mon)
{
    for (size_t i = 0; i < c->ncalls; i++)
        if (!c->calls[i].out && c->calls[i].mon == mon)
            c->calls[i].gave_up = true;
}

/* The connection is gone: links to the peer's processes end with
 * noconnection, monitors of them give DOWN noconnection, and the peer's
 * links and monitors on local processes are dropped, as in Erlang. */
static void conn_noconnection(conn *c)
{
    pthread_mutex_lock(&N.lock);
    for (int i = 1; i < nodes_used; i++)
        if (nodes[i].conn == oak_self())
            nodes[i].conn = OAK_NOPID;
    pthread_mutex_unlock(&N.lock);
    oak_atom nc = atom_noconnection();
    for (size_t i = 0; i < c->nlinks; i++) {
        oak__remote_sig s = {.op = OAK__R_EXIT_LINK, .from = c->links[i].remote,
                             .to = c->links[i].local, .reason = nc};
        oak__remote_inject(&s);
    }
    for (size_t i = 0; i < c->nmons; i++) {
        const struct rmon *m = &c->mons[i];
        oak__remote_sig s = {.op = m->in ? OAK__R_DEMONITOR : OAK__R_DOWN, .from = m->remote,
                             .to = m->local, .ref = m->ref, .reason = nc};
        oak__remote_inject(&s);
    }
    free(c->links);
    free(c->mons);
    free(c->calls);
    c->links = NULL;
    c->mons = NULL;
    c->calls = NULL;
    c->nlinks = c->nmons = c->ncalls = 0;
}

/* What dist_hook() hands a connection: this header, the detail (dlen
 * bytes with its NUL) and the message's bytes. */
typedef struct out_hdr {
    int32_t op;
    oak_atom reason;
    oak_pid from, to;
    oak_ref ref;
    uint64_t tag;
    uint64_t size;
    uint32_t dlen;
    oak_atom name; /* SEND, MONITOR: to the name on to's node, or 0 */
} out_hdr;

/* The answer to a signal that cannot reach its node: a link ends at
 * once with noconnection and a monitor gives DOWN noconnection (Erlang's
 * answer when the node cannot be reached); messages are lost, as
 * Erlang's. */
static void refuse(const oak__remote_sig *sig)
{
    oak__remote_sig r = {.from = sig->to, .to = sig->from, .ref = sig->ref,
                         .reason = atom_noconnection()};
    r.op = sig->op == OAK__R_LINK ? OAK__R_EXIT_LINK : sig->op == OAK__R_MONITOR ? OAK__R_DOWN : 0;
    if (r.op && r.to)
        oak__remote_inject(&r);
}

/* sig as a connection takes it: out_hdr, the detail (dlen bytes with its
 * NUL) and the message's bytes, in small (cap bytes) when it fits, else
 * in a new malloc()ed buffer. NULL when out of memory. */
static uint8_t *out_encode(const oak__remote_sig *sig, uint8_t *small, size_t cap, size_t *len)
{
    size_t dlen = sig->detail ? strlen(sig->detail) + 1 : 0;
    size_t n = sizeof(out_hdr) + dlen + sig->size;
    uint8_t *b = n <= cap ? small : malloc(n);
    if (!b)
        return NULL;
    out_hdr h = {sig->op, sig->reason, sig->from, sig->to, sig->ref, sig->tag, sig->size,
                 (uint32_t)dlen, sig->name};
    memcpy(b, &h, sizeof h);
    if (dlen)
        memcpy(b + sizeof h, sig->detail, dlen);
    if (sig->size)
        memcpy(b + sizeof h + dlen, sig->data, sig->size);
    *len = n;
    return b;
}

/* The signal of an item made by out_encode() (the detail and data point
 * into it), refused. */
static void refuse_item(const uint8_t *b, size_t n)
{
    out_hdr h;
    if (n < sizeof h)
        return;
    memcpy(&h, b, sizeof h);
    oak__remote_sig s = {.op = h.op, .from = h.from, .to = h.to, .ref = h.ref};
    refuse(&s);
}

/* At most this many bytes wait for a connection to one node; beyond,
 * signals are refused (and messages lost), and that is logged. */
enum { MAX_PENDING = 64 << 20 };

/* The tag of the connector's requests: connect to the node (an int, its
 * node_any() entry) and hand its queued items over. */
#define TAG_CONNECT ((uint64_t)0x4F414B434F4E4E00)

/* With no connection up to sig's node: queue sig for it, on the node's
 * entry by name, until a connection comes up (which takes the queue, see
 * conn_take_pending()) or the connect fails (connect_worker()). Returns
 * 0 when sig is to be refused (it is for an old incarnation of a node
 * that is up again), -1 when it is to be refused because the queue is
 * full or memory is out, 1 when queued, and the entry's index + 2 when
 * queued first: a connect is to be asked for. N.lock held. */
static int queue_for_connect(int idx, const oak__remote_sig *sig)
{
    int a = nodes[idx].creation ? node_any(nodes[idx].name) : idx;
    if (a < 0 || nodes[a].conn || !N.connector)
        return 0;
    uint8_t *b;
    size_t n;
    if (nodes[a].pending_bytes > MAX_PENDING || !(b = out_encode(sig, NULL, 0, &n)))
        return -1;
    pend *q = malloc(sizeof *q + n);
    if (!q) {
        free(b);
        return -1;
    }
    memcpy(q->b, b, n);
    free(b);
    q->size = n;
    q->next = NULL;
    *nodes[a].pending_tail = q;
    nodes[a].pending_tail = &q->next;
    nodes[a].pending_bytes += n;
    if (nodes[a].connecting)
        return 1;
    nodes[a].connecting = true;
    return a + 2;
}

/* The queue of entry a, taken out (oldest first). N.lock held. */
static pend *take_pending(int a)
{
    pend *q = nodes[a].pending;
    nodes[a].pending = NULL;
    nodes[a].pending_tail = &nodes[a].pending;
    nodes[a].pending_bytes = 0;
    nodes[a].connecting = false;
    return q;
}

/* The hook (core/remote.h): a local process's message or signal for a
 * remote pid goes to the connection that is up to its node, as a message,
 * so that the signals of one process reach the peer in the order sent;
 * the hook never blocks. With no connection, the signal waits in the
 * node's queue while the connector makes one, as Erlang's auto-connect
 * (the connection takes the queue before it takes any later signal, so
 * the order holds); when that fails, the queue is refused (refuse()). */
static int hand_over(oak_pid conn_pid, const oak__remote_sig *sig);
static void refuse_pending(pend *q);

static void dist_hook(const oak__remote_sig *sig)
{
    int idx = (int)(sig->to >> OAK__NODE_SHIFT), queued = 0;
    oak_pid conn_pid = OAK_NOPID, connector = OAK_NOPID;
    pthread_mutex_lock(&N.lock);
    if (N.running && idx < nodes_used) {
        conn_pid = nodes[idx].conn;
        if (!conn_pid)
            queued = queue_for_connect(idx, sig);
        connector = N.connector;
    }
    pthread_mutex_unlock(&N.lock);
    if (conn_pid) {
        if (hand_over(conn_pid, sig) != 0)
            refuse(sig);
    } else if (queued >= 2) {
        int a = queued - 2;
        oak__remote_sig w = {.op = OAK__R_SEND, .from = sig->from, .to = connector,
                             .tag = TAG_CONNECT, .data = &a, .size = sizeof a};
        if (oak__remote_inject(&w) != 0) {
            /* No connector (the node stops): no connect will come. */
            pthread_mutex_lock(&N.lock);
            pend *q = take_pending(a);
            pthread_mutex_unlock(&N.lock);
            refuse_pending(q);
        }
    } else if (queued <= 0) {
        if (queued < 0)
            oak_log(OAK_LOG_ERROR, "dist_report", "node=%s event=pending_full lost=remote_signal",
                    N.name);
        refuse(sig);
    }
}

/* Give sig to the connection conn_pid as a TAG_DIST_OUT message. Returns
 * 0, or -ESRCH when the connection has ended meanwhile. */
static int hand_over(oak_pid conn_pid, const oak__remote_sig *sig)
{
    uint8_t small[512];
    size_t n;
    uint8_t *b = out_encode(sig, small, sizeof small, &n);
    if (!b) {
        oak_log(OAK_LOG_ERROR, "dist_report", "event=out_of_memory lost=remote_signal");
        return 0;
    }
    oak__remote_sig w = {.op = OAK__R_SEND, .from = sig->from, .to = conn_pid,
                         .tag = TAG_DIST_OUT, .data = b, .size = n};
    int rc = oak__remote_inject(&w);
    if (b != small)
        free(b);
    return rc == -ESRCH ? rc : 0;
}

/* The term of any pid: ours, or a remote one by its node's entry. */
static oak_term *any_pid_term(oak_term_arena *a, oak_pid pid) { return oak_node_pid_to_term(a, pid); }

/* A packet of the control term and raw message bytes (a term with its
 * version byte), written in turn with the other writers. */
static int conn_send_raw(conn *c, const oak_term *ctrl, const void *raw, size_t rlen)
{
    packet pk;
    int rc = packet_build_with(ctrl, NULL, raw, rlen, c->flags, &pk);
    return rc ? rc : conn_write(c, &pk);
}

/* An op with the reason as a payload (EXIT_PAYLOAD) or as the last
 * element: {pop, v...} + Reason, or {op, v..., Reason}. */
static int send_with_reason(conn *c, oak_term_arena *a, int64_t op, int64_t pop, oak_term **v,
                            size_t n, oak_term *reason)
{
    bool payload = c->flags & OAK__DFLAG_EXIT_PAYLOAD;
    oak_term *e[6] = {oak_term_int(a, payload ? pop : op)};
    for (size_t i = 0; i < n; i++)
        e[i + 1] = v[i];
    if (!payload)
        e[++n] = reason;
    oak_term *ctrl = oak_term_tuple(a, n + 1, e);
    if (!ctrl || !reason)
        return -ENOMEM;
    return conn_send(c, ctrl, payload ? reason : NULL);
}

/* The reply of a local gen_server (h->from) to the peer's call k:
 * {Tag, Reply}, with Reply the reply's term (an OAK_TAG_TERM reply), `ok`
 * for OAK_OK with no bytes (the reply when none was set), else
 * {'$oak_msg', T, <<B>>}. It goes to the call's alias when Tag is
 * [alias | Alias] (OTP 24's gen:call, so that a reply that comes after the
 * caller gave up is dropped on its node), else to the caller. The message
 * is spliced from the encoded Tag and Reply: 131, SMALL_TUPLE_EXT, 2,
 * then each without its version byte. */
static int call_reply(conn *c, oak_term_arena *a, const struct rcall *k, oak_term *from,
                      oak_term *to, const out_hdr *h, const uint8_t *data)
{
    oak_term *tag;
    if (oak_term_decode(a, k->tag, k->tlen, &tag, NULL) != 0)
        return 0;
    const uint8_t *rb = data;
    size_t rn = h->size;
    void *own = NULL;
    if (!is_term_bytes(h->tag, data, h->size)) {
        oak_term *t = h->tag == OAK_OK && h->size == 0 ? oak_term_atom(a, "ok")
                                                       : oak_msg_term(a, h->tag, data, h->size);
        if (!t || oak_term_encode_alloc(t, &own, &rn) != 0)
            return 0;
        rb = own;
    }
    size_t n = 3 + (k->tlen - 1) + (rn - 1);
    uint8_t *m = malloc(n);
    oak_term *ctrl = NULL;
    if (m) {
        m[0] = OAK_TERM_VERSION;
        m[1] = 104; /* SMALL_TUPLE_EXT */
        m[2] = 2;
        memcpy(m + 3, k->tag + 1, k->tlen - 1u);
        memcpy(m + 2 + k->tlen, rb + 1, rn - 1);
        const oak_term *alias = NULL;
        if (tag->type == OAK_TERM_LIST && tag->u.list.count == 1 &&
            oak_term_atom_is(tag->u.list.items[0], "alias") &&
            tag->u.list.tail->type == OAK_TERM_REF)
            alias = tag->u.list.tail;
        if (alias && (c->flags & OAK__DFLAG_ALIAS)) /* ALIAS_SEND {33, From, Alias} */
            ctrl = oak_term_tuple3(a, oak_term_int(a, 33), from, (oak_term *)alias);
        else
            ctrl = send_ctrl(c, a, from, to);
    }
    int rc = ctrl ? conn_send_raw(c, ctrl, m, n) : 0;
    free(m);
    free(own);
    return rc;
}

/* A local process's oak_gen_server_call() to the peer's process h->to
 * (oak's call message, behaviours/gen_server.h: its request ref and
 * header): sent as Erlang's {'$gen_call', {From, Ref}, Req}, Req the
 * request's term (or {'$oak_msg', T, <<B>>}), with a plain reference as
 * the tag; the call is kept until its reply comes (gen_reply_in()). The
 * monitor went out before, as oak_send_request() sends it. */
static int gen_call_out(conn *c, oak_term_arena *a, const out_hdr *h, const uint8_t *data,
                        oak_term *from, oak_term *to)
{
    oak__gen_req_hdr hdr;
    memcpy(&hdr, data, sizeof hdr);
    const uint8_t *rb = data + sizeof hdr;
    size_t rn = h->size - sizeof hdr;
    oak_term *req;
    if (!is_term_bytes(hdr.tag, rb, rn) || oak_term_decode(a, rb, rn, &req, NULL) != 0)
        req = oak_msg_term(a, hdr.tag, rb, rn);
    oak_term *msg = oak_term_tuple3(a, oak_term_atom(a, "$gen_call"),
                                    oak_term_tuple2(a, from, ref_term(a, h->ref)), req);
    oak_term *ctrl = send_to_ctrl(c, a, from, to, h->name);
    if (!msg || !ctrl || !call_room(c))
        return 0;
    c->calls[c->ncalls++] = (struct rcall){.ref = h->ref, .server = h->to, .caller = h->from,
                                           .out = true};
    return conn_send(c, ctrl, msg);
}

/* A message or signal of a local process for the peer (a TAG_DIST_OUT
 * message from dist_hook()). Returns < 0 when the socket failed. */
static int conn_out(conn *c, const oak_msg *msg)
{
    if (msg->size < sizeof(out_hdr))
        return 0;
    out_hdr h;
    memcpy(&h, msg->data, sizeof h);
    const char *detail = h.dlen ? (const char *)msg->data + sizeof h : NULL;
    const uint8_t *data = (const uint8_t *)msg->data + sizeof h + h.dlen;
    oak_term_arena *a = oak_term_arena_new();
    if (!a)
        return 0;
    oak_term *from = any_pid_term(a, h.from ? h.from : oak_self());
    oak_term *to = any_pid_term(a, h.to);
    int rc = 0;
    switch (h.op) {
    case OAK__R_SEND: {
        struct rcall *k = h.ref ? call_find(c, h.ref, h.to, false) : NULL;
        if (k) {
            if (!k->gave_up)
                rc = call_reply(c, a, k, from, to, &h, data);
            calls_filter(c, call_not_ref, OAK_NOPID, h.ref);
            break;
        }
        if (h.ref && h.tag == oak_atom_from("$gen_call") && h.size >= sizeof(oak__gen_req_hdr)) {
            rc = gen_call_out(c, a, &h, data, from, to);
            break;
        }
        oak_term *ctrl = send_to_ctrl(c, a, from, to, h.name);
        if (!ctrl)
            break;
        if (is_term_bytes(h.tag, data, h.size)) {
            rc = conn_send_raw(c, ctrl, data, h.size);
        } else {
            oak_term *t = oak_msg_term(a, h.tag, data, h.size);
            if (t)
                rc = conn_send(c, ctrl, t);
        }
        break;
    }
    case OAK__R_LINK:
        link_add(c, h.from, h.to);
        rc = conn_send(c, oak_term_tuple3(a, oak_term_int(a, 1), from, to), NULL);
        break;
    case OAK__R_UNLINK: {
        link_del(c, h.from, h.to);
        oak_term *v[4] = {oak_term_int(a, 35), oak_term_uint(a, ++c->unlink_id), from, to};
        rc = conn_send(c, oak_term_tuple(a, 4, v), NULL);
        break;
    }
    case OAK__R_EXIT_LINK:
    case OAK__R_EXIT: {
        bool link = h.op == OAK__R_EXIT_LINK;
        if (link) {
            if (link_find(c, h.from, h.to) < 0)
                break; /* no such link (any more) */
            link_del(c, h.from, h.to);
        }
        oak_term *v[2] = {from, to};
        rc = send_with_reason(c, a, link ? 3 : 8, link ? 24 : 26, v, 2,
                              reason_term(a, h.reason, detail));
        break;
    }
    case OAK__R_MONITOR: {
        /* By pid, or by name (MONITOR_P {19, From, Name, Ref}: the
         * peer's MONITOR_P_EXIT then names the process by Name). */
        struct rmon *m = mon_add(c);
        if (m)
            *m = (struct rmon){.local = h.from, .remote = h.to, .ref = h.ref, .name = h.name};
        oak_term *v[4] = {oak_term_int(a, 19), from, h.name ? oak_term_from_atom(a, h.name) : to,
                          ref_term(a, h.ref)};
        rc = conn_send(c, oak_term_tuple(a, 4, v), NULL);
        break;
    }
    case OAK__R_DEMONITOR: {
        /* A caller that gave up its call (a timeout): the late reply is
         * dropped (gen_reply_in()). */
        for (size_t i = 0; i < c->ncalls; i++)
            if (c->calls[i].out && c->calls[i].ref == h.ref)
                c->calls[i].gave_up = true;
        struct rmon *m = mon_by_ref(c, false, h.ref);
        if (!m)
            break;
        oak_term *v[4] = {oak_term_int(a, 20), from, m->name ? oak_term_from_atom(a, m->name) : to,
                          ref_term(a, h.ref)};
        mon_del(c, m);
        rc = conn_send(c, oak_term_tuple(a, 4, v), NULL);
        break;
    }
    case OAK__R_DOWN: {
        /* A local process the peer monitors died (or was not there). */
        struct rmon *m = mon_by_ref(c, true, h.ref);
        oak_term *rref;
        if (!m || oak_term_decode(a, m->rref, m->rlen, &rref, NULL) != 0)
            break;
        oak_term *who = m->name ? oak_term_from_atom(a, m->name) : from;
        mon_del(c, m);
        calls_filter(c, call_not_to, h.from, 0); /* no reply will come */
        oak_term *v[3] = {who, to, rref};
        rc = send_with_reason(c, a, 21, 28, v, 3, reason_term(a, h.reason, detail));
        break;
    }
    default:
        break;
    }
    oak_term_arena_free(a);
    return rc == -ENOMEM || rc == -ELOOP || rc == -EOVERFLOW ? 0 : rc;
}

/* A local pid named by term t (a pid of this node, or a registered name
 * here), or 0. */
static oak_pid local_target(const oak_term *t)
{
    oak_pid pid = OAK_NOPID;
    if (t->type == OAK_TERM_ATOM) {
        oak_atom name = oak__atom_find(t->u.atom.name, t->u.atom.len);
        return name ? oak_whereis(name) : OAK_NOPID;
    }
    if (oak_node_term_to_pid(t, &pid) != 0 || pid >> OAK__NODE_SHIFT)
        return OAK_NOPID;
    return pid;
}

/* The peer's pid term t as an oak_pid, or 0. */
static oak_pid remote_pid(const oak_term *t)
{
    oak_pid pid;
    return t->type == OAK_TERM_PID && oak_node_term_to_pid(t, &pid) == 0 &&
                   pid >> OAK__NODE_SHIFT
               ? pid
               : OAK_NOPID;
}

/* The tag and bytes of t when it is {'$oak_msg', Tag, <<Bytes>>}. */
static bool oak_msg_of(const oak_term *t, uint64_t *tag, const void **data, size_t *size)
{
    if (t->type != OAK_TERM_TUPLE || t->u.tuple.arity != 3)
        return false;
    oak_term *const *v = t->u.tuple.items;
    if (!oak_term_atom_is(v[0], "$oak_msg") || v[1]->type != OAK_TERM_INT || v[1]->u.i < 0 ||
        v[2]->type != OAK_TERM_BINARY || v[2]->u.bin.bits != 8)
        return false;
    *tag = (uint64_t)v[1]->u.i;
    *data = v[2]->u.bin.data;
    *size = v[2]->u.bin.size;
    return true;
}

/* Deliver a message from the peer: the raw term, or for
 * {'$oak_msg', Tag, <<Bytes>>} the tag and bytes. */
static void deliver_in(oak_pid to, oak_pid from, oak_ref alias, const oak_term *msg,
                       const uint8_t *raw, size_t rlen)
{
    oak__remote_sig s = {.op = alias ? OAK__R_ALIAS_SEND : OAK__R_SEND,
                         .from = from ? from : oak_self(), .to = to, .ref = alias,
                         .tag = OAK_TAG_TERM, .data = raw, .size = rlen};
    /* {Ref, Reply} with one of our references (a gen_server call's reply,
     * oak_node_call()) carries it as the message's ref, so that
     * oak_receive_ref() finds it. */
    if (!alias && msg->type == OAK_TERM_TUPLE && msg->u.tuple.arity == 2)
        ref_of_term(msg->u.tuple.items[0], &s.ref);
    oak_msg_of(msg, &s.tag, &s.data, &s.size);
    oak__remote_inject(&s);
}

/* The peer's monitor of a local process by remote watcher `from` with
 * the peer's reference t, or NULL. */
static struct rmon *mon_in_of(conn *c, oak_pid from, const oak_term *t)
{
    uint8_t rref[64];
    size_t rl;
    if (!from || oak_term_encode(t, rref, sizeof rref, &rl) != 0)
        return NULL;
    for (size_t i = 0; i < c->nmons; i++) {
        struct rmon *m = &c->mons[i];
        if (m->in && m->remote == from && m->rlen == rl && memcmp(m->rref, rref, rl) == 0)
            return m;
    }
    return NULL;
}

/* A peer's gen_server call, {'$gen_call', {From, Tag}, Req} sent by From
 * (what gen_server:call/2,3 sends), reaches the local process `to` as
 * oak's own call (behaviours/gen_server.h): tag '$gen_call', the caller
 * as `from`, a ref of ours, and Req as an OAK_TAG_TERM request (or, for
 * {'$oak_msg', T, <<B>>}, tag T and bytes B). An oak gen_server answers it
 * as a local call; the reply comes back through dist_hook() with that
 * ref, and call_reply() sends {Tag, Reply}. The call is forgotten when
 * its reply is sent (or dropped, when the caller's monitor of the server,
 * gen:call's, named in Tag = [alias | Mref], ended before), or when the
 * server dies. Returns
 * false when msg is no such call: it is then delivered as it is. */
static bool gen_call_in(conn *c, oak_pid to, oak_pid from, const oak_term *msg)
{
    if (!from || msg->type != OAK_TERM_TUPLE || msg->u.tuple.arity != 3)
        return false;
    oak_term *const *v = msg->u.tuple.items;
    if (!oak_term_atom_is(v[0], "$gen_call") || v[1]->type != OAK_TERM_TUPLE ||
        v[1]->u.tuple.arity != 2 || remote_pid(v[1]->u.tuple.items[0]) != from)
        return false;
    const oak_term *tag = v[1]->u.tuple.items[1], *req = v[2];
    struct rcall k = {.ref = oak_make_ref(), .server = to, .caller = from};
    size_t len;
    if (oak_term_encode(tag, k.tag, sizeof k.tag, &len) != 0)
        return false; /* a Tag this large is no gen:call's */
    k.tlen = (uint8_t)len;
    const struct rmon *m = tag->type == OAK_TERM_LIST && tag->u.list.count == 1
                               ? mon_in_of(c, from, tag->u.list.tail)
                               : NULL;
    k.mon = m ? m->ref : 0;
    oak__remote_sig s = {.op = OAK__R_SEND, .from = from, .to = to, .ref = k.ref,
                         .tag = oak_atom_from("$gen_call")};
    uint64_t rtag = OAK_TAG_TERM;
    const void *rdata = NULL;
    size_t rsize = 0;
    bool bytes = oak_msg_of(req, &rtag, &rdata, &rsize);
    if (!bytes && oak_term_encoded_size(req, &rsize) != 0)
        return false;
    oak__gen_req_hdr hdr = {rtag, 0, 0};
    uint8_t *b = malloc(sizeof hdr + rsize);
    if (!b || !call_room(c)) {
        free(b);
        oak_log(OAK_LOG_ERROR, "dist_report", "event=out_of_memory lost=gen_server_call");
        return true;
    }
    memcpy(b, &hdr, sizeof hdr);
    if (bytes)
        memcpy(b + sizeof hdr, rdata, rsize);
    else
        oak_term_encode(req, b + sizeof hdr, rsize, &len);
    s.data = b;
    s.size = sizeof hdr + rsize;
    if (oak__remote_inject(&s) == 0)
        c->calls[c->ncalls++] = k;
    free(b);
    return true;
}

/* The reply {Ref, Reply} to a local process's call (gen_call_out()):
 * delivered as oak's reply, Reply with the call's ref (an OAK_TAG_TERM
 * message, or tag T and bytes B for {'$oak_msg', T, <<B>>}), so that
 * oak_gen_server_call() takes it; dropped when the caller gave up (it
 * demonitored: a timeout), as the alias would drop it between oak
 * processes. Returns false when msg is no such reply. */
static bool gen_reply_in(conn *c, oak_pid to, const oak_term *msg)
{
    oak_ref ref;
    if (msg->type != OAK_TERM_TUPLE || msg->u.tuple.arity != 2 ||
        !ref_of_term(msg->u.tuple.items[0], &ref))
        return false;
    struct rcall *k = call_find(c, ref, to, true);
    if (!k)
        return false;
    bool drop = k->gave_up;
    oak__remote_sig s = {.op = OAK__R_SEND, .from = k->server, .to = to, .ref = ref,
                         .tag = OAK_TAG_TERM};
    calls_filter(c, call_not_ref, OAK_NOPID, ref);
    if (drop)
        return true;
    const oak_term *r = msg->u.tuple.items[1];
    void *own = NULL;
    if (!oak_msg_of(r, &s.tag, &s.data, &s.size)) {
        if (oak_term_encode_alloc(r, &own, &s.size) != 0)
            return true;
        s.data = own;
    }
    oak__remote_inject(&s);
    free(own);
    return true;
}

/* One distribution message: the control term and maybe the message, p
 * at the control term's version byte. With `bare` (after a distribution
 * header) the message has no version byte of its own: it is given one in
 * place of the control term's last byte, decoded by then. Malformed
 * content is reported and dropped; only a failed write ends the
 * connection (rc < 0). */
static int conn_packet(conn *c, uint8_t *p, size_t n, bool bare)
{
    oak_term_arena *a = oak_term_arena_new();
    if (!a)
        return -ENOMEM;
    oak_term *ctrl = NULL, *msg = NULL;
    size_t used = 0;
    int rc = oak_term_decode(a, p, n, &ctrl, &used);
    if (rc == 0 && (ctrl->type != OAK_TERM_TUPLE || ctrl->u.tuple.arity == 0 ||
                    ctrl->u.tuple.items[0]->type != OAK_TERM_INT))
        rc = -EBADMSG;
    if (rc) {
        oak_log(OAK_LOG_WARNING, "dist_report",
                "node=%s event=bad_control_message peer=%s reason=%s", N.name, c->peer,
                oak_strerror(rc));
        oak_term_arena_free(a);
        return 0;
    }
    oak_term *const *f = ctrl->u.tuple.items;
    rc = 0;
    /* The message after the control term, checked before it is passed
     * on: a receiver is promised a well-formed term. */
    if (bare && used < n)
        p[--used] = OAK_TERM_VERSION;
    bool has_msg = used < n && oak_term_decode(a, p + used, n - used, &msg, NULL) == 0;
    if (op_is(ctrl, 6, 4) || op_is(ctrl, 16, 5)) { /* REG_SEND(_TT) {6, From, _, ToName} */
        if (oak_term_atom_is(f[3], "net_kernel")) {
            if (has_msg)
                rc = net_kernel_message(c, a, msg);
        } else if (has_msg && f[3]->type == OAK_TERM_ATOM) {
            /* Only names that exist here: a peer's names are not interned. */
            oak_pid to = local_target(f[3]);
            oak_pid from = remote_pid(f[1]);
            if (to && !gen_call_in(c, to, from, msg))
                deliver_in(to, from, 0, msg, p + used, n - used);
        }
    } else if (op_is(ctrl, 2, 3) || op_is(ctrl, 12, 4) || op_is(ctrl, 22, 3) ||
               op_is(ctrl, 23, 4)) { /* SEND(_TT), SEND_SENDER(_TT) {op, _, To} */
        oak_pid to = local_target(f[2]);
        oak_pid from = op_is(ctrl, 22, 3) || op_is(ctrl, 23, 4) ? remote_pid(f[1]) : OAK_NOPID;
        if (has_msg && to && f[2]->type == OAK_TERM_PID && !gen_call_in(c, to, from, msg) &&
            !gen_reply_in(c, to, msg))
            deliver_in(to, from, 0, msg, p + used, n - used);
    } else if (op_is(ctrl, 33, 3) || op_is(ctrl, 34, 4)) {
        /* ALIAS_SEND(_TT) {33, From, Alias}: to the alias's owner, which
         * takes it only while the alias is active (a deactivated alias,
         * a dead owner, a reference that is no alias of ours: dropped). */
        oak_pid to, from = remote_pid(f[1]);
        oak_ref alias;
        if (has_msg && alias_of_term(f[2], &to, &alias))
            deliver_in(to, from, alias, msg, p + used, n - used);
    } else if (op_is(ctrl, 19, 4)) { /* MONITOR_P {19, From, ToProc, Ref} */
        /* net_kernel answers is_auth here, but is no process: not
         * monitored (the peer's DOWN comes with the connection's end). */
        oak_pid from = remote_pid(f[1]);
        oak_pid to = local_target(f[2]);
        size_t rl = 0;
        struct rmon *m = NULL;
        if (!from || oak_term_atom_is(f[2], "net_kernel")) {
            /* nothing */
        } else if (to && oak_is_alive(to) &&
                   oak_term_encode(f[3], NULL, 0, &rl) == -ENOSPC && rl <= sizeof m->rref &&
                   (m = mon_add(c)) != NULL) {
            *m = (struct rmon){.local = to, .remote = from, .ref = oak_make_ref(), .in = true,
                               .name = f[2]->type == OAK_TERM_ATOM ? oak__atom_find(
                                           f[2]->u.atom.name, f[2]->u.atom.len)
                                                                  : OAK_ATOM_NONE};
            oak_term_encode(f[3], m->rref, sizeof m->rref, &rl);
            m->rlen = (uint8_t)rl;
            oak__remote_sig s = {.op = OAK__R_MONITOR, .from = from, .to = to, .ref = m->ref};
            if (oak__remote_inject(&s) != 0) {
                mon_del(c, m);
                rc = noproc_signal(c, a, 21, 28, f[2], f[1], f[3]);
            }
        } else {
            rc = noproc_signal(c, a, 21, 28, f[2], f[1], f[3]);
        }
    } else if (op_is(ctrl, 20, 4)) { /* DEMONITOR_P {20, From, ToProc, Ref} */
        oak_pid from = remote_pid(f[1]);
        struct rmon *m = mon_in_of(c, from, f[3]);
        if (m) {
            oak__remote_sig s = {.op = OAK__R_DEMONITOR, .from = from, .to = m->local,
                                 .ref = m->ref};
            oak__remote_inject(&s);
            calls_gave_up(c, m->ref);
            mon_del(c, m);
        }
    } else if (op_is(ctrl, 21, 5) || (op_is(ctrl, 28, 4) && has_msg)) {
        /* MONITOR_P_EXIT {21, FromProc, ToPid, Ref, Reason}, or 28 with
         * the reason as the payload */
        oak_ref ref;
        oak_pid to = local_target(f[2]);
        struct rmon *m = ref_of_term(f[3], &ref) ? mon_by_ref(c, false, ref) : NULL;
        if (m && m->local == to) {
            char detail[OAK_REASON_DETAIL];
            oak__remote_sig s = {.op = OAK__R_DOWN, .from = m->remote, .to = to, .ref = ref};
            s.reason = reason_of(op_is(ctrl, 21, 5) ? f[4] : msg, detail, sizeof detail);
            s.detail = detail[0] ? detail : NULL;
            mon_del(c, m);
            calls_filter(c, call_not_ref, OAK_NOPID, ref); /* a call to it: no reply */
            oak__remote_inject(&s);
        }
    } else if (op_is(ctrl, 1, 3)) { /* LINK {1, From, To} */
        oak_pid from = remote_pid(f[1]);
        oak_pid to = f[2]->type == OAK_TERM_PID ? local_target(f[2]) : OAK_NOPID;
        if (from && to && oak_is_alive(to)) {
            link_add(c, to, from);
            oak__remote_sig s = {.op = OAK__R_LINK, .from = from, .to = to};
            if (oak__remote_inject(&s) != 0) {
                link_del(c, to, from);
                rc = noproc_signal(c, a, 3, 24, f[2], f[1], NULL);
            }
        } else if (from) {
            rc = noproc_signal(c, a, 3, 24, f[2], f[1], NULL);
        }
    } else if (op_is(ctrl, 35, 4)) { /* UNLINK_ID {35, Id, From, To} */
        oak_pid from = remote_pid(f[2]);
        oak_pid to = f[3]->type == OAK_TERM_PID ? local_target(f[3]) : OAK_NOPID;
        if (from && to) {
            link_del(c, to, from);
            oak__remote_sig s = {.op = OAK__R_UNLINK, .from = from, .to = to};
            oak__remote_inject(&s);
        }
        oak_term *v[4] = {oak_term_int(a, 36), f[1], f[3], f[2]};
        oak_term *ack = oak_term_tuple(a, 4, v);
        rc = ack ? conn_send(c, ack, NULL) : -ENOMEM;
    } else if (op_is(ctrl, 3, 4) || (op_is(ctrl, 24, 3) && has_msg) || op_is(ctrl, 8, 4) ||
               (op_is(ctrl, 26, 3) && has_msg)) {
        /* EXIT {3, From, To, Reason} (24: payload), EXIT2 {8, ...} (26) */
        bool link = op_is(ctrl, 3, 4) || op_is(ctrl, 24, 3);
        oak_pid from = remote_pid(f[1]);
        oak_pid to = f[2]->type == OAK_TERM_PID ? local_target(f[2]) : OAK_NOPID;
        if (from && to && (!link || link_find(c, to, from) >= 0)) {
            char detail[OAK_REASON_DETAIL];
            if (link)
                link_del(c, to, from);
            oak__remote_sig s = {.op = link ? OAK__R_EXIT_LINK : OAK__R_EXIT, .from = from,
                                 .to = to};
            s.reason = reason_of(ctrl->u.tuple.arity == 4 ? f[3] : msg, detail, sizeof detail);
            s.detail = detail[0] ? detail : NULL;
            oak__remote_inject(&s);
        }
    }
    /* Everything else (sends to pids, exits, demonitors, spawn requests,
     * unknown operations) has no receiver here yet: dropped. */
    oak_term_arena_free(a);
    return rc == -ENOMEM || rc == -ELOOP || rc == -EOVERFLOW ? 0 : rc;
}

static void frag_report(const conn *c, const char *what, uint64_t seq)
{
    oak_log(OAK_LOG_WARNING, "dist_report",
            "node=%s event=bad_fragment peer=%s reason=%s (sequence %llu)", N.name, c->peer,
            what, (unsigned long long)seq);
}

static struct rseq *seq_find(conn *c, uint64_t id)
{
    for (size_t i = 0; i < c->nseqs; i++)
        if (c->seqs[i].id == id)
            return &c->seqs[i];
    return NULL;
}

static void seq_drop(conn *c, struct rseq *q)
{
    c->frag_bytes -= q->len;
    free(q->b);
    *q = c->seqs[--c->nseqs];
}

/* At most this many fragmented messages are under way on a connection
 * (erts sends one per sending process at a time). */
enum { MAX_SEQS = 1024 };

/* Append n bytes at p to sequence q, its buffer grown by doubling as
 * they come. Returns 0, or < 0 when the connection's fragments would
 * hold more than MAX_PACKET bytes (then it closes) or memory is out. */
static int seq_append(conn *c, struct rseq *q, const uint8_t *p, size_t n)
{
    if (c->frag_bytes + n > MAX_PACKET) {
        frag_report(c, "fragments beyond the packet limit", q->id);
        return -EPROTO;
    }
    if (q->cap - q->len < n) {
        size_t ncap = q->cap ? q->cap : 1024;
        while (ncap - q->len < n)
            ncap *= 2;
        uint8_t *b = realloc(q->b, ncap);
        if (!b)
            return -ENOMEM;
        q->b = b;
        q->cap = ncap;
    }
    memcpy(q->b + q->len, p, n);
    q->len += n;
    c->frag_bytes += n;
    return 0;
}

/* A fragment (header 69 starts a sequence, 70 continues it) of `count`
 * or `frag` (the id, counting down to 1). The message is passed on when
 * its last fragment has come, in order. A fragment that does not fit
 * (no such sequence, out of order, a start of a sequence under way) is
 * reported and its sequence dropped; the connection stays. */
static int conn_fragment(conn *c, bool start, uint64_t id, uint64_t frag, const uint8_t *p,
                         size_t n)
{
    struct rseq *q = seq_find(c, id);
    if (start) {
        if (q) {
            frag_report(c, "a sequence started twice", id);
            seq_drop(c, q);
        }
        if (c->nseqs == MAX_SEQS) {
            frag_report(c, "too many sequences under way", id);
            return 0;
        }
        q = room_for_one(c->seqs, c->nseqs, &c->capseqs, sizeof *q);
        if (!q)
            return -ENOMEM;
        c->seqs = q;
        q = &c->seqs[c->nseqs++];
        *q = (struct rseq){.id = id, .next = frag};
    } else if (!q || q->next != frag) {
        frag_report(c, q ? "a fragment out of order" : "a fragment of no sequence", id);
        if (q)
            seq_drop(c, q);
        return 0;
    }
    static const uint8_t version = OAK_TERM_VERSION;
    int rc = start ? seq_append(c, q, &version, 1) : 0;
    if (rc == 0)
        rc = seq_append(c, q, p, n);
    if (rc) {
        seq_drop(c, q);
        return rc;
    }
    if (--q->next > 0)
        return 0;
    struct rseq done = *q;
    *q = c->seqs[--c->nseqs];
    c->frag_bytes -= done.len;
    rc = conn_packet(c, done.b, done.len, true);
    free(done.b);
    return rc;
}

/* One packet (not a tick), n bytes at p: pass through (112, then the
 * terms with their version bytes), or a distribution header without atom
 * cache references (131, 68, 0, then the terms without version bytes:
 * what erts sends a node that takes fragments and no atom cache), or a
 * fragment (131, 69 or 70). */
static int conn_frame(conn *c, uint8_t *p, size_t n)
{
    if (p[0] == 112)
        return conn_packet(c, p + 1, n - 1, false);
    const char *why = "neither pass-through nor a distribution header";
    if (n >= 3 && p[0] == OAK_TERM_VERSION && p[1] == 68) {
        if (p[2] == 0) {
            p[2] = OAK_TERM_VERSION;
            return conn_packet(c, p + 2, n - 2, true);
        }
        why = "atom cache references (not offered)";
    } else if (n >= 19 && p[0] == OAK_TERM_VERSION && (p[1] == 69 || p[1] == 70)) {
        uint64_t id = rd64(p + 2), frag = rd64(p + 10);
        if (frag == 0) {
            why = "fragment id 0";
        } else if (p[1] == 70) {
            return conn_fragment(c, false, id, frag, p + 18, n - 18);
        } else if (p[18] != 0) {
            why = "atom cache references (not offered)";
        } else if (frag == 1) {
            p[18] = OAK_TERM_VERSION;
            return conn_packet(c, p + 18, n - 18, true);
        } else {
            return conn_fragment(c, true, id, frag, p + 19, n - 19);
        }
    }
    oak_log(OAK_LOG_WARNING, "dist_report", "node=%s event=bad_packet peer=%s reason=%s",
            N.name, c->peer, why);
    return 0;
}

/* Take the complete packets out of c->buf. Returns < 0 to close. */
static int conn_packets(conn *c)
{
    size_t off = 0;
    int rc = 0;
    while (rc == 0 && c->len - off >= 4) {
        uint8_t *p = c->buf + off;
        size_t n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (n > MAX_PACKET) {
            oak_log(OAK_LOG_WARNING, "dist_report",
                    "node=%s event=connection_closed peer=%s reason=a packet of %zu bytes",
                    N.name, c->peer, n);
            return -EPROTO;
        }
        if (c->len - off - 4 < n) {
            /* Incomplete: make room as the bytes come (doubling, up to the
             * packet), not at once for what the header claims. */
            size_t have = c->len - off, want = 4 + n;
            if (off == 0 && c->cap - have < 16384 && c->cap < want) {
                size_t ncap = c->cap * 2 < want ? c->cap * 2 : want;
                uint8_t *nb = realloc(c->buf, ncap);
                if (!nb)
                    return -ENOMEM;
                c->buf = nb;
                c->cap = ncap;
            }
            break;
        }
        if (n > 0)
            rc = conn_frame(c, p + 4, n);
        off += 4 + n;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    return rc;
}

/* Connected: read packets, tick, find a silent peer. */
static void conn_loop(conn *c)
{
    static const uint8_t tick[4] = {0, 0, 0, 0};
    int64_t period = N.tick_ms / 4 > 0 ? N.tick_ms / 4 : 1;
    c->last_read = c->last_write = oak_now_ms();
    c->cap = 64 * 1024;
    c->buf = malloc(c->cap);
    if (!c->buf)
        return;
    for (;;) {
        oak_msg *m = NULL;
        int rc = oak_receive_fd(&m, c->fd, OAK_FD_READ, period, NULL, NULL);
        int64_t now = oak_now_ms();
        if (rc == 0) {
            /* Signals of local processes for the peer's (dist_hook()). */
            int w = m->tag == TAG_DIST_OUT ? conn_out(c, m) : 0;
            oak_msg_free(m);
            if (w < 0)
                return;
        } else if (rc > 0) {
            ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                oak_log(OAK_LOG_NOTICE, "dist_report",
                        "node=%s event=connection_closed peer=%s reason=closed by the peer",
                        N.name, c->peer);
                return;
            }
            if (r > 0) {
                c->len += (size_t)r;
                c->last_read = now;
                if (conn_packets(c) < 0)
                    return;
            }
        } else if (rc != -ETIMEDOUT) {
            return;
        }
        if (now - c->last_read > N.tick_ms) {
            oak_log(OAK_LOG_WARNING, "dist_report",
                    "node=%s event=connection_closed peer=%s reason=net_tick_timeout "
                    "(nothing received for %lld ms)",
                    N.name, c->peer, (long long)(now - c->last_read));
            return;
        }
        if (now - c->last_write >= period) {
            /* While another process writes a packet, that is traffic
             * enough: the tick is skipped. */
            rc = slot_write(c->slot, c->fd, tick, sizeof tick, 0);
            if (rc && rc != -EBUSY)
                return;
            c->last_write = now;
        }
    }
}

/* Connect out to a->peer: its host, its port from epmd, the socket. */
static int conn_connect(const conn_arg *a, int *fd, const char **why)
{
    char alive[256];
    const char *host;
    uint32_t ip;
    uint16_t port;
    int rc = split_name(a->peer, alive, sizeof alive, &host);
    if (rc)
        return rc;
    *why = "the host does not resolve";
    if ((rc = oak__sock_resolve(host, &ip)))
        return rc;
    *why = "epmd on its host does not know it";
    if ((rc = oak__epmd_lookup(ip, alive, &port, a->deadline))) {
        if (rc == -ECONNREFUSED)
            *why = "no epmd on its host";
        return rc;
    }
    *why = "nothing listens on its port";
    return oak__sock_connect(ip, port, a->deadline, fd);
}

static pend *conn_take_pending(const char *name);
static int conn_pending(conn *c, pend *q, uint32_t creation);

static void conn_main(void *arg)
{
    const conn_arg *a = arg;
    conn *c = oak_alloc(sizeof *c);
    if (!c) {
        if (a->fd >= 0)
            close(a->fd);
        return;
    }
    memset(c, 0, sizeof *c);
    c->fd = a->fd;
    c->slot = a->slot;
    snprintf(c->peer, sizeof c->peer, "%s", a->requester ? a->peer : "?");
    pthread_mutex_lock(&N.lock);
    bool current = N.running && N.epoch == a->epoch;
    if (current)
        N.conns[a->slot].pid = oak_self();
    pthread_mutex_unlock(&N.lock);
    if (oak_defer(conn_cleanup, c) < 0) {
        conn_cleanup(c);
        return;
    }
    if (!current)
        return;

    oak__hs_local local = {N.name, N.cookie, OAK_DIST_FLAGS, N.creation};
    pend *pending = NULL;
    oak__hs_peer peer;
    memset(&peer, 0, sizeof peer);
    const char *why = "";
    int rc;
    if (a->requester) {
        rc = conn_connect(a, &c->fd, &why);
        if (rc == 0)
            rc = oak__handshake_connect(c->fd, &local, a->peer, a->deadline, &peer, &why);
    } else {
        int slot = a->slot;
        rc = oak__handshake_accept(c->fd, &local, admit, &slot, a->deadline, &peer, &why);
        if (peer.name[0] && rc != -EPROTO)
            snprintf(c->peer, sizeof c->peer, "%s", peer.name);
    }
    if (rc == 0) {
        c->up = true;
        c->flags = peer.flags;
        /* An old connection to the same node that is still up is stale:
         * the peer said so ("alive" answered true). It ends, with its
         * nodedown. */
        oak_pid stale = OAK_NOPID;
        pthread_mutex_lock(&N.lock);
        int other = slot_find(peer.name, a->slot);
        if (other >= 0 && N.conns[other].state == SLOT_UP)
            stale = N.conns[other].pid;
        pthread_mutex_unlock(&N.lock);
        if (stale)
            oak_exit_pid(stale, OAK_KILL);
        pthread_mutex_lock(&N.lock);
        N.conns[a->slot].state = SLOT_UP;
        N.conns[a->slot].fd = c->fd;
        c->node = node_index(peer.name, peer.creation);
        if (c->node > 0)
            nodes[c->node].conn = oak_self();
        pending = conn_take_pending(peer.name);
        N.conns[a->slot].flags = peer.flags;
        snprintf(N.conns[a->slot].peer, sizeof N.conns[a->slot].peer, "%s", peer.name);
        pthread_mutex_unlock(&N.lock);
        oak_log(OAK_LOG_INFO, "dist_report", "node=%s event=nodeup peer=%s", N.name,
                c->peer);
        tell_node_monitors("nodeup", c->peer);
    } else {
        oak_log(OAK_LOG_ERROR, "dist_report", "node=%s event=%s peer=%s code=%d reason=%s",
                N.name, a->requester ? "connect_failed" : "connection_refused", c->peer,
                rc, why);
    }
    if (a->requester)
        oak_send_ref(a->requester, a->ref, tag_setup(), &rc, sizeof rc);
    if (rc == 0 && conn_pending(c, pending, peer.creation) == 0)
        conn_loop(c);
}

/* ---- auto-connect ------------------------------------------------------------ */

/* A connection to node `name` is up: it becomes the connection of the
 * node's entries by name, and takes what waits in their queues, in one
 * step under the lock, so that nothing sent later (which dist_hook() now
 * hands to it directly) can overtake those. N.lock held. */
static pend *conn_take_pending(const char *name)
{
    pend *q = NULL;
    for (int i = 1; i < nodes_used; i++) {
        if (nodes[i].creation == 0 && strcmp(nodes[i].name, name) == 0) {
            nodes[i].conn = oak_self();
            q = take_pending(i); /* one entry per name */
        }
    }
    return q;
}

/* Refuse the items of queue q and free it. */
static void refuse_pending(pend *q)
{
    while (q) {
        pend *next = q->next;
        refuse_item(q->b, q->size);
        free(q);
        q = next;
    }
}

/* Send what waited for this connection (conn_take_pending()), in order;
 * items for pids of another incarnation of the peer are refused, as Erlang
 * refuses them. Returns < 0 when the socket failed (the rest is refused). */
static int conn_pending(conn *c, pend *q, uint32_t creation)
{
    int rc = 0;
    while (q && rc == 0) {
        pend *next = q->next;
        out_hdr h;
        memcpy(&h, q->b, sizeof h);
        int idx = (int)(h.to >> OAK__NODE_SHIFT);
        pthread_mutex_lock(&N.lock);
        uint32_t want = idx < nodes_used ? nodes[idx].creation : 1;
        pthread_mutex_unlock(&N.lock);
        if (want && want != creation) {
            refuse_item(q->b, q->size);
        } else {
            oak_msg m = {.tag = TAG_DIST_OUT, .data = q->b, .size = q->size};
            rc = conn_out(c, &m);
        }
        free(q);
        q = next;
    }
    refuse_pending(q);
    return rc;
}

/* Have the connector connect to `node` (for oak_node_monitor()), unless
 * that is under way or done. Returns false when it cannot be asked (no
 * node runs, no connector, 255 nodes known). */
static bool ask_connect(const char *node)
{
    pthread_mutex_lock(&N.lock);
    int a = N.running && N.connector ? node_any(node) : -1;
    bool ask = a > 0 && !nodes[a].conn && !nodes[a].connecting;
    if (ask)
        nodes[a].connecting = true;
    oak_pid connector = N.connector;
    pthread_mutex_unlock(&N.lock);
    if (a <= 0 || !ask)
        return a > 0;
    oak__remote_sig w = {.op = OAK__R_SEND, .from = oak_self(), .to = connector,
                         .tag = TAG_CONNECT, .data = &a, .size = sizeof a};
    if (oak__remote_inject(&w) == 0)
        return true;
    pthread_mutex_lock(&N.lock);
    pend *q = take_pending(a);
    pthread_mutex_unlock(&N.lock);
    refuse_pending(q);
    return false;
}

/* Connect to the node of entry a (a TAG_CONNECT request) and then refuse
 * whatever still waits for it: everything, when the connect failed; then
 * its node monitors say nodedown. */
static void connect_worker(void *arg)
{
    int a = *(int *)arg;
    char name[OAK__NODE_NAME_MAX + 1];
    pthread_mutex_lock(&N.lock);
    memcpy(name, nodes[a].name, sizeof name);
    pthread_mutex_unlock(&N.lock);
    int rc = oak_node_ping(name, OAK_INFINITY);
    pthread_mutex_lock(&N.lock);
    oak_pid up = nodes[a].conn;
    pend *q = take_pending(a);
    pthread_mutex_unlock(&N.lock);
    if (q && up)
        oak_log(OAK_LOG_WARNING, "dist_report", "node=%s event=pending_refused peer=%s reason=%s",
                N.name, name, "connection replaced");
    else if (q)
        oak_log(OAK_LOG_NOTICE, "dist_report", "node=%s event=pending_refused peer=%s reason=%s",
                N.name, name, oak_strerror(rc));
    refuse_pending(q);
    if (!oak_node_is_connected(name))
        tell_node_watchers(name);
}

/* The connector: for each TAG_CONNECT request from dist_hook(), a
 * connect_worker(), linked, so that the connector's death at
 * oak_node_stop() ends the connects under way. */
static bool is_connect_request(const oak_msg *m, void *arg)
{
    return m->tag == TAG_CONNECT && m->size == sizeof(int);
}

static void connector_main(void *arg)
{
    for (;;) {
        oak_msg *m;
        if (oak_receive(&m, OAK_INFINITY, is_connect_request, NULL) != 0)
            continue;
        oak_spawn_opts o = {.flags = OAK_SPAWN_LINK, .arg_size = sizeof(int)};
        if (oak_spawn(connect_worker, m->data, &o, NULL) != 0) {
            pthread_mutex_lock(&N.lock);
            pend *q = take_pending(*(int *)m->data);
            pthread_mutex_unlock(&N.lock);
            refuse_pending(q);
        }
        oak_msg_free(m);
    }
}

/* ---- the acceptor ----------------------------------------------------------- */

typedef struct acceptor_res {
    int listen_fd, epmd_fd;
} acceptor_res;

static void acceptor_cleanup(void *p)
{
    acceptor_res *r = p;
    close(r->listen_fd);
    close(r->epmd_fd);
}

static void acceptor_main(void *arg)
{
    acceptor_res *r = oak_alloc(sizeof *r);
    if (!r) {
        acceptor_cleanup(arg);
        return;
    }
    *r = *(acceptor_res *)arg;
    if (oak_defer(acceptor_cleanup, r) < 0) {
        acceptor_cleanup(r);
        return;
    }
    uint64_t epoch;
    pthread_mutex_lock(&N.lock);
    epoch = N.epoch;
    pthread_mutex_unlock(&N.lock);
    bool epmd_lost = false;
    for (;;) {
        int rc = oak_wait_fd(r->listen_fd, OAK_FD_READ, 1000);
        if (rc == -ETIMEDOUT) {
            /* epmd closing our registration means it went away. */
            if (!epmd_lost && oak_wait_fd(r->epmd_fd, OAK_FD_READ, 0) > 0) {
                char b;
                if (read(r->epmd_fd, &b, 1) <= 0) {
                    epmd_lost = true;
                    oak_log(OAK_LOG_WARNING, "dist_report",
                            "node=%s event=epmd_lost reason=epmd closed the registration",
                            N.name);
                }
            }
            continue;
        }
        if (rc < 0)
            return;
        int fd = accept4(r->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&N.lock);
        int slot = slot_take("");
        pthread_mutex_unlock(&N.lock);
        if (slot < 0) {
            oak_log(OAK_LOG_WARNING, "dist_report",
                    "node=%s event=connection_refused reason=%d connections", N.name,
                    MAX_CONNS);
            close(fd);
            continue;
        }
        conn_arg ca = {.fd = fd, .slot = slot, .epoch = epoch,
                       .deadline = oak__sock_deadline(HANDSHAKE_MS)};
        oak_spawn_opts o = {.arg_size = sizeof ca};
        if (oak_spawn(conn_main, &ca, &o, NULL) != 0) {
            close(fd);
            pthread_mutex_lock(&N.lock);
            N.conns[slot].state = SLOT_FREE;
            pthread_mutex_unlock(&N.lock);
        }
    }
}

/* ---- the public calls --------------------------------------------------------- */

int oak_node_start(const oak_node_opts *opts)
{
    if (oak_self() == OAK_NOPID)
        return -EPERM;
    if (!opts || !opts->name || opts->net_ticktime_ms < 0)
        return -EINVAL;
    char alive[256];
    const char *host;
    char cookie[COOKIE_MAX + 1];
    int rc = split_name(opts->name, alive, sizeof alive, &host);
    if (rc || (rc = cookie_find(opts->cookie, cookie)))
        return rc;
    uint32_t ip;
    if ((rc = oak__sock_resolve(host, &ip)))
        return rc;
    pthread_mutex_lock(&N.lock);
    bool busy = N.running || N.acceptor != OAK_NOPID;
    if (!busy)
        N.acceptor = (oak_pid)1; /* claimed while this call runs */
    pthread_mutex_unlock(&N.lock);
    if (busy)
        return -EALREADY;

    acceptor_res r = {-1, -1};
    uint16_t port = 0;
    uint32_t creation = 0;
    if ((rc = oak__sock_listen(ip, &port, &r.listen_fd)) == 0 &&
        (rc = oak__epmd_register(alive, port, &r.epmd_fd, &creation)) != 0)
        close(r.listen_fd);
    if (rc) {
        pthread_mutex_lock(&N.lock);
        N.acceptor = OAK_NOPID;
        pthread_mutex_unlock(&N.lock);
        return rc;
    }
    pthread_mutex_lock(&N.lock);
    snprintf(N.name, sizeof N.name, "%s", opts->name);
    memcpy(N.cookie, cookie, sizeof cookie);
    N.creation = creation;
    N.ip = ip;
    N.tick_ms = opts->net_ticktime_ms ? opts->net_ticktime_ms : 60000;
    N.epoch++;
    N.running = true;
    pthread_mutex_unlock(&N.lock);
    oak__remote_set(dist_hook);
    oak_spawn_opts o = {.arg_size = sizeof r};
    oak_pid pid;
    if ((rc = oak_spawn(acceptor_main, &r, &o, &pid)) != 0) {
        acceptor_cleanup(&r);
        pthread_mutex_lock(&N.lock);
        N.running = false;
        N.acceptor = OAK_NOPID;
        pthread_mutex_unlock(&N.lock);
        return rc;
    }
    oak_pid connector = OAK_NOPID;
    oak_spawn(connector_main, NULL, NULL, &connector); /* without it: no auto-connect */
    pthread_mutex_lock(&N.lock);
    N.acceptor = pid;
    N.connector = connector;
    pthread_mutex_unlock(&N.lock);
    oak_log(OAK_LOG_INFO, "dist_report", "node=%s event=started port=%u creation=%u",
            opts->name, (unsigned)port, (unsigned)creation);
    return 0;
}

/* Kill pid and wait until it has ended. */
static void kill_and_wait(oak_pid pid)
{
    oak_ref m = oak_monitor(pid);
    oak_exit_pid(pid, OAK_KILL);
    oak_msg *msg;
    if (m && oak_receive_ref(&msg, m, 10000) == 0)
        oak_msg_free(msg);
}

int oak_node_stop(void)
{
    if (oak_self() == OAK_NOPID)
        return -EPERM;
    pthread_mutex_lock(&N.lock);
    oak_pid acceptor = N.running ? N.acceptor : OAK_NOPID;
    oak_pid connector = N.running ? N.connector : OAK_NOPID;
    N.running = false;
    N.connector = OAK_NOPID;
    pthread_mutex_unlock(&N.lock);
    if (acceptor == OAK_NOPID)
        return -ENOENT;
    oak__remote_set(NULL);
    if (connector)
        kill_and_wait(connector); /* and its connects under way, linked */
    kill_and_wait(acceptor);
    /* No new connections now; end the ones there are. One that was spawned
     * but has not run yet ends by itself (its epoch is old). */
    for (int round = 0; round < 1000; round++) {
        oak_pid pids[MAX_CONNS];
        int n = 0;
        bool unstarted = false;
        pthread_mutex_lock(&N.lock);
        for (int i = 0; i < MAX_CONNS; i++) {
            if (N.conns[i].state == SLOT_FREE)
                continue;
            if (N.conns[i].pid)
                pids[n++] = N.conns[i].pid;
            else
                unstarted = true;
        }
        pthread_mutex_unlock(&N.lock);
        if (n == 0 && !unstarted)
            break;
        for (int i = 0; i < n; i++)
            kill_and_wait(pids[i]);
        if (unstarted)
            oak_sleep(5);
    }
    /* What still waited for a connection never reaches its node. */
    for (int i = 1; i < MAX_NODES; i++) {
        pthread_mutex_lock(&N.lock);
        pend *q = i < nodes_used ? take_pending(i) : NULL;
        pthread_mutex_unlock(&N.lock);
        refuse_pending(q);
    }
    pthread_mutex_lock(&N.lock);
    N.acceptor = OAK_NOPID;
    pthread_mutex_unlock(&N.lock);
    return 0;
}

typedef struct setup_match {
    oak_ref ref, mref;
    uint64_t tag;
} setup_match;

static bool is_setup_reply(const oak_msg *m, void *arg)
{
    const setup_match *s = arg;
    return (m->tag == s->tag && m->ref == s->ref) ||
           (m->tag == OAK_TAG_DOWN && m->ref == s->mref);
}

int oak_node_ping(const char *name, int64_t timeout_ms)
{
    if (oak_self() == OAK_NOPID)
        return -EPERM;
    char alive[256];
    const char *host;
    if (!name || split_name(name, alive, sizeof alive, &host))
        return -EINVAL;
    if (timeout_ms < 0 && timeout_ms != OAK_INFINITY)
        return -EINVAL;
    int64_t deadline = oak__sock_deadline(timeout_ms == OAK_INFINITY ? HANDSHAKE_MS : timeout_ms);
    pthread_mutex_lock(&N.lock);
    if (!N.running) {
        pthread_mutex_unlock(&N.lock);
        return -ENOENT;
    }
    if (strcmp(name, N.name) == 0) {
        pthread_mutex_unlock(&N.lock);
        return -EINVAL;
    }
    int other = slot_find(name, -1);
    int slot = other < 0 ? slot_take(name) : -1;
    uint64_t epoch = N.epoch;
    pthread_mutex_unlock(&N.lock);
    if (other < 0 && slot < 0)
        return -ENOSPC;
    if (other >= 0) {
        /* Up, or a handshake under way: wait for it to be up. */
        while (!oak_node_is_connected(name)) {
            if (oak_now_ms() >= deadline)
                return -ETIMEDOUT;
            oak_sleep(10);
        }
        return 0;
    }
    conn_arg ca = {.fd = -1, .slot = slot, .epoch = epoch, .requester = oak_self(),
                   .ref = oak_make_ref(), .deadline = deadline};
    snprintf(ca.peer, sizeof ca.peer, "%s", name);
    oak_spawn_opts o = {.flags = OAK_SPAWN_MONITOR, .arg_size = sizeof ca};
    oak_pid pid;
    int rc = oak_spawn(conn_main, &ca, &o, &pid);
    if (rc) {
        pthread_mutex_lock(&N.lock);
        N.conns[slot].state = SLOT_FREE;
        pthread_mutex_unlock(&N.lock);
        return rc;
    }
    setup_match sm = {ca.ref, o.monitor_ref, tag_setup()};
    oak_msg *m;
    int64_t left = deadline - oak_now_ms() + 1000;
    rc = oak_receive(&m, left > 0 ? left : 0, is_setup_reply, &sm);
    if (rc == 0) {
        rc = m->tag == OAK_TAG_DOWN ? -ECONNRESET : *(int *)m->data;
        oak_msg_free(m);
    } else {
        oak_exit_pid(pid, OAK_KILL);
    }
    oak_demonitor(o.monitor_ref, OAK_DEMONITOR_FLUSH);
    /* Refused because the peer's own connection to us is winning a
     * simultaneous connect: that one comes up within moments. */
    if (rc == -ECONNREFUSED) {
        int64_t until = oak_now_ms() + 500;
        while (oak_now_ms() < until && oak_now_ms() < deadline && !oak_node_is_connected(name))
            oak_sleep(10);
        if (oak_node_is_connected(name))
            rc = 0;
    }
    return rc;
}

/* ---- terms and remote sends ------------------------------------------------ */

oak_term *oak_node_pid_to_term(oak_term_arena *arena, oak_pid pid)
{
    if (!arena || pid == OAK_NOPID)
        return NULL;
    char name[OAK__NODE_NAME_MAX + 1];
    uint32_t creation = 0;
    int idx = (int)(pid >> OAK__NODE_SHIFT);
    pthread_mutex_lock(&N.lock);
    if (idx > 0 && idx < nodes_used) {
        memcpy(name, nodes[idx].name, sizeof name);
        creation = nodes[idx].creation;
    } else if (idx > 0) {
        pthread_mutex_unlock(&N.lock);
        return NULL;
    } else if (N.running) {
        memcpy(name, N.name, sizeof name);
        creation = N.creation;
    } else {
        strcpy(name, "nonode@nohost");
    }
    pthread_mutex_unlock(&N.lock);
    return oak_term_pid(arena, name, PID_SLOT(pid), PID_GEN(pid), creation);
}

oak_term *oak_node_alias_to_term(oak_term_arena *arena, oak_ref alias)
{
    oak_pid self = oak_self();
    if (!arena || !alias || self == OAK_NOPID)
        return NULL;
    pthread_mutex_lock(&N.lock);
    oak_term *t = N.running ? alias_term(arena, self, alias) : NULL;
    pthread_mutex_unlock(&N.lock);
    return t;
}

/* The pid that stands for node `node` by its name (pid 0 of its entry
 * by name, node_any()) in *pid, or OAK_NOPID when it is this node's name.
 * Returns 0, -EINVAL (not alive@host), -ENOENT (no node runs), -ENOSPC. */
static int node_name_pid(const char *node, oak_pid *pid)
{
    char alive[256];
    const char *host;
    if (!node || split_name(node, alive, sizeof alive, &host))
        return -EINVAL;
    int rc = 0;
    *pid = OAK_NOPID;
    pthread_mutex_lock(&N.lock);
    if (!N.running)
        rc = -ENOENT;
    else if (strcmp(node, N.name) != 0 && (rc = node_any(node)) > 0)
        *pid = (oak_pid)rc << OAK__NODE_SHIFT;
    pthread_mutex_unlock(&N.lock);
    return rc < 0 ? rc : 0;
}

int oak_node_send_name(const char *node, oak_atom name, uint64_t tag, const void *data,
                       size_t size)
{
    oak_pid self = oak_self(), to;
    if (self == OAK_NOPID)
        return -EPERM;
    if (!oak_atom_name(name) || (tag >> 63) || (size && !data))
        return -EINVAL;
    int rc = node_name_pid(node, &to);
    if (rc)
        return rc;
    if (to == OAK_NOPID)
        return oak_send_name(name, tag, data, size);
    oak__remote_sig sig = {.op = OAK__R_SEND, .from = self, .to = to, .tag = tag,
                           .data = data, .size = size, .name = name};
    dist_hook(&sig);
    return 0;
}

oak_ref oak_node_monitor_name(const char *node, oak_atom name)
{
    oak_pid to;
    if (oak_self() == OAK_NOPID || !oak_atom_name(name) || node_name_pid(node, &to) != 0)
        return 0;
    return to == OAK_NOPID ? oak_monitor_name(name) : oak__remote_monitor_name(to, name);
}

int oak_node_of(oak_pid pid, char *buf, size_t size)
{
    int idx = (int)(pid >> OAK__NODE_SHIFT), rc;
    pthread_mutex_lock(&N.lock);
    if (idx == 0)
        rc = snprintf(buf, size, "%s", N.running ? N.name : "nonode@nohost");
    else if (idx < nodes_used)
        rc = snprintf(buf, size, "%s", nodes[idx].name);
    else
        rc = -EINVAL;
    pthread_mutex_unlock(&N.lock);
    return rc;
}

int oak_node_term_to_pid(const oak_term *t, oak_pid *pid)
{
    if (!t || !pid || t->type != OAK_TERM_PID)
        return -EINVAL;
    pthread_mutex_lock(&N.lock);
    bool here = N.running ? strcmp(t->u.pid.node.name, N.name) == 0 &&
                                t->u.pid.creation == N.creation
                          : strcmp(t->u.pid.node.name, "nonode@nohost") == 0;
    int idx = 0;
    if (!here && N.running && strcmp(t->u.pid.node.name, N.name) != 0)
        idx = node_index(t->u.pid.node.name, t->u.pid.creation);
    pthread_mutex_unlock(&N.lock);
    if (!here && idx == 0)
        return -EXDEV; /* no node runs, or an earlier incarnation of this one */
    if (idx < 0)
        return idx; /* -ENOSPC: 255 other nodes are known */
    if (t->u.pid.id >> 28 || t->u.pid.serial >> 28 || (here && t->u.pid.id == 0))
        return here ? -ESRCH : -ERANGE; /* never one of ours / no room in an oak_pid */
    *pid = (oak_pid)t->u.pid.id | (oak_pid)t->u.pid.serial << 28 | (oak_pid)idx << OAK__NODE_SHIFT;
    return 0;
}

/* to's node and, for {Name, Node}, the name. */
static int dest_of(const oak_term *to, const oak_term_atom_name **node, const oak_term **name)
{
    if (to->type == OAK_TERM_PID || to->type == OAK_TERM_REF) {
        *node = to->type == OAK_TERM_PID ? &to->u.pid.node : &to->u.ref.node;
        *name = NULL;
        return 0;
    }
    if (to->type == OAK_TERM_TUPLE && to->u.tuple.arity == 2 &&
        to->u.tuple.items[0]->type == OAK_TERM_ATOM &&
        to->u.tuple.items[1]->type == OAK_TERM_ATOM) {
        *name = to->u.tuple.items[0];
        *node = &to->u.tuple.items[1]->u.atom;
        return 0;
    }
    return -EINVAL;
}

/* A slot that is UP for node, with a dup of its socket (so that the
 * socket outlives a connection that closes meanwhile) and its flags.
 * N.lock taken here. */
static int slot_for_send(const char *node, int *fd, uint64_t *flags)
{
    int slot = -1;
    pthread_mutex_lock(&N.lock);
    for (int i = 0; N.running && i < MAX_CONNS; i++) {
        if (N.conns[i].state == SLOT_UP && strcmp(N.conns[i].peer, node) == 0) {
            *fd = fcntl(N.conns[i].fd, F_DUPFD_CLOEXEC, 0);
            *flags = N.conns[i].flags;
            slot = *fd >= 0 ? i : -1;
            break;
        }
    }
    pthread_mutex_unlock(&N.lock);
    return slot;
}

int oak_node_send(const oak_term *to, const oak_term *msg)
{
    if (oak_self() == OAK_NOPID)
        return -EPERM;
    const oak_term_atom_name *node;
    const oak_term *name;
    if (!to || !msg || dest_of(to, &node, &name))
        return -EINVAL;
    char self[OAK__NODE_NAME_MAX + 1];
    if (oak_node_self(self, sizeof self) < 0)
        return -ENOENT;
    if (strcmp(node->name, self) == 0) {
        /* This node: deliver as a message from another node would be. */
        oak_pid pid = OAK_NOPID;
        if (name) {
            oak_atom a = oak__atom_find(name->u.atom.name, name->u.atom.len);
            pid = a ? oak_whereis(a) : OAK_NOPID;
        } else if (oak_node_term_to_pid(to, &pid)) {
            pid = OAK_NOPID;
        }
        void *b;
        size_t len;
        oak_ref alias = 0;
        if (to->type == OAK_TERM_REF) {
            pthread_mutex_lock(&N.lock);
            if (!alias_of_term(to, &pid, &alias))
                pid = OAK_NOPID;
            pthread_mutex_unlock(&N.lock);
        }
        int rc = oak_term_encode_alloc(msg, &b, &len);
        if (rc)
            return rc;
        if (pid && alias)
            rc = oak_send_alias(pid, alias, OAK_TAG_TERM, b, len);
        else if (pid)
            rc = oak_send(pid, OAK_TAG_TERM, b, len);
        free(b);
        return rc == -ESRCH ? 0 : rc;
    }
    int fd = -1;
    uint64_t flags = 0;
    int slot = slot_for_send(node->name, &fd, &flags);
    if (slot < 0) {
        /* Connect first, as Erlang does on a send to an unknown node. */
        int rc = oak_node_ping(node->name, OAK_INFINITY);
        if (rc)
            return rc;
        if ((slot = slot_for_send(node->name, &fd, &flags)) < 0)
            return -ENOTCONN;
    }
    oak_term_arena *a = oak_term_arena_new();
    oak_term *me = a ? oak_node_pid_to_term(a, oak_self()) : NULL;
    oak_term *ctrl;
    if (to->type == OAK_TERM_REF && !(flags & OAK__DFLAG_ALIAS)) {
        close(fd); /* a node without aliases has none: lost, as erts drops it */
        oak_term_arena_free(a);
        return 0;
    }
    if (to->type == OAK_TERM_REF) /* ALIAS_SEND {33, From, Alias} */
        ctrl = oak_term_tuple3(a, oak_term_int(a, 33), me, (oak_term *)to);
    else if (name) /* REG_SEND {6, From, '', ToName} */
        ctrl = oak_term_tuple(a, 4, (oak_term *[]){oak_term_int(a, 6), me, oak_term_atom(a, ""),
                                                   (oak_term *)name});
    else if (flags & OAK__DFLAG_SEND_SENDER) /* SEND_SENDER {22, From, To} */
        ctrl = oak_term_tuple3(a, oak_term_int(a, 22), me, (oak_term *)to);
    else /* SEND {2, '', To} */
        ctrl = oak_term_tuple3(a, oak_term_int(a, 2), oak_term_atom(a, ""), (oak_term *)to);
    packet pk = {NULL};
    int rc = ctrl ? packet_build(ctrl, msg, flags, &pk) : -ENOMEM;
    if (rc == 0)
        rc = packet_write(slot, fd, flags, &pk, OAK_INFINITY);
    free(pk.b);
    close(fd);
    oak_term_arena_free(a);
    /* A send to a connection that is going down is lost, as in Erlang. */
    return rc == -ECONNRESET || rc == -EPIPE ? 0 : rc;
}

/* ---- calling an Erlang gen_server ------------------------------------------ */

int oak_node_gen_server_call(const char *node, oak_atom name, uint64_t tag, const void *req,
                             size_t size, oak_msg **reply, int64_t timeout_ms, oak_reason *why)
{
    oak_reason dummy;
    if (!why)
        why = &dummy;
    oak_reason_set(why, OAK_ATOM_NONE, NULL);
    oak_pid self = oak_self(), to;
    if (!self)
        return -EPERM;
    if (!reply || !oak_atom_name(name) || (size && !req) || (tag >> 63) ||
        (timeout_ms < 0 && timeout_ms != OAK_INFINITY))
        return -EINVAL;
    *reply = NULL;
    int rc = node_name_pid(node, &to);
    if (rc)
        return rc;
    if (to == OAK_NOPID) /* this node */
        return oak_gen_server_call(oak_whereis(name), tag, req, size, reply, timeout_ms, why);
    /* As oak_send_request(), by name: the monitor (MONITOR_P by name),
     * then the call (REG_SEND) with the monitor's ref; the connection
     * turns it into Erlang's call and the reply into oak's. */
    oak_ref ref = oak__remote_monitor_name(to, name);
    if (!ref)
        return -ENOMEM;
    oak__gen_req_hdr hdr = {tag, 0, 0};
    uint8_t *b = malloc(sizeof hdr + size);
    if (!b) {
        oak_demonitor(ref, OAK_DEMONITOR_FLUSH);
        return -ENOMEM;
    }
    memcpy(b, &hdr, sizeof hdr);
    if (size)
        memcpy(b + sizeof hdr, req, size);
    oak__remote_sig sig = {.op = OAK__R_SEND, .from = self, .to = to, .ref = ref,
                           .tag = oak_atom_from("$gen_call"), .data = b,
                           .size = sizeof hdr + size, .name = name};
    dist_hook(&sig);
    free(b);
    oak_msg *m;
    rc = oak_receive_ref(&m, ref, timeout_ms);
    if (rc) {
        /* The demonitor makes the connection drop a late reply. */
        oak_demonitor(ref, OAK_DEMONITOR_FLUSH);
        if (rc == -ETIMEDOUT)
            oak_reason_set(why, OAK_TIMEOUT, NULL);
        return rc;
    }
    if (m->tag == OAK_TAG_DOWN) {
        oak__reason_of(m, why);
        oak_msg_free(m);
        return why->atom == OAK_NOPROC ? -ESRCH
               : why->atom == atom_noconnection() ? -ENOTCONN : -ECONNRESET;
    }
    oak_demonitor(ref, OAK_DEMONITOR_FLUSH);
    *reply = m;
    return 0;
}

int oak_node_call(oak_pid server, const oak_term *req, oak_term_arena *arena,
                  oak_term **reply, int64_t timeout_ms)
{
    if (oak_self() == OAK_NOPID)
        return -EPERM;
    if (!req || !arena || !reply || server == OAK_NOPID ||
        (timeout_ms < 0 && timeout_ms != OAK_INFINITY))
        return -EINVAL;
    oak_ref mref = oak_monitor(server);
    if (!mref)
        return -ENOMEM;
    oak_term_arena *a = oak_term_arena_new();
    oak_term *me = a ? oak_node_pid_to_term(a, oak_self()) : NULL;
    pthread_mutex_lock(&N.lock);
    oak_term *tag = me ? ref_term(a, mref) : NULL;
    pthread_mutex_unlock(&N.lock);
    oak_term *call = oak_term_tuple3(a, oak_term_atom(a, "$gen_call"), oak_term_tuple2(a, me, tag),
                                     (oak_term *)req);
    void *b = NULL;
    size_t len;
    int rc = call ? oak_term_encode_alloc(call, &b, &len) : -ENOMEM;
    oak_term_arena_free(a);
    if (rc == 0)
        rc = oak_send(server, OAK_TAG_TERM, b, len);
    free(b);
    if (rc) {
        oak_demonitor(mref, OAK_DEMONITOR_FLUSH);
        return rc;
    }
    oak_msg *m;
    rc = oak_receive_ref(&m, mref, timeout_ms);
    if (rc) {
        oak_demonitor(mref, OAK_DEMONITOR_FLUSH);
        return rc;
    }
    if (m->tag == OAK_TAG_DOWN) {
        const oak_down *d = m->data;
        rc = d->reason == OAK_NOPROC ? -ESRCH
             : d->reason == atom_noconnection() ? -ENOTCONN : -ECONNRESET;
        oak_msg_free(m);
        return rc;
    }
    oak_demonitor(mref, OAK_DEMONITOR_FLUSH);
    oak_term *t;
    rc = oak_term_decode(arena, m->data, m->size, &t, NULL);
    if (rc == 0 && (t->type != OAK_TERM_TUPLE || t->u.tuple.arity != 2))
        rc = -EBADMSG;
    if (rc == 0)
        *reply = t->u.tuple.items[1];
    oak_msg_free(m);
    return rc;
}
