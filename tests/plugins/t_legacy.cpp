// A descriptor without the file's copy of its ABI block (a plugin written
// without PICLOUD_PLUGIN, or stripped of the section): loads, checked only
// after loading, with a warning.
#include "simple.hpp"

PICLOUD_TEST_DESCRIPTOR("t_legacy", picloud::sdk::current_abi_block())
