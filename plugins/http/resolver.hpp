// Host names to addresses, within a deadline.
//
// getaddrinfo() cannot be given a timeout (the resolver's own is 5 s per
// try, several tries), so each lookup runs on a short-lived thread and the
// caller waits only as long as its request may: a lookup that outlives the
// wait finishes on its own and is dropped. At most `max_in_flight` lookups
// run at once, so a dead DNS server cannot pile up threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <picloud/sdk/error.hpp>

#include "address_guard.hpp"

namespace picloud::http {

class Resolver {
 public:
  explicit Resolver(int max_in_flight = 64) : max_in_flight_(max_in_flight) {}

  // Every address of the name (IPv4 and IPv6, in the system's order, each
  // once). Errors: unavailable with "network: ..." (no such host, lookup
  // failed) or "timeout: ...".
  sdk::Result<std::vector<IpAddress>> resolve(const std::string& host, std::int64_t timeout_ms);

 private:
  const int max_in_flight_;
  std::atomic<int> in_flight_{0};
};

}  // namespace picloud::http
