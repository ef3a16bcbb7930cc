// Host names to addresses, within a deadline.
//
// getaddrinfo() cannot be given a timeout (the resolver's own is 5 s per
// try, several tries), so each lookup runs on a short-lived thread and the
// caller waits only as long as its request may: a lookup that outlives the
// wait finishes on its own and is dropped. At most `max_in_flight` lookups
// run at once, so a dead DNS server cannot pile up threads, and one app may
// hold at most `max_per_app` of them, so an app looking up names whose
// server never answers cannot stop the others' lookups.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <picloud/sdk/error.hpp>

#include "address_guard.hpp"

namespace picloud::http {

class Resolver {
 public:
  explicit Resolver(int max_in_flight = 256, int max_per_app = 16);

  // Every address of the name (IPv4 and IPv6, in the system's order, each
  // once), looked up for `app`. Errors: unavailable with "network: ..." (no
  // such host, lookup failed, too many lookups) or "timeout: ...".
  sdk::Result<std::vector<IpAddress>> resolve(const std::string& host, std::int64_t timeout_ms, std::string_view app);

  // Lookups in flight: the caller may have stopped waiting, the thread not.
  struct InFlight {
    std::mutex mutex;
    int total = 0;
    std::map<std::string, int, std::less<>> per_app;
  };

 private:
  const int max_in_flight_;
  const int max_per_app_;
  // Shared with the lookup threads, which may outlive this object.
  std::shared_ptr<InFlight> in_flight_ = std::make_shared<InFlight>();
};

}  // namespace picloud::http
