// A script run's kv writes through the real kv plugin, on SQLite with group
// commit: the run leaves its gate slot before its writes are durable, and
// its answer waits for them. The disk is slowed (held) by wrapping the real
// flush, so the test can look while a flush is under way.
#include <condition_variable>
#include <future>
#include <mutex>

#include "fixture.hpp"
#include "scripts.hpp"

using namespace picloud;
using namespace picloud::test;
using namespace std::chrono_literals;

namespace {

// A disk whose flushes wait while held.
struct HeldDisk {
  std::mutex mutex;
  std::condition_variable changed;
  bool held = false;
  int waiting = 0;  // flushes waiting to go on
  int flushes = 0;

  sdk::Result<void> flush(const kernel::db::GroupCommit::Flush& real) {
    {
      std::unique_lock lock(mutex);
      ++flushes;
      ++waiting;
      changed.notify_all();
      changed.wait(lock, [&] { return !held; });
      --waiting;
    }
    return real();
  }
  void hold() {
    std::lock_guard lock(mutex);
    held = true;
  }
  void release() {
    std::lock_guard lock(mutex);
    held = false;
    changed.notify_all();
  }
  bool wait_for_a_held_flush(std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, limit, [&] { return waiting > 0; });
  }
};

std::unique_ptr<Instance> start(HeldDisk& disk, std::map<std::string, std::string> env = {}) {
  env.merge(std::map<std::string, std::string>{{"PICLOUD_PLUGINS_ENABLED", "kv"},
                                               {"PICLOUD_PLUGINS_SEARCH_PATH", builtin_plugin_dir()},
                                               // One slot in all: a run holding it
                                               // through a flush would stop the next.
                                               {"PICLOUD_DISPATCH_MAX_RUNNING", "1"},
                                               {"PICLOUD_DISPATCH_QUEUE_TIMEOUT_MS", "10000"}});
  auto pc = std::make_unique<Instance>(
      Backend::sqlite, env,
      [&](kernel::Settings& s) {
        s.database.wrap_flush = [&](const kernel::db::GroupCommit::Flush& real) { return disk.flush(real); };
      });
  pc->cast_owner();
  return pc;
}

TEST(DeferredWrites, ARunLeavesItsSlotBeforeItsWritesAreDurableAndAnswersAfter) {
  HeldDisk disk;
  auto pc = start(disk);
  ASSERT_EQ(pc->post("/apps", pc->owner_key, R"({"slug":"w","hostnames":["w.localhost"]})").status, 201);
  save_script(*pc, "w", "set", R"(
void handle(request@ req, response@ res) {
  kv::Collection@ c = kv::collection("c");
  c.set("k", json::parse(req.body));
  res.json(c.get("k"));
})");
  save_script(*pc, "w", "get", R"(
void handle(request@ req, response@ res) { res.json(kv::collection("c").get("k")); })");
  bind_route(*pc, "w", R"({"script":"set","path":"/set","methods":["POST"]})");
  bind_route(*pc, "w", R"({"script":"get","path":"/get","methods":["GET"]})");
  ASSERT_EQ(on(*pc, "w.localhost", "POST", "/set", "1").status, 200);

  disk.hold();
  auto set = std::async(std::launch::async, [&] { return on(*pc, "w.localhost", "POST", "/set", "2"); });
  ASSERT_TRUE(disk.wait_for_a_held_flush(5s)) << "the write's flush never began";
  // The write committed; its run is over and gave its only slot back, so a
  // run of the same app starts (and, writing nothing, answers) meanwhile.
  auto get = on(*pc, "w.localhost", "GET", "/get");
  EXPECT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(set.wait_for(300ms), std::future_status::timeout) << "answered before its write was durable";
  disk.release();
  auto answered = set.get();
  EXPECT_EQ(answered.status, 200) << answered.body;
  EXPECT_EQ(answered.body, "2");
  EXPECT_EQ(on(*pc, "w.localhost", "GET", "/get").body, "2");
}

// Concurrent runs of one app, their writes shared by few flushes though the
// app has one slot: each run commits and leaves; the flush covers them all.
TEST(DeferredWrites, ConcurrentWritersOfOneAppShareFlushesBeyondTheirSlots) {
  HeldDisk disk;
  auto pc = start(disk);
  ASSERT_EQ(pc->post("/apps", pc->owner_key, R"({"slug":"w","hostnames":["w.localhost"]})").status, 201);
  save_script(*pc, "w", "incr", R"(
void handle(request@ req, response@ res) { res.text("" + kv::collection("n").incr(req.param("key"))); })");
  bind_route(*pc, "w", R"({"script":"incr","path":"/incr/{key}","methods":["POST"]})");
  ASSERT_EQ(on(*pc, "w.localhost", "POST", "/incr/warm", "").status, 200);

  disk.hold();
  const int before = [&] {
    std::lock_guard lock(disk.mutex);
    return disk.flushes;
  }();
  const std::uint64_t commits_before = pc->kernel().database()->group_commit()->commits();
  constexpr int kWriters = 8;
  std::vector<std::future<HttpResult>> writers;
  for (int i = 0; i < kWriters; ++i)
    writers.push_back(std::async(std::launch::async, [&, i] {
      return on(*pc, "w.localhost", "POST", "/incr/k" + std::to_string(i), "");
    }));
  ASSERT_TRUE(disk.wait_for_a_held_flush(5s));
  // Every run commits while the first flush is held: none holds the slot.
  const auto* group = pc->kernel().database()->group_commit();
  for (auto end = std::chrono::steady_clock::now() + 20s;
       group->commits() < commits_before + kWriters && std::chrono::steady_clock::now() < end;)
    std::this_thread::sleep_for(5ms);
  EXPECT_GE(group->commits(), commits_before + kWriters) << "runs waited for the held flush: they kept the slot";
  for (auto& w : writers) EXPECT_EQ(w.wait_for(0ms), std::future_status::timeout);
  disk.release();
  for (auto& w : writers) {
    auto r = w.get();
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "1");
  }
  std::lock_guard lock(disk.mutex);
  // The held flush covers the first commit; one or two more cover the
  // other seven. Holding the slot through each flush, it would be eight.
  EXPECT_LE(disk.flushes - before, 3) << "each run waited for its own flush";
}

// An answer waiting for its flush holds no server thread: with two in all,
// writers waiting on a held disk leave both free for other requests.
TEST(DeferredWrites, AnswersWaitingForTheirFlushHoldNoServerThread) {
  HeldDisk disk;
  auto pc = start(disk, {{"PICLOUD_SERVER_THREADS", "2"}, {"PICLOUD_SERVER_ACTIVE_WORKERS", "2"}});
  ASSERT_EQ(pc->post("/apps", pc->owner_key, R"({"slug":"w","hostnames":["w.localhost"]})").status, 201);
  save_script(*pc, "w", "set", R"(
void handle(request@ req, response@ res) { kv::collection("c").set(req.param("key"), json::parse(req.body)); })");
  save_script(*pc, "w", "get", R"(
void handle(request@ req, response@ res) { res.json(kv::collection("c").get(req.param("key"))); })");
  bind_route(*pc, "w", R"({"script":"set","path":"/set/{key}","methods":["POST"]})");
  bind_route(*pc, "w", R"({"script":"get","path":"/get/{key}","methods":["GET"]})");
  ASSERT_EQ(on(*pc, "w.localhost", "POST", "/set/warm", "0").status, 200);

  const std::uint64_t commits_before = pc->kernel().database()->group_commit()->commits();
  disk.hold();
  std::vector<std::future<HttpResult>> writers;
  for (int i = 0; i < 4; ++i)
    writers.push_back(std::async(std::launch::async, [&, i] {
      return on(*pc, "w.localhost", "POST", "/set/k" + std::to_string(i), std::to_string(i));
    }));
  ASSERT_TRUE(disk.wait_for_a_held_flush(5s));
  const auto* group = pc->kernel().database()->group_commit();
  for (auto end = std::chrono::steady_clock::now() + 20s;
       group->commits() < commits_before + 4 && std::chrono::steady_clock::now() < end;)
    std::this_thread::sleep_for(5ms);
  ASSERT_GE(group->commits(), commits_before + 4) << "not every writer committed";
  std::this_thread::sleep_for(50ms);  // and handed its answer to the server
  auto read = on(*pc, "w.localhost", "GET", "/get/warm");
  EXPECT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(read.body, "0");
  for (auto& w : writers) EXPECT_EQ(w.wait_for(0ms), std::future_status::timeout) << "answered before durable";
  disk.release();
  for (auto& w : writers) EXPECT_EQ(w.get().status, 200);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(on(*pc, "w.localhost", "GET", "/get/k" + std::to_string(i)).body, std::to_string(i));
}

// A server stopping while an answer waits for its flush beyond the grace
// period: the connection is let go of unanswered, and the flush ending
// later (stop() waits for it, settling the run's writes) touches nothing
// of it. Memory errors here would show under the sanitizers.
TEST(DeferredWrites, AServerStoppingWhileAnAnswerWaitsForItsFlushEndsCleanly) {
  HeldDisk disk;
  auto pc = start(disk, {{"PICLOUD_SERVER_SHUTDOWN_GRACE_MS", "300"}});
  ASSERT_EQ(pc->post("/apps", pc->owner_key, R"({"slug":"w","hostnames":["w.localhost"]})").status, 201);
  save_script(*pc, "w", "set", R"(
void handle(request@ req, response@ res) { kv::collection("c").set("k", json::parse(req.body)); })");
  bind_route(*pc, "w", R"({"script":"set","path":"/set","methods":["POST"]})");
  ASSERT_EQ(on(*pc, "w.localhost", "POST", "/set", "1").status, 200);
  disk.hold();
  auto set = std::async(std::launch::async, [&] { return on(*pc, "w.localhost", "POST", "/set", "2"); });
  ASSERT_TRUE(disk.wait_for_a_held_flush(5s));
  std::this_thread::sleep_for(100ms);
  // The disk comes back only after the grace period is over.
  std::thread later([&] {
    std::this_thread::sleep_for(800ms);
    disk.release();
  });
  pc->kernel().stop();
  later.join();
  auto answered = set.get();
  EXPECT_NE(answered.status, 200) << "answered though the server let go of the connection";
}

}  // namespace
