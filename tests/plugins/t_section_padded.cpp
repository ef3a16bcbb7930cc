// An ABI section longer than the block (as AddressSanitizer's redzones make
// it): the block at its start is read and the plugin loads.
#include "simple.hpp"

struct PaddedBlock {
  picloud::sdk::AbiBlock block;
  char padding[44];
};
extern "C" __attribute__((section(PICLOUD_SDK_ABI_SECTION), used)) const PaddedBlock picloud_plugin_abi_block = {
    picloud::sdk::current_abi_block(), {}};

extern "C" __attribute__((visibility("default"))) const picloud::sdk::PluginDescriptor picloud_plugin_descriptor;
extern "C" const picloud::sdk::PluginDescriptor picloud_plugin_descriptor = {
    picloud::sdk::current_abi_block(), "t_section_padded", "0.1.0", PICLOUD_SDK_VERSION, "", "",
    []() -> picloud::sdk::Plugin* { return new NothingPlugin(); },
    [](picloud::sdk::Plugin* p) noexcept { delete p; }};
