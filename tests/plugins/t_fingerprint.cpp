// Claims a different standard library build: must be refused.
#include "simple.hpp"

PICLOUD_TEST_MARK_WHEN_LOADED("t_fingerprint")
// The same claim in the file, where the loader reads it before loading.
PICLOUD_SDK_ABI_SECTION_BLOCK((picloud::sdk::AbiBlock{picloud::sdk::kAbiMagic, PICLOUD_SDK_ABI_MAJOR, PICLOUD_SDK_ABI_MINOR, picloud::sdk::BuildFingerprint{"gcc", "libc++", 0, 64}}));

extern "C" __attribute__((visibility("default"))) const picloud::sdk::PluginDescriptor picloud_plugin_descriptor;
extern "C" const picloud::sdk::PluginDescriptor picloud_plugin_descriptor = {
    {picloud::sdk::kAbiMagic, PICLOUD_SDK_ABI_MAJOR, PICLOUD_SDK_ABI_MINOR,
     picloud::sdk::BuildFingerprint{"gcc", "libc++", 0, 64}},
    "t_fingerprint", "0.1.0", PICLOUD_SDK_VERSION, "", "",
    []() -> picloud::sdk::Plugin* { return new NothingPlugin(); },
    [](picloud::sdk::Plugin* p) noexcept { delete p; }};
