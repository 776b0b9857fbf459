// mem: N idle actors (1,000,000 by default) waiting for a message; resident
// bytes per actor. VmRSS is read before the first spawn and again once every
// actor has run its initialization and installed its behavior (each bumps a
// counter just before) and a further 100 ms have passed. main keeps every
// handle (an actor nobody refers to would be destroyed).
// Arguments: N [label]; label defaults to mem.
#include "bench.hpp"

#include <atomic>
#include <vector>

using namespace caf;

using stop_atom = atom_constant<atom("stop")>;

behavior idle(event_based_actor* self, std::atomic<long>* ready) {
  ready->fetch_add(1, std::memory_order_relaxed);
  return {
    [=](stop_atom) { self->quit(); },
  };
}

int main(int argc, char** argv) {
  long n = bench::arg(argc, argv, 1, 1000000);
  std::string label = argc > 2 ? argv[2] : "mem";
  actor_system_config cfg;
  actor_system sys{bench::configure(cfg)};
  std::atomic<long> ready{0};
  int64_t before = bench::rss_bytes();
  std::vector<actor> actors;
  actors.reserve(n);
  for (long i = 0; i < n; ++i)
    actors.push_back(sys.spawn(idle, &ready));
  int64_t deadline = bench::now_ns() + int64_t{60} * 1000000000;
  while (ready.load(std::memory_order_relaxed) < n) {
    if (bench::now_ns() > deadline)
      bench::fail("mem: only " + std::to_string(ready.load()) + " of "
                  + std::to_string(n) + " actors started");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  int64_t after = bench::rss_bytes();
  for (auto& a : actors)
    anon_send(a, stop_atom::value);
  actors.clear();
  bench::result(label.c_str(), double(after - before) / double(n), "B");
}
