// An ABI section longer than the block (as AddressSanitizer's redzones make
// it): the block at its start is read and the plugin loads.
#include "simple.hpp"

struct PaddedBlock {
  pc_abi_block block;
  char padding[44];
};
extern "C" __attribute__((section(PICLOUD_SDK_ABI_SECTION), used)) const PaddedBlock picloud_plugin_abi_block = {
    picloud::sdk::current_abi_block(), {}};

PICLOUD_TEST_DESCRIPTOR("t_section_padded", picloud::sdk::current_abi_block())
