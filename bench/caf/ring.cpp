// ring: R actors (10,000 by default) in a ring; a token is passed H hops
// (1,000,000 by default). The token carries the hops still to go; the actor
// that gets it at 0 reports its position, which must be H mod R (the token
// starts at position 0).
#include "bench.hpp"

#include <vector>

using namespace caf;

using next_atom = atom_constant<atom("next")>;
using done_atom = atom_constant<atom("done")>;

struct member_state {
  actor next;
};

behavior member(stateful_actor<member_state>* self, int64_t pos, actor next,
                actor main) {
  self->state.next = std::move(next);
  return {
    [=](next_atom, actor& nx) { self->state.next = std::move(nx); },
    [=](int64_t left) {
      if (left == 0)
        self->send(main, done_atom::value, pos);
      else
        self->send(self->state.next, left - 1);
    },
  };
}

int main(int argc, char** argv) {
  long r = bench::arg(argc, argv, 1, 10000);
  long h = bench::arg(argc, argv, 2, 1000000);
  actor_system_config cfg;
  actor_system sys{bench::configure(cfg)};
  scoped_actor self{sys};
  std::vector<actor> members;
  members.reserve(r);
  actor main_handle{self};
  // spawn from the last position down to 0, each knowing its successor; the
  // last learns its successor (position 0) once that exists
  auto last = self->spawn(member, int64_t{r - 1}, actor{}, main_handle);
  members.push_back(last);
  actor next = last;
  for (long pos = r - 2; pos >= 0; --pos) {
    next = self->spawn(member, int64_t{pos}, next, main_handle);
    members.push_back(next);
  }
  self->send(last, next_atom::value, next);
  int64_t t0 = bench::now_ns();
  self->send(next, int64_t{h});
  int64_t pos = -1;
  self->receive([&](done_atom, int64_t p) { pos = p; },
                after(std::chrono::seconds(120)) >> [&] {});
  int64_t elapsed = bench::now_ns() - t0;
  if (pos != h % r)
    bench::fail("ring: token ended at " + std::to_string(pos) + ", expected "
                + std::to_string(h % r));
  for (auto& m : members)
    self->send_exit(m, exit_reason::user_shutdown);
  bench::result("ring", double(elapsed) / double(h), "ns");
}
