// Claims an SDK ABI minor newer than the kernel's: must be refused.
#include "simple.hpp"

PICLOUD_TEST_MARK_WHEN_LOADED("t_abi_minor")
// The same claim in the file, where the loader reads it before loading.
PICLOUD_SDK_ABI_SECTION_BLOCK(PICLOUD_TEST_BLOCK(PICLOUD_SDK_ABI_MAJOR, PICLOUD_SDK_ABI_MINOR + 1));

PICLOUD_TEST_DESCRIPTOR("t_abi_minor", PICLOUD_TEST_BLOCK(PICLOUD_SDK_ABI_MAJOR, PICLOUD_SDK_ABI_MINOR + 1))
