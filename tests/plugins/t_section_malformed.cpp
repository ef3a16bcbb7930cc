// An ABI section of the wrong size: must be refused before its code runs.
#include "simple.hpp"

PICLOUD_TEST_MARK_WHEN_LOADED("t_section_malformed")

extern "C" __attribute__((section(PICLOUD_SDK_ABI_SECTION), used)) const char picloud_plugin_abi_block[7] = "PCLD12";

PICLOUD_TEST_DESCRIPTOR("t_section_malformed", picloud::sdk::current_abi_block())
