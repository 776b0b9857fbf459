// spawn: N actors (1,000,000 by default) that exit at once, spawned and
// waited for. Each child counts itself and terminates at once (it sets no
// behavior); main spawns them all and waits with
// actor_system::await_all_actors_done(), CAF's own way to wait for actors.
// (Spawning them from inside a spawner actor was measured too: with CAF
// 0.17's work-stealing scheduler it is slower and far more erratic.)
#include "bench.hpp"

#include <atomic>

using namespace caf;

void child(event_based_actor*, std::atomic<long>* ran) {
  ran->fetch_add(1, std::memory_order_relaxed);
}

int main(int argc, char** argv) {
  long n = bench::arg(argc, argv, 1, 1000000);
  actor_system_config cfg;
  actor_system sys{bench::configure(cfg)};
  std::atomic<long> ran{0};
  int64_t t0 = bench::now_ns();
  for (long i = 0; i < n; ++i)
    sys.spawn(child, &ran);
  sys.await_all_actors_done();
  int64_t elapsed = bench::now_ns() - t0;
  if (ran.load() != n)
    bench::fail("spawn: " + std::to_string(ran.load()) + " of "
                + std::to_string(n) + " actors ran");
  bench::result("spawn", double(elapsed) / double(n), "ns");
}
