// An ABI section of the wrong size: must be refused before its code runs.
#include "simple.hpp"

PICLOUD_TEST_MARK_WHEN_LOADED("t_section_malformed")

extern "C" __attribute__((section(PICLOUD_SDK_ABI_SECTION), used)) const char picloud_plugin_abi_block[7] = "PCLD12";

extern "C" __attribute__((visibility("default"))) const picloud::sdk::PluginDescriptor picloud_plugin_descriptor;
extern "C" const picloud::sdk::PluginDescriptor picloud_plugin_descriptor = {
    picloud::sdk::current_abi_block(), "t_section_malformed", "0.1.0", PICLOUD_SDK_VERSION, "", "",
    []() -> picloud::sdk::Plugin* { return new NothingPlugin(); },
    [](picloud::sdk::Plugin* p) noexcept { delete p; }};
