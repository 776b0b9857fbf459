/* log.c - one line per event; a handler may replace the stderr default. */
#include "oak/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>

#include "core/preempt.h"

static _Atomic int level = OAK_LOG_NOTICE;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* all below */
static oak_log_handler handler;
static oak_log_record_handler record_handler;
static void *handler_ctx;
static unsigned out_flags;
static int out_fd = 2;
static bool out_fd_ours; /* opened by oak_log_open(): closed when replaced */
static bool out_checked; /* out_may_block is known for out_fd             */
static bool out_may_block; /* out_fd is not a regular file                */

/* The default output's queue: see emit(). */
#define QUEUE_MAX ((size_t)1 << 20) /* bytes of lines waiting, at most   */
#define SWITCH_DRAIN_MS 1000        /* a new output waits for the old's   */
#define EXIT_DRAIN_MS 1000          /* the program's exit waits for lines */

typedef struct qline {
    struct qline *next;
    size_t len;
    char text[];
} qline;
static qline *q_head, *q_tail;  /* under lock                             */
static size_t q_bytes;          /* under lock                             */
static uint64_t q_dropped;      /* under lock: lost since the last notice */
static bool q_busy;             /* the writer has a batch in hand          */
static bool writer_started;     /* under lock                             */
static pthread_cond_t q_work = PTHREAD_COND_INITIALIZER;  /* for the writer */
static pthread_cond_t q_drained = PTHREAD_COND_INITIALIZER;

#define MAX_KINDS 16
static struct kind_level {
    char kind[32];
    int level;
} kind_levels[MAX_KINDS];          /* under lock */
static _Atomic int nkind_levels;   /* set under lock; read to skip the table */

void oak_log_set_handler(oak_log_handler fn, void *ctx)
{
    pthread_mutex_lock(&lock);
    handler = fn;
    record_handler = NULL;
    handler_ctx = ctx;
    pthread_mutex_unlock(&lock);
}

void oak_log_set_record_handler(oak_log_record_handler fn, void *ctx)
{
    pthread_mutex_lock(&lock);
    record_handler = fn;
    handler = NULL;
    handler_ctx = ctx;
    pthread_mutex_unlock(&lock);
}

static void drain_queue(int64_t ms);

void oak_log_set_output(unsigned flags, int fd)
{
    pthread_mutex_lock(&lock);
    out_flags = flags & (OAK_LOG_TIME | OAK_LOG_JSON | OAK_LOG_SYSLOG);
    if (fd >= 0 && fd != out_fd) {
        /* Lines queued for the old output go there first. */
        drain_queue(SWITCH_DRAIN_MS);
        if (out_fd_ours)
            close(out_fd);
        out_fd = fd;
        out_fd_ours = false;
        out_checked = false;
    }
    pthread_mutex_unlock(&lock);
}

int oak_log_open(const char *path, unsigned flags)
{
    if (!path)
        return -EINVAL;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    oak_log_set_output(flags, fd);
    pthread_mutex_lock(&lock);
    out_fd_ours = true;
    pthread_mutex_unlock(&lock);
    return 0;
}

int oak_log_set_kind_level(const char *kind, oak_log_level l)
{
    if (!kind || !*kind || strlen(kind) >= sizeof kind_levels[0].kind || (int)l < 0 ||
        l > OAK_LOG_NONE)
        return -EINVAL;
    int rc = 0;
    pthread_mutex_lock(&lock);
    int n = atomic_load_explicit(&nkind_levels, memory_order_relaxed), i;
    for (i = 0; i < n; i++)
        if (strcmp(kind_levels[i].kind, kind) == 0)
            break;
    if (i == n) {
        if (l == OAK_LOG_DEBUG)
            goto out;
        if (n == MAX_KINDS) {
            rc = -ENOSPC;
            goto out;
        }
        snprintf(kind_levels[n].kind, sizeof kind_levels[n].kind, "%s", kind);
        atomic_store_explicit(&nkind_levels, n + 1, memory_order_relaxed);
    }
    kind_levels[i].level = (int)l;
out:
    pthread_mutex_unlock(&lock);
    return rc;
}

/* Under lock: is this kind's event below its own level? */
static bool kind_dropped(const char *kind, oak_log_level l)
{
    int n = atomic_load_explicit(&nkind_levels, memory_order_relaxed);
    for (int i = 0; i < n; i++)
        if (strcmp(kind_levels[i].kind, kind) == 0)
            return (int)l < kind_levels[i].level;
    return false;
}

oak_log_level oak_log_set_level(oak_log_level l)
{
    return (oak_log_level)atomic_exchange_explicit(&level, (int)l, memory_order_relaxed);
}

bool oak_log_enabled(oak_log_level l)
{
    return (int)l >= atomic_load_explicit(&level, memory_order_relaxed) && l < OAK_LOG_NONE;
}

static const char *const names[] = {"debug", "info", "notice", "warning", "error"};

/* ---- fields ------------------------------------------------------------- */

static bool is_key_char(char c) { return (c >= 'a' && c <= 'z') || c == '_'; }

/* Does a key= begin at s? */
static bool key_at(const char *s)
{
    const char *k = s;
    while (is_key_char(*k))
        k++;
    return k > s && *k == '=';
}

size_t oak_log_parse(const char *line, oak_log_field *out, size_t max)
{
    size_t n = 0;
    const char *c = line ? line : "";
    while (*c == ' ')
        c++;
    while (*c) {
        if (!key_at(c))
            break; /* not the documented shape from here on */
        const char *key = c;
        while (*c != '=')
            c++;
        size_t key_len = (size_t)(c - key);
        const char *value = ++c;
        int depth = 0;
        bool quoted = false;
        for (; *c; c++) {
            if (quoted) {
                if (*c == '\\' && c[1])
                    c++;
                else if (*c == '"')
                    quoted = false;
            } else if (*c == '"') {
                quoted = true;
            } else if (*c == '{' || *c == '[' || *c == '<') {
                depth++;
            } else if ((*c == '}' || *c == ']' || *c == '>') && depth > 0) {
                depth--;
            } else if (*c == ' ' && depth == 0 && key_at(c + 1)) {
                break;
            }
        }
        if (n < max) {
            out[n].key = key;
            out[n].key_len = key_len;
            out[n].value = value;
            out[n].value_len = (size_t)(c - value);
        }
        n++;
        while (*c == ' ')
            c++;
    }
    return n;
}

/* ---- the default output ------------------------------------------------- */

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* closed or full: the event is lost, nothing else */
        p += w;
        n -= (size_t)w;
    }
}

/* A growing buffer on the stack first. */
typedef struct buf {
    char small[1024];
    char *p;
    size_t len, cap;
    bool failed;
} buf;

static void buf_init(buf *b)
{
    b->p = b->small;
    b->len = 0;
    b->cap = sizeof b->small;
    b->failed = false;
}

static void buf_add(buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *np = b->p == b->small ? malloc(cap) : realloc(b->p, cap);
        if (!np) {
            b->failed = true;
            return;
        }
        if (b->p == b->small)
            memcpy(np, b->small, b->len);
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void buf_str(buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_free(buf *b)
{
    if (b->p != b->small)
        free(b->p);
}

/* A JSON string of n bytes. */
static void buf_json(buf *b, const char *s, size_t n)
{
    buf_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            buf_add(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            buf_add(b, esc, 6);
        } else {
            buf_add(b, (const char *)&c, 1);
        }
    }
    buf_add(b, "\"", 1);
}

static void iso_time(int64_t ms, char out[64])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* ---- the default output's queue ------------------------------------------ */

/* A line goes out at once, in one write(2), when no line waits before it
 * and the output takes it without blocking: a regular file, or a pipe, a
 * terminal or a socket that poll(2) says is writable, for a line of at
 * most PIPE_BUF bytes. Otherwise it is queued for a writer thread, so that
 * a reader that stops reading stalls no scheduler and no process (Erlang's
 * logger handler, too, writes from a process of its own). Past QUEUE_MAX
 * bytes waiting, lines are dropped and counted; the writer says how many
 * once it has caught up. */

static bool output_may_block(int fd)
{
    struct stat st;
    return fstat(fd, &st) != 0 || !S_ISREG(st.st_mode);
}

static bool writable_now(int fd)
{
    struct pollfd pf = {.fd = fd, .events = POLLOUT};
    return poll(&pf, 1, 0) == 1 && (pf.revents & POLLOUT) && !(pf.revents & POLLERR);
}

static void deadline_in(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

/* Under lock: wait up to ms for the writer to write what is queued; what
 * is still queued then is dropped (and counted). */
static void drain_queue(int64_t ms)
{
    struct timespec ts;
    deadline_in(&ts, ms);
    while ((q_head || q_busy) && pthread_cond_timedwait(&q_drained, &lock, &ts) == 0) {
    }
    while (q_head) {
        qline *l = q_head;
        q_head = l->next;
        q_bytes -= l->len;
        free(l);
        q_dropped++;
    }
    q_tail = NULL;
}

static void format_line(const oak_log_record *r, buf *b);

static void *writer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!q_head && !q_dropped)
            pthread_cond_wait(&q_work, &lock);
        /* The batch's bytes stay counted in q_bytes until written: the
         * bound holds for what is queued and what is in hand together. */
        qline *l = q_head;
        q_head = q_tail = NULL;
        size_t batch = 0;
        buf notice;
        buf_init(&notice);
        if (q_dropped) {
            char line[96];
            snprintf(line, sizeof line, "dropped=%llu reason=output_blocked",
                     (unsigned long long)q_dropped);
            q_dropped = 0;
            oak_log_field fields[2];
            oak_log_record r = {.level = OAK_LOG_WARNING, .kind = "log", .line = line,
                                .fields = fields,
                                .nfields = oak_log_parse(line, fields, 2)};
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            r.time_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
            format_line(&r, &notice);
        }
        /* A copy of the descriptor: the output may be replaced (and the
         * old one closed) while this batch blocks on it. */
        int fd = fcntl(out_fd, F_DUPFD_CLOEXEC, 0);
        q_busy = true;
        pthread_mutex_unlock(&lock);
        while (l) {
            qline *n = l->next;
            if (fd >= 0)
                write_all(fd, l->text, l->len);
            batch += l->len;
            free(l);
            l = n;
        }
        if (fd >= 0 && !notice.failed && notice.len)
            write_all(fd, notice.p, notice.len);
        buf_free(&notice);
        if (fd >= 0)
            close(fd);
        pthread_mutex_lock(&lock);
        q_bytes -= batch;
        q_busy = false;
        if (!q_head)
            pthread_cond_broadcast(&q_drained);
    }
    return NULL;
}

static void drain_at_exit(void)
{
    pthread_mutex_lock(&lock);
    drain_queue(EXIT_DRAIN_MS);
    pthread_mutex_unlock(&lock);
}

/* A forked child has no writer: it starts its own if it needs one. What
 * the parent had queued is the parent's to write. */
static void child_after_fork(void)
{
    while (q_head) {
        qline *l = q_head;
        q_head = l->next;
        free(l);
    }
    q_tail = NULL;
    q_bytes = 0;
    q_dropped = 0;
    q_busy = false;
    writer_started = false;
}

/* Under lock. The writer takes no signal (the runtime's threads leave them
 * to the signal source). */
static bool start_writer(void)
{
    if (writer_started)
        return true;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, (size_t)256 << 10);
    pthread_t t;
    int rc = pthread_create(&t, &attr, writer_main, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return false;
    writer_started = true;
    static bool hooked;
    if (!hooked) {
        hooked = true;
        atexit(drain_at_exit);
        pthread_atfork(NULL, NULL, child_after_fork);
    }
    return true;
}

/* Under lock: one formatted line to the default output. */
static void emit(const char *p, size_t n)
{
    if (!out_checked) {
        out_may_block = output_may_block(out_fd);
        out_checked = true;
    }
    if (!q_head && !q_busy && (!out_may_block || (n <= PIPE_BUF && writable_now(out_fd)))) {
        write_all(out_fd, p, n);
        return;
    }
    if (!start_writer()) {
        write_all(out_fd, p, n); /* no thread to wait in: as before, here */
        return;
    }
    qline *l = q_bytes + n <= QUEUE_MAX ? malloc(sizeof *l + n) : NULL;
    if (!l) {
        q_dropped++;
        pthread_cond_signal(&q_work);
        return;
    }
    l->next = NULL;
    l->len = n;
    memcpy(l->text, p, n);
    if (q_tail)
        q_tail->next = l;
    else
        q_head = l;
    q_tail = l;
    q_bytes += n;
    pthread_cond_signal(&q_work);
}

/* The default output, under lock: "=level kind= line" (with the time first
 * under OAK_LOG_TIME), or a JSON object, in one write(2) so that lines from
 * several threads never interleave; or syslog. */
static void write_default(const oak_log_record *r)
{
    if (out_flags & OAK_LOG_SYSLOG) {
        static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERR};
        syslog(LOG_DAEMON | prio[r->level], "%s: %s", r->kind, r->line);
        return;
    }
    buf b;
    buf_init(&b);
    format_line(r, &b);
    if (!b.failed)
        emit(b.p, b.len);
    buf_free(&b);
}

static void format_line(const oak_log_record *r, buf *b)
{
    char when[64] = "";
    if (out_flags & (OAK_LOG_TIME | OAK_LOG_JSON))
        iso_time(r->time_ms, when);
    if (out_flags & OAK_LOG_JSON) {
        buf_str(b, "{\"time\":\"");
        buf_str(b, when);
        buf_str(b, "\",\"level\":\"");
        buf_str(b, names[r->level]);
        buf_str(b, "\",\"kind\":");
        buf_json(b, r->kind, strlen(r->kind));
        for (size_t i = 0; i < r->nfields; i++) {
            buf_add(b, ",", 1);
            buf_json(b, r->fields[i].key, r->fields[i].key_len);
            buf_add(b, ":", 1);
            buf_json(b, r->fields[i].value, r->fields[i].value_len);
        }
        if (r->nfields == 0) {
            buf_str(b, ",\"text\":");
            buf_json(b, r->line, strlen(r->line));
        }
        buf_str(b, "}\n");
    } else {
        if (out_flags & OAK_LOG_TIME) {
            buf_str(b, when);
            buf_add(b, " ", 1);
        }
        buf_add(b, "=", 1);
        buf_str(b, names[r->level]);
        buf_add(b, " ", 1);
        buf_str(b, r->kind);
        buf_str(b, "= ");
        buf_str(b, r->line);
        buf_add(b, "\n", 1);
    }
}

int oak_log(oak_log_level l, const char *kind, const char *fmt, ...)
{
    if ((int)l < 0 || l >= OAK_LOG_NONE || !fmt)
        return -EINVAL;
    if (!oak_log_enabled(l))
        return 0;
    char small[512];
    char *line = small;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= sizeof small) {
        line = malloc((size_t)n + 1);
        if (!line)
            return -ENOMEM;
        va_start(ap, fmt);
        vsnprintf(line, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    if (!kind)
        kind = "log";
    /* The handler is the user's code, run under the lock: a preemption
     * there would leave the lock held while this thread runs others. */
    oak__preempt_off++;
    pthread_mutex_lock(&lock);
    struct timespec now = {0, 0};
    if (record_handler || (out_flags & (OAK_LOG_TIME | OAK_LOG_JSON)))
        clock_gettime(CLOCK_REALTIME, &now);
    if (!kind_dropped(kind, l)) {
        if (handler) {
            handler(l, kind, line, handler_ctx);
        } else {
            /* Fields are split only for whoever reads them. */
            oak_log_field fields[OAK_LOG_MAX_FIELDS];
            size_t nf = record_handler || (out_flags & OAK_LOG_JSON)
                            ? oak_log_parse(line, fields, OAK_LOG_MAX_FIELDS)
                            : 0;
            oak_log_record r = {
                .level = l,
                .kind = kind,
                .line = line,
                .time_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000,
                .fields = fields,
                .nfields = nf < OAK_LOG_MAX_FIELDS ? nf : OAK_LOG_MAX_FIELDS,
            };
            if (record_handler)
                record_handler(&r, handler_ctx);
            else
                write_default(&r);
        }
    }
    pthread_mutex_unlock(&lock);
    oak__preempt_off--;
    if (line != small)
        free(line);
    return 0;
}
