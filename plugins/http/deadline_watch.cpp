#include "deadline_watch.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

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
  int fd;
  {
    std::lock_guard lock(watch_->mutex_);
    fired_after_release_ = at_->second.fired;
    fd = at_->second.fd;
    watch_->entries_.erase(at_);
  }
  watch_ = nullptr;
  if (fd >= 0) ::close(fd);
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
  int duplicate = fd >= 0 ? ::fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
  if (duplicate < 0) return Ticket();  // not armed
  try {
    std::lock_guard lock(mutex_);
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    bool earliest = entries_.empty() || deadline_ms < entries_.begin()->first;
    auto at = entries_.emplace(deadline_ms, Entry{duplicate});
    if (earliest) changed_.notify_all();
    return Ticket(this, at);
  } catch (...) {
    ::close(duplicate);
    return Ticket();
  }
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
        ::shutdown(entry.fd, SHUT_RDWR);  // the socket, through our duplicate
      }
    }
    if (next == INT64_MAX)
      changed_.wait(lock);
    else
      changed_.wait_for(lock, std::chrono::milliseconds(next - now));
  }
}

}  // namespace picloud::http
