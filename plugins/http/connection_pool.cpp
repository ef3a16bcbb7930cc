#include "connection_pool.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <picloud/sdk/script.hpp>

namespace picloud::http {

int Connection::fd() const { return session ? static_cast<int>(session->socket().impl()->sockfd()) : -1; }

void Connection::abandon() noexcept {
  // A millisecond for whatever closing still sends or reads (a shutdown(2)
  // instead would make that send raise SIGPIPE in a process that does not
  // ignore it).
  if (int descriptor = fd(); descriptor >= 0) {
    timeval brief{0, 1000};
    ::setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &brief, sizeof brief);
    ::setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &brief, sizeof brief);
  }
}

bool ConnectionPool::usable(const Connection& c, std::int64_t now) const {
  if (now - c.idle_since_ms > limits_.idle_timeout_ms || c.fd() < 0) return false;
  // An idle connection has nothing to read but the server's FIN (or an
  // error): readable means it is gone.
  pollfd p{c.fd(), POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

std::unique_ptr<Connection> ConnectionPool::take(const std::string& origin) {
  if (!limits_.enabled) return nullptr;
  std::vector<std::unique_ptr<Connection>> stale;  // closed outside the lock
  std::unique_ptr<Connection> found;
  {
    std::lock_guard lock(mutex_);
    auto it = idle_.find(origin);
    if (it == idle_.end()) return nullptr;
    std::int64_t now = sdk::monotonic_ms();
    auto& list = it->second;
    while (!list.empty() && !found) {
      auto c = std::move(list.back());
      list.pop_back();
      --idle_count_;
      if (usable(*c, now))
        found = std::move(c);
      else
        stale.push_back(std::move(c));
    }
    if (list.empty()) idle_.erase(it);
  }
  return found;
}

void ConnectionPool::give_back(std::unique_ptr<Connection> connection) {
  if (!limits_.enabled) return;
  connection->idle_since_ms = sdk::monotonic_ms();
  std::unique_ptr<Connection> dropped;
  std::lock_guard lock(mutex_);
  auto& list = idle_[connection->origin];
  if (static_cast<int>(list.size()) >= limits_.max_idle_per_origin) {
    dropped = std::move(list.front());  // the longest idle of the origin
    list.erase(list.begin());
    --idle_count_;
  }
  if (idle_count_ >= limits_.max_idle) {
    if (list.empty()) idle_.erase(connection->origin);
    return;  // full: this one closes
  }
  list.push_back(std::move(connection));
  ++idle_count_;
}

void ConnectionPool::sweep() {
  std::vector<std::unique_ptr<Connection>> stale;
  {
    std::lock_guard lock(mutex_);
    std::int64_t now = sdk::monotonic_ms();
    for (auto it = idle_.begin(); it != idle_.end();) {
      auto& list = it->second;
      for (auto c = list.begin(); c != list.end();) {
        if (usable(**c, now)) {
          ++c;
        } else {
          stale.push_back(std::move(*c));
          c = list.erase(c);
          --idle_count_;
        }
      }
      it = list.empty() ? idle_.erase(it) : std::next(it);
    }
  }
}

int ConnectionPool::idle_count() const {
  std::lock_guard lock(mutex_);
  return idle_count_;
}

}  // namespace picloud::http
