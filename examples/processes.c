/* processes.c - oak's runtime in one page: processes that share nothing,
 * messages, a monitor, and a crash (a NULL dereference) that kills only the
 * process that made it.
 *
 *   ./processes
 */
#include <oak.h>
#include <stdio.h>

enum { TAG_PING = 1, TAG_PONG, TAG_TOKEN };

/* Answers every ping with a pong carrying the same number. */
static void echo(void *arg)
{
    (void)arg;
    for (;;) {
        oak_msg *m;
        oak_receive(&m, OAK_INFINITY, NULL, NULL);
        if (m->tag == TAG_PING)
            oak_send(m->from, TAG_PONG, m->data, m->size);
        oak_msg_free(m);
    }
}

/* Passes a token to the next process, adding one each hop. */
static void ring_member(void *arg)
{
    oak_pid next = *(oak_pid *)arg;
    oak_msg *m;
    oak_receive(&m, OAK_INFINITY, NULL, NULL);
    long hops = *(long *)m->data + 1;
    oak_send(next, TAG_TOKEN, &hops, sizeof hops);
    oak_msg_free(m);
}

static void crash(void *arg)
{
    (void)arg;
    volatile int *nowhere = NULL;
    *nowhere = 42; /* SIGSEGV: this process dies, nothing else does */
}

static void demo(void *arg)
{
    (void)arg;
    char buf[160];

    oak_pid e;
    oak_spawn(echo, NULL, NULL, &e);
    oak_pid_format(e, buf, sizeof buf);
    long n = 7;
    oak_send(e, TAG_PING, &n, sizeof n);
    oak_msg *m;
    oak_receive(&m, 1000, NULL, NULL);
    printf("echo %s answered pong %ld\n", buf, *(long *)m->data);
    oak_msg_free(m);

    /* A ring of 10,000 processes, each knowing the next; the last one
     * sends the token back to us. */
    oak_pid next = oak_self();
    for (int i = 0; i < 10000; i++) {
        oak_spawn_opts o = {.arg_size = sizeof next};
        oak_spawn(ring_member, &next, &o, &next);
    }
    long zero = 0;
    oak_send(next, TAG_TOKEN, &zero, sizeof zero);
    oak_receive(&m, 10000, NULL, NULL);
    printf("token went round a ring of 10000 processes: %ld hops\n", *(long *)m->data);
    oak_msg_free(m);

    oak_spawn_opts o = {.flags = OAK_SPAWN_MONITOR};
    oak_pid c;
    oak_spawn(crash, NULL, &o, &c);
    oak_receive_ref(&m, o.monitor_ref, 5000);
    const oak_down *d = m->data;
    oak_reason_format(d->reason, d->detail, buf, sizeof buf);
    printf("monitor saw the crashing process die: %s\n", buf);
    oak_msg_free(m);

    oak_send(e, TAG_PING, &n, sizeof n);
    oak_receive(&m, 1000, NULL, NULL);
    printf("and echo is still alive: pong %ld\n", *(long *)m->data);
    oak_msg_free(m);
    printf("%zu processes alive; oak_run returns and frees them\n", oak_process_count());
}

int main(void)
{
    int rc = oak_run(demo, NULL, NULL);
    return rc == 0 ? 0 : 1;
}
