// The files plugin: per-app file storage for scripts (files::), the `files`
// trigger kind, an admin API with streamed uploads and downloads, signed
// URLs on apps' hosts, and a sweep. Built on the SDK alone, like any
// third-party plugin. See docs/files.md.
//
// Config ([files] in the config file, or PICLOUD_FILES_<KEY>):
//   backend               local (files under the data directory; default) or
//                         database (chunks in SQLite/PostgreSQL: nodes sharing
//                         one PostgreSQL share files)
//   max_file_bytes        largest file (default 100 MiB)
//   quota_bytes           bytes an app may store in all (default 0: no quota)
//   quota_files           files an app may store (default 0: no quota)
//   script_max_bytes      largest file a script reads whole with get()
//                         (default 16 MiB)
//   signed_url_max_ttl_s  longest life of a signed URL (default 7 days)
//   chunk_bytes           the database backend's chunk size (default 256 KiB)
//   reserve_bytes         free space writes leave on the data directory's disk
//                         (default 512 MiB; storage_full beyond)
//   sweep_interval_s      how often the sweep runs (default 300)
//   sweep_grace_s         how long an unfinished upload or a replaced blob is
//                         left before the sweep removes it (default 3600)
#include <chrono>
#include <memory>
#include <mutex>
#include <picloud/sdk.hpp>
#include <picloud/sdk/admin_routes.hpp>

#include "database_blobs.hpp"
#include "files_admin_routes.hpp"
#include "files_rules.hpp"
#include "files_script_api.hpp"
#include "files_store.hpp"
#include "local_blobs.hpp"
#include "signed_urls.hpp"

namespace {

using namespace picloud;
using sdk::ErrorKind;
using sdk::Result;

constexpr std::int64_t kSweepBatch = 200;
constexpr std::int64_t kAuditBatch = 200;

class FilesPlugin final : public sdk::Plugin {
 public:
  Result<void> configure(sdk::PluginContext& ctx) override {
    auto& config = ctx.config();
    auto backend = config.get_string("backend", "local");
    if (!backend) return backend.error();
    files::Limits limits;
    auto max_file = config.get_int("max_file_bytes", limits.max_file_bytes, 1, 1LL << 40);
    if (!max_file) return max_file.error();
    auto quota_bytes = config.get_int("quota_bytes", 0, 0, 1LL << 50);
    if (!quota_bytes) return quota_bytes.error();
    auto quota_files = config.get_int("quota_files", 0, 0, 1LL << 40);
    if (!quota_files) return quota_files.error();
    auto script_max = config.get_int("script_max_bytes", limits.script_max_bytes, 0, 1LL << 30);
    if (!script_max) return script_max.error();
    auto url_ttl = config.get_int("signed_url_max_ttl_s", limits.signed_url_max_ttl_s, 1, 366LL * 24 * 3600);
    if (!url_ttl) return url_ttl.error();
    auto chunk = config.get_int("chunk_bytes", 256 * 1024, 4096, 16 << 20);
    if (!chunk) return chunk.error();
    auto sweep = config.get_int("sweep_interval_s", 300, 1, 24 * 3600);
    if (!sweep) return sweep.error();
    auto grace = config.get_int("sweep_grace_s", 3600, 1, 30LL * 24 * 3600);
    if (!grace) return grace.error();
    auto reserve = config.get_int("reserve_bytes", 512LL << 20, 0, 1LL << 50);
    if (!reserve) return reserve.error();
    limits = {*max_file, *quota_bytes, *quota_files, *script_max, *url_ttl};
    sweep_interval_ms_ = *sweep * 1000;
    grace_ms_ = *grace * 1000;
    if (!ctx.events() || !ctx.access())
      return sdk::make_error(ErrorKind::internal, "the kernel lacks the event sink or access control");

    auto dir = ctx.data_dir();
    if (!dir) return dir.error();
    if (*backend == "local") {
      auto local = files::LocalBlobs::open_at(*dir, *reserve);
      if (!local) return local.error();
      blobs_ = std::move(*local);
      if (ctx.database().dialect() == sdk::Dialect::postgres)
        ctx.logger().warn(
            "[files] backend = local keeps files on this node's disk: with several nodes sharing the database, set "
            "backend = database");
    } else if (*backend == "database") {
      // On SQLite the database is (by default) on the data directory's disk.
      const bool sqlite = ctx.database().dialect() == sdk::Dialect::sqlite;
      blobs_ = std::make_unique<files::DatabaseBlobs>(ctx.database(), *chunk, sqlite ? *dir : "", *reserve);
    } else {
      return sdk::make_error(ErrorKind::invalid_argument,
                             "[files] backend is '" + *backend + "'; it is local or database");
    }
    store_ = std::make_unique<files::FilesStore>(
        ctx.database(), *ctx.events(), *blobs_, ctx.logger(),
        ctx.metrics().counter("corrupted_reads_total", "reads that found a file's bytes not matching their SHA-256"),
        limits);

    // An app's files go with it, bytes removed once its deletion committed.
    if (auto r = ctx.on_app_deleted([this](sdk::Transaction& tx, std::string_view app) -> Result<void> {
          return store_->delete_app(tx, app);
        });
        !r)
      return r;
    if (auto r = ctx.trigger_kinds()->declare(files::trigger_kind()); !r) return r;
    if (auto r = files::add_admin_routes(ctx, *store_); !r) return r;
    if (auto r = sdk::add_admin_view_json(ctx, files::admin_view_json()); !r) return r;
    if (auto r = files::add_signed_url_route(ctx, *store_); !r) return r;
    return files::declare_script_api(ctx, *store_);
  }

  Result<void> start(sdk::PluginContext& ctx) override {
    sdk::Logger* log = &ctx.logger();
    sdk::Counter* removed = &ctx.metrics().counter("sweep_removed_total", "blobs and temp files the sweep removed");
    sdk::Counter* missing =
        &ctx.metrics().counter("missing_blobs_total", "files the sweep found without (all of) their bytes");
    // One node sweeps per interval. In the tick's transaction it dooms
    // blobs whose upload was abandoned or that were dropped more than the
    // grace period ago; after the commit it removes their bytes and rows,
    // temp files left by a crash, and checks a batch of live files for
    // their bytes (reported, never "repaired").
    ctx.tasks().every_on_one_node("sweep", sweep_interval_ms_, [this, log, removed, missing](sdk::Transaction& tx) {
      auto doomed = store_->doom_expired(tx, grace_ms_, kSweepBatch);
      if (!doomed) return Result<void>(doomed.error());
      return tx.after_commit([this, log, removed, missing, ids = std::move(*doomed)] {
        // A full batch means a backlog: drained in transactions of their
        // own, for a few seconds a pass, so that freeing keeps up with
        // replacing.
        std::int64_t n = store_->free(ids);
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        for (auto more = ids.size(); more == static_cast<std::size_t>(kSweepBatch) &&
                                     std::chrono::steady_clock::now() < until;) {
          auto next = store_->doom_expired(grace_ms_, kSweepBatch);
          if (!next) break;
          more = next->size();
          n += store_->free(*next);
        }
        auto strays = store_->blobs().sweep_strays(files::system_now_ms() - grace_ms_);
        if (strays) n += *strays;
        if (n > 0) {
          removed->inc(static_cast<std::uint64_t>(n));
          log->info("files sweep removed unused bytes", {{"blobs", std::to_string(n)}});
        }
        std::lock_guard lock(audit_mutex_);
        auto audit = store_->audit(audit_after_, kAuditBatch);
        if (!audit) {
          log->warn("files audit failed", {{"error", audit.error().message}});
          return;
        }
        audit_after_ = audit->last;
        if (audit->missing > 0) missing->inc(static_cast<std::uint64_t>(audit->missing));
      });
    });
    return {};
  }

  void stop() override {}

 private:
  std::unique_ptr<files::BlobStore> blobs_;
  std::unique_ptr<files::FilesStore> store_;
  std::int64_t sweep_interval_ms_ = 300000;
  std::int64_t grace_ms_ = 3600000;
  std::mutex audit_mutex_;
  std::string audit_after_;
};

}  // namespace

PICLOUD_PLUGIN(FilesPlugin, "files", "0.1.0", "", "")
