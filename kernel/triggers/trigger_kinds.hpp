// The trigger kinds plugins declared (sdk/triggers.hpp), by name. Filled in
// while plugins configure (one thread), read-only afterwards.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/triggers.hpp"

namespace picloud::kernel::triggers {

struct RegisteredKind {
  sdk::TriggerKind kind;
  std::string owner;  // the plugin, or "kernel"
};

class TriggerKindRegistry {
 public:
  // Checks the declaration (name syntax, callbacks present, ops given) and
  // that the name is free; "cron" and "dead_letter" are the kernel's.
  sdk::Result<void> declare(sdk::TriggerKind kind, const std::string& owner);
  const RegisteredKind* find(std::string_view name) const;
  std::vector<std::string> names() const;

 private:
  std::map<std::string, RegisteredKind, std::less<>> kinds_;
};

}  // namespace picloud::kernel::triggers
