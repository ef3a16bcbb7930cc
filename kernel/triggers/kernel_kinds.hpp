// The trigger kinds the kernel itself provides:
//
//   cron         filter {"schedule": "<6-field cron>", "timezone": "<IANA zone>"}
//                (timezone defaults to UTC); fired by the cron scheduler.
//                Event (op "tick"): schedule, timezone, scheduled_at,
//                fired_at, missed.
//   dead_letter  filter {"source"?, "trigger"?, "script"?} (ids; each one
//                given narrows the match); fired when a run fails for good.
//                Event (op "created"): dead_letter {id, source, op,
//                trigger_id, route_id, script_id, attempts, last_error,
//                first_attempt_at, last_attempt_at, event}.
#pragma once

#include "kernel/triggers/trigger_kinds.hpp"

namespace picloud::kernel::triggers {

inline constexpr const char* kCronKind = "cron";
inline constexpr const char* kDeadLetterKind = "dead_letter";

// Declares both under the owner "kernel" (before any plugin configures).
sdk::Result<void> declare_kernel_kinds(TriggerKindRegistry& registry);

}  // namespace picloud::kernel::triggers
