// pingpong: two actors exchange a small message (an int64_t) N round trips
// (1,000,000 by default). Pong answers each message with its value (a
// handler's result goes back to the sender); ping checks every reply.
#include "bench.hpp"

using namespace caf;

using done_atom = atom_constant<atom("done")>;

behavior pong(event_based_actor*) {
  return {
    [](int64_t v) { return v; },
  };
}

struct ping_state {
  int64_t next = 1;
};

behavior ping(stateful_actor<ping_state>* self, actor buddy, int64_t n,
              actor main) {
  self->send(buddy, int64_t{1});
  return {
    [=](int64_t v) {
      auto& st = self->state;
      if (v != st.next)
        bench::fail("pingpong: got " + std::to_string(v) + ", expected "
                    + std::to_string(st.next));
      if (v == n) {
        self->send(main, done_atom::value);
        self->send_exit(buddy, exit_reason::user_shutdown);
        self->quit();
        return;
      }
      self->send(buddy, ++st.next);
    },
  };
}

int main(int argc, char** argv) {
  long n = bench::arg(argc, argv, 1, 1000000);
  actor_system_config cfg;
  actor_system sys{bench::configure(cfg)};
  scoped_actor self{sys};
  auto p = self->spawn(pong);
  int64_t t0 = bench::now_ns();
  self->spawn(ping, p, int64_t{n}, actor{self});
  bool done = false;
  self->receive([&](done_atom) { done = true; },
                after(std::chrono::seconds(120)) >> [&] {});
  int64_t elapsed = bench::now_ns() - t0;
  if (!done)
    bench::fail("pingpong: no answer from ping");
  bench::result("pingpong", double(elapsed) / double(n), "ns");
}
