/* osproc/reaper.h - internal contract of reaper.c: what is left of OS
 * children once their mirror process is done with them.
 *
 * The runtime reaps its children through pidfds only (never waitpid(-1)),
 * so it does not steal the status of a child that some other part of the
 * program waits for. reaper.c owns the process-wide pieces: the child
 * subreaper flag, the reaper thread, and the watchdog process. See
 * docs/design/osproc.md.
 */
#ifndef OAK_OSPROC_REAPER_H
#define OAK_OSPROC_REAPER_H

#include <stdbool.h>
#include <sys/types.h>

/* Make the process ready for OS children, once: become a child subreaper,
 * start the reaper thread and the watchdog process. Returns 0 or a
 * negative errno (the first failure is kept and returned again). Any
 * thread. */
int oak__reaper_use(void);

/* Without pidfds (the kernel has no pidfd_open, or OAK_OSPROC_NO_PIDFD=1
 * was in the environment when oak__reaper_use() first ran): children are
 * then watched by pid, with waitid(P_PID), which is safe because nothing
 * else in the runtime reaps them. Valid after oak__reaper_use(). Any
 * thread. */
bool oak__reaper_no_pidfd(void);

/* Hand over a child that has not been reaped: the reaper thread waits on
 * pidfd (or, when pidfd is -1, for pid pgid, the leader, polling), reaps
 * it, closes pidfd, then drains its group (and cgroup leaf cg, if not 0).
 * The caller has already sent SIGKILL. Any thread; does not block. */
void oak__reaper_adopt(int pidfd, pid_t pgid, unsigned cg);

/* The leader of group pgid is reaped (oak__reaper_reaped() called) and
 * the group still has members, or it has a cgroup leaf cg to empty and
 * remove: SIGKILL them and reap them as they become children of the
 * runtime. Any thread; does not block. */
void oak__reaper_drain(pid_t pgid, unsigned cg);

/* Around the clone or fork of a program whose cgroup leaf is cg (0: none):
 * begin, clone, end with the child's pid (or -1), which makes the pid a
 * known leader, never taken for a stray. Meanwhile the stray pass leaves
 * leaf cg alone (the child may already be in it, and exit, before its
 * pid is known). No lock is held across the clone. Begin returns 0 or
 * -ENOMEM. oak__reaper_reaped() forgets the pid once its owner has reaped
 * it. Any thread. */
int oak__reaper_spawn_begin(unsigned cg);
void oak__reaper_spawn_end(unsigned cg, pid_t pid);
void oak__reaper_reaped(pid_t pid);

/* A cgroup leaf for a program, empty (a fresh one, or one given back by
 * oak__reaper_cgroup_release()), with the path of its cgroup.procs in
 * procs (for the child to write its pid to). Returns its number, or 0
 * when there is no writable cgroup v2. Any thread. */
unsigned oak__reaper_cgroup_new(char *procs, size_t size);

/* Write 1 to leaf cg's cgroup.kill (nothing for 0). Any thread. */
void oak__reaper_cgroup_kill(unsigned cg);

/* Give leaf cg back once it holds no live process (a zombie does not
 * count): it is kept for a later oak__reaper_cgroup_new(), or removed.
 * Returns true once given back (and for 0), false while it still holds a
 * process (then it is still the caller's: oak__reaper_drain() it). Any
 * thread. */
bool oak__reaper_cgroup_release(unsigned cg);

/* Tell the watchdog that group pgid is live / is gone. Any thread; does
 * not block (a full pipe drops the note, and the drop is logged). */
void oak__reaper_group_add(pid_t pgid);
void oak__reaper_group_done(pid_t pgid);

/* Fork with every signal blocked in the calling thread, restoring its
 * mask in the parent; the child starts with the mask all-blocked and must
 * set its own. Returns what fork() returns, errno set. */
pid_t oak__reaper_fork(void);

/* Start a child that runs child(arg) and then execs (or _exits): with
 * clone(CLONE_VM | CLONE_VFORK) on a stack of its own, so no page table
 * is copied and the calling thread resumes once the child has exec'd or
 * exited. The child shares the caller's memory: child may use only
 * system calls (no malloc, stdio, locks, or glibc's set*id wrappers,
 * which lock and mark every thread of the caller), writes no memory of the
 * caller's, and must set every signal disposition to default before it
 * unblocks a signal (it starts with all blocked). Between
 * oak__reaper_spawn_begin() and _end(). The stack is the clone's own
 * (several threads may spawn at once). Returns the
 * child's pid or -1, errno set. Sanitizer builds fork instead
 * (OAK_OSPROC_SPAWN_BY_FORK): their runtimes would run on the child's
 * stack with the calling thread's state. */
pid_t oak__reaper_spawn(int (*child)(void *), void *arg);

#ifndef OAK_OSPROC_SPAWN_BY_FORK
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define OAK_OSPROC_SPAWN_BY_FORK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define OAK_OSPROC_SPAWN_BY_FORK 1
#endif
#endif
#endif
#ifndef OAK_OSPROC_SPAWN_BY_FORK
#define OAK_OSPROC_SPAWN_BY_FORK 0
#endif

#endif
