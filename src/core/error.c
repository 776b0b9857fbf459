/* error.c - names of error codes, and the text forms of pids and reasons. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

#include "core/proc.h"

/* One text per code, in the sense in which the core and gen_server return
 * it; the supervisor's own senses are oak_supervisor_strerror()'s. */
const char *oak_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case -EINVAL: return "invalid argument";
    case -ESRCH: return "no such process";
    case -ETIMEDOUT: return "timed out";
    case -EEXIST: return "name already registered";
    case -EBUSY: return "busy (the process already has a name, or the runtime is running)";
    case -ENOENT: return "not found";
    case -ENOMEM: return "out of memory";
    case -EAGAIN: return "process limit reached";
    case -EPERM: return "not allowed outside a process";
    case -ECHILD: return "not a child";
    case -ECANCELED: return "start failed (init returned an error)";
    case -ECONNRESET: return "connection reset (from a call: the server exited before replying)";
    case -EDEADLK: return "calling self";
    case -EALREADY: return "already started";
    case -EOPNOTSUPP: return "not supported";
    case -ENOSPC: return "limit reached";
    case -EBADF: return "bad file descriptor";
    case -EPROTO: return "unexpected reply (not the expected kind of server)";
    case -EBADMSG: return "malformed data";
    case -EIO: return "input/output error";
    case -ELOOP: return "nested too deep";
    case -EOVERFLOW: return "too large for the format";
    /* Sockets (oak/net.h) and nodes (oak/node.h). */
    case -ECONNREFUSED: return "connection refused";
    case -EPIPE: return "broken pipe (the connection is closed for writing)";
    case -EADDRINUSE: return "address in use (for a node: its name is taken)";
    case -EADDRNOTAVAIL: return "address not available";
    case -ENETUNREACH: return "network unreachable";
    case -EHOSTUNREACH: return "host unreachable (for a node: no such node or host)";
    case -ENOTCONN: return "not connected";
    case -EMSGSIZE: return "frame too large for the buffer";
    case -ENODATA: return "stream ended inside a unit";
    case -EMFILE: return "too many open files";
    case -ENAMETOOLONG: return "name too long";
    case -EACCES: return "permission denied (for a node: another cookie)";
    case -EAFNOSUPPORT: return "address family not supported";
    default: return "unknown error";
    }
}

char *oak__report_who(oak_pid pid, char *buf, size_t size)
{
    char p[32];
    oak_pid_format(pid, p, sizeof p);
    oak_atom name = oak_process_name(pid);
    const char *n = name ? oak_atom_name(name) : NULL;
    snprintf(buf, size, "process=%s pid=%s", n ? n : p, p);
    return buf;
}

int oak_pid_format(oak_pid pid, char *buf, size_t size)
{
    return snprintf(buf, size, "<%u.%llu.%u>", (unsigned)(pid >> (OAK__SLOT_BITS + OAK__GEN_BITS)),
                    (unsigned long long)(pid & OAK__SLOT_MASK),
                    (unsigned)((pid >> OAK__SLOT_BITS) & OAK__GEN_MASK));
}

/* Does Erlang print this atom in quotes? Unless it starts with a lower-case
 * letter, has only letters, digits, _ and @, and is no reserved word. */
static bool needs_quotes(const char *a)
{
    static const char *const reserved[] = {
        "after", "and", "andalso", "band", "begin", "bnot", "bor", "bsl", "bsr", "bxor",
        "case", "catch", "cond", "div", "end", "fun", "if", "let", "not", "of",
        "or", "orelse", "receive", "rem", "try", "when", "xor",
    };
    if (!(a[0] >= 'a' && a[0] <= 'z'))
        return true;
    for (const char *c = a; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '@'))
            return true;
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
        if (strcmp(a, reserved[i]) == 0)
            return true;
    return false;
}

int oak_atom_format(oak_atom atom, char *buf, size_t size)
{
    const char *name = oak_atom_name(atom);
    if (!name)
        return snprintf(buf, size, "undefined");
    if (!needs_quotes(name))
        return snprintf(buf, size, "%s", name);
    /* Quoted, with ' and \ escaped. */
    size_t n = 0;
    if (n < size)
        buf[n] = '\'';
    n++;
    for (const char *c = name; *c; c++) {
        if (*c == '\'' || *c == '\\') {
            if (n < size)
                buf[n] = '\\';
            n++;
        }
        if (n < size)
            buf[n] = *c;
        n++;
    }
    if (n < size)
        buf[n] = '\'';
    n++;
    if (size)
        buf[n < size ? n : size - 1] = 0;
    return (int)n;
}

int oak_reason_format(oak_atom reason, const char *detail, char *buf, size_t size)
{
    char atom[2 * OAK_ATOM_MAX_LEN + 4];
    oak_atom_format(reason, atom, sizeof atom);
    if (detail)
        return snprintf(buf, size, "{%s,%s}", atom, detail);
    return snprintf(buf, size, "%s", atom);
}
