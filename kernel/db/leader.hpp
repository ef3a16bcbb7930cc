// Work that one node at a time should do on a shared PostgreSQL (the cron
// scheduler, retention sweeps): each pass runs in a transaction that first
// takes a transaction-scoped advisory lock without waiting. A node that does
// not get it skips the pass; the lock goes with the transaction, so a node
// that dies holding it frees it at once. SQLite serves one node: always yes.
#pragma once

#include <cstdint>
#include <string_view>

#include "picloud/sdk/database.hpp"

namespace picloud::kernel::db {

// Advisory lock keys, one per job ("PCLD" in the high half).
enum class LeaderJob : std::int64_t {
  cron = 0x50434c4400000001,
  dead_letter_sweep = 0x50434c4400000002,
  execution_sweep = 0x50434c4400000003,
  node_sweep = 0x50434c4400000004,
};

// Inside `tx`: whether this node does the pass of the job with this lock
// key now.
inline sdk::Result<bool> lead(sdk::Transaction& tx, sdk::Dialect dialect, std::int64_t key) {
  if (dialect == sdk::Dialect::sqlite) return true;
  auto rows = tx.query("SELECT CASE WHEN pg_try_advisory_xact_lock(?) THEN 1 ELSE 0 END", {key});
  if (!rows) return rows.error();
  return rows->rows[0][0].as_int() == 1;
}
inline sdk::Result<bool> lead(sdk::Transaction& tx, sdk::Dialect dialect, LeaderJob job) {
  return lead(tx, dialect, static_cast<std::int64_t>(job));
}

// The lock key of a plugin's one-node task: "PCLP" in the high half, a hash
// of "<plugin>/<task>" in the low half (FNV-1a; a collision only makes two
// tasks take turns).
inline std::int64_t plugin_task_key(std::string_view plugin, std::string_view task) {
  std::uint32_t h = 2166136261u;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 16777619u;
  };
  mix(plugin);
  mix("/");
  mix(task);
  return static_cast<std::int64_t>((std::uint64_t{0x50434c50} << 32) | h);
}

}  // namespace picloud::kernel::db
