// Keep-alive connections, kept per origin between requests.
//
// A connection enters the pool only after a response was read to its end on
// a connection the server keeps open, and it was made to an address the
// guard checked: a pooled connection never needs a new lookup, so nothing
// can swap its address. It leaves the pool when it is taken, when it was
// idle for longer than `idle_timeout_ms`, or when the server closed it (a
// readable idle socket has nothing but its end to say).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "client_session.hpp"

namespace picloud::http {

struct Connection {
  std::string origin;  // "https://host:port"
  std::unique_ptr<ClientSession> session;
  std::int64_t idle_since_ms = 0;

  int fd() const;
  // Makes closing it immediate: a TLS close_notify that the peer's full
  // window would block is dropped rather than waited for.
  void abandon() noexcept;
  ~Connection() { abandon(); }
};

struct PoolLimits {
  bool enabled = true;
  int max_idle_per_origin = 8;
  int max_idle = 64;
  std::int64_t idle_timeout_ms = 15000;
};

class ConnectionPool {
 public:
  explicit ConnectionPool(PoolLimits limits) : limits_(limits) {}

  // The most recently used live connection to the origin, or null.
  std::unique_ptr<Connection> take(const std::string& origin);
  // Keeps a connection whose last response was read to its end.
  void give_back(std::unique_ptr<Connection> connection);
  // Closes idle connections that timed out or that their server closed.
  void sweep();

  bool enabled() const { return limits_.enabled; }
  int idle_count() const;

 private:
  bool usable(const Connection& c, std::int64_t now) const;

  const PoolLimits limits_;
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;
  int idle_count_ = 0;
};

}  // namespace picloud::http
