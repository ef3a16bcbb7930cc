// What happens outside the kernel's own tables when an app is deleted: each
// plugin that keeps app data registered a hook (PluginContext::on_app_deleted)
// that deletes its data of the app inside the deletion's transaction.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "picloud/sdk/database.hpp"
#include "picloud/sdk/error.hpp"

namespace picloud::kernel::admin {

class AppLifecycle {
 public:
  using DeletedHook = std::function<sdk::Result<void>(sdk::Transaction& tx, std::string_view app_id)>;

  // Registered while plugins configure, before any request is served.
  void on_deleted(std::string owner, DeletedHook hook) { hooks_.emplace_back(std::move(owner), std::move(hook)); }

  // Runs every hook in `tx`, in registration (dependency) order; the first
  // error stops and is returned naming its owner, so the caller rolls back.
  sdk::Result<void> app_deleted(sdk::Transaction& tx, std::string_view app_id) const {
    for (const auto& [owner, hook] : hooks_)
      if (auto r = hook(tx, app_id); !r) {
        sdk::Error e = r.error();
        e.message = "plugin '" + owner + "' could not delete the app's data: " + e.message;
        return e;
      }
    return {};
  }

 private:
  std::vector<std::pair<std::string, DeletedHook>> hooks_;
};

}  // namespace picloud::kernel::admin
