// Messages between the nodes of a cluster: a plugin tells every node (its
// own included) that something happened, after the change that caused it
// commits. On PostgreSQL this is LISTEN/NOTIFY; on SQLite (one node) it
// stays in the process. picloud.h (notify, listen) has the contract.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "picloud/sdk/database.hpp"
#include "picloud/sdk/error.hpp"

namespace picloud::sdk {

class Cluster {
 public:
  // The most a payload may hold (PostgreSQL's NOTIFY takes under 8000 bytes).
  static constexpr std::size_t kMaxPayload = 7000;

  virtual ~Cluster() = default;
  // `payload` to every listener of this plugin's `channel` ([a-z0-9_]{1,32})
  // on every node once `tx` commits (nullptr: now). Best effort: a node that
  // is not connected at that moment misses it.
  virtual Result<void> notify(Transaction* tx, std::string_view channel, std::string_view payload) = 0;
  // configure() only. `fn` runs on a kernel thread, one message at a time:
  // keep it quick.
  virtual Result<void> listen(std::string channel, std::function<void(std::string_view payload)> fn) = 0;
};

}  // namespace picloud::sdk
