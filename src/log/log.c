/* log.c - one line per event; a handler may replace the stderr default. */
#include "oak/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/preempt.h"

static _Atomic int level = OAK_LOG_NOTICE;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* handler + ctx */
static oak_log_handler handler;
static void *handler_ctx;

void oak_log_set_handler(oak_log_handler fn, void *ctx)
{
    pthread_mutex_lock(&lock);
    handler = fn;
    handler_ctx = ctx;
    pthread_mutex_unlock(&lock);
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

/* The default handler: "=level kind= line" and a newline, in one write(2)
 * so that lines from several threads never interleave. */
static void write_stderr(const char *lvl, const char *kind, const char *line)
{
    size_t nl = strlen(lvl), nk = strlen(kind), n = strlen(line);
    size_t total = nl + nk + n + 4;
    char small[1024];
    char *buf = total <= sizeof small ? small : malloc(total);
    if (!buf)
        return;
    char *o = buf;
    *o++ = '=';
    memcpy(o, lvl, nl);
    o += nl;
    *o++ = ' ';
    memcpy(o, kind, nk);
    o += nk;
    *o++ = '=';
    *o++ = ' ';
    memcpy(o, line, n);
    o += n;
    *o++ = '\n';
    for (const char *p = buf; p < o;) {
        ssize_t w = write(2, p, (size_t)(o - p));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* stderr closed or full: the event is lost, nothing else */
        p += w;
    }
    if (buf != small)
        free(buf);
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
    if (handler)
        handler(l, kind, line, handler_ctx);
    else
        write_stderr(names[l], kind, line);
    pthread_mutex_unlock(&lock);
    oak__preempt_off--;
    if (line != small)
        free(line);
    return 0;
}
