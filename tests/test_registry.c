/* test_registry.c - the Registry: unique and duplicate keys, lookups,
 * keys, counts, dispatch, entries removed when their owner dies, via names
 * for gen_servers, and a supervised server found by its key through
 * restarts. */
#include "oak_test.h"

static oak_atom A(const char *s) { return oak_atom_from(s); }

#define KEY(s) (s), strlen(s)

static oak_pid start_registry(const char *name, oak_registry_kind keys)
{
    oak_registry_def def = {A(name), keys};
    oak_pid reg = OAK_NOPID;
    int r = oak_registry_start(&def, OAK_GEN_LINK, &reg, NULL);
    OT_CHECK_INT_EQ(r, 0);
    return reg;
}

/* A process that registers key (with value) in registry `reg`, reports
 * READY with the result and waits for STOP. */
typedef struct reg_job {
    oak_pid parent;
    char registry[32];
    char key[32];
    char value[32];
    int times;
} reg_job;

static void registrant(void *arg)
{
    reg_job *j = arg;
    int64_t rc = 0;
    for (int i = 0; i < (j->times ? j->times : 1); i++) {
        int r = oak_registry_register(A(j->registry), KEY(j->key), j->value,
                                      strlen(j->value), NULL);
        if (r < 0)
            rc = r;
    }
    OT_SEND_U64(j->parent, OT_TAG_READY, (uint64_t)rc);
    ot_body_until_stop(NULL);
}

static oak_pid spawn_registrant(const char *registry, const char *key,
                                const char *value, int times, int64_t *rc,
                                oak_ref *mon)
{
    reg_job j;
    memset(&j, 0, sizeof j);
    j.parent = oak_self();
    snprintf(j.registry, sizeof j.registry, "%s", registry);
    snprintf(j.key, sizeof j.key, "%s", key);
    snprintf(j.value, sizeof j.value, "%s", value);
    j.times = times;
    oak_pid p = OT_SPAWN_COPY_MONITOR(registrant, &j, 0, mon);
    *rc = (int64_t)OT_RECV_U64(OT_TAG_READY, OT_LONG_MS);
    return p;
}

/* ---- unique keys ------------------------------------------------------------ */

static void body_unique(void *arg)
{
    oak_pid reg = start_registry("reg_u", OAK_REGISTRY_UNIQUE);
    oak_pid owner = OAK_NOPID;
    OT_CHECK_INT_EQ(oak_registry_register(A("reg_u"), KEY("k"), "v1", 2, &owner), 0);
    OT_CHECK_UINT_EQ(owner, reg); /* {ok, RegistryPid} */
    OT_CHECK_INT_EQ(oak_registry_register(A("reg_u"), KEY("k"), "v2", 2, &owner), -EEXIST);
    OT_CHECK_UINT_EQ(owner, oak_self()); /* {already_registered, self()} */

    int64_t rc;
    oak_ref mon;
    oak_pid other = spawn_registrant("reg_u", "k", "x", 1, &rc, &mon);
    OT_CHECK_INT_EQ(rc, -EEXIST);

    oak_registry_entry e[4];
    oak_msg *h = NULL;
    OT_CHECK_INT_EQ(oak_registry_lookup(A("reg_u"), KEY("k"), e, 4, &h), 1);
    OT_CHECK_UINT_EQ(e[0].pid, oak_self());
    OT_CHECK_INT_EQ(e[0].value_size, 2);
    OT_CHECK(memcmp(e[0].value, "v1", 2) == 0);
    oak_msg_free(h);
    OT_CHECK_UINT_EQ(oak_registry_whereis(A("reg_u"), KEY("k")), oak_self());

    OT_CHECK_INT_EQ(oak_registry_register(A("reg_u"), KEY("k2"), NULL, 0, NULL), 0);
    oak_registry_key k[4];
    OT_CHECK_INT_EQ(oak_registry_keys(A("reg_u"), oak_self(), k, 4, &h), 2);
    OT_CHECK_INT_EQ(k[0].key_size, 1);
    OT_CHECK(memcmp(k[0].key, "k", 1) == 0);
    OT_CHECK_INT_EQ(k[1].key_size, 2);
    OT_CHECK(memcmp(k[1].key, "k2", 2) == 0);
    oak_msg_free(h);
    OT_CHECK_INT_EQ(oak_registry_count(A("reg_u")), 2);

    OT_CHECK_INT_EQ(oak_registry_unregister(A("reg_u"), KEY("k")), 0);
    OT_CHECK_INT_EQ(oak_registry_unregister(A("reg_u"), KEY("k")), 0); /* :ok again */
    OT_CHECK_INT_EQ(oak_registry_lookup(A("reg_u"), KEY("k"), e, 4, &h), 0);
    OT_CHECK(h == NULL);
    OT_CHECK_UINT_EQ(oak_registry_whereis(A("reg_u"), KEY("k")), OAK_NOPID);
    OT_CHECK_INT_EQ(oak_registry_count(A("reg_u")), 1);

    /* The key is free again: another process takes it. */
    OT_SEND(other, OT_TAG_STOP, NULL, 0);
    OT_RECV_DOWN(mon, OT_LONG_MS);
    other = spawn_registrant("reg_u", "k", "x", 1, &rc, &mon);
    OT_CHECK_INT_EQ(rc, 0);
    OT_CHECK_UINT_EQ(oak_registry_whereis(A("reg_u"), KEY("k")), other);
    OT_SEND(other, OT_TAG_STOP, NULL, 0);
    OT_RECV_DOWN(mon, OT_LONG_MS);

    OT_CHECK_INT_EQ(oak_registry_register(A("no_such_registry"), KEY("k"), NULL, 0, NULL), -ESRCH);
    OT_CHECK_INT_EQ(oak_registry_count(A("no_such_registry")), -ESRCH);
    oak_unlink(reg);
    OT_CHECK_INT_EQ(oak_gen_server_stop(reg, OAK_NORMAL, NULL, OAK_INFINITY, NULL), 0);
}
static void registry_unique_keys_have_one_owner(void **st) { OT_RUN(body_unique, NULL); }

static void body_owner_dies(void *arg)
{
    start_registry("reg_d", OAK_REGISTRY_UNIQUE);
    int64_t rc;
    oak_ref mon;
    oak_pid p = spawn_registrant("reg_d", "job", "v", 1, &rc, &mon);
    OT_CHECK_INT_EQ(rc, 0);
    OT_CHECK_UINT_EQ(oak_registry_whereis(A("reg_d"), KEY("job")), p);
    OT_CHECK_INT_EQ(oak_exit_pid(p, A("crashed")), 0);
    OT_RECV_DOWN(mon, OT_LONG_MS);
    /* Gone at once for lookups, and from the table soon after. */
    OT_CHECK_UINT_EQ(oak_registry_whereis(A("reg_d"), KEY("job")), OAK_NOPID);
    OT_CHECK_INT_EQ(oak_registry_count(A("reg_d")), 0);
    oak_registry_key k[2];
    oak_msg *h = NULL;
    OT_CHECK_INT_EQ(oak_registry_keys(A("reg_d"), p, k, 2, &h), 0);
    /* The key is free for a successor, even if the EXIT is still on the way. */
    p = spawn_registrant("reg_d", "job", "v", 1, &rc, &mon);
    OT_CHECK_INT_EQ(rc, 0);
    OT_CHECK_UINT_EQ(oak_registry_whereis(A("reg_d"), KEY("job")), p);
    OT_SEND(p, OT_TAG_STOP, NULL, 0);
    OT_RECV_DOWN(mon, OT_LONG_MS);
}
static void registry_entries_go_when_their_owner_dies(void **st) { OT_RUN(body_owner_dies, NULL); }

/* ---- duplicate keys ------------------------------------------------------------ */

static void body_duplicate(void *arg)
{
    start_registry("reg_p", OAK_REGISTRY_DUPLICATE);
    OT_CHECK_INT_EQ(oak_registry_register(A("reg_p"), KEY("topic"), "a", 1, NULL), 0);
    OT_CHECK_INT_EQ(oak_registry_register(A("reg_p"), KEY("topic"), "b", 1, NULL), 0);
    int64_t rc;
    oak_ref mon;
    oak_pid other = spawn_registrant("reg_p", "topic", "c", 2, &rc, &mon);
    OT_CHECK_INT_EQ(rc, 0);
    oak_registry_entry e[8];
    oak_msg *h = NULL;
    OT_CHECK_INT_EQ(oak_registry_lookup(A("reg_p"), KEY("topic"), e, 8, &h), 4);
    OT_CHECK_UINT_EQ(e[0].pid, oak_self());
    OT_CHECK(memcmp(e[0].value, "a", 1) == 0);
    OT_CHECK_UINT_EQ(e[1].pid, oak_self());
    OT_CHECK(memcmp(e[1].value, "b", 1) == 0);
    OT_CHECK_UINT_EQ(e[2].pid, other);
    OT_CHECK_UINT_EQ(e[3].pid, other);
    oak_msg_free(h);
    /* Fewer slots than entries: the count is still the whole number. */
    OT_CHECK_INT_EQ(oak_registry_lookup(A("reg_p"), KEY("topic"), e, 1, &h), 4);
    oak_msg_free(h);
    OT_CHECK_INT_EQ(oak_registry_count(A("reg_p")), 4);

    /* dispatch: one message per entry */
    OT_CHECK_INT_EQ(oak_registry_dispatch(A("reg_p"), KEY("topic"), OT_TAG_DATA, "hi", 2), 4);
    for (int i = 0; i < 2; i++)
        oak_msg_free(OT_RECV_TAG(OT_TAG_DATA, OT_LONG_MS));

    /* Unregister removes all of the caller's entries under the key. */
    OT_CHECK_INT_EQ(oak_registry_unregister(A("reg_p"), KEY("topic")), 0);
    OT_CHECK_INT_EQ(oak_registry_lookup(A("reg_p"), KEY("topic"), e, 8, &h), 2);
    oak_msg_free(h);
    OT_SEND(other, OT_TAG_STOP, NULL, 0);
    OT_RECV_DOWN(mon, OT_LONG_MS);
    OT_CHECK_INT_EQ(oak_registry_lookup(A("reg_p"), KEY("topic"), e, 8, &h), 0);

    /* A via name needs unique keys. */
    oak_via via;
    OT_CHECK_INT_EQ(oak_registry_via(&via, A("reg_p"), KEY("srv")), 0);
    OT_CHECK_INT_EQ(oak_registry_register(A("reg_p"), KEY("x"), NULL, 0, NULL), 0);
}
static void registry_duplicate_keys_keep_every_entry(void **st) { OT_RUN(body_duplicate, NULL); }

/* ---- via names --------------------------------------------------------------------- */

static int echo_init(oak_gen_server *gs, void *arg, void **state)
{
    *state = NULL;
    return OAK_GS_OK;
}

static int echo_call(oak_gen_server *gs, void *state, const oak_msg *req,
                     const oak_gen_from *from)
{
    oak_pid self = oak_self();
    oak_gen_server_set_reply(gs, OT_TAG_PONG, &self, sizeof self);
    return OAK_GS_REPLY;
}

static int echo_cast(oak_gen_server *gs, void *state, const oak_msg *req)
{
    oak_gen_server_exit(gs, A("crashed"), NULL);
}

static const oak_gen_server_callbacks echo_cb = {
    .init = echo_init, .handle_call = echo_call, .handle_cast = echo_cast};

static oak_pid ping(oak_pid p, int *rc)
{
    oak_msg *m = NULL;
    *rc = oak_gen_server_call(p, OT_TAG_PING, NULL, 0, &m, OT_LONG_MS, NULL);
    oak_pid who = OAK_NOPID;
    if (*rc == 0)
        memcpy(&who, m->data, sizeof who);
    oak_msg_free(m);
    return who;
}

static void body_via(void *arg)
{
    start_registry("reg_v", OAK_REGISTRY_UNIQUE);
    oak_via via;
    OT_CHECK_INT_EQ(oak_registry_via(&via, A("reg_v"), KEY("server")), 0);
    oak_gen_server_opts o = {.via = &via};
    oak_pid p = OAK_NOPID, q = OAK_NOPID;
    oak_reason why;
    OT_CHECK_INT_EQ(oak_gen_server_start(&echo_cb, NULL, &o, &p, NULL), 0);
    OT_CHECK_UINT_EQ(oak_via_whereis(&via), p);
    OT_CHECK_INT_EQ(oak_gen_server_start(&echo_cb, NULL, &o, &q, &why), -EALREADY);
    OT_CHECK_UINT_EQ(q, p);
    OT_CHECK_ATOM_EQ(why.atom, A("already_started"));
    int rc;
    OT_CHECK_UINT_EQ(ping(oak_via_whereis(&via), &rc), p);
    OT_CHECK_INT_EQ(rc, 0);
    OT_CHECK_INT_EQ(oak_gen_server_stop(p, OAK_NORMAL, NULL, OAK_INFINITY, NULL), 0);
    OT_CHECK_UINT_EQ(oak_via_whereis(&via), OAK_NOPID);
    ping(oak_via_whereis(&via), &rc);
    OT_CHECK_INT_EQ(rc, -ESRCH);

    /* A supervisor named through the registry. */
    oak_via sv;
    OT_CHECK_INT_EQ(oak_registry_via(&sv, A("reg_v"), KEY("sup")), 0);
    oak_supervisor_def sd = {.flags = {OAK_DYNAMIC, 3, 5}, .via = &sv};
    oak_pid sup = OAK_NOPID;
    OT_CHECK_INT_EQ(oak_supervisor_start(&sd, 0, &sup, NULL), 0);
    OT_CHECK_UINT_EQ(oak_via_whereis(&sv), sup);
    oak_child_counts k;
    OT_CHECK_INT_EQ(oak_supervisor_count_children(oak_via_whereis(&sv), &k), 0);
    OT_CHECK_INT_EQ(oak_supervisor_stop(sup), 0);
    OT_CHECK_UINT_EQ(oak_via_whereis(&sv), OAK_NOPID);

    /* Not with a name as well; a duplicate registry refuses via. */
    o.name = A("both");
    OT_CHECK_INT_EQ(oak_gen_server_start(&echo_cb, NULL, &o, &q, NULL), -EINVAL);
    start_registry("reg_v2", OAK_REGISTRY_DUPLICATE);
    OT_CHECK_INT_EQ(oak_registry_via(&via, A("reg_v2"), KEY("server")), 0);
    o.name = 0;
    OT_CHECK_INT_EQ(oak_gen_server_start(&echo_cb, NULL, &o, &q, &why), -ECANCELED);
    OT_CHECK_ATOM_EQ(why.atom, OAK_BADARG);
    /* A key too long for a via name. */
    char big[OAK_VIA_KEY_MAX + 1];
    memset(big, 'x', sizeof big);
    OT_CHECK_INT_EQ(oak_registry_via(&via, A("reg_v"), big, sizeof big), -EINVAL);
}
static void registry_via_name_starts_and_finds_a_gen_server(void **st) { OT_RUN(body_via, NULL); }

static oak_via server_via;

static int server_start(const oak_child_args *a, oak_pid *pid, oak_reason *why)
{
    oak_gen_server_opts o = {.flags = OAK_GEN_LINK, .via = a->arg};
    return oak_gen_server_start(&echo_cb, NULL, &o, pid, why);
}

static const oak_registry_def names_def = {0, OAK_REGISTRY_UNIQUE};

static void body_restart(void *arg)
{
    oak_registry_def def = names_def;
    def.name = A("names");
    oak_registry_via(&server_via, A("names"), KEY("the server"));
    oak_child_spec children[] = {
        {.id = A("names"), .start = oak_registry_start_fn, .arg = &def,
         .arg_size = sizeof def},
        {.id = A("server"), .start = server_start, .arg = &server_via,
         .arg_size = sizeof server_via},
    };
    oak_supervisor_def sd = {.flags = {OAK_ONE_FOR_ONE, 5, 5},
                             .children = children, .count = 2};
    oak_pid sup = OAK_NOPID;
    OT_CHECK_INT_EQ(oak_supervisor_start(&sd, OAK_GEN_LINK, &sup, NULL), 0);
    int rc;
    for (int i = 0; i < 3; i++) {
        oak_pid p = oak_via_whereis(&server_via);
        OT_CHECK(p != OAK_NOPID);
        OT_CHECK_UINT_EQ(ping(p, &rc), p);
        oak_ref mon = oak_monitor(p);
        oak_gen_server_cast(p, OT_TAG_STOP, NULL, 0); /* crashes it */
        OT_RECV_DOWN(mon, OT_LONG_MS);
        OT_EVENTUALLY(oak_via_whereis(&server_via) != OAK_NOPID &&
                          oak_via_whereis(&server_via) != p,
                      OT_LONG_MS);
    }
    oak_pid p = oak_via_whereis(&server_via);
    OT_CHECK_UINT_EQ(ping(p, &rc), p);
    OT_CHECK_INT_EQ(oak_supervisor_stop(sup), 0);
}
static void registry_restarted_child_is_found_by_its_key(void **st)
{
    oak_log_level old = oak_log_set_level(OAK_LOG_NONE);
    OT_RUN(body_restart, NULL);
    oak_log_set_level(old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registry_unique_keys_have_one_owner),
        cmocka_unit_test(registry_entries_go_when_their_owner_dies),
        cmocka_unit_test(registry_duplicate_keys_keep_every_entry),
        cmocka_unit_test(registry_via_name_starts_and_finds_a_gen_server),
        cmocka_unit_test(registry_restarted_child_is_found_by_its_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
