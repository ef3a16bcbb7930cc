// 1,000 runs on several threads: hostile scripts interleaved with normal ones.
// Every normal run must succeed with the right answer, every hostile run must
// end with its own error kind, and the process must not keep the memory the
// hostile runs tried to take.
#include <malloc.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

#include "harness.hpp"

namespace picloud::test {
namespace {

using scripting::RunError;

struct Hostile {
  const char* id;
  const char* code;
  RunError expected;
};

const Hostile kHostile[] = {
    {"loop", "void handle(request@ req, response@ res) { while (true) {} }", RunError::operation_limit},
    {"recursion", "int f(int n) { return f(n + 1) + 1; }\nvoid handle(request@ req, response@ res) { f(0); }",
     RunError::stack_limit},
    {"alloc", "void handle(request@ req, response@ res) { array<array<int>@> a; while (true) a.insertLast(array<int>(10000)); }",
     RunError::memory_limit},
    {"doubling", "void handle(request@ req, response@ res) { string s = \"x\"; while (true) s += s; }",
     RunError::memory_limit},
    {"huge", "void handle(request@ req, response@ res) { string s; s.resize(1 << 30); res.text(s); }",
     RunError::memory_limit},
    {"deep_json",
     "void handle(request@ req, response@ res) { json j; for (int i = 0; i < 100000; i++) { json k; k[\"n\"] = j; j = k; } }",
     RunError::script_error},
    {"parse_bomb",
     "void handle(request@ req, response@ res) { json::parse(join(array<string>(100000, \"[\"), \"\")); }",
     RunError::script_error},
    {"throwing", "void handle(request@ req, response@ res) { for (;;) { try { throw(\"x\"); } catch {} } }",
     RunError::operation_limit},
    {"uncaught", "void handle(request@ req, response@ res) { for (int i = 0; i < 10; i++) {} throw(\"bad\"); }",
     RunError::script_error},
    {"big_response", "void handle(request@ req, response@ res) { string s; s.resize(200000); res.text(s); }",
     RunError::output_limit},
};

// Few statements, each slow: only the wall clock stops it (run 10 times; each
// takes the whole timeout).
const Hostile kSlow = {"slow", "void handle(request@ req, response@ res) { string s; s.resize(1 << 20); for (;;) crypto::sha256(s); }",
                       RunError::timeout};

// Sums 1..n in the script and answers {"n": n, "sum": ...}.
constexpr const char* kNormal = R"(
void handle(request@ req, response@ res) {
  int64 n = parseInt(req.query.get_string("n"));
  int64 sum = 0;
  for (int64 i = 1; i <= n; i++) sum += i;
  json answer = {{"n", n}, {"sum", sum}, {"id", random::uuid()}};
  res.json(answer);
})";

std::int64_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * 4096;
}

TEST(Hostile, ThousandRunsOnFourThreads) {
  scripting::EngineConfig config;
  // Far apart, so that on a loaded machine each hostile script still meets
  // its own limit first.
  config.limits.timeout_ms = 1'000;
  config.limits.max_operations = 100'000;
  config.limits.max_memory_bytes = 16 << 20;
  config.limits.max_value_bytes = 4 << 20;
  config.limits.max_call_depth = 500;
  config.limits.max_response_bytes = 100'000;
  auto engine = make_engine(config);
  MemorySource source;
  for (const auto& h : kHostile) source.put_script("app", h.id, h.code);
  source.put_script("app", kSlow.id, kSlow.code);
  for (int i = 0; i < 5; ++i) source.put_script("app", "normal" + std::to_string(i), kNormal);

  auto run_one = [&](int i, std::string& failure) {
    if (i % 2 == 0) {
      int n = i;
      auto r = engine->run_http({"app", "normal" + std::to_string(i % 5), 1}, source, {}, get("/", "n=" + std::to_string(n)));
      std::string expected = "\"n\":" + std::to_string(n) + ",\"sum\":" + std::to_string(std::int64_t{n} * (n + 1) / 2) + "}";
      if (!r.ok() || r.response.body.find(expected) == std::string::npos)
        failure = "normal run " + std::to_string(i) + ": " + std::string(scripting::to_string(r.error)) + " " + r.message +
                  " body=" + r.response.body;
    } else {
      const auto& h = i % 100 == 1 ? kSlow : kHostile[(i / 2) % std::size(kHostile)];
      auto r = engine->run_http({"app", h.id, 1}, source, {}, get());
      if (r.error != h.expected)
        failure = std::string("hostile ") + h.id + ": expected " + std::string(scripting::to_string(h.expected)) + ", got " +
                  std::string(scripting::to_string(r.error)) + " (" + r.message + ")";
    }
  };

  // Warm up: every script compiled and every thread's pools used once.
  std::string warm;
  for (int i = 0; i < 2 * static_cast<int>(std::size(kHostile)); ++i) run_one(i, warm);
  ASSERT_EQ(warm, "");
  malloc_trim(0);
  std::int64_t before = rss_bytes();

  constexpr int kRuns = 1000;
  std::atomic<int> next{0};
  std::vector<std::string> failures(kRuns);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i; (i = next++) < kRuns;) run_one(i, failures[static_cast<std::size_t>(i)]);
    });
  for (auto& t : threads) t.join();

  int failed = 0;
  for (const auto& f : failures)
    if (!f.empty() && ++failed <= 10) ADD_FAILURE() << f;
  EXPECT_EQ(failed, 0);

  malloc_trim(0);
  std::int64_t after = rss_bytes();
  std::printf("RSS before %.1f MiB, after %.1f MiB\n", before / 1048576.0, after / 1048576.0);
  // Four threads' worth of freed budget may stay cached by the allocator;
  // anything beyond that is memory the runs kept.
  EXPECT_LT(after - before, std::int64_t{64} << 20) << "RSS grew from " << before << " to " << after;
}

}  // namespace
}  // namespace picloud::test
