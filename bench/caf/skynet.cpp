// skynet: a 10-ary tree of actors with 1,000,000 leaves; leaf i sends i to
// its parent, every inner actor sends the sum of its 10 children up. The
// root's sum must be 499999500000.
#include "bench.hpp"

using namespace caf;

constexpr int64_t div_ = 10;

struct node_state {
  int64_t sum = 0;
  int64_t pending = div_;
};

behavior skynet(stateful_actor<node_state>* self, actor parent, int64_t num,
                int64_t size) {
  if (size == 1) {
    self->send(parent, num);
    self->quit();
    return {};
  }
  int64_t sub = size / div_;
  auto me = actor_cast<actor>(self);
  for (int64_t i = 0; i < div_; ++i)
    self->spawn(skynet, me, num + i * sub, sub);
  return {
    [=](int64_t v) {
      auto& st = self->state;
      st.sum += v;
      if (--st.pending == 0) {
        self->send(parent, st.sum);
        self->quit();
      }
    },
  };
}

int main(int argc, char** argv) {
  int64_t n = bench::arg(argc, argv, 1, 1000000);
  for (int64_t s = n; s > 1; s /= div_)
    if (s % div_ != 0)
      bench::fail("skynet: leaf count must be a power of 10");
  actor_system_config cfg;
  actor_system sys{bench::configure(cfg)};
  scoped_actor self{sys};
  int64_t t0 = bench::now_ns();
  self->spawn(skynet, actor{self}, int64_t{0}, n);
  int64_t sum = -1;
  self->receive([&](int64_t v) { sum = v; },
                after(std::chrono::seconds(120)) >> [&] {});
  int64_t elapsed = bench::now_ns() - t0;
  if (sum != n * (n - 1) / 2)
    bench::fail("skynet: sum " + std::to_string(sum) + ", expected "
                + std::to_string(n * (n - 1) / 2));
  bench::result("skynet", double(elapsed) / 1e6, "ms");
}
