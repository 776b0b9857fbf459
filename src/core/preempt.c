/* preempt.c - see preempt.h and docs/design/preemption.md.
 *
 * The monitor's view of one scheduler, at each sample:
 *
 *   running nothing ---------------------------------> (nothing to do)
 *   running P, dispatches moved since the last sample -> note the time
 *   running P for >= the time slice  ----------------+
 *   running P for >= 1 sample with its inbox not empty +-> thread in a
 *                                                        blocking syscall?
 *                                            yes: report it (watchdog)
 *                                            no:  SIGURG to the thread
 *
 * The handler, on that thread, on P's stack:
 *
 *   not in a process, in a cleanup, in a no-preemption region, or the pc
 *   is not in preemptible code -> return (the next sample tries again)
 *   else -> switch P out (OAK__SW_PREEMPT: to the back of the scheduler's
 *           pinned queue, through the scheduler loop so that timers and the
 *           global queue are looked at); when P runs again, act on what
 *           waits in its inbox (an exit signal ends it here), then return.
 */
#include "core/preempt.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "core/fault.h"
#include "core/file.h"
#include "core/sanitizer.h"
#include "core/sched.h"
#include "oak/log.h"

/* liboak's own code lies between these two (text_first.c, text_last.c are
 * the first and last objects of the library, which is built so that its
 * code is one contiguous block: CMakeLists.txt). */
void oak__text_first(void);
void oak__text_last(void);

_Thread_local int oak__preempt_off;

#define PREEMPT_SIGNAL SIGURG
#define SAMPLE_NS ((int64_t)2 * 1000000)
#define IDLE_SAMPLE_NS ((int64_t)20 * 1000000)
#define MAX_RANGES 64

typedef struct range {
    uintptr_t lo, hi;
} range;

static range ranges[MAX_RANGES]; /* written before the handler is installed */
static int nranges;
static uintptr_t own_lo, own_hi;

typedef struct sample {
    uint64_t dispatches;
    int64_t since;
} sample;

static pthread_t monitor;
static bool monitor_started;
static _Atomic bool monitor_stop;
static struct sigaction saved_action;
static bool installed;

bool oak__preempt_safe_pc(const void *pc)
{
    uintptr_t a = (uintptr_t)pc;
    if (a >= own_lo && a < own_hi)
        return false;
    for (int i = 0; i < nranges; i++)
        if (a >= ranges[i].lo && a < ranges[i].hi)
            return true;
    return false;
}

/* ---- where user code lies ------------------------------------------------- */

static bool wanted_module(const char *name, const char *const *modules)
{
    if (!name || !*name)
        return true; /* the program itself */
    for (; modules && *modules; modules++)
        if (**modules && strstr(name, *modules))
            return true;
    return false;
}

/* The first module whose sections could not be read: logged once the walk
 * is over (not under the loader's lock, which dl_iterate_phdr holds). */
static char unread_module[256];

static void add_range(uintptr_t lo, uintptr_t hi)
{
    if (nranges < MAX_RANGES && lo < hi) {
        ranges[nranges].lo = lo;
        ranges[nranges].hi = hi;
        nranges++;
    }
}

static bool read_at(int fd, void *buf, size_t n, uint64_t off)
{
    return pread(fd, buf, n, (off_t)off) == (ssize_t)n;
}

/* Is a code section one of a module's stubs into other modules? The
 * program's procedure linkage table holds liboak's calls into libc too
 * (the static library is linked into the program): a pc there may be
 * liboak's, halfway through a switch, so it is never a safe point. */
static bool is_stub_section(const char *name)
{
    return strncmp(name, ".plt", 4) == 0 || strncmp(name, ".iplt", 5) == 0;
}

/* List the code sections of the ELF file at path, loaded at base, but its
 * stubs. Sections, not segments: an executable segment holds the stubs as
 * well as the code. False when the file cannot be read as ELF (the module
 * is then not preemptible at all). */
static bool add_sections(const char *path, uintptr_t base)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = false;
    char *names = NULL;
    ElfW(Shdr) *sh = NULL;
    ElfW(Ehdr) eh;
    if (!read_at(fd, &eh, sizeof eh, 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_shentsize != sizeof(ElfW(Shdr)) || eh.e_shnum == 0 || eh.e_shnum > 4096 ||
        eh.e_shstrndx >= eh.e_shnum)
        goto out;
    sh = calloc(eh.e_shnum, sizeof *sh);
    if (!sh || !read_at(fd, sh, eh.e_shnum * sizeof *sh, eh.e_shoff))
        goto out;
    const ElfW(Shdr) *st = &sh[eh.e_shstrndx];
    if (st->sh_size == 0 || st->sh_size > ((uint64_t)1 << 20))
        goto out;
    names = malloc(st->sh_size + 1);
    if (!names || !read_at(fd, names, st->sh_size, st->sh_offset))
        goto out;
    names[st->sh_size] = '\0';
    for (unsigned i = 0; i < eh.e_shnum; i++) {
        uint64_t want = SHF_ALLOC | SHF_EXECINSTR;
        if ((sh[i].sh_flags & want) != want || sh[i].sh_name >= st->sh_size ||
            is_stub_section(names + sh[i].sh_name))
            continue;
        add_range(base + sh[i].sh_addr, base + sh[i].sh_addr + sh[i].sh_size);
    }
    ok = true;
out:
    free(names);
    free(sh);
    close(fd);
    return ok;
}

static int add_ranges(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    const char *const *modules = data;
    if (!wanted_module(info->dlpi_name, modules))
        return 0;
    /* The vDSO has a name ("linux-vdso.so.1"); the program's is "". */
    const char *path = info->dlpi_name && *info->dlpi_name ? info->dlpi_name : "/proc/self/exe";
    if (!add_sections(path, info->dlpi_addr) && !unread_module[0])
        snprintf(unread_module, sizeof unread_module, "%s", path);
    return 0;
}

/* ---- the handler ------------------------------------------------------------ */

static void on_preempt(int sig, siginfo_t *si, void *uctx)
{
    (void)sig;
    (void)si;
    int saved_errno = errno;
    oak__sched *s = oak__sched_self();
    if (s)
        atomic_store_explicit(&s->kick_pending, false, memory_order_relaxed);
    if (!s || !oak__in_process || oak__preempt_off)
        goto out;
    oak__proc *p = s->current;
    /* Owning: the thread is in the runtime's switch or scheduling code
     * (sched.h), which a stub's pc alone would not tell. */
    if (!p || p->in_cleanup || atomic_load_explicit(&s->owning, memory_order_relaxed))
        goto out;
    ucontext_t *uc = uctx;
#if defined(__x86_64__)
    const void *pc = (const void *)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    const void *pc = (const void *)uc->uc_mcontext.pc;
#else
    const void *pc = NULL;
#endif
    if (!oak__preempt_safe_pc(pc))
        goto out;
    /* As if p had called oak_yield() here; the kernel saved every register
     * (and the whole FPU state) on p's stack, below this frame. */
    atomic_store_explicit(&s->preemptions,
                          atomic_load_explicit(&s->preemptions, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    oak__proc_switch_out(p, OAK__SW_PREEMPT);
    /* Back, on the same thread. An exit signal that came meanwhile acts
     * now; the process may end here. */
    oak__drain(p);
out:
    errno = saved_errno;
}

void oak__preempt_thread_init(oak__sched *s)
{
    s->self = pthread_self();
    atomic_store_explicit(&s->tid, (pid_t)syscall(SYS_gettid), memory_order_release);
    if (!installed)
        return;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, PREEMPT_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/* ---- the monitor -------------------------------------------------------------- */

/* Is the thread tid asleep in the kernel (a blocking system call)? A
 * signal there would end some calls (nanosleep, poll, ...) with EINTR. */
static bool in_blocking_call(pid_t tid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    if (oak__read_text(path, buf, sizeof buf) < 0)
        return false;
    const char *r = strrchr(buf, ')'); /* the name may hold spaces */
    return r && r[1] == ' ' && (r[2] == 'S' || r[2] == 'D');
}

static void *monitor_main(void *arg)
{
    oak__runtime *rt = arg;
    sample *seen = calloc(rt->nscheds, sizeof *seen);
    if (!seen)
        return NULL;
    int64_t slice = (int64_t)rt->cfg.time_slice_ms * 1000000;
    while (!atomic_load_explicit(&monitor_stop, memory_order_acquire)) {
        int64_t now = oak__now_ns();
        bool busy = false;
        for (unsigned i = 0; i < rt->nscheds; i++) {
            oak__sched *s = &rt->scheds[i];
            /* Relaxed: a stale view only delays the preemption a sample. */
            uint64_t d = atomic_load_explicit(&s->dispatches, memory_order_relaxed);
            oak_pid pid = atomic_load_explicit(&s->running, memory_order_relaxed);
            if (pid)
                busy = true; /* sample often while anything runs */
            if (!pid || d != seen[i].dispatches) {
                seen[i].dispatches = d;
                seen[i].since = now;
                continue;
            }
            int64_t ran = now - seen[i].since;
            oak__proc *p = oak__proc_of(pid);
            /* Type-stable memory: p is some control block; a stale look
             * at its inbox is harmless. */
            oak__msg *in = p ? atomic_load_explicit(&p->inbox, memory_order_relaxed) : NULL;
            bool waiting = in != OAK__INBOX_EMPTY && in != OAK__INBOX_PARKED &&
                           in != OAK__INBOX_CLOSED;
            pid_t tid = atomic_load_explicit(&s->tid, memory_order_acquire);
            if ((ran >= slice || (waiting && ran >= SAMPLE_NS)) && tid &&
                !in_blocking_call(tid))
                pthread_kill(s->self, PREEMPT_SIGNAL);
        }
        struct timespec ts = {0, busy ? SAMPLE_NS : IDLE_SAMPLE_NS};
        nanosleep(&ts, NULL);
    }
    free(seen);
    return NULL;
}

void oak__preempt_kick(oak_pid pid)
{
    if (!installed || !monitor_started)
        return;
    oak__runtime *rt = oak__rt;
    oak__sched *self = oak__sched_self();
    for (unsigned i = 0; i < rt->nscheds; i++) {
        oak__sched *s = &rt->scheds[i];
        /* Relaxed: a stale view sends a signal the handler ignores, or
         * leaves the kick to the monitor's next sample. */
        if (s == self || atomic_load_explicit(&s->running, memory_order_relaxed) != pid)
            continue;
        pid_t tid = atomic_load_explicit(&s->tid, memory_order_acquire);
        if (tid && !atomic_exchange_explicit(&s->kick_pending, true, memory_order_relaxed)) {
            if (!in_blocking_call(tid))
                pthread_kill(s->self, PREEMPT_SIGNAL);
            else
                atomic_store_explicit(&s->kick_pending, false, memory_order_relaxed);
        }
        return;
    }
}

int oak__preempt_init(oak__runtime *rt)
{
    if (rt->cfg.time_slice_ms < 0)
        return 0; /* switched off: cooperative, as before */
#ifdef OAK_TSAN
    /* ThreadSanitizer runs signal handlers late, at points of its own, with
     * the context of the moment the signal came: a handler that switches
     * stacks there is not safe. TSan builds are cooperative. */
    return 0;
#endif
    own_lo = (uintptr_t)&oak__text_first;
    own_hi = (uintptr_t)&oak__text_last;
    /* A build that did not keep the library's code in one block (the
     * bracket does not hold its own functions) must not preempt at all. */
    const uintptr_t own[] = {(uintptr_t)&oak_run, (uintptr_t)&oak_send,
                             (uintptr_t)&oak__proc_dispose, (uintptr_t)&oak_log,
                             (uintptr_t)&on_preempt};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        if (own[i] < own_lo || own[i] >= own_hi) {
            oak_log(OAK_LOG_WARNING, "runtime",
                    "event=preemption_off cause=library_code_not_contiguous");
            return 0;
        }
    }
    nranges = 0;
    unread_module[0] = '\0';
    dl_iterate_phdr(add_ranges, (void *)rt->cfg.preempt_modules);
    if (unread_module[0])
        oak_log(OAK_LOG_WARNING, "runtime", "event=preemption_off module=%s cause=no_sections",
                unread_module);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_preempt;
    /* Not on the alternate stack: the handler switches away from the
     * process, so its frame must stay on the process's own stack. Not
     * deferred: other processes on this thread stay preemptible while this
     * one sleeps inside its handler (a nested signal lands in liboak's
     * code, which is never preempted). Restarted: a system call that the
     * signal interrupts goes on. */
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(PREEMPT_SIGNAL, &sa, &saved_action) != 0)
        return -errno;
    installed = true;
    atomic_store_explicit(&monitor_stop, false, memory_order_relaxed);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* the monitor takes no signals */
    int e = pthread_create(&monitor, NULL, monitor_main, rt);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    monitor_started = e == 0;
    return 0;
}

void oak__preempt_term(oak__runtime *rt)
{
    (void)rt;
    if (monitor_started) {
        atomic_store_explicit(&monitor_stop, true, memory_order_release);
        pthread_join(monitor, NULL);
        monitor_started = false;
    }
    if (installed) {
        sigaction(PREEMPT_SIGNAL, &saved_action, NULL);
        installed = false;
    }
}
