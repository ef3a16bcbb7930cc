// Claims an SDK ABI major one above the kernel's: must be refused.
#include "simple.hpp"

PICLOUD_TEST_MARK_WHEN_LOADED("t_abi_major")
// The same claim in the file, where the loader reads it before loading.
PICLOUD_SDK_ABI_SECTION_BLOCK((picloud::sdk::AbiBlock{picloud::sdk::kAbiMagic, PICLOUD_SDK_ABI_MAJOR + 1, 0, picloud::sdk::current_abi_block().fingerprint}));

extern "C" __attribute__((visibility("default"))) const picloud::sdk::PluginDescriptor picloud_plugin_descriptor;
extern "C" const picloud::sdk::PluginDescriptor picloud_plugin_descriptor = {
    {picloud::sdk::kAbiMagic, PICLOUD_SDK_ABI_MAJOR + 1, 0, picloud::sdk::current_abi_block().fingerprint},
    "t_abi_major", "0.1.0", PICLOUD_SDK_VERSION, "", "",
    []() -> picloud::sdk::Plugin* { return new NothingPlugin(); },
    [](picloud::sdk::Plugin* p) noexcept { delete p; }};
