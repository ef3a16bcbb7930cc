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
