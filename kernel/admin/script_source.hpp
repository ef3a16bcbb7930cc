// Scripts as the engine reads them: from the kernel's database, one app at a
// time. An overlay stands in for one module's unsaved code, so a script can
// be validated against the code that is about to be saved.
#pragma once

#include <optional>
#include <string>

#include "picloud/sdk/database.hpp"
#include "scripting/engine.hpp"

namespace picloud::kernel::admin {

class DatabaseScriptSource final : public scripting::ScriptSource {
 public:
  explicit DatabaseScriptSource(sdk::Database& db) : db_(db) {}
  // While set, module `name` reads as `code` (null `code`: as missing).
  void overlay(std::string name, std::optional<std::string> code) {
    overlay_name_ = std::move(name);
    overlay_code_ = std::move(code);
  }

  sdk::Result<std::string> script_code(const scripting::ScriptRef& ref) override;
  sdk::Result<scripting::ModuleCode> module_code(std::string_view app_id, std::string_view name) override;

 private:
  sdk::Database& db_;
  std::string overlay_name_;
  std::optional<std::string> overlay_code_;
};

}  // namespace picloud::kernel::admin
