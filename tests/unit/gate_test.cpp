// The execution gate's shares: one app can neither take every slot nor fill
// the queue, and a slot that frees reaches a waiter that may use it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "kernel/dispatch/gate.hpp"

using namespace picloud::kernel::dispatch;
using namespace std::chrono_literals;

namespace {

// Starts `app` waiting for a slot on another thread; the future says whether it got one.
std::future<bool> wait_for_slot(ExecutionGate& gate, const std::string& app, std::chrono::milliseconds wait) {
  // Counted before the thread starts: read after, it could already include
  // this waiter, and the loop would then wait for the next change instead
  // (an earlier waiter timing out), leaving one waiter too few queued.
  int before = gate.queued();
  auto f = std::async(std::launch::async, [&gate, app, wait] { return gate.enter(app, wait); });
  auto deadline = std::chrono::steady_clock::now() + 2s;
  while (gate.queued() == before && std::chrono::steady_clock::now() < deadline &&
         f.wait_for(0ms) != std::future_status::ready)
    std::this_thread::sleep_for(1ms);
  return f;
}

}  // namespace

TEST(Gate, DefaultSharesAreThreeQuartersAndAtLeastOne) {
  auto l = GateLimits{8, 256, 0, 0}.resolved();
  EXPECT_EQ(l.max_running_per_app, 6);
  EXPECT_EQ(l.max_queued_per_app, 192);
  EXPECT_EQ((GateLimits{4, 256, 0, 0}.resolved().max_running_per_app), 3);
  EXPECT_EQ((GateLimits{1, 1, 0, 0}.resolved().max_running_per_app), 1);
  EXPECT_EQ((GateLimits{1, 1, 0, 0}.resolved().max_queued_per_app), 1);
  EXPECT_EQ((GateLimits{4, 10, 9, 99}.resolved().max_running_per_app), 4) << "a share is never more than the whole";
  EXPECT_EQ((GateLimits{4, 10, 9, 99}.resolved().max_queued_per_app), 10);
}

TEST(Gate, OneAppCannotTakeTheSlotsItsShareLeavesFree) {
  ExecutionGate gate(GateLimits{4, 16, 3, 8});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(gate.enter("hostile", 0ms));
  EXPECT_FALSE(gate.enter("hostile", 20ms)) << "the fourth slot is kept for other apps";
  EXPECT_TRUE(gate.enter("other", 0ms));
  EXPECT_EQ(gate.running("hostile"), 3);
  EXPECT_EQ(gate.running("other"), 1);
  EXPECT_EQ(gate.rejected("hostile"), 1u);
  EXPECT_EQ(gate.rejected("other"), 0u);
  EXPECT_EQ(gate.rejected(), 1u);
  auto usage = gate.usage();
  ASSERT_EQ(usage.size(), 2u);
  EXPECT_EQ(usage[0].app, "hostile");
  EXPECT_EQ(usage[0].running, 3);
  for (int i = 0; i < 3; ++i) gate.leave("hostile");
  gate.leave("other");
  EXPECT_EQ(gate.running(), 0);
}

TEST(Gate, AWaiterHeldByItsShareDoesNotHoldOthersBack) {
  ExecutionGate gate(GateLimits{4, 16, 3, 8});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(gate.enter("hostile", 0ms));
  auto waiting = wait_for_slot(gate, "hostile", 2s);
  ASSERT_EQ(gate.queued(), 1);
  // A slot is free and the only waiter may not take it: a newcomer of
  // another app gets it without waiting.
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(gate.enter("other", 0ms));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 50ms);
  gate.leave("hostile");  // now the waiter fits its share again
  EXPECT_TRUE(waiting.get());
  EXPECT_EQ(gate.running("hostile"), 3);
  for (int i = 0; i < 3; ++i) gate.leave("hostile");
  gate.leave("other");
}

TEST(Gate, AFreedSlotReachesAWaiterThatMayUseIt) {
  // hostile holds its share, other the last slot; a hostile waiter queues
  // first, then an other waiter. When other's slot frees, the hostile
  // waiter may not take it (its share), so the other waiter must get it.
  ExecutionGate gate(GateLimits{4, 16, 3, 8});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(gate.enter("hostile", 0ms));
  ASSERT_TRUE(gate.enter("other", 0ms));
  auto hostile_waiter = wait_for_slot(gate, "hostile", 1500ms);
  auto other_waiter = wait_for_slot(gate, "other", 1500ms);
  ASSERT_EQ(gate.queued(), 2);
  gate.leave("other");
  ASSERT_EQ(other_waiter.wait_for(500ms), std::future_status::ready) << "the freed slot was lost on a waiter at its share";
  EXPECT_TRUE(other_waiter.get());
  EXPECT_FALSE(hostile_waiter.get()) << "still at its share: it times out";
  for (int i = 0; i < 3; ++i) gate.leave("hostile");
  gate.leave("other");
}

TEST(Gate, SaysWhenTheLastRunLeftAndNotBefore) {
  ExecutionGate gate({.max_running = 4, .max_queued = 8});
  int idle = 0;
  // Called outside the gate's lock: it may ask the gate (the kernel's
  // group commit does); under the lock this would deadlock.
  gate.when_idle([&] {
    EXPECT_EQ(gate.running(), 0);
    ++idle;
  });
  ASSERT_TRUE(gate.enter("a", 0ms));
  ASSERT_TRUE(gate.enter("b", 0ms));
  gate.leave("a");
  EXPECT_EQ(idle, 0) << "b still runs";
  gate.leave("b");
  EXPECT_EQ(idle, 1);
  ASSERT_TRUE(gate.enter("a", 0ms));
  gate.leave("a");
  EXPECT_EQ(idle, 2);

  // A run waiting for a slot starts in the one that frees: not idle.
  ExecutionGate one({.max_running = 1, .max_queued = 8});
  int one_idle = 0;
  one.when_idle([&] { ++one_idle; });
  ASSERT_TRUE(one.enter("a", 0ms));
  auto waiter = wait_for_slot(one, "b", 2000ms);
  one.leave("a");
  ASSERT_TRUE(waiter.get());
  EXPECT_EQ(one_idle, 0) << "idle while a run waited for the slot";
  one.leave("b");
  EXPECT_EQ(one_idle, 1);
}

TEST(Gate, OneAppCannotFillTheQueue) {
  ExecutionGate gate(GateLimits{1, 4, 1, 2});
  ASSERT_TRUE(gate.enter("hostile", 0ms));
  auto w1 = wait_for_slot(gate, "hostile", 4s);
  auto w2 = wait_for_slot(gate, "hostile", 4s);
  ASSERT_EQ(gate.queued(), 2);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(gate.enter("hostile", 1s)) << "its part of the queue is full";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 100ms) << "refused at once, not after waiting";
  auto w3 = wait_for_slot(gate, "other", 4s);
  EXPECT_EQ(gate.queued(), 3) << "another app still finds room in the queue";
  gate.leave("hostile");
  int got = 0;
  for (auto* f : {&w1, &w2, &w3}) {
    if (f->get()) {
      ++got;
      // Whoever got the slot gives it back so the next one can run.
      gate.leave(f == &w3 ? "other" : "hostile");
    }
  }
  EXPECT_GE(got, 1);
  EXPECT_EQ(gate.running(), 0);
}

TEST(Gate, BackgroundRunsWaitForTheirShare) {
  ExecutionGate gate(GateLimits{2, 16, 1, 8});
  gate.enter_blocking("busy");
  std::atomic<bool> in{false};
  std::thread t([&] {
    gate.enter_blocking("busy");
    in = true;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(in.load()) << "a second background run of the same app waits for its share";
  EXPECT_TRUE(gate.enter("other", 0ms));
  gate.leave("busy");
  t.join();
  EXPECT_TRUE(in.load());
  gate.leave("busy");
  gate.leave("other");
  EXPECT_EQ(gate.running(), 0);
}

namespace {
template <class F>
void until(F done) {
  for (auto end = std::chrono::steady_clock::now() + 5s; !done() && std::chrono::steady_clock::now() < end;)
    std::this_thread::sleep_for(1ms);
}
}  // namespace

// Sleeping runs lend their slots (blocking_wait.hpp): only to another app's
// run that waits for one, never beyond the sleeper's own app's share, and at
// most max_running at once. A run taking its slot back waits a bounded time,
// then goes on over the limit rather than forever.
TEST(Gate, ALentSlotGoesToAnotherAppsWaitingRunWithinBounds) {
  ExecutionGate gate(GateLimits{2, 8, 1, 8});
  ASSERT_TRUE(gate.enter("a", 0ms));
  EXPECT_FALSE(gate.lend("a")) << "nobody waits for a slot";
  ASSERT_TRUE(gate.enter("x", 0ms));
  auto b = std::async(std::launch::async, [&] { return gate.enter("b", 10s); });
  until([&] { return gate.queued() == 1; });
  ASSERT_EQ(gate.queued(), 1);
  EXPECT_TRUE(gate.lend("a"));
  ASSERT_TRUE(b.get());
  EXPECT_EQ(gate.running(), 2);
  EXPECT_EQ(gate.lent(), 1);
  EXPECT_EQ(gate.running("a"), 1) << "a sleeping run still holds its app's share";
  EXPECT_FALSE(gate.enter("a", 50ms)) << "app a has its whole share in progress";

  auto c = std::async(std::launch::async, [&] { return gate.enter("c", 10s); });
  until([&] { return gate.queued() == 1; });
  EXPECT_TRUE(gate.lend("x"));
  ASSERT_TRUE(c.get());
  EXPECT_EQ(gate.lent(), 2);
  auto d = std::async(std::launch::async, [&] { return gate.enter("d", 10s); });
  until([&] { return gate.queued() == 1; });
  EXPECT_FALSE(gate.lend("b")) << "no more than max_running slots lent at once";

  auto start = std::chrono::steady_clock::now();
  gate.take_back(100ms);  // every slot held: waits, then goes on over the limit
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 90ms);
  EXPECT_LT(waited, 2s);
  EXPECT_EQ(gate.running(), 3);
  EXPECT_EQ(gate.lent(), 1);
  gate.leave("b");
  gate.leave("c");
  ASSERT_TRUE(d.get()) << "d starts once the gate is under its limit";
  gate.leave("d");
  start = std::chrono::steady_clock::now();
  gate.take_back(5s);  // a slot is free: no wait
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(gate.running(), 2);
  EXPECT_EQ(gate.lent(), 0);
  gate.leave("a");
  gate.leave("x");
  EXPECT_EQ(gate.running(), 0);
}

// A freed slot goes to a run taking its lent slot back before a new run.
TEST(Gate, RunsTakingTheirSlotBackGoAheadOfNewRuns) {
  ExecutionGate gate(GateLimits{1, 8, 1, 8});
  ASSERT_TRUE(gate.enter("a", 0ms));
  auto b = std::async(std::launch::async, [&] { return gate.enter("b", 10s); });
  until([&] { return gate.queued() == 1; });
  ASSERT_TRUE(gate.lend("a"));
  ASSERT_TRUE(b.get());  // holds the lent slot
  auto back = std::async(std::launch::async, [&] { gate.take_back(10s); });
  until([&] { return gate.returning() == 1; });
  ASSERT_EQ(gate.returning(), 1);
  auto newcomer = std::async(std::launch::async, [&] { return gate.enter("c", 10s); });
  until([&] { return gate.queued() == 1; });
  ASSERT_EQ(gate.queued(), 1);
  gate.leave("b");
  ASSERT_EQ(back.wait_for(5s), std::future_status::ready) << "the returning run did not get the slot";
  EXPECT_EQ(newcomer.wait_for(100ms), std::future_status::timeout) << "the new run went ahead";
  gate.leave("a");
  EXPECT_TRUE(newcomer.get()) << "the slot freed after the take-back did not reach the waiting run";
  gate.leave("c");
  EXPECT_EQ(gate.running(), 0);
}
