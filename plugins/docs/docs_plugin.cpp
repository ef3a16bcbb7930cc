// The docs plugin: per-app collections of JSON documents for scripts
// (docs::) with a query language compiled to SQL, partial updates, indexes
// on paths, the `docs` trigger kind and an admin API. Built on the SDK
// alone, like any third-party plugin.
//
// Config ([docs] in the config file, or PICLOUD_DOCS_<KEY>):
//   max_document_bytes   largest document, as JSON text (default 1 MiB)
#include <memory>
#include <picloud/sdk.hpp>
#include <picloud/sdk/admin_routes.hpp>

#include "docs_admin_routes.hpp"
#include "docs_resources.hpp"
#include "docs_rules.hpp"
#include "docs_script_api.hpp"
#include "docs_store.hpp"

namespace {

using namespace picloud;
using sdk::ErrorKind;
using sdk::Result;

class DocsPlugin final : public sdk::Plugin {
 public:
  Result<void> configure(sdk::PluginContext& ctx) override {
    auto max_bytes = ctx.config().get_int("max_document_bytes", 1 << 20, 1024, 64 << 20);
    if (!max_bytes) return max_bytes.error();
    if (!ctx.events() || !ctx.access())
      return sdk::make_error(ErrorKind::internal, "the kernel lacks the event sink or access control (SDK ABI 1.5)");
    store_ = std::make_unique<docs::DocStore>(ctx.database(), *ctx.events(), *max_bytes);
    // An app's documents and indexes go with it, without events: the app
    // and its triggers are going too.
    if (auto r = ctx.on_app_deleted([store = store_.get()](sdk::Transaction& tx, std::string_view app) {
          return store->delete_app(tx, app);
        });
        !r)
      return r;
    if (auto r = ctx.trigger_kinds()->declare(docs::trigger_kind()); !r) return r;
    if (auto r = docs::add_admin_routes(ctx, *store_); !r) return r;
    if (auto r = sdk::add_admin_view_json(ctx, docs::admin_view_json()); !r) return r;
    if (auto r = ctx.declare_resource_kind(docs::index_resources(*store_)); !r) return r;
    return docs::declare_script_api(*ctx.script_api(), *store_, *ctx.access());
  }

  Result<void> start(sdk::PluginContext& ctx) override {
    auto removed = store_->remove_interrupted_builds();
    if (!removed)
      ctx.logger().warn("could not look for half-built indexes", {{"error", removed.error().message}});
    else if (*removed > 0)
      ctx.logger().warn("removed indexes a stop left half built; create them again",
                     {{"indexes", std::to_string(*removed)}});
    return {};
  }
  void stop() override {}

 private:
  std::unique_ptr<docs::DocStore> store_;
};

}  // namespace

PICLOUD_PLUGIN(DocsPlugin, "docs", "0.1.0", "", "")
