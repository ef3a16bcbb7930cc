#include "kernel/triggers/trigger_kinds.hpp"

#include <algorithm>

namespace picloud::kernel::triggers {
namespace {

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 32 || !(name[0] >= 'a' && name[0] <= 'z')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

}  // namespace

sdk::Result<void> TriggerKindRegistry::declare(sdk::TriggerKind kind, const std::string& owner) {
  auto bad = [&](const std::string& why) {
    return sdk::make_error(sdk::ErrorKind::invalid_argument, "trigger kind '" + kind.name + "': " + why);
  };
  if (!valid_name(kind.name)) return bad("the name must be 1-32 of a-z, 0-9 and _, starting with a letter");
  if (!kind.validate_filter || !kind.matches) return bad("a filter validator and a matcher are required");
  if (kind.ops.empty()) return bad("at least one op is required");
  for (const auto& op : kind.ops)
    if (!valid_name(op)) return bad("op '" + op + "' must be 1-32 of a-z, 0-9 and _, starting with a letter");
  if ((kind.name == "cron" || kind.name == "dead_letter") && owner != "kernel")
    return sdk::make_error(sdk::ErrorKind::conflict, "trigger kind '" + kind.name + "' is the kernel's");
  if (auto it = kinds_.find(kind.name); it != kinds_.end())
    return sdk::make_error(sdk::ErrorKind::conflict,
                           "trigger kind '" + kind.name + "' is already declared by " + it->second.owner);
  std::string name = kind.name;
  kinds_.emplace(std::move(name), RegisteredKind{std::move(kind), owner});
  return {};
}

const RegisteredKind* TriggerKindRegistry::find(std::string_view name) const {
  auto it = kinds_.find(name);
  return it == kinds_.end() ? nullptr : &it->second;
}

std::vector<std::string> TriggerKindRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, kind] : kinds_) out.push_back(name);
  return out;
}

}  // namespace picloud::kernel::triggers
