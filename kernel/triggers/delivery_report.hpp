// How the deliveries of an app's triggers of one kind stand: the runs waiting
// in the outbox (not tried yet, waiting to retry, running now) and the dead
// letters nobody resolved, per trigger and, when asked, per value of one
// field of the events' payloads (pubsub: per topic). For plugins' admin
// views (EventSink::deliveries); it scans the app's rows of the kind, so it
// is not for hot paths.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/database.hpp"
#include "picloud/sdk/triggers.hpp"

namespace picloud::kernel::triggers {

// Whether `name` may name a top-level field of an event's payload in SQL:
// [a-z_][a-z0-9_]*, at most 64 characters.
bool payload_field_name(std::string_view name);
// The SQL expression reading that field of a stored payload (the column
// `payload`, JSON text) as text, '' when it is missing. `name` must pass
// payload_field_name(): it is written into the SQL as a literal.
std::string payload_field_expression(sdk::Dialect dialect, std::string_view name);

// Errors: invalid_argument for a malformed group_by (a top-level field
// name, [a-z_][a-z0-9_]*, at most 64 characters); the database's otherwise.
sdk::Result<std::vector<sdk::TriggerDeliveries>> delivery_report(sdk::Database& db, std::string_view app_id,
                                                                 std::string_view kind, std::string_view group_by,
                                                                 std::int64_t now_ms);

}  // namespace picloud::kernel::triggers
