// A connection of its own that waits for PostgreSQL notifications
// (LISTEN/NOTIFY) on one channel: how the nodes of a cluster tell each other
// what happened. Not pooled: it sits in LISTEN for the process's life.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/db/url.hpp"
#include "picloud/sdk/error.hpp"

namespace picloud::kernel::db {

class NotificationListener {
 public:
  virtual ~NotificationListener() = default;
  // Waits up to `timeout_ms` for notifications and appends their payloads
  // in the order they came. An error: the connection broke (open another).
  virtual sdk::Result<void> wait(int timeout_ms, std::vector<std::string>& payloads) = 0;
};

// Connects (PostgreSQL only) and runs LISTEN on `channel`, a plain
// identifier.
sdk::Result<std::unique_ptr<NotificationListener>> open_notification_listener(const DatabaseUrl& url,
                                                                              std::string_view channel);

}  // namespace picloud::kernel::db
