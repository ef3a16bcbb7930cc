// Ids that sort in creation order, for what a plugin creates (documents,
// messages): a version-7 UUID, "0190d3a5-7c1e-7000-8a3b-5f0c9e2d4b17".
// Its first 48 bits are the time in ms; within one plugin of one process
// ids strictly increase (a 12-bit sequence counts up within one ms, as
// RFC 9562 §6.2 method 1 allows); across nodes they sort by the ms.
// The last 62 bits are random but not secret: never use an id as a token.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

namespace picloud::sdk {

// Milliseconds since the Unix epoch, by the wall clock.
inline std::int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::string time_ordered_id(std::int64_t now_ms = wall_clock_ms()) {
  static std::atomic<std::uint64_t> last{0};  // (ms << 12) | sequence
  const std::uint64_t now = static_cast<std::uint64_t>(now_ms) << 12;
  std::uint64_t prev = last.load(), next = 0;
  do next = now > prev ? now : prev + 1;
  while (!last.compare_exchange_weak(prev, next));
  thread_local std::mt19937_64 random{std::random_device{}()};
  const std::uint64_t r = random();
  const std::uint64_t ms = next >> 12, seq = next & 0xFFF;
  char out[48];
  std::snprintf(out, sizeof out, "%08llx-%04llx-7%03llx-%04llx-%012llx", static_cast<unsigned long long>(ms >> 16),
                static_cast<unsigned long long>(ms & 0xFFFF), static_cast<unsigned long long>(seq),
                static_cast<unsigned long long>(0x8000 | ((r >> 48) & 0x3FFF)),
                static_cast<unsigned long long>(r & 0xFFFFFFFFFFFFULL));
  return out;
}

}  // namespace picloud::sdk
