// Built as PiCloud 0.1.0's SDK (ABI 1.5) built plugins: its ABI section holds
// the 1.x block (magic, major, minor, then a build fingerprint) and it
// exports picloud_plugin_descriptor. Must be refused before its code runs,
// naming both versions.
#include <cstdint>

#include "marker.hpp"

PICLOUD_TEST_MARK_WHEN_LOADED("t_abi1")

namespace {
struct Abi1Block {
  std::uint32_t magic, abi_major, abi_minor;
  char compiler[16];
  char stdlib[16];
  std::uint32_t stdlib_abi, pointer_bits;
};
}  // namespace

extern "C" __attribute__((section(".picloud_abi"), used)) const Abi1Block picloud_plugin_abi_block = {
    0x50434c44u, 1, 5, "gcc", "libstdc++", 1, 64};
extern "C" __attribute__((visibility("default"))) const Abi1Block picloud_plugin_descriptor;
extern "C" const Abi1Block picloud_plugin_descriptor = {0x50434c44u, 1, 5, "gcc", "libstdc++", 1, 64};
