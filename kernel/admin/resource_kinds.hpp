// The resource kinds plugins declared for config as code (sdk/resources.hpp):
// what deploy and export handle besides the kernel's own apps, scripts,
// routes and triggers. Filled while plugins configure, read-only after.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/resources.hpp"

namespace picloud::kernel::admin {

class ResourceKindRegistry {
 public:
  struct Entry {
    std::string plugin;
    sdk::ResourceKind kind;
  };

  sdk::Result<void> declare(const std::string& plugin, sdk::ResourceKind kind) {
    bool ok = !kind.name.empty() && kind.name.size() <= 32 && kind.name[0] >= 'a' && kind.name[0] <= 'z';
    for (char c : kind.name) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
    if (!ok)
      return sdk::make_error(sdk::ErrorKind::invalid_argument,
                             "plugin '" + plugin + "': resource kind '" + kind.name + "' is not [a-z][a-z0-9_]{0,31}");
    if (!kind.list || !kind.check || (!kind.required_only && (!kind.put || !kind.remove)))
      return sdk::make_error(sdk::ErrorKind::invalid_argument, "plugin '" + plugin + "': resource kind '" + kind.name +
                                                                   "' needs list, check and (unless required) put and remove");
    if (find(plugin, kind.name))
      return sdk::make_error(sdk::ErrorKind::conflict,
                             "plugin '" + plugin + "' declared the resource kind '" + kind.name + "' twice");
    entries_.push_back({plugin, std::move(kind)});
    return {};
  }

  const Entry* find(std::string_view plugin, std::string_view kind) const {
    for (const auto& e : entries_)
      if (e.plugin == plugin && e.kind.name == kind) return &e;
    return nullptr;
  }

  // In declaration order (plugins configure in dependency order).
  const std::vector<Entry>& all() const { return entries_; }

 private:
  std::vector<Entry> entries_;
};

}  // namespace picloud::kernel::admin
