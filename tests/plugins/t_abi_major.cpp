// Claims an SDK ABI major one above the kernel's: must be refused.
#include "simple.hpp"

PICLOUD_TEST_MARK_WHEN_LOADED("t_abi_major")
// The same claim in the file, where the loader reads it before loading.
PICLOUD_SDK_ABI_SECTION_BLOCK(PICLOUD_TEST_BLOCK(PICLOUD_SDK_ABI_MAJOR + 1, 0));

PICLOUD_TEST_DESCRIPTOR("t_abi_major", PICLOUD_TEST_BLOCK(PICLOUD_SDK_ABI_MAJOR + 1, 0))
