// call: N synchronous calls (1,000,000 by default) from one client to a
// server actor that owns some state: the client makes a request and waits
// for its response before the next (request(...).await, CAF's counterpart
// of gen_server:call). The server counts the calls; every answer must be
// the count so far.
#include "bench.hpp"

using namespace caf;

using add_atom = atom_constant<atom("add")>;
using done_atom = atom_constant<atom("done")>;

struct server_state {
  int64_t total = 0;
};

behavior server(stateful_actor<server_state>* self) {
  return {
    [=](add_atom, int64_t x) { return self->state.total += x; },
  };
}

struct client_state {
  int64_t next = 1;
};

void call_next(stateful_actor<client_state>* self, const actor& srv, int64_t n,
               const actor& main) {
  self->request(srv, infinite, add_atom::value, int64_t{1})
    .await([=](int64_t v) {
      auto& st = self->state;
      if (v != st.next)
        bench::fail("call: got " + std::to_string(v) + ", expected "
                    + std::to_string(st.next));
      if (st.next++ == n) {
        self->send(main, done_atom::value);
        self->quit();
        return;
      }
      call_next(self, srv, n, main);
    },
    [=](error& err) { bench::fail("call: " + self->system().render(err)); });
}

void client(stateful_actor<client_state>* self, actor srv, int64_t n,
            actor main) {
  call_next(self, srv, n, main);
}

int main(int argc, char** argv) {
  long n = bench::arg(argc, argv, 1, 1000000);
  actor_system_config cfg;
  actor_system sys{bench::configure(cfg)};
  scoped_actor self{sys};
  auto srv = self->spawn(server);
  int64_t t0 = bench::now_ns();
  self->spawn(client, srv, int64_t{n}, actor{self});
  bool done = false;
  self->receive([&](done_atom) { done = true; },
                after(std::chrono::seconds(120)) >> [&] {});
  int64_t elapsed = bench::now_ns() - t0;
  if (!done)
    bench::fail("call: no answer from the client");
  self->send_exit(srv, exit_reason::user_shutdown);
  bench::result("call", double(elapsed) / double(n), "ns");
}
