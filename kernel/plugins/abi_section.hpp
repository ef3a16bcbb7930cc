// Reading a plugin's ABI block from its file, without loading it.
//
// PICLOUD_PLUGIN places a copy of the plugin's AbiBlock in an ELF section of
// its own (PICLOUD_SDK_ABI_SECTION). The loader reads it here, before dlopen,
// so a plugin built for another ABI, compiler or machine is refused before any
// of its code runs: dlopen runs a library's static constructors before the
// loader could look at its descriptor. The file is untrusted input: every
// offset and size is checked against the file's length.
#pragma once

#include <optional>
#include <string>

#include "picloud/sdk/abi.hpp"
#include "picloud/sdk/error.hpp"

namespace picloud::kernel::plugins {

// The block in the file's ABI section; nullopt when the file has no such
// section (a plugin built with SDK headers older than the section). An error
// when the file is not an ELF shared object for this machine, or its section
// table or ABI section is damaged; the message names the file.
sdk::Result<std::optional<sdk::AbiBlock>> read_abi_section(const std::string& path);

}  // namespace picloud::kernel::plugins
