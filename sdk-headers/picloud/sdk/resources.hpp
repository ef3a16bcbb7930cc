// Declared resources: what a plugin keeps per app that belongs in an app's
// folder for config as code (docs/deploy.md) — document indexes, realtime
// topics, the secrets an app needs. The kernel's deploy compares the
// folder's items with list() by key and calls put()/remove() inside the
// deploy's transaction; export writes what list() gives.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/database.hpp"
#include "picloud/sdk/error.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::sdk {

// One item: its key (unique in the app and kind) and its value as check()
// completes it, so two equal items are equal as JSON.
struct ResourceItem {
  std::string key;
  Value item;
};

struct ResourceKind {
  std::string name;  // [a-z][a-z0-9_]{0,31}: the key under the plugin's table in picloud.toml
  std::string description;
  // The folder names items that must exist, set by other means (a secret's
  // value never is in a folder): a deploy reports the missing ones and
  // never writes. put and remove stay empty.
  bool required_only = false;
  std::function<Result<std::vector<ResourceItem>>(Transaction& tx, std::string_view app_id)> list;
  // No I/O; invalid_argument names what is wrong.
  std::function<Result<ResourceItem>(const Value& item)> check;
  std::function<Result<void>(Transaction& tx, std::string_view app_id, std::string_view key, const Value& item)> put;
  std::function<Result<void>(Transaction& tx, std::string_view app_id, std::string_view key)> remove;
};

}  // namespace picloud::sdk
