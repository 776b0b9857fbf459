/* log.c - one line per event; a handler may replace the stderr default. */
#include "oak/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

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
    pthread_mutex_lock(&lock);
    if (handler)
        handler(l, kind, line, handler_ctx);
    else
        fprintf(stderr, "=%s %s= %s\n", names[l], kind, line);
    pthread_mutex_unlock(&lock);
    if (line != small)
        free(line);
    return 0;
}
