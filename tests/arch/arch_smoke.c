/* arch_smoke.c - the CPU-specific parts of the runtime, checked without a
 * test framework so that it can be cross-built and run under an emulator
 * (tools/check-arch.sh runs it for AArch64 under qemu-user):
 *   - the context switch keeps every callee-saved register, integer and
 *     floating point, across switches;
 *   - a new context starts with an aligned stack (a double and a 16-byte
 *     vector on it work);
 *   - a fault and a stack overflow end only the faulting process;
 *   - messages, spawns, timers on this CPU.
 * Prints one line per check and "arch smoke: N passed, M failed". */
#include <oak.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int passed, failed;

static void check(int ok, const char *what)
{
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    if (ok)
        passed++;
    else
        failed++;
}

/* Floating-point and integer work that stays live across yields: if the
 * switch lost a callee-saved register, the sums would differ. */
/* The work itself; with `yield` it gives up the CPU every round, so its
 * values must survive the switches. Unsigned: the integers wrap. */
static void fp_work(bool yield, double out[2])
{
    double a = 1.0, b = 0.5;
    unsigned long x = 7, y = 11;
    for (int i = 0; i < 1000; i++) {
        a = a * 1.0001 + b;
        b = b * 0.9999 + 0.25;
        x = x * 3 + y;
        y = y ^ x;
        if (yield)
            oak_yield();
    }
    out[0] = a + b;
    out[1] = (double)(x ^ y);
}

static void fp_worker(void *arg)
{
    oak_pid parent = *(oak_pid *)arg;
    double r[2];
    fp_work(true, r);
    oak_send(parent, 1, r, sizeof r);
}

static void aligned_user(void *arg)
{
    oak_pid parent = *(oak_pid *)arg;
    _Alignas(16) unsigned char v[16];
    memset(v, 0x5a, sizeof v);
    int ok = ((uintptr_t)v % 16) == 0;
    oak_send(parent, 2, &ok, sizeof ok);
}

static void crash(void *arg)
{
    (void)arg;
    volatile int *p = NULL;
    *p = 1;
}

static int deep(int n)
{
    volatile char pad[512];
    pad[0] = (char)n;
    return deep(n + 1) + pad[0];
}

static void overflow(void *arg)
{
    (void)arg;
    deep(0);
}

static void echo(void *arg)
{
    (void)arg;
    oak_msg *m;
    while (oak_receive(&m, OAK_INFINITY, NULL, NULL) == 0) {
        oak_send(m->from, m->tag, m->data, m->size);
        oak_msg_free(m);
    }
}

static void child(void *arg)
{
    oak_send(*(oak_pid *)arg, 3, NULL, 0);
}

static oak_atom down_reason(oak_entry fn)
{
    oak_spawn_opts o = {.flags = OAK_SPAWN_MONITOR};
    if (oak_spawn(fn, NULL, &o, NULL) != 0)
        return 0;
    oak_msg *m;
    if (oak_receive_ref(&m, o.monitor_ref, 5000) != 0)
        return 0;
    oak_atom r = ((oak_down *)m->data)->reason;
    oak_msg_free(m);
    return r;
}

static void smoke(void *arg)
{
    (void)arg;
    oak_pid me = oak_self();
    oak_spawn_opts copy = {.arg_size = sizeof me};
    oak_msg *m;

    for (int i = 0; i < 4; i++)
        oak_spawn(fp_worker, &me, &copy, NULL);
    double want[2];
    fp_work(false, want);
    int fp_ok = 1;
    for (int i = 0; i < 4; i++) {
        if (oak_receive(&m, 10000, NULL, NULL) != 0)
            return check(0, "callee-saved registers survive switches");
        const double *got = m->data;
        fp_ok &= got[0] == want[0] && got[1] == want[1];
        oak_msg_free(m);
    }
    check(fp_ok, "callee-saved registers survive switches");

    oak_spawn(aligned_user, &me, &copy, NULL);
    int aligned = 0;
    if (oak_receive(&m, 5000, NULL, NULL) == 0) {
        aligned = *(int *)m->data;
        oak_msg_free(m);
    }
    check(aligned, "a new process starts on an aligned stack");

    oak_pid e;
    oak_spawn(echo, NULL, NULL, &e);
    int echo_ok = 1;
    for (int i = 0; i < 10000 && echo_ok; i++) {
        oak_send(e, 4, &i, sizeof i);
        echo_ok = oak_receive(&m, 5000, NULL, NULL) == 0 && *(int *)m->data == i;
        if (echo_ok)
            oak_msg_free(m);
    }
    check(echo_ok, "10000 round trips");

    for (int i = 0; i < 10000; i++)
        oak_spawn(child, &me, &copy, NULL);
    int got = 0;
    while (got < 10000 && oak_receive(&m, 5000, NULL, NULL) == 0) {
        got += m->tag == 3;
        oak_msg_free(m);
    }
    check(got == 10000, "10000 spawned processes report");

    check(down_reason(crash) == OAK_SIGSEGV, "a NULL store ends its process with sigsegv");
    check(down_reason(overflow) == OAK_STACK_OVERFLOW,
          "a runaway recursion ends its process with stack_overflow");
    oak_send(e, 4, &got, sizeof got);
    check(oak_receive(&m, 5000, NULL, NULL) == 0, "the others live on after the faults");
    oak_msg_free(m);
    check(oak_receive(&m, 30, NULL, NULL) == -ETIMEDOUT, "a receive times out");
    oak_exit_pid(e, OAK_KILL);
}

int main(void)
{
    int rc = oak_run(smoke, NULL, NULL);
    check(rc == 0, "oak_run returns 0");
    printf("arch smoke: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
