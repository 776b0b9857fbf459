/* kv - a Redis-protocol (RESP2) key-value server on oak's server kit.
 *
 *   kv --port N      serve on 127.0.0.1:N (default 6380) until SIGTERM
 *   kv --schedulers N   scheduler threads (default: one per CPU)
 *
 * Commands: PING, ECHO, SET (EX s | PX ms), GET, DEL, EXISTS, INCR, MGET,
 * MSET, and COMMAND (an empty answer, for clients that ask). Pipelined
 * requests are answered in order.
 *
 * The tree (an application):
 *
 *   kv_sup (one_for_one)
 *    ├── kv_shard0 .. kv_shard3   gen_servers holding the data, by key
 *    │                            hash; a connection's crash leaves them
 *    └── server                   oak_tcp_server: one process per
 *                                 connection, running `connection`
 *
 * On SIGTERM the server stops first (gracefully: no new connections, the
 * open ones get 2 s), then the shards. Keys with a time to live are
 * removed when next touched after it ran out (lazily).
 *
 * Malformed input gets a RESP error; a protocol error also ends that one
 * connection, as Redis does.
 */
#include "oak.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARDS 4
#define MAX_ARGS 1024
#define MAX_BULK (1 << 20)

/* ---- the shards ---- */

enum { OP_GET = 1, OP_SET, OP_DEL, OP_EXISTS, OP_INCR };
enum { R_NIL = 1, R_BULK, R_INT, R_OK, R_ERR };

typedef struct entry {
    struct entry *next;
    int64_t expire_ms; /* 0: none */
    size_t klen, vlen;
    char *key, *val;
} entry;

#define BUCKETS 4096

typedef struct shard {
    entry *b[BUCKETS];
} shard;

static uint64_t hash(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return h;
}

static entry **find(shard *s, const char *k, size_t n)
{
    entry **e = &s->b[hash(k, n) % BUCKETS];
    for (; *e; e = &(*e)->next)
        if ((*e)->klen == n && memcmp((*e)->key, k, n) == 0)
            break;
    if (*e && (*e)->expire_ms && (*e)->expire_ms <= oak_now_ms()) {
        entry *dead = *e;
        *e = dead->next;
        free(dead->key);
        free(dead->val);
        free(dead);
    }
    return e;
}

/* A new entry for key at *e (the end of its chain); false without memory. */
static bool add(entry **e, const char *key, size_t klen)
{
    entry *n = calloc(1, sizeof *n);
    char *k = malloc(klen ? klen : 1);
    if (!n || !k) {
        free(n);
        free(k);
        return false;
    }
    memcpy(k, key, klen);
    n->key = k;
    n->klen = klen;
    *e = n;
    return true;
}

static int shard_init(oak_gen_server *gs, void *arg, void **state)
{
    (void)gs;
    (void)arg;
    /* Trapping exits, the supervisor's shutdown runs terminate, which
     * frees the data. */
    oak_trap_exit(true);
    *state = calloc(1, sizeof(shard));
    return *state ? OAK_GS_OK : OAK_GS_STOP;
}

static void shard_terminate(oak_gen_server *gs, void *state, const oak_reason *r)
{
    (void)gs;
    (void)r;
    shard *s = state;
    for (size_t i = 0; i < BUCKETS; i++) {
        while (s->b[i]) {
            entry *e = s->b[i];
            s->b[i] = e->next;
            free(e->key);
            free(e->val);
            free(e);
        }
    }
    free(s);
}

/* A request: op tag; data = u32 klen, key, then for SET: i64 expire_ms
 * and the value. */
static int shard_call(oak_gen_server *gs, void *state, const oak_msg *req,
                      const oak_gen_from *from)
{
    (void)from;
    shard *s = state;
    const char *d = req->data;
    uint32_t klen;
    memcpy(&klen, d, sizeof klen);
    const char *key = d + 4;
    entry **e = find(s, key, klen);
    switch (req->tag) {
    case OP_GET:
        if (*e)
            oak_gen_server_set_reply(gs, R_BULK, (*e)->val, (*e)->vlen);
        else
            oak_gen_server_set_reply(gs, R_NIL, NULL, 0);
        return OAK_GS_REPLY;
    case OP_SET: {
        int64_t exp;
        memcpy(&exp, key + klen, sizeof exp);
        const char *val = key + klen + 8;
        size_t vlen = req->size - 4 - klen - 8;
        char *v = malloc(vlen ? vlen : 1);
        if (!v) {
            oak_gen_server_set_reply(gs, R_ERR, "ERR out of memory", 17);
            return OAK_GS_REPLY;
        }
        memcpy(v, val, vlen);
        if (!*e && !add(e, key, klen)) {
            free(v);
            oak_gen_server_set_reply(gs, R_ERR, "ERR out of memory", 17);
            return OAK_GS_REPLY;
        }
        free((*e)->val);
        (*e)->val = v;
        (*e)->vlen = vlen;
        (*e)->expire_ms = exp;
        oak_gen_server_set_reply(gs, R_OK, NULL, 0);
        return OAK_GS_REPLY;
    }
    case OP_DEL:
    case OP_EXISTS: {
        int64_t n = *e ? 1 : 0;
        if (*e && req->tag == OP_DEL) {
            entry *dead = *e;
            *e = dead->next;
            free(dead->key);
            free(dead->val);
            free(dead);
        }
        oak_gen_server_set_reply(gs, R_INT, &n, sizeof n);
        return OAK_GS_REPLY;
    }
    case OP_INCR: {
        long long v = 0;
        if (*e) {
            char tmp[32];
            char *end;
            if ((*e)->vlen == 0 || (*e)->vlen >= sizeof tmp) {
                oak_gen_server_set_reply(gs, R_ERR, "ERR value is not an integer or out of range", 43);
                return OAK_GS_REPLY;
            }
            memcpy(tmp, (*e)->val, (*e)->vlen);
            tmp[(*e)->vlen] = '\0';
            errno = 0;
            v = strtoll(tmp, &end, 10);
            if (*end || errno || v == INT64_MAX) {
                oak_gen_server_set_reply(gs, R_ERR, "ERR value is not an integer or out of range", 43);
                return OAK_GS_REPLY;
            }
        } else if (!add(e, key, klen)) {
            oak_gen_server_set_reply(gs, R_ERR, "ERR out of memory", 17);
            return OAK_GS_REPLY;
        }
        v++;
        char num[32];
        int len = snprintf(num, sizeof num, "%lld", v);
        char *nv = malloc((size_t)len);
        if (!nv) {
            oak_gen_server_set_reply(gs, R_ERR, "ERR out of memory", 17);
            return OAK_GS_REPLY;
        }
        memcpy(nv, num, (size_t)len);
        free((*e)->val);
        (*e)->val = nv;
        (*e)->vlen = (size_t)len;
        int64_t out = v;
        oak_gen_server_set_reply(gs, R_INT, &out, sizeof out);
        return OAK_GS_REPLY;
    }
    default:
        oak_gen_server_set_reply(gs, R_ERR, "ERR bad request", 15);
        return OAK_GS_REPLY;
    }
}

static const oak_gen_server_callbacks shard_cb = {
    .init = shard_init, .handle_call = shard_call, .terminate = shard_terminate};

static int shard_start(const oak_child_args *args, oak_pid *pid, oak_reason *why)
{
    int i = *(const int *)args->arg;
    char name[16];
    snprintf(name, sizeof name, "kv_shard%d", i);
    oak_gen_server_opts o = {.flags = OAK_GEN_LINK, .name = oak_atom_from(name)};
    return oak_gen_server_start(&shard_cb, NULL, &o, pid, why);
}

/* The shards' registered names (set before the tree starts). */
static oak_atom shard_names[SHARDS];

/* One call to the shard of key. Returns the reply (free it) or NULL. */
static oak_msg *shard_op(uint64_t op, const char *key, size_t klen, int64_t exp,
                         const char *val, size_t vlen)
{
    size_t size = 4 + klen + (op == OP_SET ? 8 + vlen : 0);
    char *req = malloc(size);
    if (!req)
        return NULL;
    uint32_t k = (uint32_t)klen;
    memcpy(req, &k, 4);
    memcpy(req + 4, key, klen);
    if (op == OP_SET) {
        memcpy(req + 4 + klen, &exp, 8);
        memcpy(req + 12 + klen, val, vlen);
    }
    oak_msg *m = NULL;
    int rc = oak_gen_server_call(oak_whereis(shard_names[hash(key, klen) % SHARDS]), op, req,
                                 size, &m,
                                 OAK_GEN_CALL_TIMEOUT, NULL);
    free(req);
    return rc == 0 ? m : NULL;
}

/* ---- RESP ---- */

/* A connection's replies, gathered and sent when no pipelined request is
 * left waiting in the socket. */
typedef struct out {
    int sock;
    char buf[16384];
    size_t len;
    bool failed;
} out;

static void flush(out *o)
{
    if (o->len && !o->failed && oak_sock_send_all(o->sock, o->buf, o->len, 10000) < 0)
        o->failed = true;
    o->len = 0;
}

static void put(out *o, const char *p, size_t n)
{
    while (n > 0 && !o->failed) {
        if (o->len == sizeof o->buf)
            flush(o);
        size_t k = sizeof o->buf - o->len < n ? sizeof o->buf - o->len : n;
        memcpy(o->buf + o->len, p, k);
        o->len += k;
        p += k;
        n -= k;
    }
}

static void put_str(out *o, const char *s) { put(o, s, strlen(s)); }

static void put_int(out *o, long long v)
{
    char b[32];
    put(o, b, (size_t)snprintf(b, sizeof b, ":%lld\r\n", v));
}

static void put_bulk(out *o, const char *p, size_t n)
{
    char b[32];
    put(o, b, (size_t)snprintf(b, sizeof b, "$%zu\r\n", n));
    put(o, p, n);
    put(o, "\r\n", 2);
}

static void put_err(out *o, const char *e)
{
    put(o, "-", 1);
    put_str(o, e);
    put(o, "\r\n", 2);
}

/* Put a shard's reply. */
static void put_reply(out *o, oak_msg *m)
{
    if (!m) {
        put_err(o, "ERR the data is unavailable");
        return;
    }
    int64_t v = 0;
    switch (m->tag) {
    case R_NIL: put_str(o, "$-1\r\n"); break;
    case R_BULK: put_bulk(o, m->data, m->size); break;
    case R_OK: put_str(o, "+OK\r\n"); break;
    case R_INT: memcpy(&v, m->data, sizeof v); put_int(o, v); break;
    default: put(o, "-", 1); put(o, m->data, m->size); put(o, "\r\n", 2); break;
    }
    oak_msg_free(m);
}

typedef struct arg {
    char *p;
    size_t n;
} arg;

static bool is(const arg *a, const char *name)
{
    return a->n == strlen(name) && strncasecmp(a->p, name, a->n) == 0;
}

static void wrong_args(out *o, const char *cmd)
{
    char e[96];
    snprintf(e, sizeof e, "ERR wrong number of arguments for '%s' command", cmd);
    put_err(o, e);
}

static bool parse_int(const arg *a, long long *v)
{
    char tmp[32];
    if (a->n == 0 || a->n >= sizeof tmp)
        return false;
    memcpy(tmp, a->p, a->n);
    tmp[a->n] = '\0';
    char *end;
    errno = 0;
    *v = strtoll(tmp, &end, 10);
    return !*end && !errno;
}

static void run(out *o, arg *a, int n)
{
    if (is(&a[0], "PING")) {
        if (n == 1)
            put_str(o, "+PONG\r\n");
        else if (n == 2)
            put_bulk(o, a[1].p, a[1].n);
        else
            wrong_args(o, "ping");
    } else if (is(&a[0], "ECHO")) {
        if (n == 2)
            put_bulk(o, a[1].p, a[1].n);
        else
            wrong_args(o, "echo");
    } else if (is(&a[0], "GET")) {
        if (n == 2)
            put_reply(o, shard_op(OP_GET, a[1].p, a[1].n, 0, NULL, 0));
        else
            wrong_args(o, "get");
    } else if (is(&a[0], "SET")) {
        if (n != 3 && n != 5) {
            if (n < 3)
                wrong_args(o, "set");
            else
                put_err(o, "ERR syntax error");
            return;
        }
        int64_t exp = 0;
        if (n == 5) {
            long long t;
            bool ex = is(&a[3], "EX"), px = is(&a[3], "PX");
            if (!(ex || px)) {
                put_err(o, "ERR syntax error");
                return;
            }
            if (!parse_int(&a[4], &t) || t <= 0 || t > INT64_MAX / 2000) {
                put_err(o, "ERR invalid expire time in 'set' command");
                return;
            }
            exp = oak_now_ms() + (ex ? t * 1000 : t);
        }
        put_reply(o, shard_op(OP_SET, a[1].p, a[1].n, exp, a[2].p, a[2].n));
    } else if (is(&a[0], "DEL") || is(&a[0], "EXISTS")) {
        bool del = is(&a[0], "DEL");
        if (n < 2) {
            wrong_args(o, del ? "del" : "exists");
            return;
        }
        long long sum = 0;
        for (int i = 1; i < n; i++) {
            oak_msg *m = shard_op(del ? OP_DEL : OP_EXISTS, a[i].p, a[i].n, 0, NULL, 0);
            int64_t v = 0;
            if (m && m->tag == R_INT)
                memcpy(&v, m->data, sizeof v);
            oak_msg_free(m);
            sum += v;
        }
        put_int(o, sum);
    } else if (is(&a[0], "INCR")) {
        if (n == 2)
            put_reply(o, shard_op(OP_INCR, a[1].p, a[1].n, 0, NULL, 0));
        else
            wrong_args(o, "incr");
    } else if (is(&a[0], "MGET")) {
        if (n < 2) {
            wrong_args(o, "mget");
            return;
        }
        char b[32];
        put(o, b, (size_t)snprintf(b, sizeof b, "*%d\r\n", n - 1));
        for (int i = 1; i < n; i++)
            put_reply(o, shard_op(OP_GET, a[i].p, a[i].n, 0, NULL, 0));
    } else if (is(&a[0], "MSET")) {
        if (n < 3 || n % 2 == 0) {
            wrong_args(o, "mset");
            return;
        }
        for (int i = 1; i < n; i += 2) {
            oak_msg *m = shard_op(OP_SET, a[i].p, a[i].n, 0, a[i + 1].p, a[i + 1].n);
            oak_msg_free(m);
        }
        put_str(o, "+OK\r\n");
    } else if (is(&a[0], "COMMAND")) {
        put_str(o, "*0\r\n");
    } else {
        char e[128];
        snprintf(e, sizeof e, "ERR unknown command '%.*s'", (int)(a[0].n > 64 ? 64 : a[0].n),
                 a[0].p);
        put_err(o, e);
    }
}

/* A connection's input, read in large pieces: one recv() usually brings
 * a whole batch of pipelined requests, which are then parsed from here. */
#define IN_CAP 65536

typedef struct in {
    int sock;
    size_t pos, len; /* unread bytes: buf[pos, len) */
    char buf[IN_CAP];
} in;

/* Read more, keeping the unread bytes. Returns > 0, 0 at end of stream,
 * or a negative errno (-EMSGSIZE: the buffer is full of unread bytes). */
static ssize_t fill(in *i, int64_t timeout_ms)
{
    if (i->pos > 0) {
        memmove(i->buf, i->buf + i->pos, i->len - i->pos);
        i->len -= i->pos;
        i->pos = 0;
    }
    if (i->len == IN_CAP)
        return -EMSGSIZE;
    ssize_t n = oak_sock_recv(i->sock, i->buf + i->len, IN_CAP - i->len, timeout_ms);
    if (n > 0)
        i->len += (size_t)n;
    return n;
}

/* The next line, without its "\r\n" (or "\n"), NUL-terminated in place;
 * valid until the next read. Returns its length, or what fill() returned
 * when no whole line came. */
static ssize_t get_line(in *i, char **line, int64_t timeout_ms)
{
    size_t scanned = i->pos;
    for (;;) {
        char *nl = memchr(i->buf + scanned, '\n', i->len - scanned);
        if (nl) {
            char *p = i->buf + i->pos;
            size_t len = (size_t)(nl - p);
            i->pos += len + 1;
            if (len > 0 && p[len - 1] == '\r')
                len--;
            p[len] = '\0';
            *line = p;
            return (ssize_t)len;
        }
        scanned = i->len - i->pos; /* after fill() moves the bytes down */
        ssize_t n = fill(i, timeout_ms);
        if (n <= 0)
            return n == 0 ? -1 : n;
    }
}

/* Exactly n bytes into dst, first from the buffer, then from the socket. */
static bool get_bytes(in *i, char *dst, size_t n, int64_t timeout_ms)
{
    size_t k = i->len - i->pos < n ? i->len - i->pos : n;
    memcpy(dst, i->buf + i->pos, k);
    i->pos += k;
    return k == n || oak_sock_recv_exact(i->sock, dst + k, n - k, timeout_ms) == (ssize_t)(n - k);
}

/* Read one request into a (args on the process's heap); returns the
 * number of arguments, 0 for an empty line, -1 when the connection ends,
 * or -2 for a protocol error (its text put). */
static int read_request(in *i, out *o, arg *a)
{
    char *line;
    ssize_t n = get_line(i, &line, OAK_INFINITY);
    if (n == -EMSGSIZE) {
        put_err(o, "ERR Protocol error: too big inline request");
        return -2;
    }
    if (n < 0)
        return -1;
    if (line[0] != '*') {
        /* An inline command: words split by spaces. */
        int k = 0;
        char *save;
        for (char *t = strtok_r(line, " \t", &save); t && k < MAX_ARGS;
             t = strtok_r(NULL, " \t", &save)) {
            a[k].n = strlen(t);
            a[k].p = oak_alloc(a[k].n + 1);
            if (!a[k].p)
                return -1;
            memcpy(a[k].p, t, a[k].n + 1);
            k++;
        }
        return k;
    }
    char *end;
    long count = strtol(line + 1, &end, 10);
    if (*end || count < 0 || count > MAX_ARGS) {
        put_err(o, "ERR Protocol error: invalid multibulk length");
        return -2;
    }
    for (int k = 0; k < count; k++) {
        n = get_line(i, &line, 10000);
        if (n < 0)
            return n == -EMSGSIZE ? (put_err(o, "ERR Protocol error: invalid bulk length"), -2)
                                  : -1;
        long blen = line[0] == '$' ? strtol(line + 1, &end, 10) : -1;
        if (line[0] != '$' || *end || blen < 0 || blen > MAX_BULK) {
            put_err(o, "ERR Protocol error: invalid bulk length");
            return -2;
        }
        a[k].n = (size_t)blen;
        a[k].p = oak_alloc((size_t)blen + 2);
        if (!a[k].p || !get_bytes(i, a[k].p, (size_t)blen + 2, 10000))
            return -1;
        if (a[k].p[blen] != '\r' || a[k].p[blen + 1] != '\n') {
            put_err(o, "ERR Protocol error: expected '\\r\\n'");
            return -2;
        }
    }
    return (int)count;
}

/* Is another request of the same batch already read (pipelining)? The
 * replies go out when the batch is done, as Redis does: asking the socket
 * too would cost a system call per request. */
static bool more_waiting(const in *i) { return i->pos < i->len; }

static void connection(int sock, void *unused)
{
    (void)unused;
    /* Owned by the process (oak_alloc): freed however it ends. */
    out *o = oak_alloc(sizeof *o);
    arg *a = oak_alloc(MAX_ARGS * sizeof *a);
    in *i = oak_alloc(sizeof *i);
    if (!o || !a || !i)
        goto done;
    memset(a, 0, MAX_ARGS * sizeof *a);
    o->sock = i->sock = sock;
    o->len = i->pos = i->len = 0;
    o->failed = false;
    for (;;) {
        int n = read_request(i, o, a);
        if (n > 0)
            run(o, a, n);
        for (int k = 0; k < MAX_ARGS && a[k].p; k++) {
            oak_free(a[k].p);
            a[k].p = NULL;
        }
        if (n < 0) {
            flush(o);
            break;
        }
        if (!more_waiting(i))
            flush(o);
        if (o->failed)
            break;
    }
done:
    oak_free(o);
    oak_free(a);
    oak_free(i);
}

/* ---- the tree ---- */

static int port = 6380;
static _Atomic oak_pid server_pid;

static int server_start(const oak_child_args *args, oak_pid *pid, oak_reason *why)
{
    (void)args;
    oak_tcp_server_opts o = {.host = "127.0.0.1",
                             .port = port,
                             .acceptors = 2,
                             .max_connections = 10000,
                             .listen = {.backlog = 1024},
                             .handler = connection};
    int rc = oak_tcp_server_start(&o, OAK_GEN_LINK, pid, why);
    if (rc == 0)
        server_pid = *pid;
    return rc;
}

static int shard_ids[SHARDS] = {0, 1, 2, 3};

static int start(void *arg, oak_pid *top, oak_reason *why)
{
    (void)arg;
    static oak_child_spec kids[SHARDS + 1];
    for (int i = 0; i < SHARDS; i++) {
        char id[16];
        snprintf(id, sizeof id, "kv_shard%d", i);
        shard_names[i] = oak_atom_from(id);
        kids[i] = (oak_child_spec){.id = oak_atom_from(id), .start = shard_start,
                                   .arg = &shard_ids[i], .arg_size = sizeof(int)};
    }
    /* Transient: the graceful stop (prep_stop) ends it normally, and it
     * is not started again. */
    kids[SHARDS] = (oak_child_spec){.id = oak_atom_from("server"), .start = server_start,
                                    .restart = OAK_TRANSIENT, .type = OAK_SUPERVISOR,
                                    .shutdown = OAK_INFINITY};
    static oak_supervisor_def top_def;
    top_def = (oak_supervisor_def){.name = oak_atom_from("kv_sup"),
                                   .flags = {OAK_ONE_FOR_ONE, 10, 5, OAK_AUTO_SHUTDOWN_NEVER},
                                   .children = kids,
                                   .count = SHARDS + 1};
    return oak_supervisor_start(&top_def, OAK_GEN_LINK, top, why);
}

/* Before the tree goes down: stop accepting and give open connections 2 s. */
static void prep_stop(void *arg)
{
    (void)arg;
    oak_pid srv = server_pid;
    if (srv && oak_is_alive(srv))
        oak_tcp_server_stop(srv, 2000);
}

int main(int argc, char **argv)
{
    static oak_config config;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            printf("usage: kv [--port N] [--schedulers N]   (port 6380 on 127.0.0.1, one\n"
                   "       scheduler per CPU by default)\n");
            return 0;
        }
        if (!strcmp(argv[i], "--port") && i + 1 < argc) {
            char *end;
            long p = strtol(argv[++i], &end, 10);
            if (*end || p <= 0 || p > 65535) {
                fprintf(stderr, "kv: fatal: unable to use port %s: not a port number\n", argv[i]);
                return 100;
            }
            port = (int)p;
            continue;
        }
        if (!strcmp(argv[i], "--schedulers") && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n <= 0 || n > 1024) {
                fprintf(stderr, "kv: fatal: unable to use %s schedulers: not a count\n", argv[i]);
                return 100;
            }
            config.schedulers = (unsigned)n;
            continue;
        }
        fprintf(stderr, "usage: kv [--port N] [--schedulers N]\n");
        return 100;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    oak_application app = {
        .name = "kv", .start = start, .prep_stop = prep_stop, .config = &config};
    int r = oak_application_run(&app);
    if (r < 0)
        fprintf(stderr, "kv: fatal: unable to run: %s\n", oak_strerror(r));
    return r < 0 ? 111 : r;
}
