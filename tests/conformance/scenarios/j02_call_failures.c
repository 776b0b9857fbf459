/* j02: what a caller sees: noproc, stop without reply, crash,
 * {stop,R,Reply,S}, bad return value, calling itself; casts and sends to
 * dead processes. */
#include "oracle.h"

#include <string.h>

static void call(const char *desc, oak_pid p, const char *tag, const char *arg)
{
    oak_msg *m = NULL;
    oak_reason why;
    int r = oak_gen_server_call(p, oak_atom_from(tag), arg, arg ? strlen(arg) : 0,
                                &m, OAK_GEN_CALL_TIMEOUT, &why);
    if (r == 0) {
        or_ev("%s -> %.*s", desc, (int)m->size, (const char *)m->data);
        oak_msg_free(m);
    } else {
        or_ev("%s -> {exit,%s}", desc, or_r(&why));
    }
}

static oak_pid start(const char *id, oak_ref *ref)
{
    oak_pid p = 0;
    or_worker_start(id, NULL, 0, &p, NULL);
    *ref = or_watch(p);
    return p;
}

static void quick(void *arg) {}

static void scenario(void)
{
    oak_pid dead = 0;
    oak_spawn(quick, NULL, NULL, &dead);
    or_settle(50);
    oak_ref r;
    call("call dead_pid", dead, "ping", NULL);
    call("call unregistered_name", oak_whereis(oak_atom_from("no_such_name")), "ping", NULL);
    oak_pid p = start("s1", &r);
    call("call {stop_noreply,bye}", p, "stop_noreply", "bye");
    or_await_down(r, "s1");
    p = start("s2", &r);
    call("call {crash,boom}", p, "crash", "boom");
    or_await_down(r, "s2");
    p = start("s3", &r);
    call("call {stop,normal}", p, "stop", "normal");
    or_await_down(r, "s3");
    p = start("s4", &r);
    call("call bad_return", p, "bad_return", NULL);
    or_await_down(r, "s4");
    call("call self", oak_self(), "ping", NULL);
    p = start("s5", &r);
    or_ev("cast dead_pid -> %s", oak_gen_server_cast(dead, oak_atom_from("hello"), NULL, 0) ? "error" : "ok");
    or_ev("cast unregistered_name -> %s",
          oak_gen_server_cast(oak_whereis(oak_atom_from("no_such_name")), oak_atom_from("hello"), NULL, 0) ? "error" : "ok");
    int s = oak_send_name(oak_atom_from("no_such_name"), oak_atom_from("hello"), NULL, 0);
    or_ev("send unregistered_name -> %s", s == -ESRCH ? "{error,badarg}" : "hello");
    oak_send(dead, oak_atom_from("hello"), NULL, 0);
    or_ev("send dead_pid -> hello");
    oak_send(p, oak_atom_from("some_info"), NULL, 0);
    or_settle(50);
    call("call {stop,{shutdown,x}}", p, "stop", "{shutdown,x}");
    or_await_down(r, "s5");
}

int main(void) { return or_run(scenario, 0); }
