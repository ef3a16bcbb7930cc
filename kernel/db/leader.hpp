// Work that one node at a time should do on a shared PostgreSQL (the cron
// scheduler, retention sweeps): each pass runs in a transaction that first
// takes a transaction-scoped advisory lock without waiting. A node that does
// not get it skips the pass; the lock goes with the transaction, so a node
// that dies holding it frees it at once. SQLite serves one node: always yes.
#pragma once

#include <cstdint>

#include "picloud/sdk/database.hpp"

namespace picloud::kernel::db {

// Advisory lock keys, one per job ("PCLD" in the high half).
enum class LeaderJob : std::int64_t {
  cron = 0x50434c4400000001,
  dead_letter_sweep = 0x50434c4400000002,
  execution_sweep = 0x50434c4400000003,
};

// Inside `tx`: whether this node does the job's pass now.
inline sdk::Result<bool> lead(sdk::Transaction& tx, sdk::Dialect dialect, LeaderJob job) {
  if (dialect == sdk::Dialect::sqlite) return true;
  auto rows = tx.query("SELECT CASE WHEN pg_try_advisory_xact_lock(?) THEN 1 ELSE 0 END",
                       {static_cast<std::int64_t>(job)});
  if (!rows) return rows.error();
  return rows->rows[0][0].as_int() == 1;
}

}  // namespace picloud::kernel::db
