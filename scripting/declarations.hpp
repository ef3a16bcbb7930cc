// The script declarations plugins make (sdk::ScriptApi), collected before the
// engine is built. Each plugin gets its own view, so every namespace and type
// is recorded with the plugin that owns it.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/script.hpp"

namespace picloud::scripting {

struct OwnedFunction {
  std::string owner;
  sdk::ScriptFunctionDecl decl;
};

struct OwnedHandleType {
  std::string owner;
  sdk::ScriptHandleTypeDecl decl;
};

class Declarations {
 public:
  Declarations();
  ~Declarations();

  // The API handed to plugin `owner` (stable address, lives as long as this).
  sdk::ScriptApi& api_for(const std::string& owner);
  // After every plugin is configured: later declarations are refused.
  void seal();

  const std::vector<OwnedFunction>& functions() const { return functions_; }
  const std::vector<OwnedHandleType>& handle_types() const { return handle_types_; }
  // What plugin `owner` declared without a doc line ("ns::name",
  // "ns::Type::method"): the kernel warns, since the script API reference
  // and compile errors show these lines.
  std::vector<std::string> undocumented(const std::string& owner) const;
  // Which plugin owns a namespace, or empty.
  std::string namespace_owner(std::string_view ns) const;

  sdk::Result<void> add_function(const std::string& owner, sdk::ScriptFunctionDecl decl);
  sdk::Result<void> add_handle_type(const std::string& owner, sdk::ScriptHandleTypeDecl decl);

 private:
  class PluginApi;
  sdk::Result<void> claim_namespace(const std::string& owner, const std::string& ns);
  bool name_taken(const std::string& ns, const std::string& name) const;

  mutable std::mutex mutex_;
  bool sealed_ = false;
  std::map<std::string, std::string, std::less<>> namespace_owners_;
  std::vector<OwnedFunction> functions_;
  std::vector<OwnedHandleType> handle_types_;
  std::map<std::string, std::unique_ptr<PluginApi>> apis_;
};

// A declaration's parameter list checked on its own: names, handle types
// named, defaults of the right type, optional parameters last.
sdk::Result<void> check_params(const std::string& where, const std::vector<sdk::ScriptParam>& params);
bool is_identifier(std::string_view name);

}  // namespace picloud::scripting
