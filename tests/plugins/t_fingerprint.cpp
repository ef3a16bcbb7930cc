// Claims a different standard library build: must be refused.
#include "simple.hpp"

extern "C" __attribute__((visibility("default"))) const picloud::sdk::PluginDescriptor picloud_plugin_descriptor;
extern "C" const picloud::sdk::PluginDescriptor picloud_plugin_descriptor = {
    {picloud::sdk::kAbiMagic, PICLOUD_SDK_ABI_MAJOR, PICLOUD_SDK_ABI_MINOR,
     picloud::sdk::BuildFingerprint{"gcc", "libc++", 0, 64}},
    "t_fingerprint", "0.1.0", PICLOUD_SDK_VERSION, "", "",
    []() -> picloud::sdk::Plugin* { return new NothingPlugin(); },
    [](picloud::sdk::Plugin* p) noexcept { delete p; }};
