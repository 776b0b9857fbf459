/* oak/types.h - the basic types, error codes and atoms of oak.
 *
 * Every public name starts with oak_ / OAK_. Functions return an int: 0 (or a
 * count) on success, a negative errno-style code on failure; oak_strerror()
 * names the code. There is no global error state.
 */
#ifndef OAK_TYPES_H
#define OAK_TYPES_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(OAK_BUILDING) && defined(__GNUC__)
#define OAK_API __attribute__((visibility("default")))
#else
#define OAK_API
#endif

#if defined(__GNUC__)
#define OAK_NORETURN __attribute__((noreturn))
#define OAK_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define OAK_NORETURN
#define OAK_PRINTF(f, a)
#endif

/* A process identifier. 64 bits:
 *
 *   63      56 55                    28 27                     0
 *  +----------+------------------------+------------------------+
 *  |  node    |      generation        |          slot          |
 *  +----------+------------------------+------------------------+
 *
 * The slot indexes the process table; the generation changes every time the
 * slot is reused, so the pid of a dead process never reaches a new process.
 * The node bits are 0 for local processes (distribution will use them).
 * 0 (OAK_NOPID) is never a valid pid. */
typedef uint64_t oak_pid;
#define OAK_NOPID ((oak_pid)0)

/* A reference: a 64-bit value unique within one run of the runtime, as
 * returned by oak_make_ref() and oak_monitor(). 0 is never a reference. */
typedef uint64_t oak_ref;

/* An atom: an interned string, compared as an integer. 0 is no atom. */
typedef uint32_t oak_atom;

/* Relative timeouts are milliseconds; OAK_INFINITY waits forever, 0 polls. */
#define OAK_INFINITY ((int64_t)-1)

/* Atoms that exist from the start, with fixed values. */
#define OAK_ATOM_NONE ((oak_atom)0)
#define OAK_NORMAL ((oak_atom)1)         /* normal            */
#define OAK_SHUTDOWN ((oak_atom)2)       /* shutdown          */
#define OAK_KILL ((oak_atom)3)           /* kill              */
#define OAK_KILLED ((oak_atom)4)         /* killed            */
#define OAK_NOPROC ((oak_atom)5)         /* noproc            */
#define OAK_TIMEOUT ((oak_atom)6)        /* timeout           */
#define OAK_UNDEFINED ((oak_atom)7)      /* undefined         */
#define OAK_OK ((oak_atom)8)             /* ok                */
#define OAK_ERROR ((oak_atom)9)          /* error             */
#define OAK_STACK_OVERFLOW ((oak_atom)10) /* stack_overflow   */
#define OAK_SIGSEGV ((oak_atom)11)       /* sigsegv           */
#define OAK_SIGBUS ((oak_atom)12)        /* sigbus            */
#define OAK_SIGFPE ((oak_atom)13)        /* sigfpe            */
#define OAK_SIGILL ((oak_atom)14)        /* sigill            */
#define OAK_BADARG ((oak_atom)15)        /* badarg            */
#define OAK_SYSTEM_LIMIT ((oak_atom)16)  /* system_limit      */
#define OAK_TRUE ((oak_atom)17)          /* true              */
#define OAK_FALSE ((oak_atom)18)         /* false             */
#define OAK_ATOM_EXIT ((oak_atom)19)     /* 'EXIT'            */
#define OAK_ATOM_DOWN ((oak_atom)20)     /* 'DOWN'            */

/* The longest atom name, in bytes (Erlang's limit too). */
#define OAK_ATOM_MAX_LEN 255

/* Intern a name and return its atom. Returns 0 (OAK_ATOM_NONE) when name is
 * NULL, empty or longer than OAK_ATOM_MAX_LEN bytes, or when memory runs out.
 * Safe from any thread, before, during and after oak_run(). Atoms live until
 * the program exits. */
OAK_API oak_atom oak_atom_from(const char *name);

/* The same, for a name that is not NUL-terminated. */
OAK_API oak_atom oak_atom_from_n(const char *name, size_t len);

/* The name of an atom, or NULL if a is not an atom. Any thread. */
OAK_API const char *oak_atom_name(oak_atom a);

/* A short text for an error code returned by oak (e.g. -ESRCH gives "no such
 * process"), in the sense in which the runtime and gen_server return it:
 * every code the headers document has its own text. The supervisor admin
 * calls give some codes another sense (-EAGAIN: a child is restarting,
 * -EEXIST: already_present): name those with oak_supervisor_strerror().
 * Never NULL. Any thread. */
OAK_API const char *oak_strerror(int err);

/* Write pid as Erlang prints it, "<N.ID.SERIAL>", NUL-terminated, into buf:
 * N is 0 for a process here ("<0.SLOT.GEN>"); for a process of another
 * node (oak/node.h) it is that node's index in this runtime's node table,
 * its ID and serial Erlang's, as Erlang prints a remote pid with its own
 * local number for the node. oak_node_of() names the node; a pid term
 * (oak_term_format()) prints the name in place of N. Returns the length it
 * needs (as snprintf does). Any thread. */
OAK_API int oak_pid_format(oak_pid pid, char *buf, size_t size);

/* Write an atom as Erlang prints it: bare, or in single quotes when Erlang
 * would quote it ('EXIT', 'hello world'). NUL-terminated; returns the length
 * it needs (as snprintf does). */
OAK_API int oak_atom_format(oak_atom atom, char *buf, size_t size);

/* Write an exit reason as an Erlang term (the atom as oak_atom_format()): "reason" without detail, or
 * "{reason,detail}" when detail is not NULL. Returns the length it needs. */
OAK_API int oak_reason_format(oak_atom reason, const char *detail, char *buf,
                              size_t size);

#ifdef __cplusplus
}
#endif
#endif
