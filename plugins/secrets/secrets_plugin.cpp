// The secrets plugin: per-app secrets for scripts (secrets::) and an admin
// API, sealed by the kernel's keyring (AES-256-GCM under a key derived from
// the master key for this plugin and the app; see docs/keyring.md). Built on
// the SDK alone, like any third-party plugin. Deleting an app deletes its
// secrets with it (the kernel's sealed values go with their app).
//
// Config ([secrets] in the config file, or PICLOUD_SECRETS_<KEY>):
//   max_value_bytes   largest value, as JSON text (default 64 KiB)
#include <memory>
#include <picloud/sdk.hpp>
#include <picloud/sdk/admin_routes.hpp>

#include "secrets_admin_routes.hpp"
#include "secrets_script_api.hpp"
#include "secrets_store.hpp"

namespace {

using namespace picloud;
using sdk::Result;

class SecretsPlugin final : public sdk::Plugin {
 public:
  Result<void> configure(sdk::PluginContext& ctx) override {
    auto max_value = ctx.config().get_int("max_value_bytes", 64 << 10, 16, 1 << 20);
    if (!max_value) return max_value.error();
    store_ = std::make_unique<secrets::SecretStore>(*ctx.keyring(), *max_value);
    if (auto r = secrets::add_admin_routes(ctx, *store_); !r) return r;
    if (auto r = sdk::add_admin_view_json(ctx, secrets::admin_view_json()); !r) return r;
    if (auto r = ctx.declare_resource_kind(required_secrets()); !r) return r;
    return secrets::declare_script_api(*ctx.script_api(), *store_, *ctx.access());
  }
  Result<void> start(sdk::PluginContext&) override { return {}; }
  void stop() override {}

 private:
  // Config as code: [secrets] required = ["STRIPE_KEY"] names the secrets an
  // app needs. A deploy reports those missing; values never are in a folder.
  sdk::ResourceKind required_secrets() {
    sdk::ResourceKind kind;
    kind.name = "required";
    kind.description = "the names of secrets the app needs (values are set through the admin API, never deployed)";
    kind.required_only = true;
    kind.list = [this](sdk::Transaction&, std::string_view app) -> Result<std::vector<sdk::ResourceItem>> {
      std::vector<sdk::ResourceItem> out;
      std::string after;
      for (;;) {
        auto page = store_->list(app, after, 1000);
        if (!page) return page.error();
        for (const auto& e : *page) out.push_back({e.name, sdk::Value(e.name)});
        if (page->size() < 1000) return out;
        after = page->back().name;
      }
    };
    kind.check = [](const sdk::Value& item) -> Result<sdk::ResourceItem> {
      if (!item.is_string()) return sdk::make_error(sdk::ErrorKind::invalid_argument, "a secret is named by a string");
      if (auto ok = secrets::check_name(item.as_string()); !ok) return ok.error();
      return sdk::ResourceItem{item.as_string(), item};
    };
    return kind;
  }

  std::unique_ptr<secrets::SecretStore> store_;
};

}  // namespace

PICLOUD_PLUGIN(SecretsPlugin, "secrets", "0.1.0", "", "")
