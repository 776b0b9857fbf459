/* test_names.c - registered names: register, unregister, whereis,
 * send_name, the error codes, and the name's release when its process dies
 * (SEMANTICS.md section 3).
 */
#include "oak_test.h"

static void register_main(void *arg)
{
    (void)arg;
    oak_atom name = oak_atom_from("worker_1");
    oak_pid p = OT_SPAWN(ot_body_until_stop, NULL, 0);
    OT_CHECK_UINT_EQ(oak_whereis(name), OAK_NOPID);
    OT_CHECK_ATOM_EQ(oak_process_name(p), OAK_ATOM_NONE);
    OT_CHECK_INT_EQ(oak_register(name, p), 0);
    OT_CHECK_UINT_EQ(oak_whereis(name), p);
    OT_CHECK_ATOM_EQ(oak_process_name(p), name);

    /* A process may register itself; its info shows the name. */
    oak_atom mine = oak_atom_from("the_main");
    OT_CHECK_INT_EQ(oak_register(mine, oak_self()), 0);
    oak_process_info info;
    OT_CHECK_INT_EQ(oak_process_info_self(&info), 0);
    OT_CHECK_ATOM_EQ(info.name, mine);

    OT_CHECK_INT_EQ(oak_unregister(name), 0);
    OT_CHECK_UINT_EQ(oak_whereis(name), OAK_NOPID);
    OT_CHECK_ATOM_EQ(oak_process_name(p), OAK_ATOM_NONE);
    /* Unregistered, p may take a name again, and so may another process
     * take the freed name. */
    OT_CHECK_INT_EQ(oak_register(oak_atom_from("worker_1b"), p), 0);
    OT_CHECK_INT_EQ(oak_register(name, oak_self()), -EBUSY);
    OT_CHECK_INT_EQ(oak_unregister(mine), 0);
    OT_CHECK_INT_EQ(oak_register(name, oak_self()), 0);
    OT_CHECK_UINT_EQ(oak_whereis(name), oak_self());
    OT_SEND_U64(p, OT_TAG_STOP, 0);
}

static void register_whereis_and_process_name_agree(void **state)
{
    (void)state;
    OT_RUN(register_main, NULL);
}

static void errors_main(void *arg)
{
    (void)arg;
    oak_atom name = oak_atom_from("taken");
    oak_pid a = OT_SPAWN(ot_body_until_stop, NULL, 0);
    oak_pid b = OT_SPAWN(ot_body_until_stop, NULL, 0);
    OT_CHECK_INT_EQ(oak_register(name, a), 0);
    /* The name is taken. */
    OT_CHECK_INT_EQ(oak_register(name, b), -EEXIST);
    /* a already has a name. */
    OT_CHECK_INT_EQ(oak_register(oak_atom_from("second"), a), -EBUSY);
    OT_CHECK_UINT_EQ(oak_whereis(oak_atom_from("second")), OAK_NOPID);
    /* Not alive. */
    oak_pid dead = OT_DEAD_PID();
    OT_CHECK_INT_EQ(oak_register(oak_atom_from("ghost"), dead), -ESRCH);
    OT_CHECK_UINT_EQ(oak_whereis(oak_atom_from("ghost")), OAK_NOPID);
    /* Bad names. */
    OT_CHECK_INT_EQ(oak_register(OAK_UNDEFINED, b), -EINVAL);
    OT_CHECK_INT_EQ(oak_register(OAK_ATOM_NONE, b), -EINVAL);
    OT_CHECK_INT_EQ(oak_register((oak_atom)0x7ffffff0u, b), -EINVAL);
    /* Nothing above changed the table. */
    OT_CHECK_UINT_EQ(oak_whereis(name), a);
    OT_CHECK_ATOM_EQ(oak_process_name(b), OAK_ATOM_NONE);
    OT_CHECK_INT_EQ(oak_unregister(oak_atom_from("never_registered")), -ENOENT);
    OT_CHECK_INT_EQ(oak_unregister(name), 0);
    OT_CHECK_INT_EQ(oak_unregister(name), -ENOENT);
    OT_SEND_U64(a, OT_TAG_STOP, 0);
    OT_SEND_U64(b, OT_TAG_STOP, 0);
}

static void register_errors_are_eexist_ebusy_esrch_einval_and_enoent(void **state)
{
    (void)state;
    OT_RUN(errors_main, NULL);
}

static void echo_proc(void *arg)
{
    (void)arg;
    for (;;) {
        oak_msg *m = OT_RECV_ANY(OAK_INFINITY);
        if (m->tag == OT_TAG_STOP) {
            oak_msg_free(m);
            return;
        }
        OT_SEND(m->from, m->tag, m->data, m->size);
        oak_msg_free(m);
    }
}

static void send_name_main(void *arg)
{
    (void)arg;
    oak_atom name = oak_atom_from("echo");
    oak_pid e = OT_SPAWN(echo_proc, NULL, 0);
    OT_CHECK_INT_EQ(oak_register(name, e), 0);
    const char text[] = "hello by name";
    OT_CHECK_INT_EQ(oak_send_name(name, OT_TAG_DATA, text, sizeof text), 0);
    oak_msg *m = OT_RECV_TAG(OT_TAG_DATA, OT_LONG_MS);
    OT_CHECK_UINT_EQ(m->from, e);
    OT_CHECK_INT_EQ(m->size, sizeof text);
    OT_CHECK_STR_EQ((const char *)m->data, text);
    oak_msg_free(m);

    OT_CHECK_INT_EQ(oak_send_name(oak_atom_from("nobody_here"), OT_TAG_DATA,
                                  text, sizeof text), -ESRCH);
    OT_CHECK_INT_EQ(oak_send_name(name, OT_TAG_STOP, NULL, 0), 0);
}

static void send_name_delivers_and_unknown_name_returns_esrch(void **state)
{
    (void)state;
    OT_RUN(send_name_main, NULL);
}

static void named_proc(void *arg)
{
    oak_atom name = *(oak_atom *)arg;
    OT_CHECK_INT_EQ(oak_register(name, oak_self()), 0);
    oak_exit(oak_atom_from("boom"));
}

static void release_main(void *arg)
{
    (void)arg;
    oak_atom name = oak_atom_from("short_lived");
    for (int i = 0; i < 50; i++) {
        oak_ref r = 0;
        oak_pid p = OT_SPAWN_COPY_MONITOR(named_proc, &name, 0, &r);
        ot_signal d = OT_RECV_DOWN(r, OT_LONG_MS);
        OT_CHECK_ATOM_EQ(d.reason, oak_atom_from("boom"));
        /* When the DOWN is here, the name is free (as in OTP, where the
         * name goes before the exit signals). */
        OT_CHECK_UINT_EQ(oak_whereis(name), OAK_NOPID);
        OT_CHECK_ATOM_EQ(oak_process_name(p), OAK_ATOM_NONE);
        OT_CHECK_INT_EQ(oak_unregister(name), -ENOENT);
        OT_CHECK_INT_EQ(oak_send_name(name, OT_TAG_DATA, NULL, 0), -ESRCH);
    }
    /* And another process can take it. */
    OT_CHECK_INT_EQ(oak_register(name, oak_self()), 0);

    /* The same for a process that is killed while blocked. */
    oak_atom n2 = oak_atom_from("killed_one");
    oak_ref r = 0;
    oak_pid p = OT_SPAWN_MONITOR(ot_body_forever, NULL, 0, &r);
    OT_CHECK_INT_EQ(oak_register(n2, p), 0);
    OT_CHECK_INT_EQ(oak_exit_pid(p, OAK_KILL), 0);
    OT_RECV_DOWN(r, OT_LONG_MS);
    OT_CHECK_UINT_EQ(oak_whereis(n2), OAK_NOPID);
}

static void name_is_released_when_its_process_dies(void **state)
{
    (void)state;
    OT_RUN(release_main, NULL);
}

/* Names may be used from any thread. */
typedef struct thread_ctx {
    oak_pid target;
    int reg, whereis_ok, send, unreg, unreg2;
} thread_ctx;

static void *name_thread(void *arg)
{
    thread_ctx *c = arg;
    oak_atom name = oak_atom_from("from_thread");
    c->reg = oak_register(name, c->target);
    c->whereis_ok = oak_whereis(name) == c->target;
    c->send = oak_send_name(name, OT_TAG_DATA, "x", 2);
    c->unreg = oak_unregister(name);
    c->unreg2 = oak_unregister(name);
    return NULL;
}

static thread_ctx tctx;

static void thread_main(void *arg)
{
    (void)arg;
    tctx.target = oak_self();
    pthread_t th;
    OT_CHECK_INT_EQ(pthread_create(&th, NULL, name_thread, &tctx), 0);
    oak_msg *m = OT_RECV_TAG(OT_TAG_DATA, OT_LONG_MS);
    OT_CHECK_UINT_EQ(m->from, OAK_NOPID);
    oak_msg_free(m);
    /* The thread is about done; joining it from a process blocks this
     * scheduler briefly, which is fine here. */
    pthread_join(th, NULL);
    OT_CHECK_UINT_EQ(oak_whereis(oak_atom_from("from_thread")), OAK_NOPID);
}

static void names_work_from_a_foreign_thread(void **state)
{
    (void)state;
    memset(&tctx, 0, sizeof tctx);
    OT_RUN(thread_main, NULL);
    assert_int_equal(tctx.reg, 0);
    assert_int_equal(tctx.whereis_ok, 1);
    assert_int_equal(tctx.send, 0);
    assert_int_equal(tctx.unreg, 0);
    assert_int_equal(tctx.unreg2, -ENOENT);
}

/* Many processes race for one name: exactly one wins. */
static atomic_int race_wins, race_losses;

static void racer(void *arg)
{
    oak_atom name = *(oak_atom *)arg;
    int rc = oak_register(name, oak_self());
    if (rc == 0)
        atomic_fetch_add(&race_wins, 1);
    else if (rc == -EEXIST)
        atomic_fetch_add(&race_losses, 1);
    else
        OT_FAIL("oak_register: %d", rc);
    ot_body_until_stop(NULL);
}

static void race_main(void *arg)
{
    (void)arg;
    enum { N = 64 };
    oak_atom name = oak_atom_from("contended");
    oak_pid pids[N];
    oak_ref refs[N];
    for (int i = 0; i < N; i++)
        pids[i] = OT_SPAWN_COPY_MONITOR(racer, &name, 0, &refs[i]);
    OT_EVENTUALLY(atomic_load(&race_wins) + atomic_load(&race_losses) == N,
                  OT_LONG_MS);
    OT_CHECK_INT_EQ(atomic_load(&race_wins), 1);
    oak_pid owner = oak_whereis(name);
    int found = 0;
    for (int i = 0; i < N; i++)
        found += pids[i] == owner;
    OT_CHECK_INT_EQ(found, 1);
    for (int i = 0; i < N; i++)
        OT_SEND_U64(pids[i], OT_TAG_STOP, 0);
    for (int i = 0; i < N; i++)
        OT_RECV_DOWN(refs[i], OT_LONG_MS);
    OT_CHECK_UINT_EQ(oak_whereis(name), OAK_NOPID);
}

static void concurrent_register_of_one_name_has_exactly_one_winner(void **state)
{
    (void)state;
    atomic_store(&race_wins, 0);
    atomic_store(&race_losses, 0);
    OT_RUN(race_main, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(register_whereis_and_process_name_agree),
        cmocka_unit_test(register_errors_are_eexist_ebusy_esrch_einval_and_enoent),
        cmocka_unit_test(send_name_delivers_and_unknown_name_returns_esrch),
        cmocka_unit_test(name_is_released_when_its_process_dies),
        cmocka_unit_test(names_work_from_a_foreign_thread),
        cmocka_unit_test(concurrent_register_of_one_name_has_exactly_one_winner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
