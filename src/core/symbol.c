/* symbol.c - see symbol.h.
 *
 * Two sources name an address. dladdr() is always there: the module, the
 * offset in it, and the function when the dynamic symbol table has it.
 * libdw (elfutils), when it can be opened at run time, adds what only the
 * file knows: the full symbol table (static functions) and the DWARF line
 * table (file:line). The core does not link libdw: its few functions are
 * looked up with dlsym() on first use, and if the library is not there the
 * output is dladdr()'s alone. docs/design/faults.md says why libdw rather
 * than a reader of our own.
 *
 * State: one libdw session (Dwfl) for the whole program, and a table of
 * the modules reported to it, each with the bias it was loaded at and its
 * path. A module is reported once, the first time one of its addresses is
 * named, and libdw keeps what it has read of it (the symbol table, the line
 * tables of the compilation units it looked in), so a storm of faults reads
 * each file once. A module that could not be opened stays in the table too,
 * without a libdw handle, so it is not tried again. When the table is full
 * the session is ended and a new one starts: memory stays bounded by
 * MAX_MODULES modules. One mutex serializes all of it (libdw sessions are
 * not thread-safe); a lookup in a module already read takes microseconds.
 * libdw runs on a thread of its own with a large stack (dw_ask).
 *
 * Never called in the signal handler: the handler only saves pcs, and the
 * report is formatted later on the scheduler (sched.c, fault_exit).
 */
#include "core/symbol.h"

#include <dlfcn.h>
#include <elf.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the part of libdwfl's API used here (elfutils' <elfutils/libdwfl.h>) ---- */

typedef struct Dwfl Dwfl;
typedef struct Dwfl_Module Dwfl_Module;
typedef struct Dwfl_Line Dwfl_Line;
typedef struct Elf Elf;
typedef uint64_t Dwarf_Addr;

typedef int dwfl_find_elf_fn(Dwfl_Module *mod, void **userdata, const char *modname,
                             Dwarf_Addr base, char **file_name, Elf **elfp);
typedef int dwfl_find_debuginfo_fn(Dwfl_Module *mod, void **userdata, const char *modname,
                                   Dwarf_Addr base, const char *file_name,
                                   const char *debuglink_file, Elf64_Word debuglink_crc,
                                   char **debuginfo_file_name);
typedef int dwfl_section_address_fn(Dwfl_Module *mod, void **userdata, const char *modname,
                                    Dwarf_Addr base, const char *secname, Elf64_Word shndx,
                                    const Elf64_Shdr *shdr, Dwarf_Addr *addr);
typedef struct {
    dwfl_find_elf_fn *find_elf;
    dwfl_find_debuginfo_fn *find_debuginfo;
    dwfl_section_address_fn *section_address;
    char **debuginfo_path;
} Dwfl_Callbacks;

static struct {
    Dwfl *(*begin)(const Dwfl_Callbacks *callbacks);
    void (*end)(Dwfl *dwfl);
    void (*report_begin_add)(Dwfl *dwfl);
    Dwfl_Module *(*report_elf)(Dwfl *dwfl, const char *name, const char *file_name, int fd,
                               Elf64_Addr base, bool add_p_vaddr);
    /* elfutils 0.188 and later; NULL before */
    Dwfl_Module *(*report_offline_memory)(Dwfl *dwfl, const char *name, const char *file_name,
                                          char *data, size_t size);
    Elf *(*module_getelf)(Dwfl_Module *mod, Elf64_Addr *bias);
    int (*report_end)(Dwfl *dwfl, int (*removed)(Dwfl_Module *, void *, const char *, Dwarf_Addr,
                                                 void *),
                      void *arg);
    const char *(*module_addrinfo)(Dwfl_Module *mod, Elf64_Addr address, Elf64_Off *offset,
                                   Elf64_Sym *sym, Elf64_Word *shndxp, Elf **elfp,
                                   Dwarf_Addr *bias);
    Dwfl_Line *(*module_getsrc)(Dwfl_Module *mod, Dwarf_Addr addr);
    const char *(*lineinfo)(Dwfl_Line *line, Dwarf_Addr *addr, int *linep, int *colp,
                            uint64_t *mtime, uint64_t *length);
} dw;

/* ---- the session and its modules ---------------------------------------------- */

#define MAX_MODULES 64

typedef struct module {
    uintptr_t bias;   /* link_map l_addr: run-time minus file addresses */
    char *path;       /* as the loader names it; "" for the program      */
    Dwfl_Module *dwm; /* NULL: libdw could not open the file             */
    uintptr_t adjust; /* session address = run-time address + adjust     */
    void *image;      /* the file mapped (offline sessions), or NULL     */
    size_t image_size;
} module;

/* All below: under lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static enum { DW_UNTRIED, DW_READY, DW_NONE } dw_state = DW_UNTRIED;
static Dwfl *session;
static module modules[MAX_MODULES];
static int nmodules;

/* What libdw knows about an address: the function and its start, and the
 * source line (file is empty and line 0 when there is none). */
typedef struct dw_answer {
    char func[96];
    uintptr_t func_start;
    char file[64];
    int line;
} dw_answer;

/* Answers already given, by address: the symbol table is searched from
 * end to end by libdw (tens of microseconds in a big module), and a storm
 * of faults asks about the same few addresses. Direct-mapped; an entry
 * is valid while its session lasts (session_end clears them all). */
#define ANSWERS 256
typedef struct answer_slot {
    uintptr_t pc; /* 0: empty */
    uintptr_t bias;
    bool known;
    dw_answer a;
} answer_slot;
static answer_slot answers[ANSWERS];

static answer_slot *answer_slot_of(uintptr_t pc)
{
    /* Fibonacci hashing: the high bits of pc * 2^64/phi. */
    return &answers[((uint64_t)pc * 0x9e3779b97f4a7c15u) >> 56];
}

/* Our modules are reported with dwfl_report_elf(), which opens the file
 * itself: nothing is ever looked up by name. */
static int find_no_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                       char **file_name, Elf **elfp)
{
    return -1;
}

/* Debug info is read from the module's own file only. A separate debug
 * file (a -dbgsym package under /usr/lib/debug) is not looked for: libc's
 * takes 50 ms and 16 MB to read (its sections are compressed), which is
 * too much for a scheduler thread and for a report that gives the module
 * offset for addr2line anyway; and libdw's standard finder would ask a
 * debuginfod server when DEBUGINFOD_URLS is set, and a crash report must
 * not wait on the network. docs/design/faults.md has the figures. */
static int find_no_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                             Dwarf_Addr base, const char *file_name, const char *debuglink_file,
                             Elf64_Word debuglink_crc, char **debuginfo_file_name)
{
    return -1;
}

static const Dwfl_Callbacks callbacks = {
    .find_elf = find_no_elf,
    .find_debuginfo = find_no_debuginfo,
    .section_address = NULL,
    .debuginfo_path = NULL,
};

/* Open libdw and look up its functions: DW_READY or DW_NONE, once. */
static void dw_open(void)
{
    dw_state = DW_NONE;
    void *lib = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return;
    struct {
        const char *name;
        void **slot;
    } fns[] = {
        {"dwfl_begin", (void **)&dw.begin},
        {"dwfl_end", (void **)&dw.end},
        {"dwfl_report_begin_add", (void **)&dw.report_begin_add},
        {"dwfl_report_end", (void **)&dw.report_end},
        {"dwfl_module_addrinfo", (void **)&dw.module_addrinfo},
        {"dwfl_module_getsrc", (void **)&dw.module_getsrc},
        {"dwfl_lineinfo", (void **)&dw.lineinfo},
        {"dwfl_module_getelf", (void **)&dw.module_getelf},
    };
    /* dwfl_report_elf has had two signatures: the one declared above
     * since elfutils 0.156. */
    *(void **)&dw.report_elf = dlvsym(lib, "dwfl_report_elf", "ELFUTILS_0.156");
    bool all = dw.report_elf != NULL;
    for (size_t i = 0; all && i < sizeof fns / sizeof *fns; i++)
        all = (*fns[i].slot = dlsym(lib, fns[i].name)) != NULL;
    *(void **)&dw.report_offline_memory = dlsym(lib, "dwfl_report_offline_memory");
    if (!all) {
        dlclose(lib); /* an elfutils too old or not elfutils: do without */
        memset(&dw, 0, sizeof dw);
        return;
    }
    /* The library stays loaded for the life of the program. */
    dw_state = DW_READY;
}

static void session_end(void)
{
    if (session)
        dw.end(session);
    session = NULL;
    for (int i = 0; i < nmodules; i++) {
        free(modules[i].path);
        if (modules[i].image)
            munmap(modules[i].image, modules[i].image_size);
    }
    nmodules = 0;
    memset(answers, 0, sizeof answers);
}

/* The entry of lm, its module reported to the session the first time
 * (entry->dwm NULL when libdw cannot read it); NULL when out of memory. */
static module *module_of(const struct link_map *lm)
{
    const char *path = lm->l_name ? lm->l_name : "";
    for (int i = 0; i < nmodules; i++)
        if (modules[i].bias == (uintptr_t)lm->l_addr && !strcmp(modules[i].path, path))
            return &modules[i];
    if (nmodules == MAX_MODULES)
        session_end();
    if (!session && !(session = dw.begin(&callbacks)))
        return NULL;
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    /* The program itself has no name in the link map; /proc/self/exe is
     * its file even when it was started by a relative path or replaced on
     * disk since. */
    const char *file = path[0] ? path : "/proc/self/exe";
    module m = {.bias = (uintptr_t)lm->l_addr, .path = copy};
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && dw.report_offline_memory) {
        /* The file is mapped and its descriptor closed at once: a cache
         * must not hold a descriptor (a program counting its own would
         * see one more). Private and writable, because libelf may fix
         * data up in place; the file is never written. The session is an
         * offline one: libdw places the module at an address of its own,
         * which its bias gives. */
        if (fstat(fd, &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size < ((uint64_t)1 << 40)) {
            void *image = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
            if (image != MAP_FAILED) {
                dw.report_begin_add(session);
                m.dwm = dw.report_offline_memory(session, file, file, image, (size_t)st.st_size);
                dw.report_end(session, NULL, NULL);
                Elf64_Addr session_bias = 0;
                if (m.dwm && dw.module_getelf(m.dwm, &session_bias)) {
                    m.image = image;
                    m.image_size = (size_t)st.st_size;
                    m.adjust = (uintptr_t)session_bias - m.bias;
                } else {
                    /* Reported but unusable: it stays in the session (which
                     * may read the image until it ends), unused by us. */
                    if (m.dwm) {
                        m.image = image;
                        m.image_size = (size_t)st.st_size;
                    } else {
                        munmap(image, (size_t)st.st_size);
                    }
                    m.dwm = NULL;
                }
            }
        }
        close(fd);
    } else if (fd >= 0) {
        /* An elfutils before 0.188: libdw keeps the descriptor (ours, so
         * close-on-exec, which libdw's own open is not) while the session
         * lasts, and leaves it to us when it fails. ET_DYN: base is added
         * to the file's addresses (add_p_vaddr), which is what l_addr is;
         * ET_EXEC ignores it. */
        dw.report_begin_add(session);
        m.dwm = dw.report_elf(session, file, file, fd, (Elf64_Addr)lm->l_addr, true);
        dw.report_end(session, NULL, NULL);
        if (!m.dwm)
            close(fd);
    }
    modules[nmodules] = m;
    return &modules[nmodules++];
}

/* One question to libdw, answered on a thread of its own (below). */
typedef struct dw_job {
    const struct link_map *lm;
    uintptr_t pc;
    dw_answer *a;
    bool found;
} dw_job;

static void *dw_resolve(void *arg)
{
    dw_job *job = arg;
    dw_answer *a = job->a;
    if (dw_state == DW_UNTRIED)
        dw_open();
    module *m = dw_state == DW_READY ? module_of(job->lm) : NULL;
    if (!m || !m->dwm)
        return NULL;
    Dwfl_Module *dwm = m->dwm;
    uintptr_t at = job->pc + m->adjust; /* in the session's addresses */
    Elf64_Off off = 0;
    Elf64_Sym sym;
    const char *name = dw.module_addrinfo(dwm, at, &off, &sym, NULL, NULL, NULL);
    if (name && name[0]) {
        snprintf(a->func, sizeof a->func, "%s", name);
        a->func_start = job->pc - (uintptr_t)off;
        job->found = true;
    }
    Dwfl_Line *l = dw.module_getsrc(dwm, at);
    int line = 0;
    const char *src = l ? dw.lineinfo(l, NULL, &line, NULL, NULL, NULL) : NULL;
    if (src && src[0] && line > 0) {
        const char *base = strrchr(src, '/');
        snprintf(a->file, sizeof a->file, "%s", base ? base + 1 : src);
        a->line = line;
        job->found = true;
    }
    return NULL;
}

/* libdw's stack: dlopen and libdw's readers (recursive on some DWARF, the
 * more so on a damaged file) may need more than a scheduler thread's 256
 * kB, and more still with the sanitizers' frames. So a question that is
 * not in the cache runs on a new thread with a stack of its own, and the
 * caller waits for it (the lock stays held: the thread owns the state
 * meanwhile; create and join order its accesses). Its signals are
 * blocked: none of the runtime's are meant for it. */
#define DW_STACK_SIZE (8u << 20)

static bool dw_ask(dw_job *job)
{
    pthread_attr_t attr;
    pthread_t t;
    sigset_t all, old;
    if (pthread_attr_init(&attr) != 0)
        return false;
    pthread_attr_setstacksize(&attr, DW_STACK_SIZE);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&t, &attr, dw_resolve, job);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (e != 0)
        return false;
    pthread_join(t, NULL);
    return true;
}

static bool dw_lookup(const struct link_map *lm, uintptr_t lookup_pc, dw_answer *a)
{
    memset(a, 0, sizeof *a);
    pthread_mutex_lock(&lock);
    answer_slot *slot = answer_slot_of(lookup_pc);
    if (slot->pc == lookup_pc && slot->bias == (uintptr_t)lm->l_addr) {
        *a = slot->a;
        bool known = slot->known;
        pthread_mutex_unlock(&lock);
        return known;
    }
    if (dw_state == DW_NONE) {
        pthread_mutex_unlock(&lock);
        return false;
    }
    dw_job job = {.lm = lm, .pc = lookup_pc, .a = a, .found = false};
    /* Not answered (no thread): not cached either, asked again next time. */
    if (dw_ask(&job) && dw_state == DW_READY) {
        slot = answer_slot_of(lookup_pc); /* module_of may have cleared them */
        *slot = (answer_slot){.pc = lookup_pc, .bias = (uintptr_t)lm->l_addr,
                              .known = job.found, .a = *a};
    }
    pthread_mutex_unlock(&lock);
    return job.found;
}

/* ---- naming ---------------------------------------------------------------------- */

void oak__symbol_term(void)
{
    pthread_mutex_lock(&lock);
    session_end();
    pthread_mutex_unlock(&lock);
}

void oak__symbol_init(void)
{
    /* The first backtrace() loads the unwinder (a dlopen, which takes
     * locks and allocates): done here, so that the fault handler's is
     * only a walk. */
    void *frames[2];
    backtrace(frames, 2);
}

/* A report's values hold no spaces (oak/log.h): a file name's odd bytes
 * become '_'. */
static void tidy(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == ';' || (unsigned char)*s >= 0x7f)
            *s = '_';
}

static size_t symbolize(const void *pc, bool is_return, char *buf, size_t size)
{
    Dl_info info;
    struct link_map *lm = NULL;
    int n;
    /* A return address is the instruction after the call, which may be on
     * the next line or past the end of the function: look up the call. */
    uintptr_t lookup = (uintptr_t)pc - (is_return && pc ? 1 : 0);
    if (pc && dladdr1((const void *)lookup, &info, (void **)&lm, RTLD_DL_LINKMAP) &&
        info.dli_fname) {
        const char *mod = strrchr(info.dli_fname, '/');
        mod = mod ? mod + 1 : info.dli_fname;
        uintptr_t off = (uintptr_t)pc - (uintptr_t)info.dli_fbase;
        dw_answer a;
        bool known = lm && dw_lookup(lm, lookup, &a);
        /* dladdr's name where both found the same function (the dynamic
         * table's name of it, among aliases); libdw's where dladdr has
         * none or a wrong one (a static function, not in the dynamic
         * table, is named by the exported symbol before it, if any). */
        const char *func = info.dli_sname;
        uintptr_t start = (uintptr_t)info.dli_saddr;
        if (known && a.func[0] && (!func || !start || start != a.func_start)) {
            func = a.func;
            start = a.func_start;
        }
        if (func && start)
            n = snprintf(buf, size, "%s+%#lx(%s+%#lx)", func,
                         (unsigned long)((uintptr_t)pc - start), mod, (unsigned long)off);
        else
            n = snprintf(buf, size, "%s+%#lx", mod, (unsigned long)off);
        if (known && a.line > 0 && n >= 0 && (size_t)n < size) {
            tidy(a.file);
            n += snprintf(buf + n, size - (size_t)n, "@%s:%d", a.file, a.line);
        }
    } else {
        n = snprintf(buf, size, "%p", pc);
    }
    if (n < 0)
        n = 0;
    return (size_t)n < size ? (size_t)n : size ? size - 1 : 0;
}

size_t oak__symbolize(const void *pc, char *buf, size_t size)
{
    return symbolize(pc, false, buf, size);
}

size_t oak__symbolize_return(const void *pc, char *buf, size_t size)
{
    return symbolize(pc, true, buf, size);
}
