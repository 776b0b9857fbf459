// bench.hpp - what the CAF benchmark programs share: arguments, the clock,
// VmRSS, the RESULT line, loud failure, and the actor system configuration.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "caf/all.hpp"

namespace bench {

// argv[i] as a positive count, or dflt when absent.
inline long arg(int argc, char** argv, int i, long dflt) {
  if (argc <= i)
    return dflt;
  char* end;
  long v = std::strtol(argv[i], &end, 10);
  if (*end != '\0' || v <= 0) {
    std::fprintf(stderr, "FAIL bad argument %s\n", argv[i]);
    std::exit(2);
  }
  return v;
}

[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "FAIL %s\n", what.c_str());
  std::fflush(stdout);
  std::_Exit(1);
}

inline int64_t now_ns() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch())
    .count();
}

// VmRSS from /proc/self/status in bytes.
inline int64_t rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, 6, "VmRSS:") == 0)
      return std::strtoll(line.c_str() + 6, nullptr, 10) * 1024;
  fail("no VmRSS in /proc/self/status");
}

inline void result(const char* figure, double value, const char* unit) {
  std::printf("RESULT caf.%s %.*f %s\n", figure,
              std::strcmp(unit, "B") == 0 ? 0 : 1, value, unit);
  std::fflush(stdout);
}

// The benchmark's figures are taken with one scheduler thread per core, in
// every implementation. CAF 0.17 would start max(cores, 4) worker threads by
// default; set it to the core count, as for the other runtimes.
// BENCH_CAF_THREADS=N overrides it (to compare with CAF's own default).
inline caf::actor_system_config& configure(caf::actor_system_config& cfg) {
  size_t threads = std::thread::hardware_concurrency();
  if (const char* env = std::getenv("BENCH_CAF_THREADS"))
    threads = static_cast<size_t>(std::strtoul(env, nullptr, 10));
  if (threads > 0)
    cfg.set("scheduler.max-threads", threads);
  return cfg;
}

} // namespace bench
