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
  if (after_commit_.size() >= kMaxPendingActions) return settle();
  return {};
}

sdk::Result<void> DeferredAcks::settle() {
  if (ticket_ == 0) return {};
  const std::uint64_t ticket = std::exchange(ticket_, 0);
  // Moved out first: after-commit work may commit again, deferring anew
  // when a window is open (settle() from defer(), inside one).
  auto actions = std::exchange(after_commit_, {});
  if (auto durable = group_->wait_durable(ticket); !durable) return durable;
  for (auto& action : actions) action();
  return {};
}

}  // namespace picloud::kernel::db
