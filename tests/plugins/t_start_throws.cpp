// Configures fine, throws from start().
#include "simple.hpp"

class StartThrows final : public NothingPlugin {
 public:
  picloud::sdk::Result<void> start(picloud::sdk::PluginContext&) override {
    throw std::runtime_error("boom in start");
  }
};

PICLOUD_PLUGIN(StartThrows, "t_start_throws", "0.1.0", "", "")
