/* remote.c - items to and from pids of other nodes (core/remote.h). */
#include "core/remote.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "core/proc.h"

/* Written by the node's start and stop, read by any sender: acquire pairs
 * with the release in oak__remote_set(), so the hook's tables are seen. */
static _Atomic(oak__remote_fn) hook;

void oak__remote_set(oak__remote_fn fn)
{
    atomic_store_explicit(&hook, fn, memory_order_release);
}

int oak__remote_deliver(oak__msg *m)
{
    oak__remote_fn fn = atomic_load_explicit(&hook, memory_order_acquire);
    if (!fn)
        return -ESRCH;
    oak__remote_sig s = {.from = m->pub.from, .to = m->to, .ref = m->pub.ref};
    const oak_down *d = (const oak_down *)m->payload;
    switch (m->kind) {
    case OAK__SIG_REQUEST:
        s.op = OAK__R_MONITOR;
        fn(&s);
        /* Then the message, carrying the same ref. */
        __attribute__((fallthrough));
    case OAK__MSG:
    case OAK__ALIAS_MSG:
        s.op = OAK__R_SEND;
        s.tag = m->pub.tag;
        s.data = m->payload;
        s.size = m->pub.size;
        break;
    case OAK__SIG_LINK: s.op = OAK__R_LINK; break;
    case OAK__SIG_UNLINK: s.op = OAK__R_UNLINK; break;
    case OAK__SIG_MONITOR:
        s.op = OAK__R_MONITOR;
        s.name = (oak_atom)m->pub.tag; /* oak__remote_monitor_name() */
        break;
    case OAK__SIG_DEMONITOR: s.op = OAK__R_DEMONITOR; break;
    case OAK__SIG_EXIT:
    case OAK__SIG_EXIT_LINK:
    case OAK__SIG_DOWN:
        s.op = m->kind == OAK__SIG_EXIT ? OAK__R_EXIT
               : m->kind == OAK__SIG_DOWN ? OAK__R_DOWN : OAK__R_EXIT_LINK;
        s.reason = d->reason;
        s.detail = d->detail;
        break;
    default:
        s.op = 0; /* nothing a remote process can act on */
        break;
    }
    if (s.op)
        fn(&s);
    oak__msg_delete(m);
    return 0;
}

int oak__remote_inject(const oak__remote_sig *sig)
{
    if (sig->to >> OAK__NODE_SHIFT)
        return -EINVAL;
    size_t size = 0, dlen = sig->detail ? strlen(sig->detail) + 1 : 0;
    uint16_t kind;
    switch (sig->op) {
    case OAK__R_SEND:
    case OAK__R_ALIAS_SEND:
        if ((sig->tag >> 63) || (sig->size && !sig->data) ||
            (sig->op == OAK__R_ALIAS_SEND && !sig->ref))
            return -EINVAL;
        kind = sig->op == OAK__R_SEND ? OAK__MSG : OAK__ALIAS_MSG;
        size = sig->size;
        break;
    case OAK__R_LINK: kind = OAK__SIG_LINK; break;
    case OAK__R_UNLINK: kind = OAK__SIG_UNLINK; break;
    case OAK__R_MONITOR: kind = OAK__SIG_MONITOR; break;
    case OAK__R_DEMONITOR: kind = OAK__SIG_DEMONITOR; break;
    case OAK__R_EXIT: kind = OAK__SIG_EXIT; size = sizeof(oak_down) + dlen; break;
    case OAK__R_EXIT_LINK: kind = OAK__SIG_EXIT_LINK; size = sizeof(oak_down) + dlen; break;
    case OAK__R_DOWN: kind = OAK__SIG_DOWN; size = sizeof(oak_down) + dlen; break;
    default: return -EINVAL;
    }
    oak__msg *m = oak__msg_new(size);
    if (!m)
        return -ENOMEM;
    m->to = sig->to;
    m->kind = kind;
    m->pub.from = sig->from;
    m->pub.ref = sig->ref;
    m->pub.tag = sig->tag;
    if (kind == OAK__MSG || kind == OAK__ALIAS_MSG) {
        if (size)
            memcpy(m->payload, sig->data, size);
    } else if (size) {
        /* EXIT and DOWN travel in their message form (core/proc.h). */
        oak_down *d = (oak_down *)m->payload;
        d->reason = sig->reason;
        d->name = 0;
        d->detail = NULL;
        if (dlen) {
            char *t = (char *)m->payload + sizeof(oak_down);
            memcpy(t, sig->detail, dlen);
            d->detail = t;
        }
        m->pub.tag = kind == OAK__SIG_DOWN ? OAK_TAG_DOWN : OAK_TAG_EXIT;
    }
    int rc = oak__deliver(m);
    if (rc < 0)
        oak__msg_delete(m);
    return rc;
}
