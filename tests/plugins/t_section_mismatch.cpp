// Its ABI section and its descriptor claim different (each acceptable)
// versions: must be refused.
#include "simple.hpp"

static_assert(PICLOUD_SDK_ABI_MINOR > 0, "the test needs an older minor to claim");
PICLOUD_SDK_ABI_SECTION_BLOCK((picloud::sdk::AbiBlock{picloud::sdk::kAbiMagic, PICLOUD_SDK_ABI_MAJOR,
                                                      PICLOUD_SDK_ABI_MINOR - 1,
                                                      picloud::sdk::current_abi_block().fingerprint}));

extern "C" __attribute__((visibility("default"))) const picloud::sdk::PluginDescriptor picloud_plugin_descriptor;
extern "C" const picloud::sdk::PluginDescriptor picloud_plugin_descriptor = {
    picloud::sdk::current_abi_block(), "t_section_mismatch", "0.1.0", PICLOUD_SDK_VERSION, "", "",
    []() -> picloud::sdk::Plugin* { return new NothingPlugin(); },
    [](picloud::sdk::Plugin* p) noexcept { delete p; }};
