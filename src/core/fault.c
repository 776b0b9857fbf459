/* fault.c - see fault.h. */
#include "core/fault.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "core/ctx.h"
#include "core/sanitizer.h"
#include "core/symbol.h"
#include <execinfo.h>

_Thread_local volatile int oak__in_process;

static const int fault_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
#define NSIG_FAULT (sizeof fault_signals / sizeof *fault_signals)
static struct sigaction saved[NSIG_FAULT];

/* Runs on the scheduler's landing stack, outside signal context, and
 * leaves the dead process for good. */
static void fault_landing(void)
{
    oak__sched *s = oak__sched_self();
    oak__sched_own(s); /* the scheduler's from here (sched.h) */
    oak__proc *p = s->current;
    p->switch_reason = OAK__SW_FAULT;
    s->prev = p;
    s->current = NULL;
    void *discard;
    oak__switch(&discard, s->sp, s->tsan_fiber, NULL, s->asan_stack_bottom, s->asan_stack_size);
    abort();
}

static void handler(int sig, siginfo_t *si, void *uctx)
{
    oak__sched *s = oak__sched_self();
    if (!s || !oak__in_process || !s->current) {
        /* Not a process's fault: let the previous action take it. */
        for (size_t i = 0; i < NSIG_FAULT; i++) {
            if (fault_signals[i] != sig)
                continue;
            if ((saved[i].sa_flags & SA_SIGINFO) && saved[i].sa_sigaction) {
                saved[i].sa_sigaction(sig, si, uctx);
                return;
            }
            if (saved[i].sa_handler != SIG_DFL && saved[i].sa_handler != SIG_IGN &&
                saved[i].sa_handler != NULL) {
                saved[i].sa_handler(sig);
                return;
            }
        }
        signal(sig, SIG_DFL);
        return; /* the instruction faults again, now with the default action */
    }
    ucontext_t *uc = uctx;
    /* The unwinder was loaded at install time (oak__symbol_init): this is
     * a walk up the process's stack, through the signal frame. */
    s->fault_nbt = oak__rt->cfg.backtrace_depth > 0 ? backtrace(s->fault_bt, OAK__FAULT_FRAMES) : 0;
    s->fault.sig = sig;
    s->fault.code = si->si_code;
    s->fault.addr = si->si_addr;
    oak__in_process = 0;
    uintptr_t top = ((uintptr_t)(s->landing + OAK__LANDING_SIZE)) & ~(uintptr_t)15;
#if defined(__x86_64__)
    s->fault.pc = (void *)uc->uc_mcontext.gregs[REG_RIP];
    /* As if fault_landing had been called: rsp + 8 is 16-byte aligned. */
    uc->uc_mcontext.gregs[REG_RSP] = (greg_t)(top - 8);
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)fault_landing;
#elif defined(__aarch64__)
    s->fault.pc = (void *)uc->uc_mcontext.pc;
    uc->uc_mcontext.sp = top;
    uc->uc_mcontext.pc = (uintptr_t)fault_landing;
    uc->uc_mcontext.regs[30] = 0;
#else
#error "oak: no fault landing for this CPU"
#endif
}

int oak__fault_install(void)
{
    oak__symbol_init();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NSIG_FAULT; i++)
        if (sigaction(fault_signals[i], &sa, &saved[i]) != 0)
            return -errno;
    return 0;
}

void oak__fault_uninstall(void)
{
    for (size_t i = 0; i < NSIG_FAULT; i++)
        sigaction(fault_signals[i], &saved[i], NULL);
    oak__symbol_term(); /* no report comes after this */
}

int oak__fault_thread_init(oak__sched *s)
{
    s->altstack = malloc(OAK__ALTSTACK_SIZE);
    s->landing = malloc(OAK__LANDING_SIZE);
    if (!s->altstack || !s->landing)
        return -ENOMEM;
    stack_t st = {.ss_sp = s->altstack, .ss_size = OAK__ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&st, NULL) != 0)
        return -errno;
    return 0;
}

void oak__fault_thread_term(oak__sched *s)
{
    stack_t st = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
    sigaltstack(&st, NULL);
    free(s->altstack);
    free(s->landing);
    s->altstack = s->landing = NULL;
}

void oak__fault_reason(oak__proc *p, const oak__fault *f, oak_atom *reason, char *detail,
                       size_t size)
{
    const char *what;
    switch (f->sig) {
    case SIGSEGV:
        *reason = OAK_SIGSEGV;
        what = "SIGSEGV";
        break;
    case SIGBUS:
        *reason = OAK_SIGBUS;
        what = "SIGBUS";
        break;
    case SIGFPE:
        *reason = OAK_SIGFPE;
        what = "SIGFPE";
        break;
    case SIGILL:
        *reason = OAK_SIGILL;
        what = "SIGILL";
        break;
    default:
        *reason = OAK_ERROR;
        what = "signal";
    }
    /* An overflow: the address is in the gap below the stack (every
     * running process has one, core/stack.h). */
    bool overflow = (f->sig == SIGSEGV || f->sig == SIGBUS) && oak__stack_in_guard(p, f->addr);
    if (overflow)
        *reason = OAK_STACK_OVERFLOW;
    snprintf(detail, size, "\"%s%s at address %p, pc %p\"", what,
             overflow ? " in the guard below the stack" : "", f->addr, f->pc);
}
