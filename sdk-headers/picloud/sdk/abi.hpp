// The plain ABI block every plugin descriptor starts with.
//
// The kernel reads this block before it runs any other code of a plugin, so it
// must stay a standard-layout aggregate of fixed-size fields: no constructors,
// no virtual functions, no library types. Changing this struct is itself an
// ABI break.
#pragma once

#include <cstdint>

// SDK ABI version. Major: bumped on any incompatible change (a removed or
// reordered virtual function, a changed struct layout). Minor: bumped when
// something is appended compatibly. A kernel accepts a plugin whose major is
// equal and whose minor is not newer than its own.
#define PICLOUD_SDK_ABI_MAJOR 1
#define PICLOUD_SDK_ABI_MINOR 5

// The SDK release these headers belong to (same as the PiCloud release).
#define PICLOUD_SDK_VERSION "0.1.0"

namespace picloud::sdk {

inline constexpr std::uint32_t kAbiMagic = 0x50434c44;  // "PCLD"

// What must be equal between kernel and plugin for C++ types to be shared:
// compiler family, the C++ standard library and its ABI flavour, pointer size.
struct BuildFingerprint {
  char compiler[16];
  char stdlib[16];
  std::uint32_t stdlib_abi;
  std::uint32_t pointer_bits;
};

struct AbiBlock {
  std::uint32_t magic;
  std::uint32_t abi_major;
  std::uint32_t abi_minor;
  BuildFingerprint fingerprint;
};

#if defined(__clang__)
#define PICLOUD_SDK_COMPILER "clang"
#elif defined(__GNUC__)
#define PICLOUD_SDK_COMPILER "gcc"
#else
#define PICLOUD_SDK_COMPILER "other"
#endif

#if defined(_LIBCPP_VERSION)
#define PICLOUD_SDK_STDLIB "libc++"
#define PICLOUD_SDK_STDLIB_ABI 0u
#elif defined(__GLIBCXX__)
#define PICLOUD_SDK_STDLIB "libstdc++"
#define PICLOUD_SDK_STDLIB_ABI static_cast<std::uint32_t>(_GLIBCXX_USE_CXX11_ABI)
#else
#define PICLOUD_SDK_STDLIB "other"
#define PICLOUD_SDK_STDLIB_ABI 0u
#endif

// The ELF section that holds a copy of a plugin's AbiBlock. The loader reads
// it from the file before it maps the library, so a plugin built for another
// ABI, compiler or machine is refused before any of its code (static
// constructors included) runs. PICLOUD_PLUGIN places the block there.
#define PICLOUD_SDK_ABI_SECTION ".picloud_abi"

// Keeps the block through the linker's --gc-sections, where supported.
#if defined(__has_attribute)
#if __has_attribute(retain)
#define PICLOUD_SDK_RETAIN __attribute__((retain))
#endif
#endif
#ifndef PICLOUD_SDK_RETAIN
#define PICLOUD_SDK_RETAIN
#endif

// Places BLOCK (a constant AbiBlock, equal to the descriptor's) in the ABI
// section. Once per plugin, at namespace scope; PICLOUD_PLUGIN does it.
#define PICLOUD_SDK_ABI_SECTION_BLOCK(BLOCK)                                             \
  extern "C" __attribute__((section(PICLOUD_SDK_ABI_SECTION), used)) PICLOUD_SDK_RETAIN \
  const ::picloud::sdk::AbiBlock picloud_plugin_abi_block = BLOCK

// The block for the code being compiled now (kernel or plugin).
inline constexpr AbiBlock current_abi_block() {
  return AbiBlock{kAbiMagic,
                  PICLOUD_SDK_ABI_MAJOR,
                  PICLOUD_SDK_ABI_MINOR,
                  BuildFingerprint{PICLOUD_SDK_COMPILER, PICLOUD_SDK_STDLIB, PICLOUD_SDK_STDLIB_ABI,
                                   static_cast<std::uint32_t>(sizeof(void*) * 8)}};
}

}  // namespace picloud::sdk
