// The ABI block, in C++ terms. The boundary itself is C (picloud/picloud.h);
// this names its version for the C++ SDK and the kernel.
#pragma once

#include <cstdint>

#include "picloud/picloud.h"

// SDK ABI version (see picloud.h): a kernel accepts a plugin whose major is
// equal and whose minor is not newer than its own.
#define PICLOUD_SDK_ABI_MAJOR PC_ABI_MAJOR
#define PICLOUD_SDK_ABI_MINOR PC_ABI_MINOR

// The SDK release these headers belong to (same as the PiCloud release).
#define PICLOUD_SDK_VERSION PC_SDK_VERSION

// The ELF section that holds a copy of a plugin's ABI block. The loader
// reads it from the file before it maps the library, so a plugin built for
// another ABI is refused before any of its code (static constructors
// included) runs. PICLOUD_PLUGIN places the block there.
#define PICLOUD_SDK_ABI_SECTION PC_ABI_SECTION

// Keeps the block through the linker's --gc-sections, where supported.
#if defined(__has_attribute)
#if __has_attribute(retain)
#define PICLOUD_SDK_RETAIN __attribute__((retain))
#endif
#endif
#ifndef PICLOUD_SDK_RETAIN
#define PICLOUD_SDK_RETAIN
#endif

// Places BLOCK (a constant pc_abi_block, equal to the descriptor's) in the
// ABI section. Once per plugin, at namespace scope; PICLOUD_PLUGIN does it.
#define PICLOUD_SDK_ABI_SECTION_BLOCK(BLOCK)                                             \
  extern "C" __attribute__((section(PICLOUD_SDK_ABI_SECTION), used)) PICLOUD_SDK_RETAIN \
  const pc_abi_block picloud_plugin_abi_block = BLOCK

namespace picloud::sdk {

using AbiBlock = pc_abi_block;
inline constexpr std::uint32_t kAbiMagic = PC_ABI_MAGIC;

// The block for the code being compiled now (kernel or plugin).
inline constexpr AbiBlock current_abi_block() {
  return AbiBlock{kAbiMagic, PICLOUD_SDK_ABI_MAJOR, PICLOUD_SDK_ABI_MINOR, static_cast<std::uint32_t>(sizeof(AbiBlock))};
}

}  // namespace picloud::sdk
