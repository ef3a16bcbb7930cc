// Its ABI section and its descriptor hold different (each acceptable)
// blocks: must be refused.
#include "simple.hpp"

PICLOUD_SDK_ABI_SECTION_BLOCK((pc_abi_block{PC_ABI_MAGIC, PICLOUD_SDK_ABI_MAJOR, PICLOUD_SDK_ABI_MINOR,
                                            static_cast<std::uint32_t>(sizeof(pc_abi_block) + 8)}));

PICLOUD_TEST_DESCRIPTOR("t_section_mismatch", picloud::sdk::current_abi_block())
