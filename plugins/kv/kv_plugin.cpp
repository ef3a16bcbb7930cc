// The kv plugin: per-app key-value collections for scripts (kv::), the `kv`
// trigger kind, an admin API, and a sweep that deletes expired keys. Built on
// the SDK alone, like any third-party plugin.
//
// Config ([kv] in the config file, or PICLOUD_KV_<KEY>):
//   max_value_bytes    largest value, as JSON text (default 1 MiB)
//   sweep_interval_s   how often expired keys are deleted (default 60)
#include <memory>
#include <picloud/sdk.hpp>
#include <picloud/sdk/admin_routes.hpp>

#include "kv_admin_routes.hpp"
#include "kv_rules.hpp"
#include "kv_script_api.hpp"
#include "kv_store.hpp"

namespace {

using namespace picloud;
using sdk::ErrorKind;
using sdk::Result;

constexpr std::int64_t kSweepBatch = 1000;
constexpr int kSweepBatches = 100;

class KvPlugin final : public sdk::Plugin {
 public:
  Result<void> configure(sdk::PluginContext& ctx) override {
    auto max_value = ctx.config().get_int("max_value_bytes", 1 << 20, 1024, 64 << 20);
    if (!max_value) return max_value.error();
    auto sweep = ctx.config().get_int("sweep_interval_s", 60, 1, 24 * 3600);
    if (!sweep) return sweep.error();
    sweep_interval_ms_ = *sweep * 1000;
    if (!ctx.events() || !ctx.access())
      return sdk::make_error(ErrorKind::internal, "the kernel lacks the event sink or access control (SDK ABI 1.5)");
    store_ = std::make_unique<kv::KvStore>(ctx.database(), *ctx.events());

    // An app's keys go with it. Deleting them emits no events: the app
    // and its triggers are going too.
    if (auto r = ctx.on_app_deleted([](sdk::Transaction& tx, std::string_view app) -> Result<void> {
          if (auto d = tx.execute("DELETE FROM kv_entries WHERE app_id = ?", {app}); !d) return d.error();
          return {};
        });
        !r)
      return r;
    if (auto r = ctx.trigger_kinds()->declare(kv::trigger_kind()); !r) return r;
    if (auto r = kv::add_admin_routes(ctx, *store_, *max_value); !r) return r;
    if (auto r = sdk::add_admin_view_json(ctx, kv::admin_view_json()); !r) return r;
    return kv::declare_script_api(*ctx.script_api(), *store_, *ctx.access(), {*max_value});
  }

  Result<void> start(sdk::PluginContext& ctx) override {
    sdk::Logger* log = &ctx.logger();
    sdk::Counter* expired = &ctx.metrics().counter("expired_keys_deleted_total", "expired keys the sweep deleted");
    // One node sweeps per interval (the others skip the pass). The pass's
    // first batch runs in the tick's transaction; a full batch means a
    // backlog, which the same node then drains in short transactions of
    // their own (deleting expired rows twice is harmless), so no write lock
    // is held for long. At most kSweepBatches batches a pass.
    ctx.tasks().every_on_one_node("expiry-sweep", sweep_interval_ms_,
                                  [this, log, expired](sdk::Transaction& tx) -> Result<void> {
      auto first = store_->sweep_expired(tx, kSweepBatch);
      if (!first) return first.error();
      if (*first == 0) return {};
      const std::int64_t swept = *first;
      return tx.after_commit([this, log, expired, swept] {
        std::int64_t total = swept;
        for (int batch = 1; batch < kSweepBatches && total == batch * kSweepBatch; ++batch) {
          auto n = store_->sweep_expired(kSweepBatch);
          if (!n) {
            log->warn("expired key sweep failed", {{"error", n.error().message}});
            break;
          }
          total += *n;
        }
        expired->inc(static_cast<std::uint64_t>(total));
        log->info("expired keys deleted", {{"keys", std::to_string(total)}});
      });
    });
    return {};
  }

  void stop() override {}

 private:
  std::unique_ptr<kv::KvStore> store_;
  std::int64_t sweep_interval_ms_ = 60000;
};

}  // namespace

PICLOUD_PLUGIN(KvPlugin, "kv", "0.1.0", "", "")
