#include "kernel/db/deferred_acks.hpp"

#include <utility>

#include "kernel/db/group_commit.hpp"

namespace picloud::kernel::db {

namespace {
thread_local DeferredAcks* open_window_here = nullptr;
}

DeferredAcks::~DeferredAcks() {
  while (depth_ > 0) close_window();
  (void)settle();
}

void DeferredAcks::open_window() {
  if (depth_++ > 0) return;
  outer_ = std::exchange(open_window_here, this);
}

void DeferredAcks::close_window() {
  if (depth_ == 0 || --depth_ > 0) return;
  open_window_here = std::exchange(outer_, nullptr);
}

DeferredAcks* DeferredAcks::open_here() { return open_window_here; }

sdk::Result<void> DeferredAcks::defer(GroupCommit& group, std::uint64_t ticket,
                                      std::vector<std::function<void()>>&& after_commit) {
  if (group_ && group_ != &group)
    if (auto settled = settle(); !settled) return settled;
  group_ = &group;
  if (ticket > ticket_) ticket_ = ticket;
  for (auto& action : after_commit) after_commit_.push_back(std::move(action));
  // The flush starts now, not when the run settles: the commit is readable
  // already, and must not stay undurable for the rest of a long run.
  group.flush_soon(ticket);
  // A run writing in a loop waits every so often, as each write used to:
  // it cannot fill the log (or a list of after-commit work) at CPU speed
  // ahead of every other app's writers.
  if (++deferred_ >= kMaxDeferredCommits || after_commit_.size() >= kMaxPendingActions) return settle();
  return {};
}

void DeferredAcks::when_durable(std::function<void()> ready) {
  if (ticket_ == 0) return ready();  // nothing pending, or failed: settle() says which at once
  group_->when_durable(ticket_, std::move(ready));
}

sdk::Result<void> DeferredAcks::settle() {
  if (failed_) return *failed_;
  if (ticket_ == 0) return {};
  const std::uint64_t ticket = std::exchange(ticket_, 0);
  deferred_ = 0;
  // Moved out first: after-commit work may commit again, deferring anew
  // when a window is open (settle() from defer(), inside one).
  auto actions = std::exchange(after_commit_, {});
  if (auto durable = group_->wait_durable(ticket); !durable) {
    failed_ = durable.error();  // and for good: a caught error must not let the answer go out
    return durable;
  }
  for (auto& action : actions) action();
  return {};
}

}  // namespace picloud::kernel::db
