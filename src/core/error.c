/* error.c - names of error codes, and the text forms of pids and reasons. */
#include <stdio.h>
#include <string.h>

#include "core/proc.h"

const char *oak_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case -EINVAL: return "invalid argument";
    case -ESRCH: return "no such process";
    case -ETIMEDOUT: return "timed out";
    case -EEXIST: return "name already registered";
    case -EBUSY: return "busy";
    case -ENOENT: return "not found";
    case -ENOMEM: return "out of memory";
    case -EAGAIN: return "process limit reached";
    case -EPERM: return "not allowed outside a process";
    case -ECHILD: return "not a child";
    case -ECANCELED: return "cancelled";
    default: return "unknown error";
    }
}

int oak_pid_format(oak_pid pid, char *buf, size_t size)
{
    return snprintf(buf, size, "<%u.%llu.%u>", (unsigned)(pid >> (OAK__SLOT_BITS + OAK__GEN_BITS)),
                    (unsigned long long)(pid & OAK__SLOT_MASK),
                    (unsigned)((pid >> OAK__SLOT_BITS) & OAK__GEN_MASK));
}

int oak_reason_format(oak_atom reason, const char *detail, char *buf, size_t size)
{
    const char *name = oak_atom_name(reason);
    if (!name)
        name = "undefined";
    if (detail)
        return snprintf(buf, size, "{%s,%s}", name, detail);
    return snprintf(buf, size, "%s", name);
}
