// A plugin that does nothing, for tests that vary only the descriptor.
#pragma once
#include <picloud/sdk.hpp>

#include <stdexcept>

#include "marker.hpp"

class NothingPlugin : public picloud::sdk::Plugin {
 public:
  picloud::sdk::Result<void> configure(picloud::sdk::PluginContext&) override { return {}; }
  picloud::sdk::Result<void> start(picloud::sdk::PluginContext&) override { return {}; }
  void stop() override {}
};

// The descriptor PICLOUD_PLUGIN would export, with the ABI block BLOCK and
// no ABI section (each test plugin adds the section it needs, or none).
#define PICLOUD_TEST_DESCRIPTOR(NAME, BLOCK)                                                     \
  extern "C" __attribute__((visibility("default"))) const pc_plugin_descriptor picloud_plugin; \
  extern "C" const pc_plugin_descriptor picloud_plugin = {                                     \
      BLOCK,                                                                                   \
      sizeof(pc_plugin_descriptor),                                                            \
      NAME,                                                                                    \
      "0.1.0",                                                                                 \
      PICLOUD_SDK_VERSION,                                                                     \
      "",                                                                                      \
      "",                                                                                      \
      &::picloud::sdk::bridge::Entry<NothingPlugin>::init,                                     \
      &::picloud::sdk::bridge::Entry<NothingPlugin>::configure,                                \
      &::picloud::sdk::bridge::Entry<NothingPlugin>::start,                                    \
      &::picloud::sdk::bridge::Entry<NothingPlugin>::stop,                                     \
      &::picloud::sdk::bridge::Entry<NothingPlugin>::destroy};

// An ABI block claiming MAJOR.MINOR.
#define PICLOUD_TEST_BLOCK(MAJOR, MINOR) \
  (pc_abi_block{PC_ABI_MAGIC, (MAJOR), (MINOR), static_cast<std::uint32_t>(sizeof(pc_abi_block))})
