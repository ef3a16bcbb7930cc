#include "kernel/dispatch/jobs.hpp"

#include <algorithm>

#include "kernel/admin/secrets.hpp"
#include "kernel/db/database.hpp"
#include "kernel/dispatch/outbox.hpp"
#include "picloud/sdk/json.hpp"

namespace picloud::kernel::dispatch {
namespace {

constexpr std::int64_t kMaxTimeoutMs = 10 * 60 * 1000;

bool lower_word(std::string_view s) {
  if (s.empty() || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

}  // namespace

sdk::Result<void> JobKindRegistry::declare(sdk::JobKind kind, const std::string& owner) {
  auto bad = [&](const std::string& why) {
    return sdk::make_error(sdk::ErrorKind::invalid_argument, "job kind '" + kind.name + "' of plugin '" + owner + "': " + why);
  };
  const std::string prefix = owner + ".";
  if (kind.name.size() > 64 || kind.name.rfind(prefix, 0) != 0 || !lower_word(std::string_view(kind.name).substr(prefix.size())))
    return bad("the name must be '" + prefix + "<name>', name of a-z, 0-9 and _ starting with a letter, at most 64 bytes in all");
  if (!kind.run) return bad("it has no handler");
  if (kind.retry.timeout_ms < 1 || kind.retry.timeout_ms > kMaxTimeoutMs) return bad("timeout_ms must be from 1 to 600000");
  if (kind.retry.max_attempts < 1 || kind.retry.max_attempts > 100) return bad("max_attempts must be from 1 to 100");
  if (kind.retry.retry_base_ms < 1 || kind.retry.retry_base_ms > 24LL * 3600 * 1000)
    return bad("retry_base_ms must be from 1 to 86400000");
  if (kinds_.count(kind.name)) return sdk::make_error(sdk::ErrorKind::conflict, "job kind '" + kind.name + "' is already declared");
  triggers::RetryPolicy retry;
  retry.max_attempts = kind.retry.max_attempts;
  retry.base_delay = std::chrono::milliseconds(kind.retry.retry_base_ms);
  std::string name = kind.name;
  kinds_.emplace(std::move(name), RegisteredJobKind{std::move(kind), owner, retry});
  return {};
}

const RegisteredJobKind* JobKindRegistry::find(std::string_view name) const {
  auto it = kinds_.find(name);
  return it == kinds_.end() ? nullptr : &it->second;
}

std::int64_t JobKindRegistry::longest_timeout_ms() const {
  std::int64_t longest = 0;
  for (const auto& [name, k] : kinds_) longest = std::max(longest, k.kind.retry.timeout_ms);
  return longest;
}

std::vector<std::string> JobKindRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, k] : kinds_) out.push_back(name);
  return out;
}

JobQueue::JobQueue(const JobKindRegistry& kinds, OutboxSignal& signal, MetricsRegistry& metrics)
    : kinds_(kinds),
      signal_(signal),
      queued_(metrics.counter("picloud_jobs_queued_total", "plugin jobs written to the outbox")) {}

sdk::Result<std::string> JobQueue::enqueue(sdk::Transaction& tx, const std::string& owner, std::string_view app_id,
                                           std::string_view kind, const sdk::Value& payload, std::int64_t delay_ms) {
  auto bad = [&](const std::string& why) {
    return sdk::make_error(sdk::ErrorKind::invalid_argument, "plugin '" + owner + "' queued a job: " + why);
  };
  const RegisteredJobKind* k = kinds_.find(kind);
  if (!k || k->owner != owner) return bad("'" + std::string(kind) + "' is not a job kind it declared");
  if (!payload.is_object()) return bad("the payload must be an object");
  if (delay_ms < 0 || delay_ms > kMaxDelayMs) return bad("the delay must be from 0 to 30 days");
  std::string json = sdk::to_json(payload);
  if (json.size() > kMaxPayloadBytes) return bad("the payload is larger than 16 MiB as JSON");
  auto app = tx.query("SELECT 1 FROM apps WHERE id = ?", {std::string(app_id)});
  if (!app) return app.error();
  if (app->empty()) return sdk::make_error(sdk::ErrorKind::not_found, "app '" + std::string(app_id) + "' not found");

  OutboxItem item;
  item.id = admin::new_id();
  item.app_id = std::string(app_id);
  item.source = std::string(kind);
  item.job = std::string(kind);
  const std::int64_t now = admin::now_ms();
  if (auto r = Outbox::insert_json(tx, item, now, now + delay_ms, std::move(json)); !r) return r.error();
  queued_.inc();
  db::Database::after_commit(tx, [this] { signal_.notify(); });
  return item.id;
}

}  // namespace picloud::kernel::dispatch
