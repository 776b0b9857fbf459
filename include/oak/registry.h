/* oak/registry.h - a process registry, as Elixir's Registry.
 *
 * A registry is a process, registered under an atom name, that maps keys to
 * the processes that registered them, each with a value. Keys and values are
 * byte strings (a C string key is (s, strlen(s))). With unique keys a key
 * has at most one owner; with duplicate keys any number of entries, also
 * several from one process.
 *
 * A process registers itself (never another process). The registry links
 * to every process that has entries in it and removes a process's entries
 * when it dies, so a name never outlives its owner; as in Elixir, a
 * registry that dies takes its registrants with it (the link), unless they
 * trap exits. Start the registry before the processes that use it (first in
 * its supervisor), so that it is stopped after them.
 *
 * Via names: oak_registry_via() makes an oak_via (oak/gen_server.h) for a
 * key of a unique registry. A gen_server, supervisor child or agent started
 * with it registers under that key before its init runs; a restarted child
 * registers the key again, so oak_via_whereis() (or
 * oak_registry_whereis()) always finds its current incarnation.
 *
 * Results: 0 or a count on success; -ESRCH when no registry runs under that
 * name (Elixir raises ArgumentError "unknown registry"), -EINVAL for bad
 * arguments or a unique-only operation on a duplicate registry, -ENOMEM.
 * Every function except oak_registry_start_fn is a call to the registry
 * process: call it from a process; it may block.
 */
#ifndef OAK_REGISTRY_H
#define OAK_REGISTRY_H

#include "gen_server.h"
#include "supervisor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum oak_registry_kind {
    OAK_REGISTRY_UNIQUE = 0,
    OAK_REGISTRY_DUPLICATE = 1,
} oak_registry_kind;

typedef struct oak_registry_def {
    oak_atom name;          /* required: the registry is found by it */
    oak_registry_kind keys;
} oak_registry_def;

/* Start a registry (flags: OAK_GEN_LINK or 0). Returns
 * oak_gen_server_start()'s results: 0, -EALREADY (the name is taken), -EINVAL
 * (no name, bad keys). Process context. */
OAK_API int oak_registry_start(const oak_registry_def *def, unsigned flags,
                               oak_pid *pid, oak_reason *why);

/* A registry as a supervisor's child: the child spec's arg points to an
 * oak_registry_def (arg_size may be its size: the supervisor keeps a copy). */
OAK_API int oak_registry_start_fn(const oak_child_args *args, oak_pid *pid,
                                  oak_reason *why);

/* Register the calling process under key with a value (copied).
 * Returns 0 with *owner = the registry process (Elixir's {:ok, owner});
 * -EEXIST when the key of a unique registry is taken (by this process or
 * another): *owner holds the key's owner ({already_registered, Pid}).
 * owner may be NULL. */
OAK_API int oak_registry_register(oak_atom registry, const void *key,
                                  size_t key_size, const void *value,
                                  size_t value_size, oak_pid *owner);

/* Remove the calling process's entries under key. Returns 0, also when it
 * had none (Elixir: :ok). */
OAK_API int oak_registry_unregister(oak_atom registry, const void *key,
                                    size_t key_size);

/* One entry of a lookup. value points into the holder message. */
typedef struct oak_registry_entry {
    oak_pid pid;
    const void *value;
    size_t value_size;
} oak_registry_entry;

/* The entries under key, oldest first (Elixir: [{pid, value}]): fills up to
 * max entries and returns how many there are. The values live in *holder,
 * to be freed with oak_msg_free() (it is set to NULL when there are no
 * entries). Entries of processes that have died are never returned. */
OAK_API int oak_registry_lookup(oak_atom registry, const void *key,
                                size_t key_size, oak_registry_entry *out,
                                size_t max, oak_msg **holder);

/* The pid under key of a unique registry, or OAK_NOPID (also when the
 * registry is not running). */
OAK_API oak_pid oak_registry_whereis(oak_atom registry, const void *key,
                                     size_t key_size);

/* One key of oak_registry_keys(). */
typedef struct oak_registry_key {
    const void *key;
    size_t key_size;
} oak_registry_key;

/* The keys pid has registered, in registration order (a key registered
 * twice in a duplicate registry appears twice). Same filling rules and
 * holder as oak_registry_lookup(). */
OAK_API int oak_registry_keys(oak_atom registry, oak_pid pid,
                              oak_registry_key *out, size_t max,
                              oak_msg **holder);

/* The number of entries in the registry. */
OAK_API int oak_registry_count(oak_atom registry);

/* Send a message (tag + copy of size bytes) to every process registered
 * under key (Elixir's dispatch, for duplicate registries used as
 * publish/subscribe). Returns the number of processes sent to. */
OAK_API int oak_registry_dispatch(oak_atom registry, const void *key,
                                  size_t key_size, uint64_t tag,
                                  const void *data, size_t size);

/* Fill *via with the via name {via, Registry, {registry, key}}. Returns 0,
 * or -EINVAL when the key is longer than OAK_VIA_KEY_MAX. Any thread. The
 * registry must have unique keys (starting with a via name in a duplicate
 * registry fails with badarg). */
OAK_API int oak_registry_via(oak_via *via, oak_atom registry, const void *key,
                             size_t key_size);

#ifdef __cplusplus
}
#endif
#endif
