#include "deadline_watch.hpp"

#include <sys/socket.h>

#include <chrono>

#include <picloud/sdk/script.hpp>

namespace picloud::http {

bool DeadlineWatch::Ticket::fired() const {
  if (!watch_) return fired_after_release_;
  std::lock_guard lock(watch_->mutex_);
  return at_->second.fired;
}

void DeadlineWatch::Ticket::release() {
  if (!watch_) return;
  std::lock_guard lock(watch_->mutex_);
  fired_after_release_ = at_->second.fired;
  watch_->entries_.erase(at_);
  watch_ = nullptr;
}

DeadlineWatch::~DeadlineWatch() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

DeadlineWatch::Ticket DeadlineWatch::watch(int fd, std::int64_t deadline_ms) {
  std::lock_guard lock(mutex_);
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  bool earliest = entries_.empty() || deadline_ms < entries_.begin()->first;
  auto at = entries_.emplace(deadline_ms, Entry{fd});
  if (earliest) changed_.notify_all();
  return Ticket(this, at);
}

void DeadlineWatch::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    std::int64_t now = sdk::monotonic_ms();
    std::int64_t next = INT64_MAX;
    for (auto& [deadline, entry] : entries_) {
      if (deadline > now) {
        next = deadline;
        break;
      }
      if (!entry.fired) {
        entry.fired = true;
        ::shutdown(entry.fd, SHUT_RDWR);  // under the lock: the ticket still owns the descriptor
      }
    }
    if (next == INT64_MAX)
      changed_.wait(lock);
    else
      changed_.wait_for(lock, std::chrono::milliseconds(next - now));
  }
}

}  // namespace picloud::http
