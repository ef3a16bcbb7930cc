// The plugin interface, the context the kernel hands to it, and the exported
// descriptor that the loader finds.
//
// A plugin is a shared object exporting exactly one symbol,
// `picloud_plugin_descriptor`, declared with PICLOUD_PLUGIN(...). Its lifecycle:
//   configure(ctx)  read config, register routes, provide services
//   start(ctx)      begin work (background tasks, connections)
//   stop()          called once at shutdown, in reverse dependency order
// Errors are returned as values; an exception escaping a call is caught by
// the kernel and treated as an internal error of that plugin.
#pragma once

#include <string_view>

#include "picloud/sdk/abi.hpp"
#include "picloud/sdk/config.hpp"
#include "picloud/sdk/database.hpp"
#include "picloud/sdk/error.hpp"
#include "picloud/sdk/http.hpp"
#include "picloud/sdk/log.hpp"
#include "picloud/sdk/metrics.hpp"
#include "picloud/sdk/script.hpp"
#include "picloud/sdk/services.hpp"
#include "picloud/sdk/tasks.hpp"

namespace picloud::sdk {

// TriggerKinds (ABI 1.3) and EventSink (ABI 1.4) are defined in triggers.hpp,
// AccessControl (ABI 1.5) in access.hpp.
class TriggerKinds;
class EventSink;
class AccessControl;

class PluginContext {
 public:
  virtual ~PluginContext() = default;
  virtual std::string_view plugin_name() const = 0;
  virtual ConfigSection& config() = 0;
  virtual Logger& logger() = 0;
  virtual Database& database() = 0;
  virtual ServiceRegistry& services() = 0;
  virtual BackgroundTasks& tasks() = 0;
  virtual Metrics& metrics() = 0;
  // Registers a route; a path already taken (by the kernel or another plugin)
  // is a conflict naming its owner. Only during configure().
  virtual Result<void> add_route(HttpRoute route) = 0;

  // Declares script functions and handle types (see script.hpp). Non-null
  // from ABI 1.1; declarations are accepted only during configure().
  virtual ScriptApi* script_api() = 0;
  // Declares trigger kinds (triggers.hpp). Non-null from ABI 1.3; only
  // during configure().
  virtual TriggerKinds* trigger_kinds() = 0;
  // Emits events of the kinds this plugin declared (triggers.hpp). Non-null
  // from ABI 1.4.
  virtual EventSink* events() = 0;

  // ABI 1.2. Declares a capability for this plugin's routes; the name must
  // start with "<plugin>.". Only during configure(), before the routes that
  // use it.
  virtual Result<void> add_capability(Capability capability) = 0;

  // ABI 1.5. Checks a script run's principal against a capability
  // (access.hpp). Non-null; usable from start().
  virtual AccessControl* access() = 0;
};

class Plugin {
 public:
  virtual ~Plugin() = default;
  virtual Result<void> configure(PluginContext& ctx) = 0;
  virtual Result<void> start(PluginContext& ctx) = 0;
  virtual void stop() = 0;
};

// The exported descriptor. Constant-initialised plain data: the kernel reads
// `abi` before it calls anything in the plugin.
struct PluginDescriptor {
  AbiBlock abi;               // must stay the first member
  const char* name;           // also the plugin's config section and file name (<name>.so)
  const char* version;        // the plugin's own version
  const char* sdk_version;    // PICLOUD_SDK_VERSION the plugin was built with
  const char* provides;       // comma-separated service names, may be ""
  const char* depends;        // comma-separated plugin names, may be ""
  Plugin* (*create)();
  void (*destroy)(Plugin*) noexcept;
};

}  // namespace picloud::sdk

#define PICLOUD_PLUGIN_ENTRY_SYMBOL "picloud_plugin_descriptor"

// Declares the plugin's descriptor (and the copy of its ABI block the loader
// reads from the file). Use once, at namespace scope, in one source file of
// the plugin:
//   PICLOUD_PLUGIN(HelloPlugin, "hello", "1.0.0", /*provides*/ "", /*depends*/ "")
#define PICLOUD_PLUGIN(PluginClass, NAME, VERSION, PROVIDES, DEPENDS)                              \
  PICLOUD_SDK_ABI_SECTION_BLOCK(::picloud::sdk::current_abi_block());                              \
  extern "C" __attribute__((visibility("default")))                                                \
  const ::picloud::sdk::PluginDescriptor picloud_plugin_descriptor;                                \
  extern "C" const ::picloud::sdk::PluginDescriptor picloud_plugin_descriptor = {                 \
      ::picloud::sdk::current_abi_block(),                                                         \
      NAME,                                                                                        \
      VERSION,                                                                                     \
      PICLOUD_SDK_VERSION,                                                                         \
      PROVIDES,                                                                                    \
      DEPENDS,                                                                                     \
      []() -> ::picloud::sdk::Plugin* { return new PluginClass(); },                               \
      [](::picloud::sdk::Plugin* p) noexcept { delete p; }};
