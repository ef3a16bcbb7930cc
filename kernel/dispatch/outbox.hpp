// The outbox: work acknowledged before it runs, committed first and run by
// the dispatcher later. A row is claimed with a lease (PostgreSQL: FOR UPDATE
// SKIP LOCKED, so nodes never take the same row); a row whose lease ran out
// (its node died) can be claimed again. Completion deletes the row and writes
// the execution record in one transaction, so a run is never lost between
// the two.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kernel/admin/execution_log.hpp"
#include "picloud/sdk/database.hpp"
#include "picloud/sdk/value.hpp"

namespace picloud::kernel::dispatch {

struct OutboxItem {
  std::string id;  // the execution id
  std::string app_id;
  std::string script_id;
  std::string route_id;
  std::string trigger_id;
  std::string source;
  std::string job;  // a plugin job's kind (jobs.hpp); empty for a script run (script_id is then empty)
  sdk::Value payload;
  int depth = 0;     // trigger depth of the run: 0 for a request, caller's + 1 for an event
  int attempts = 0;  // including the current one, once claimed
  std::int64_t first_attempt_ms = 0;  // once claimed
};

class Outbox {
 public:
  explicit Outbox(sdk::Database& db) : db_(db) {}

  // Commits the item (durably) before returning.
  sdk::Result<void> add(const OutboxItem& item, std::int64_t now_ms);
  // Writes the item inside `tx`: it commits (or not) with the change that
  // caused it. Whoever commits notifies the OutboxSignal afterwards.
  static sdk::Result<void> insert(sdk::Transaction& tx, const OutboxItem& item, std::int64_t now_ms);
  // The same with the payload given in JSON, first due at `due_ms`.
  static sdk::Result<void> insert_json(sdk::Transaction& tx, const OutboxItem& item, std::int64_t now_ms,
                                       std::int64_t due_ms, std::string payload_json);
  // Writes items that share one payload, given already in JSON (their
  // `payload` is not read), with multi-row statements: an event's fan-out
  // to many triggers, encoded once, in few round trips.
  static sdk::Result<void> insert_many(sdk::Transaction& tx, const std::vector<OutboxItem>& items,
                                       std::int64_t now_ms, const std::string& payload_json);
  // Claims up to `limit` due rows for `owner` until `lease_until_ms`:
  // script runs, and jobs of the kinds in `jobs` (those this node's plugins
  // declared; another node's kinds are left for it).
  sdk::Result<std::vector<OutboxItem>> claim(const std::string& owner, int limit, std::int64_t now_ms,
                                             std::int64_t lease_until_ms, const std::vector<std::string>& jobs = {});
  // These runs are over for good: deletes their rows and writes their
  // execution records (a plugin job has none), in one transaction, with
  // `also(tx, i)` for each row deleted (a dead letter, say). A row `owner`
  // no longer holds (its lease ran out and someone else claimed it) is left
  // alone, record and all.
  struct Finished {
    std::string id;
    std::optional<admin::ExecutionRecord> record;
  };
  using FinishStep = std::function<sdk::Result<void>(sdk::Transaction&, std::size_t)>;
  sdk::Result<void> finish(const std::string& owner, const std::vector<Finished>& rows, const FinishStep& also = {});
  // Tries again at `next_attempt_ms` (if `owner` still holds the row).
  sdk::Result<void> retry_later(const std::string& owner, const std::string& id, std::int64_t next_attempt_ms);
  // Every row leased to `owner` becomes claimable now, its attempt still
  // counted (a worker's rows it could not finish; it holds none between
  // batches). False when the database did not take it.
  bool release_all(const std::string& owner);
  // Gives a claimed row back unrun: its attempt does not count.
  sdk::Result<void> release(const std::string& owner, const std::string& id);
  sdk::Result<std::int64_t> pending();

 private:
  sdk::Database& db_;
};

}  // namespace picloud::kernel::dispatch
