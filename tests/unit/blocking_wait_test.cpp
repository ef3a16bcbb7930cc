// Places lent while a thread sleeps (blocking_wait.hpp): the order of
// lending and taking back, a run's gate slot, and an HTTP worker's place in
// a real server over loopback.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include "kernel/blocking_wait.hpp"
#include "kernel/dispatch/gate.hpp"
#include "kernel/http/router.hpp"
#include "kernel/http/server.hpp"
#include "kernel/metrics.hpp"

using namespace picloud;
using namespace picloud::kernel;
using namespace std::chrono_literals;

namespace {

struct RecordingPlace final : LendablePlace {
  RecordingPlace(std::vector<std::string>& log, std::string name) : log(log), name(std::move(name)) {}
  bool lend() noexcept override {
    log.push_back((keep ? "keep " : "lend ") + name);
    return !keep;
  }
  void take_back() noexcept override { log.push_back("take back " + name); }
  std::vector<std::string>& log;
  std::string name;
  bool keep = false;
};

// Spins (briefly sleeping) until `done` or two seconds passed.
template <class F>
bool eventually(F done) {
  auto deadline = std::chrono::steady_clock::now() + 2s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

}  // namespace

TEST(BlockingWait, LendsEveryPlaceInnermostFirstOnceAndTakesThemBackInnermostFirst) {
  std::vector<std::string> log;
  { BlockingWait nothing_held; }
  EXPECT_TRUE(log.empty());
  RecordingPlace worker(log, "worker"), slot(log, "slot");
  {
    HeldPlace outer(worker);
    {
      HeldPlace inner(slot);
      {
        BlockingWait wait;
        BlockingWait inside;  // a wait within a wait lends nothing more
        EXPECT_EQ(log, (std::vector<std::string>{"lend slot", "lend worker"}));
      }
      EXPECT_EQ(log, (std::vector<std::string>{"lend slot", "lend worker", "take back slot", "take back worker"}));
    }
    // A kept place keeps the places outside it too.
    log.clear();
    slot.keep = true;
    {
      HeldPlace inner(slot);
      { BlockingWait wait; }
    }
    EXPECT_EQ(log, (std::vector<std::string>{"keep slot"}));
    log.clear();
    { BlockingWait wait; }
    EXPECT_EQ(log, (std::vector<std::string>{"lend worker", "take back worker"})) << "the slot is no longer held";
  }
  log.clear();
  { BlockingWait wait; }
  EXPECT_TRUE(log.empty());
  // Places are per thread.
  HeldPlace here(worker);
  std::thread([] { BlockingWait elsewhere; }).join();
  EXPECT_TRUE(log.empty());
}

TEST(BlockingWait, ASleepingRunLendsItsGateSlotToAnotherAppAndTakesItBack) {
  dispatch::ExecutionGate gate(dispatch::GateLimits{1, 8, 1, 8});
  std::mutex m;
  std::condition_variable cv;
  bool sleep = false, asleep = false, wake = false;
  std::atomic<int> running_when_awake{-1};
  auto run = std::async(std::launch::async, [&] {
    if (!gate.enter("app", 0ms)) return;
    dispatch::ExecutionGate::Slot slot(gate, "app", dispatch::ExecutionGate::Lending::allowed);
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return sleep; });
    lock.unlock();
    {
      BlockingWait sleeping;
      lock.lock();
      asleep = true;
      cv.notify_all();
      cv.wait(lock, [&] { return wake; });
      lock.unlock();
    }
    running_when_awake = gate.running();  // it goes on once it holds a slot
  });
  // Declared after `run`, so destroyed before it: however this test ends,
  // the run is woken and the slot given back, and the future's wait ends.
  std::atomic<bool> other_holds_slot{false};
  struct Release {
    std::function<void()> release;
    ~Release() { release(); }
  } release{[&] {
    {
      std::lock_guard lock(m);
      sleep = wake = true;
    }
    cv.notify_all();
    if (other_holds_slot.exchange(false)) gate.leave("other");
  }};
  ASSERT_TRUE(eventually([&] { return gate.running() == 1; }));
  // Another app's run waits for the only slot; then the first run sleeps.
  auto other = std::async(std::launch::async, [&] {
    bool entered = gate.enter("other", 5000ms);
    other_holds_slot = entered;
    return entered;
  });
  ASSERT_TRUE(eventually([&] { return gate.queued() == 1; }));
  {
    std::lock_guard lock(m);
    sleep = true;
  }
  cv.notify_all();
  ASSERT_EQ(other.wait_for(2s), std::future_status::ready) << "the sleeping run's slot was not lent";
  ASSERT_TRUE(other.get());
  EXPECT_EQ(gate.lent(), 1);
  EXPECT_EQ(gate.running("app"), 1) << "the sleeping run keeps its place in its app's share";
  {
    std::lock_guard lock(m);
    wake = true;
  }
  cv.notify_all();
  // Awake, the first run waits for the slot the other holds (up to a second).
  EXPECT_EQ(run.wait_for(100ms), std::future_status::timeout);
  EXPECT_EQ(running_when_awake, -1);
  if (other_holds_slot.exchange(false)) gate.leave("other");
  ASSERT_EQ(run.wait_for(2s), std::future_status::ready);
  EXPECT_EQ(running_when_awake, 1);
  EXPECT_EQ(gate.running(), 0);
  EXPECT_EQ(gate.lent(), 0);
}

// With nobody waiting for a slot, a sleeping run keeps it.
TEST(BlockingWait, ASleepingRunKeepsItsSlotWhenNoOtherAppWaits) {
  dispatch::ExecutionGate gate(dispatch::GateLimits{2, 8, 1, 8});
  ASSERT_TRUE(gate.enter("app", 0ms));
  {
    dispatch::ExecutionGate::Slot slot(gate, "app", dispatch::ExecutionGate::Lending::allowed);
    BlockingWait sleeping;
    EXPECT_EQ(gate.lent(), 0);
    EXPECT_EQ(gate.running(), 1);
  }
  EXPECT_EQ(gate.running(), 0);
}

namespace {

class AllowAll final : public http::Authorizer {
 public:
  std::optional<sdk::HttpResponse> check(sdk::HttpRequest&, const std::string&) override { return std::nullopt; }
  bool admin_host(std::string_view) const override { return true; }
};

std::string get(int port, const std::string& path, Poco::Timespan timeout) {
  Poco::Net::StreamSocket s(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
  s.setReceiveTimeout(timeout);
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  s.sendBytes(request.data(), static_cast<int>(request.size()));
  std::string response;
  char buf[4096];
  try {
    for (int n; (n = s.receiveBytes(buf, sizeof buf)) > 0;) response.append(buf, static_cast<std::size_t>(n));
  } catch (const Poco::TimeoutException&) {
    response += "<timed out>";
  }
  return response;
}

}  // namespace

// One active worker, and slow handlers never let another in (the housekeeper
// would after slow_handler_ms): only a handler's BlockingWait can get the
// second request served while the first one sleeps.
TEST(BlockingWait, AHandlerSleepingInOneLendsItsWorkerToOtherConnections) {
  MetricsRegistry metrics;
  http::Router router(metrics);
  std::mutex m;
  std::condition_variable cv;
  bool go = false;
  std::atomic<bool> asleep{false};
  auto route = [](std::string path, sdk::HttpHandler handler) {
    return sdk::HttpRoute{"GET", std::move(path), "public", std::move(handler)};
  };
  ASSERT_TRUE(router
                  .add(route("/sleep",
                             [&](const sdk::HttpRequest&) {
                               BlockingWait sleeping;
                               std::unique_lock lock(m);
                               asleep = true;
                               bool woken = cv.wait_for(lock, 10s, [&] { return go; });
                               return sdk::HttpResponse::text(200, woken ? "woken" : "never woken");
                             }),
                       "test")
                  .ok());
  ASSERT_TRUE(router
                  .add(route("/go",
                             [&](const sdk::HttpRequest&) {
                               {
                                 std::lock_guard lock(m);
                                 go = true;
                               }
                               cv.notify_all();
                               return sdk::HttpResponse::text(200, "went");
                             }),
                       "test")
                  .ok());
  AllowAll authorizer;
  http::ServerOptions options;
  options.port = 0;
  options.active_workers = 1;
  options.threads = 4;
  options.slow_handler_ms = 60000;
  http::Server server(router, authorizer, metrics, options);
  ASSERT_TRUE(server.start().ok());
  auto sleeper = std::async(std::launch::async, [&] { return get(server.port(), "/sleep", Poco::Timespan(15, 0)); });
  ASSERT_TRUE(eventually([&] { return asleep.load(); }));
  std::string went = get(server.port(), "/go", Poco::Timespan(5, 0));
  EXPECT_NE(went.find("went"), std::string::npos) << went;
  std::string slept = sleeper.get();
  EXPECT_NE(slept.find("woken"), std::string::npos) << slept;
  EXPECT_EQ(slept.find("never"), std::string::npos) << slept;
  server.stop(1000);
}
