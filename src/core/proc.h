/* proc.h - the process control block and the message/signal header.
 *
 * A process is a slot of the process table (an array that never moves and
 * is never freed while the runtime runs, so a stale pointer to a control
 * block always points at a control block: "type-stable" memory). Its pid
 * carries the slot's generation; the slot's `pid` field holds the pid of the
 * live incarnation, or 0.
 *
 * The life of a process:
 *   spawn: slot taken, stack taken, inbox opened (CLOSED -> empty), pid
 *          published, put on a run queue;
 *   runs:  on some scheduler until it yields, parks in receive, or exits;
 *   death: in scheduler context, off its stack: pid cleared, cleanups run,
 *          inbox closed, links/monitors told, memory freed, slot returned
 *          with its generation bumped.
 */
#ifndef OAK_CORE_PROC_H
#define OAK_CORE_PROC_H

#include <stdalign.h>
#include <stdatomic.h>

#include "core/map.h"
#include "core/sanitizer.h"
#include "core/stack.h"
#include "oak/message.h"
#include "oak/process.h"

struct oak__sched;

/* What a queued item is. Messages and signals share one queue per process,
 * so signals between a pair of processes keep their order, as in Erlang. */
enum oak__kind {
    OAK__MSG = 0,       /* an ordinary message                          */
    OAK__SIG_EXIT,      /* exit/2 from `from` (reason, detail)           */
    OAK__SIG_EXIT_LINK, /* `from` died and was linked to us              */
    OAK__SIG_LINK,      /* `from` linked to us                           */
    OAK__SIG_UNLINK,    /* `from` unlinked                               */
    OAK__SIG_MONITOR,   /* `from` monitors us with pub.ref               */
    OAK__SIG_DEMONITOR, /* `from` dropped its monitor pub.ref            */
    OAK__SIG_DOWN,      /* the process we monitor with pub.ref died      */
    OAK__ALIAS_MSG,     /* a message sent to alias pub.ref: delivered
                         * only while the alias is active               */
    OAK__SIG_FD_READY,  /* the netpoller saw events for our wait: only
                         * a wake-up, dropped when drained              */
    OAK__SIG_REQUEST,   /* SIG_MONITOR (alias pub.ref) and a message
                         * carrying pub.ref, in one item                */
    OAK__SIG_FD_ACTIVE, /* an owned fd armed for active mode is
                         * readable: the drain reads it and queues the
                         * data as a message (core/netpoll.h)           */
    OAK__SIG_ADOPT,     /* take a cleanup (payload: oak__adopt) over
                         * from another process; run at once if we are
                         * dead                                         */
};

/* The payload of an ADOPT item. */
typedef struct oak__adopt {
    void (*fn)(void *);
    void *arg;
} oak__adopt;

/* A message or signal. Allocated by the sender, owned by the receiver once
 * pushed. EXIT and DOWN signals are built in their final message form
 * (payload = oak_down + detail text), so turning one into a message is only
 * a change of `kind`. */
typedef struct oak__msg {
    struct oak__msg *next; /* inbox stack / private queue / held list      */
    union {
        /* On its way (built, in a timer, in the inbox): the incarnation
         * it was sent to. Checked when it leaves the inbox, before it
         * joins the private queue, whose link takes the room. */
        oak_pid to;
        struct oak__msg *prev; /* private queue / held list                */
    };
    uint16_t kind;         /* enum oak__kind                               */
    uint8_t pooled;        /* a chunk's block (core/msgmem.h), not malloc  */
    uint8_t ends_monitor;  /* ALIAS_MSG from oak_send_reply(): the sender
                            * dropped the monitor pub.ref it was under    */
    oak_msg pub;           /* what the receiver sees                       */
    alignas(16) unsigned char payload[];
} oak__msg;

/* The header is one cache line: a message without payload is one block of
 * 64 bytes (core/msgmem.h). */
_Static_assert(sizeof(oak__msg) == 64, "a message's header is 64 bytes");

/* Reverse a singly linked list of items (an inbox stack into sending
 * order). */
static inline oak__msg *oak__msg_reverse(oak__msg *list)
{
    oak__msg *fifo = NULL;
    while (list) {
        oak__msg *n = list->next;
        list->next = fifo;
        fifo = list;
        list = n;
    }
    return fifo;
}

/* Messages with payloads up to this size are blocks of the schedulers'
 * chunks (core/msgmem.h) instead of malloc: blocks of 64 bytes (one cache
 * line) for messages without payload, of 128 for the others. Whole lines
 * each, so that two cores never write one line for two messages. */
#define OAK__MSG_CLASSES 2
#define OAK__MSG_SMALL_MAX 64
static inline unsigned oak__msg_class(size_t size) { return size == 0 ? 0 : 1; }
static inline uint32_t oak__msg_class_bytes(unsigned k) { return k ? 128 : 64; }

/* The inbox head is a pointer to the newest pushed item or one of these: */
#define OAK__INBOX_EMPTY ((oak__msg *)0)  /* nothing queued, not parked  */
#define OAK__INBOX_PARKED ((oak__msg *)1) /* waiting in receive          */
#define OAK__INBOX_CLOSED ((oak__msg *)2) /* dead or free slot           */

/* Why a process gave its scheduler back. */
enum oak__switch {
    OAK__SW_YIELD = 1, /* runnable: requeue                              */
    OAK__SW_PARK,      /* wait for a message (or wait.deadline)          */
    OAK__SW_EXIT,      /* exit_reason is set: dispose                    */
    OAK__SW_FAULT,     /* a synchronous signal: fault_* are set          */
    OAK__SW_HIBERNATE, /* park with no stack: fn(arg) runs anew on wake  */
    OAK__SW_HIBERNATE_NOW, /* the same, with messages already queued     */
    OAK__SW_PREEMPT,   /* preempted by the monitor: runnable, pinned     */
};

/* A timer in a scheduler's heap. */
typedef struct oak__timer {
    int64_t deadline;          /* CLOCK_MONOTONIC ns                       */
    uint32_t index;            /* position in the heap, or OAK__TIMER_IDLE  */
    uint8_t kind;              /* OAK__TIMER_WAKE or OAK__TIMER_SEND        */
    struct oak__sched *owner;  /* whose heap it is in                      */
    union {
        struct oak__proc *proc; /* WAKE: the parked process                 */
        oak__msg *msg;          /* SEND: the message to deliver            */
    };
    union {
        oak_ref ref;           /* SEND: the timer's reference               */
        int64_t rel;           /* WAKE (a process's wait): its timeout in
                                * ns, 0 for none; the deadline is armed at
                                * rel from when the scheduler arms it      */
    };
} oak__timer;
/* The state of p's timed wait, in the low bits of p->wait_arm; the rest
 * numbers the timed waits, so that an entry left in a scheduler's list by
 * an earlier wait can never arm a later one. PENDING -> ARMED is a CAS by
 * the scheduler that listed the wait, made after the process was seen
 * parked and under the heap's lock; the process, back from the wait,
 * clears the state and, if it was ARMED, cancels the timer under that
 * same lock. */
#define OAK__WAIT_IDLE 0u
#define OAK__WAIT_PENDING 1u /* in its scheduler's list of waits to arm */
#define OAK__WAIT_ARMED 2u   /* in wait.owner's heap (or fired from it)   */
#define OAK__WAIT_STATE 3u
#define OAK__TIMER_IDLE UINT32_MAX
#define OAK__TIMER_WAKE 1
#define OAK__TIMER_SEND 2

typedef struct oak__defer {
    struct oak__defer *next;
    void (*fn)(void *);
    void *arg;
    int handle;
} oak__defer;

/* An oak_alloc() block: two links (16 bytes, so the data stays 16-byte
 * aligned) in the owner's list, freed at its death. */
typedef struct oak__alloc {
    struct oak__alloc *next, *prev;
    alignas(16) unsigned char data[];
} oak__alloc;
_Static_assert(sizeof(oak__alloc) == 16, "an oak_alloc() header is 16 bytes");

/* What few processes need: allocated by the first that does
 * (oak__proc_ext()), freed at death. */
typedef struct oak__proc_ext {
    oak__map monitor_names;      /* ref -> name, for name monitors we hold */
    oak__map aliases;            /* aliases made by oak_alias(): ref -> 1
                                  * (monitor aliases live in monitors_out) */
} oak__proc_ext;

/* The control block: five cache lines (docs/design/scheduler.md, "The
 * control block"). The first is the one other threads write; the rest
 * belong to the process and its scheduler of the moment. What only some
 * processes use is in the extension block (ext), a fault's registers are
 * in the scheduler that reports it, and the sanitizers' fiber state exists
 * only in sanitized builds. */
typedef struct oak__proc {
    /* ---- shared: touched by other threads, on their own cache line ---- */

    /* The mailbox's inbox: a LIFO stack of pushed items, or a sentinel.
     * Senders push with a CAS (release); only the owner takes items, all at
     * once, with an exchange (acquire). The sender that replaces PARKED is
     * the one that makes the process runnable: exactly one waker. */
    alignas(64) _Atomic(oak__msg *) inbox;
    /* The live incarnation's pid, or 0 while the slot is free or the
     * process is dying. Stored by the owning scheduler with release; read
     * by anyone with acquire to tell whether a pid is alive. */
    _Atomic oak_pid pid;
    /* Registered name, or 0. Written under the name table's lock. */
    _Atomic oak_atom name;
    uint32_t gen;                /* generation of this slot                */
    /* Waits on descriptors (core/netpoll.h): the number of the current
     * wait << 32 | the events the netpoller saw for it. The process stores
     * a new number (release) at the start and the end of each wait; a
     * poller adds events with a CAS that holds only while the number is
     * the one it was given, so events of older waits are ignored. Kept
     * across incarnations (outside the part spawn clears). */
    _Atomic uint64_t fd_wait;
    /* Written once in a life (at spawn, at a hibernation, at death) and
     * read about as often: in the padding of this line, where a write or
     * a read by the owner costs nothing that the inbox's traffic does not
     * cost already (its spawner and its waker have just written the line,
     * and it runs fn(arg) right after its first drain). Never on the
     * path of a message. */
    oak_entry fn;
    void *arg;
    uint32_t stack_size;         /* asked for at spawn; 0 = default        */
    oak_atom exit_reason;
    char *exit_detail;           /* malloc'd or NULL                       */

    /* ---- the process itself / its current scheduler only ---- */
    alignas(64) void *sp;        /* saved context while not running       */
    oak_pid self;                /* this incarnation's pid (kept at death) */
    struct oak__sched *sched;    /* scheduler running it (while running)   */
    struct oak__proc *gq_next;   /* link in the global run queue           */
    uint8_t switch_reason;       /* enum oak__switch                        */
    bool trap_exit;
    bool timed_out;              /* set by the timer that woke it          */
    bool in_cleanup;             /* cleanups running: no blocking          */
    bool is_main;                /* the first process of oak_run()         */
    bool hibernated;             /* resumes from oak_hibernate()           */
    bool rewoken;                /* woken from hibernation, no wait since  */
    uint32_t reductions;         /* left before a forced yield             */
    int next_defer;              /* the next oak_defer() handle            */

    /* Private queue: messages taken from the inbox, oldest first. */
    oak__msg *q_head, *q_tail;
    size_t q_len;
    oak__msg *q_mark;            /* receive marker (NULL: before head)     */
    oak_ref q_mark_ref;          /* the ref it was made for, 0 if none     */
    oak__msg *held;              /* received, not yet freed (dlist)        */

    oak__map links;              /* pid -> 0                               */
    oak__map monitors_out;       /* ref -> monitored pid                   */
    oak__map monitors_in;        /* ref -> watcher pid                     */
    oak__proc_ext *ext;          /* or NULL                                */

    /* Its execution stack (core/stack.h): the slot it runs in, NULL
     * before its first run and while hibernating; while another process
     * is resident there, its bytes from sp to the slot's top are in
     * `saved` (malloc'd). Its scheduler of the moment only. */
    struct oak__slot *home;
    void *saved;
    oak__defer *defers;
    oak__alloc *allocs;
    /* A timed wait (a receive with a timeout, oak_wait_fd). Its timer
     * is armed lazily by the scheduler loop (oak__timers_arm_waits), so a
     * wait that a message ends within microseconds, such as a call's, never
     * reads the clock or touches a timer heap. wait.deadline is absolute,
     * or 0 until the wait is armed at wait.rel ns from then (wait.rel 0:
     * no timer). */
    oak__timer wait;
    _Atomic uint64_t wait_arm;   /* timed wait number << 2 | OAK__WAIT_*   */

#if defined(OAK_ASAN) || defined(OAK_TSAN)
    void *asan_fake_stack;       /* sanitizer fiber state                  */
    void *tsan_fiber;
#endif
} oak__proc;

/* The fiber state a switch passes to the sanitizers (core/ctx.h), which
 * ignores it in other builds. */
#if defined(OAK_ASAN) || defined(OAK_TSAN)
#define OAK__PROC_FAKE_STACK(p) (&(p)->asan_fake_stack)
#define OAK__PROC_TSAN_FIBER(p) ((p)->tsan_fiber)
#else
#define OAK__PROC_FAKE_STACK(p) ((void)(p), (void **)NULL)
#define OAK__PROC_TSAN_FIBER(p) ((void)(p), (void *)NULL)
#endif

#if !defined(OAK_ASAN) && !defined(OAK_TSAN)
/* A million hibernated servers cost a million of these. */
_Static_assert(sizeof(oak__proc) == 320, "the control block is five cache lines");
#endif

/* p's extension block, made if it has none: NULL when out of memory. */
oak__proc_ext *oak__proc_ext_get(oak__proc *p);

/* Pid layout (see oak/types.h). */
#define OAK__SLOT_BITS 28
#define OAK__GEN_BITS 28
#define OAK__SLOT_MASK ((UINT64_C(1) << OAK__SLOT_BITS) - 1)
#define OAK__GEN_MASK ((UINT64_C(1) << OAK__GEN_BITS) - 1)

static inline oak_pid oak__pid_make(uint64_t slot, uint32_t gen)
{
    return ((uint64_t)(gen & OAK__GEN_MASK) << OAK__SLOT_BITS) | slot;
}
static inline uint64_t oak__pid_slot(oak_pid pid) { return pid & OAK__SLOT_MASK; }

/* p has just been given a home with no frame on it (its first run, or a
 * wake from hibernation): write the frame that enters p->fn(p->arg). A
 * spawn takes no stack: a child that another scheduler steals then runs on
 * a stack that scheduler has just used, and spawning touches no stack
 * memory at all. */
void oak__proc_first_frame(oak__proc *p);
/* No stack can be had for p's first run: p exits at once with
 * system_limit (its links and monitors hear of it). */
void oak__proc_no_stack(oak__proc *p);

/* The control block a pid names, or NULL if the pid cannot be local. The
 * block may belong to another incarnation: compare its pid. */
oak__proc *oak__proc_of(oak_pid pid);

/* The running process, or NULL. */
oak__proc *oak__proc_self(void);

/* Allocate a message with room for size payload bytes: a block of
 * scheduler s's chunks when it is small (core/msgmem.h), malloc otherwise
 * or when s is NULL. Release on the calling thread's scheduler (or NULL).
 * _new/_delete find s themselves. */
oak__msg *oak__msg_alloc(struct oak__sched *s, size_t size);
void oak__msg_release(struct oak__sched *s, oak__msg *m);
oak__msg *oak__msg_new(size_t size);
void oak__msg_delete(oak__msg *m);

/* Push m (its `to` set) to its destination. Returns 0, or -ESRCH when the
 * destination is dead (m is then still the caller's). */
int oak__deliver(oak__msg *m);
/* The same from scheduler s (the caller's, or NULL on another thread). */
int oak__deliver_from(struct oak__sched *s, oak__msg *m);

/* Build and send an EXIT/EXIT_LINK/DOWN signal. Dead targets are ignored. */
void oak__send_exit_signal(oak_pid to, oak_pid from, enum oak__kind kind,
                           oak_ref ref, oak_atom reason, const char *detail,
                           oak_atom name);

/* Take everything from the inbox into the private queue, acting on the
 * signals. May end the process (never returns then). Returns how many
 * messages were appended. */
size_t oak__drain(oak__proc *p);

/* Park the running process until a message arrives or, when rel_ns > 0,
 * until the deadline: *deadline if it is not 0, else rel_ns after the
 * scheduler arms the wait. Returns true if the wait timed out. *deadline
 * is set when the armed deadline becomes known. */
bool oak__park(oak__proc *p, int64_t *deadline, int64_t rel_ns);

/* Switch from the running process to its scheduler. */
void oak__proc_switch_out(oak__proc *p, enum oak__switch why);

/* End the running process (never returns). */
OAK_NORETURN void oak__proc_exit(oak__proc *p, oak_atom reason, const char *detail);

/* In scheduler context: everything a dead process leaves behind. If
 * `notify` is false (runtime teardown) no signals are sent. */
void oak__proc_dispose(oak__proc *p, bool notify);

/* Create a process on scheduler s; parent is NULL for the first process. */
int oak__spawn_on(struct oak__sched *s, oak__proc *parent, oak_entry fn, void *arg,
                  oak_spawn_opts *opts, oak_pid *out);

/* Give process `to` a cleanup fn(arg), run when it ends as oak_defer()'s
 * are (an internal oak_defer() on another process). If `to` is already
 * dying the cleanup runs there and then. Returns 0, -ESRCH (not alive:
 * nothing happens) or -ENOMEM. Any thread. */
int oak__proc_adopt(oak_pid to, void (*fn)(void *), void *arg);
/* Remove the running process's cleanup fn(arg) without running it.
 * Returns 0 or -ENOENT. */
int oak__undefer_arg(oak__proc *p, void (*fn)(void *), void *arg);

/* Remove m from p's private queue. */
void oak__queue_remove(oak__proc *p, oak__msg *m);

#endif
