// Built as with SDK headers from before the ABI section: a descriptor only.
// Loads, checked after loading.
#include "simple.hpp"

extern "C" __attribute__((visibility("default"))) const picloud::sdk::PluginDescriptor picloud_plugin_descriptor;
extern "C" const picloud::sdk::PluginDescriptor picloud_plugin_descriptor = {
    picloud::sdk::current_abi_block(), "t_legacy", "0.1.0", PICLOUD_SDK_VERSION, "", "",
    []() -> picloud::sdk::Plugin* { return new NothingPlugin(); },
    [](picloud::sdk::Plugin* p) noexcept { delete p; }};
