/* name.c - registered names: one table, one mutex.
 *
 * The table maps an atom to a pid. A process's own `name` field mirrors it so
 * that a dying process releases its name without a search. Both change only
 * under the lock. Lookups take the lock too: names are used to find a
 * server, not on every message of a hot loop. */
#include "core/name.h"

#include <pthread.h>

#include "core/sched.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static oak__map names; /* atom -> pid; under lock */

void oak__names_init(void) {}

void oak__names_term(void)
{
    pthread_mutex_lock(&lock);
    oak__map_free(&names);
    pthread_mutex_unlock(&lock);
}

static int oak_register_in_runtime(oak_atom name, oak_pid pid)
{
    if (!oak__rt)
        return -ESRCH;
    if (!oak_atom_name(name) || name == OAK_UNDEFINED || pid == OAK_NOPID)
        return -EINVAL;
    oak__proc *p = oak__proc_of(pid);
    if (!p)
        return -ESRCH;
    int rc = 0;
    pthread_mutex_lock(&lock);
    if (atomic_load_explicit(&p->pid, memory_order_acquire) != pid)
        rc = -ESRCH;
    else if (oak__map_get(&names, name, NULL))
        rc = -EEXIST;
    else if (atomic_load_explicit(&p->name, memory_order_relaxed) != 0)
        rc = -EBUSY;
    else if ((rc = oak__map_put(&names, name, pid)) == 0)
        atomic_store_explicit(&p->name, name, memory_order_relaxed);
    pthread_mutex_unlock(&lock);
    return rc;
}

int oak_register(oak_atom name, oak_pid pid)
{
    if (!oak__rt_enter())
        return -ESRCH;
    int r = oak_register_in_runtime(name, pid);
    oak__rt_leave();
    return r;
}

static int oak_unregister_in_runtime(oak_atom name)
{
    uint64_t pid;
    pthread_mutex_lock(&lock);
    bool found = oak__map_del(&names, name, &pid);
    if (found) {
        oak__proc *p = oak__proc_of(pid);
        if (p && atomic_load_explicit(&p->name, memory_order_relaxed) == name)
            atomic_store_explicit(&p->name, 0, memory_order_relaxed);
    }
    pthread_mutex_unlock(&lock);
    return found ? 0 : -ENOENT;
}

int oak_unregister(oak_atom name)
{
    if (!oak__rt_enter())
        return -ENOENT;
    int r = oak_unregister_in_runtime(name);
    oak__rt_leave();
    return r;
}

static oak_pid oak_whereis_in_runtime(oak_atom name)
{
    uint64_t pid = 0;
    pthread_mutex_lock(&lock);
    oak__map_get(&names, name, &pid);
    pthread_mutex_unlock(&lock);
    return pid;
}

oak_pid oak_whereis(oak_atom name)
{
    if (!oak__rt_enter())
        return OAK_NOPID;
    oak_pid r = oak_whereis_in_runtime(name);
    oak__rt_leave();
    return r;
}

static oak_atom oak_process_name_in_runtime(oak_pid pid)
{
    oak__proc *p = oak__proc_of(pid);
    if (!p)
        return 0;
    pthread_mutex_lock(&lock);
    oak_atom a = atomic_load_explicit(&p->pid, memory_order_acquire) == pid
                     ? atomic_load_explicit(&p->name, memory_order_relaxed)
                     : 0;
    pthread_mutex_unlock(&lock);
    return a;
}

oak_atom oak_process_name(oak_pid pid)
{
    if (!oak__rt_enter())
        return 0;
    oak_atom r = oak_process_name_in_runtime(pid);
    oak__rt_leave();
    return r;
}

void oak__name_release(oak__proc *p, oak_pid pid)
{
    if (atomic_load_explicit(&p->name, memory_order_relaxed) == 0)
        return;
    pthread_mutex_lock(&lock);
    oak_atom a = atomic_load_explicit(&p->name, memory_order_relaxed);
    uint64_t cur;
    if (a && oak__map_get(&names, a, &cur) && cur == pid)
        oak__map_del(&names, a, NULL);
    atomic_store_explicit(&p->name, 0, memory_order_relaxed);
    pthread_mutex_unlock(&lock);
}
