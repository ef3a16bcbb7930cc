// Returns an error from configure().
#include "simple.hpp"

class ConfigureFails final : public NothingPlugin {
 public:
  picloud::sdk::Result<void> configure(picloud::sdk::PluginContext&) override {
    return picloud::sdk::make_error(picloud::sdk::ErrorKind::invalid_argument, "setting 'x' is required");
  }
};

PICLOUD_PLUGIN(ConfigureFails, "t_configure_fails", "0.1.0", "", "")
